#include "daemon/metrics.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <set>
#include <sstream>

#include "daemon/registry_cache.h"

namespace paddock::daemon {
namespace {

// Parses exposition text into {"name{labels}": value} and checks the format's rules on the
// way: every sample's family was TYPEd before it, each family's lines are contiguous, every
// line ends with a newline.
std::map<std::string, uint64_t> Parse(const std::string& text) {
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  std::map<std::string, uint64_t> out;
  std::map<std::string, std::string> types;
  std::set<std::string> closed;
  std::string current;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    EXPECT_FALSE(line.empty());
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream f(line.substr(7));
      std::string name, type;
      f >> name >> type;
      EXPECT_FALSE(types.count(name)) << "TYPE twice: " << name;
      EXPECT_TRUE(type == "counter" || type == "gauge") << line;
      types[name] = type;
      if (!current.empty()) closed.insert(current);
      current = name;
      continue;
    }
    size_t space = line.rfind(' ');
    std::string key = line.substr(0, space);
    std::string name = key.substr(0, key.find('{'));
    EXPECT_EQ(name, current) << "sample outside its family: " << line;
    EXPECT_FALSE(closed.count(name)) << line;
    EXPECT_FALSE(out.count(key)) << "duplicate series " << key;
    out[key] = std::stoull(line.substr(space + 1));
  }
  return out;
}

TEST(MetricsTest, LabelValuesAndHelpAreEscaped) {
  EXPECT_EQ(EscapeLabelValue("plain/repo:1"), "plain/repo:1");
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(EscapeHelp("x\\y\nz \"q\""), "x\\\\y\\nz \"q\"");

  MetricsWriter w;
  w.Declare("m_total", MetricsWriter::Type::kCounter, "help with \\ and\nnewline");
  w.Add("m_total", {{"repo", "evil\"} 1\nfake_total 99"}}, 7);
  EXPECT_EQ(w.Render(),
            "# HELP m_total help with \\\\ and\\nnewline\n"
            "# TYPE m_total counter\n"
            "m_total{repo=\"evil\\\"} 1\\nfake_total 99\"} 7\n");
}

TEST(MetricsTest, FamiliesStayTogetherWhateverTheOrderOfSamples) {
  MetricsWriter w;
  w.Declare("a_total", MetricsWriter::Type::kCounter, "A.");
  w.Declare("b", MetricsWriter::Type::kGauge, "B.");
  w.Add("a_total", {{"k", "1"}}, 1);
  w.Add("b", {}, 5);
  w.Add("a_total", {{"k", "2"}}, 2);
  EXPECT_EQ(w.Render(),
            "# HELP a_total A.\n# TYPE a_total counter\na_total{k=\"1\"} 1\na_total{k=\"2\"} 2\n"
            "# HELP b B.\n# TYPE b gauge\nb 5\n");
}

TEST(MetricsTest, SnapshotRendersEveryServerAndEveryImage) {
  MetricsSnapshot s;
  s.dhcp = dhcp::Stats{};
  s.dhcp->discovers = 11;
  s.dhcp->acks = 9;
  s.tftp = tftp::ServerStats{};
  s.tftp->bytes_sent = 123456;
  s.tftp->active_transfers = 2;
  s.http = http::ServerStats{};
  s.http->status_2xx = 40;
  s.http->status_4xx = 3;
  RegistryMetrics r;
  r.images["docker.io/library/busybox"].manifest_misses = 1;
  r.images["docker.io/library/busybox"].manifest_hits = 4;
  r.images["docker.io/library/busybox"].bytes_from_upstream = 1000;
  r.images["docker.io/library/busybox"].bytes_from_cache = 3000;
  r.images["registry.internal:5000/team/app"].blob_hits = 2;
  r.images["registry.internal:5000/team/app"].stale_served = 1;
  r.upstream_fetches = 5;
  r.failed_fetches = 1;
  r.store_bytes = 4096;
  r.store_max_bytes = 1 << 20;
  r.store_evictions = 3;
  s.registry = r;
  s.events = {{"dhcp", 20}, {"registry", 6}};
  s.events_dropped = 0;

  auto m = Parse(RenderMetrics(s));
  EXPECT_EQ(m["paddock_dhcp_discovers_total"], 11u);
  EXPECT_EQ(m["paddock_dhcp_acks_total"], 9u);
  EXPECT_EQ(m["paddock_tftp_bytes_sent_total"], 123456u);
  EXPECT_EQ(m["paddock_tftp_active_transfers"], 2u);
  EXPECT_EQ(m["paddock_http_responses_total{code=\"2xx\"}"], 40u);
  EXPECT_EQ(m["paddock_http_responses_total{code=\"4xx\"}"], 3u);
  const std::string bb = "{ns=\"docker.io\",repo=\"library/busybox\"}";
  EXPECT_EQ(m["paddock_registry_manifest_misses_total" + bb], 1u);
  EXPECT_EQ(m["paddock_registry_manifest_hits_total" + bb], 4u);
  EXPECT_EQ(m["paddock_registry_upstream_bytes_total" + bb], 1000u);
  EXPECT_EQ(m["paddock_registry_cache_bytes_served_total" + bb], 3000u);
  const std::string app = "{ns=\"registry.internal:5000\",repo=\"team/app\"}";
  EXPECT_EQ(m["paddock_registry_blob_hits_total" + app], 2u);
  EXPECT_EQ(m["paddock_registry_stale_tags_served_total" + app], 1u);
  EXPECT_EQ(m.count("paddock_registry_blob_hits_total" + bb), 1u);  // zero, but present
  EXPECT_EQ(m["paddock_registry_upstream_fetches_total"], 5u);
  EXPECT_EQ(m["paddock_registry_upstream_fetch_failures_total"], 1u);
  EXPECT_EQ(m["paddock_registry_store_bytes"], 4096u);
  EXPECT_EQ(m["paddock_registry_store_max_bytes"], 1u << 20);
  EXPECT_EQ(m["paddock_registry_store_evictions_total"], 3u);
  EXPECT_EQ(m["paddock_events_total{kind=\"dhcp\"}"], 20u);
  EXPECT_EQ(m["paddock_events_total{kind=\"registry\"}"], 6u);

  // Servers that are off are absent, not zero.
  MetricsSnapshot off;
  auto m2 = Parse(RenderMetrics(off));
  EXPECT_EQ(m2.count("paddock_dhcp_discovers_total"), 0u);
  EXPECT_EQ(m2.count("paddock_registry_store_bytes"), 0u);
  EXPECT_EQ(m2.count("paddock_events_dropped_total"), 1u);
}

// A sink that keeps what it is given.
class VectorSink : public EventSink {
 public:
  void Record(BootEvent e) override { events.push_back(std::move(e)); }
  std::vector<BootEvent> events;
};

registry::PullRecord Pull(registry::PullRecord::Kind kind, const char* ip, uint16_t port,
                          std::string path, std::string outcome) {
  registry::PullRecord r;
  r.kind = kind;
  r.peer_address = *Ipv4Address::Parse(ip);
  r.peer_port = port;
  r.method = "GET";
  r.path = std::move(path);
  r.ns = "docker.io";
  r.repo = "library/busybox";
  r.outcome = std::move(outcome);
  r.status = 200;
  return r;
}

http::AccessRecord Access(const char* ip, uint16_t port, std::string path, uint64_t bytes,
                          int status = 200, bool complete = true) {
  http::AccessRecord a;
  a.method = "GET";
  a.path = a.target = std::move(path);
  a.peer_address = *Ipv4Address::Parse(ip);
  a.peer_port = port;
  a.status = status;
  a.bytes_sent = bytes;
  a.duration_us = 1500;
  a.complete = complete;
  return a;
}

TEST(RegistryTimelineTest, PullsOfKnownMachinesBecomeEventsOthersOnlyCount) {
  const MacAddress node = *MacAddress::Parse("52:54:00:12:34:56");
  VectorSink sink;
  RegistryTimeline timeline(&sink, [&](Ipv4Address ip) -> std::optional<MacAddress> {
    if (ip == *Ipv4Address::Parse("198.18.0.10")) return node;
    return std::nullopt;
  });
  using Kind = registry::PullRecord::Kind;
  const std::string mpath = "/v2/library/busybox/manifests/latest";
  const std::string bpath = "/v2/library/busybox/blobs/sha256:" + std::string(64, 'a');

  auto m = Pull(Kind::kManifest, "198.18.0.10", 40000, mpath, "miss");
  m.reference = "latest";
  m.digest = "sha256:" + std::string(64, 'b');
  timeline.OnPull(m);
  auto b = Pull(Kind::kBlob, "198.18.0.10", 40001, bpath, "hit");
  b.reference = "sha256:" + std::string(64, 'a');
  timeline.OnPull(b);
  timeline.OnPull(Pull(Kind::kBlob, "198.18.0.99", 40002, bpath, "miss"));  // unknown peer
  EXPECT_EQ(timeline.pending(), 3u);

  // Requests the registry did not report (other paths, other ports) are not its business.
  EXPECT_FALSE(timeline.OnAccess(Access("198.18.0.10", 40000, "/ipxe", 10)));
  EXPECT_FALSE(timeline.OnAccess(Access("198.18.0.10", 40005, mpath, 10)));

  EXPECT_TRUE(timeline.OnAccess(Access("198.18.0.10", 40000, mpath, 529)));
  EXPECT_TRUE(timeline.OnAccess(Access("198.18.0.10", 40001, bpath, 100, 200, false)));
  EXPECT_TRUE(timeline.OnAccess(Access("198.18.0.99", 40002, bpath, 50)));
  EXPECT_EQ(timeline.pending(), 0u);

  ASSERT_EQ(sink.events.size(), 2u);  // nothing for 198.18.0.99
  const BootEvent& em = sink.events[0];
  EXPECT_EQ(em.mac, node);
  EXPECT_EQ(em.phase, "registry.manifest");
  EXPECT_EQ(em.bytes, 529);
  EXPECT_EQ(em.duration_us, 1500);
  EXPECT_TRUE(em.ok);
  auto dm = nlohmann::json::parse(em.detail);
  EXPECT_EQ(dm["ns"], "docker.io");
  EXPECT_EQ(dm["repo"], "library/busybox");
  EXPECT_EQ(dm["reference"], "latest");
  EXPECT_EQ(dm["digest"], m.digest);
  EXPECT_EQ(dm["outcome"], "miss");
  const BootEvent& eb = sink.events[1];
  EXPECT_EQ(eb.phase, "registry.blob");
  EXPECT_EQ(eb.bytes, 100);
  EXPECT_FALSE(eb.ok);  // cut short
  auto db = nlohmann::json::parse(eb.detail);
  EXPECT_EQ(db["digest"], b.reference);
  EXPECT_EQ(db["outcome"], "hit");
  EXPECT_EQ(db["complete"], false);
}

TEST(RegistryTimelineTest, ErrorsAreRecordedAsFailedSteps) {
  const MacAddress node = *MacAddress::Parse("52:54:00:12:34:57");
  VectorSink sink;
  RegistryTimeline timeline(&sink, [&](Ipv4Address) { return std::optional<MacAddress>(node); });
  auto r = Pull(registry::PullRecord::Kind::kManifest, "198.18.0.11", 1, "/v2/x/manifests/nope",
                "error");
  r.reference = "nope";
  r.status = 404;
  r.error = "manifest unknown upstream";
  timeline.OnPull(r);
  EXPECT_TRUE(timeline.OnAccess(Access("198.18.0.11", 1, "/v2/x/manifests/nope", 90, 404)));
  ASSERT_EQ(sink.events.size(), 1u);
  EXPECT_FALSE(sink.events[0].ok);
  auto d = nlohmann::json::parse(sink.events[0].detail);
  EXPECT_EQ(d["outcome"], "error");
  EXPECT_EQ(d["status"], 404);
  EXPECT_EQ(d["error"], "manifest unknown upstream");
}

}  // namespace
}  // namespace paddock::daemon
