#pragma once

// GET /metrics: the daemon's counters in the Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/): "# HELP" and "# TYPE" once
// per metric family, then its samples `name{label="value",...} value`, one per line, each
// family's samples together. Content-Type: text/plain; version=0.0.4; charset=utf-8.
//
// MetricsWriter is the format; MetricsSnapshot + RenderMetrics say what paddock exports (the
// names are listed in docs/operations.md "Metrics"). Both are plain data and pure functions:
// the daemon gathers a snapshot (daemon.cc) and renders it. Thread-compatible.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/registry_cache.h"
#include "dhcp/server.h"
#include "http/server.h"
#include "tftp/server.h"

namespace paddock::daemon {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// Label values: backslash, double quote and line feed escaped as \\, \" and \n.
std::string EscapeLabelValue(std::string_view value);
// HELP text: backslash and line feed escaped as \\ and \n.
std::string EscapeHelp(std::string_view help);

class MetricsWriter {
 public:
  enum class Type { kCounter, kGauge };

  // Declares a family; samples added under `name` belong to it. Names must match
  // [a-zA-Z_:][a-zA-Z0-9_:]* (ours are constants). A second Declare of a name is ignored.
  void Declare(std::string_view name, Type type, std::string_view help);
  // Adds a sample to a declared family (an undeclared name is declared untyped). Label names
  // are constants; label values may be anything and are escaped.
  void Add(std::string_view name, const MetricLabels& labels, uint64_t value);
  // Declare + one unlabelled sample.
  void Single(std::string_view name, Type type, std::string_view help, uint64_t value);

  // The exposition text: families in the order they were declared.
  std::string Render() const;

 private:
  struct Family {
    std::string name;
    std::string type;
    std::string help;
    std::vector<std::string> samples;  // rendered lines without the newline
  };
  Family& FamilyFor(std::string_view name);
  std::vector<Family> families_;
};

struct MetricsSnapshot {
  std::optional<dhcp::Stats> dhcp;        // DHCP off: absent
  std::optional<tftp::ServerStats> tftp;  // TFTP off: absent
  std::optional<http::ServerStats> http;
  std::optional<RegistryMetrics> registry;  // registry off: absent
  std::map<std::string, uint64_t> events;   // timeline events stored, by kind ("dhcp", "agent")
  uint64_t events_dropped = 0;
};

std::string RenderMetrics(const MetricsSnapshot& snapshot);

inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace paddock::daemon
