#pragma once

// Named loggers per subsystem ("dhcp", "tftp", "http", "store", ...), all writing to stderr in
// one format. Every line that concerns a machine carries its label: "mac=52:54:00:.. xid=0x..".

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace paddock::log {

enum class Format { kText, kJson };

// Configures every logger, present and future. level: "trace", "debug", "info", "warn",
// "error", "off". Safe to call again (on reload).
void Configure(const std::string& level, Format format);

// Returns the logger for a subsystem, creating it on first use. Thread-safe.
std::shared_ptr<spdlog::logger> Get(const std::string& name);

}  // namespace paddock::log
