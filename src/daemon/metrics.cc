#include "daemon/metrics.h"

namespace paddock::daemon {
namespace {

std::string TypeName(MetricsWriter::Type t) {
  return t == MetricsWriter::Type::kCounter ? "counter" : "gauge";
}

// A counter field of a stats struct, with the metric's name and help.
template <typename Stats>
struct Field {
  uint64_t Stats::*member;
  const char* name;
  const char* help;
};

template <typename Stats, size_t N>
void AddFields(MetricsWriter& w, const Stats& stats, const Field<Stats> (&fields)[N],
               MetricsWriter::Type type = MetricsWriter::Type::kCounter) {
  for (const auto& f : fields) w.Single(f.name, type, f.help, stats.*(f.member));
}

void AddDhcp(MetricsWriter& w, const dhcp::Stats& s) {
  using S = dhcp::Stats;
  static const Field<S> kFields[] = {
      {&S::received, "paddock_dhcp_received_total", "DHCP datagrams received."},
      {&S::dropped_malformed, "paddock_dhcp_malformed_total",
       "DHCP datagrams dropped because they did not parse."},
      {&S::ignored, "paddock_dhcp_ignored_total",
       "Well-formed DHCP datagrams not answered (not for us, not PXE in proxy mode)."},
      {&S::discovers, "paddock_dhcp_discovers_total", "DHCPDISCOVER messages."},
      {&S::requests, "paddock_dhcp_requests_total", "DHCPREQUEST messages."},
      {&S::releases, "paddock_dhcp_releases_total", "DHCPRELEASE messages."},
      {&S::declines, "paddock_dhcp_declines_total", "DHCPDECLINE messages."},
      {&S::informs, "paddock_dhcp_informs_total", "DHCPINFORM messages."},
      {&S::offers, "paddock_dhcp_offers_total", "DHCPOFFER messages sent."},
      {&S::acks, "paddock_dhcp_acks_total", "DHCPACK messages sent."},
      {&S::naks, "paddock_dhcp_naks_total", "DHCPNAK messages sent."},
      {&S::proxy_offers, "paddock_dhcp_proxy_offers_total", "proxyDHCP offers sent."},
      {&S::proxy_acks, "paddock_dhcp_proxy_acks_total", "proxyDHCP (port 4011) ACKs sent."},
      {&S::pool_exhausted, "paddock_dhcp_pool_exhausted_total",
       "DISCOVERs left unanswered because no address was free."},
      {&S::send_errors, "paddock_dhcp_send_errors_total", "DHCP replies that could not be sent."},
      {&S::persist_batches, "paddock_dhcp_lease_batches_total",
       "Lease batches committed to the store."},
      {&S::persist_errors, "paddock_dhcp_lease_persist_errors_total",
       "Lease batches the store refused (their ACKs were not sent)."},
      {&S::leases_loaded, "paddock_dhcp_leases_loaded_total", "Leases loaded at start."},
      {&S::router_advertisements, "paddock_dhcp_router_advertisements_total",
       "IPv6 router advertisements sent."},
  };
  AddFields(w, s, kFields);
}

void AddTftp(MetricsWriter& w, const tftp::ServerStats& s) {
  using S = tftp::ServerStats;
  static const Field<S> kFields[] = {
      {&S::requests, "paddock_tftp_requests_total", "TFTP RRQ and WRQ datagrams received."},
      {&S::duplicate_requests, "paddock_tftp_duplicate_requests_total",
       "RRQs repeated by a client whose transfer was running."},
      {&S::transfers_ok, "paddock_tftp_transfers_ok_total",
       "TFTP transfers completed (tsize probes included)."},
      {&S::transfers_failed, "paddock_tftp_transfers_failed_total",
       "TFTP transfers refused, timed out, aborted or failed."},
      {&S::tsize_probes, "paddock_tftp_tsize_probes_total",
       "Transfers ended by the client after the OACK (size probes)."},
      {&S::bytes_sent, "paddock_tftp_bytes_sent_total", "TFTP payload bytes acknowledged."},
      {&S::blocks_sent, "paddock_tftp_blocks_sent_total",
       "TFTP DATA datagrams sent, retransmissions included."},
      {&S::retransmits, "paddock_tftp_retransmits_total", "TFTP DATA and OACK datagrams resent."},
      {&S::cache_hits, "paddock_tftp_cache_hits_total", "TFTP file cache hits."},
      {&S::cache_misses, "paddock_tftp_cache_misses_total", "TFTP file cache misses."},
      {&S::malformed, "paddock_tftp_malformed_total", "TFTP datagrams that did not parse."},
      {&S::not_found, "paddock_tftp_not_found_total", "TFTP ERROR 1 (file not found) sent."},
      {&S::access_violations, "paddock_tftp_access_violations_total",
       "TFTP requests for paths outside the root or not regular files."},
      {&S::write_refused, "paddock_tftp_write_refused_total", "TFTP write requests refused."},
      {&S::busy, "paddock_tftp_busy_total", "TFTP requests refused at max_transfers."},
      {&S::timeouts, "paddock_tftp_timeouts_total", "TFTP transfers that exhausted retries."},
      {&S::client_errors, "paddock_tftp_client_errors_total",
       "TFTP transfers ended by an ERROR from the client."},
      {&S::io_errors, "paddock_tftp_io_errors_total", "TFTP socket or file errors."},
  };
  AddFields(w, s, kFields);
  w.Single("paddock_tftp_active_transfers", MetricsWriter::Type::kGauge,
           "TFTP transfers running now.", s.active_transfers);
}

void AddHttp(MetricsWriter& w, const http::ServerStats& s) {
  w.Single("paddock_http_connections_accepted_total", MetricsWriter::Type::kCounter,
           "HTTP connections accepted.", s.connections_accepted);
  w.Single("paddock_http_active_connections", MetricsWriter::Type::kGauge,
           "HTTP connections open now.", s.active_connections);
  w.Single("paddock_http_requests_total", MetricsWriter::Type::kCounter,
           "HTTP responses started (malformed requests included).", s.requests);
  w.Declare("paddock_http_responses_total", MetricsWriter::Type::kCounter,
            "HTTP responses by status class.");
  const std::pair<const char*, uint64_t> classes[] = {{"1xx", s.status_1xx},
                                                      {"2xx", s.status_2xx},
                                                      {"3xx", s.status_3xx},
                                                      {"4xx", s.status_4xx},
                                                      {"5xx", s.status_5xx}};
  for (const auto& [code, n] : classes) w.Add("paddock_http_responses_total", {{"code", code}}, n);
  w.Single("paddock_http_malformed_total", MetricsWriter::Type::kCounter,
           "HTTP requests answered 400/413/431 by the server itself.", s.malformed);
  w.Single("paddock_http_timeouts_total", MetricsWriter::Type::kCounter,
           "HTTP connections closed for idleness.", s.timeouts);
  w.Single("paddock_http_bytes_sent_total", MetricsWriter::Type::kCounter,
           "Bytes written to HTTP sockets, headers included.", s.bytes_sent);
}

void AddRegistry(MetricsWriter& w, const RegistryMetrics& r) {
  using S = registry::ImageStats;
  static const Field<S> kImage[] = {
      {&S::manifest_hits, "paddock_registry_manifest_hits_total",
       "Manifest requests answered from the cache."},
      {&S::manifest_misses, "paddock_registry_manifest_misses_total",
       "Manifest requests that went to the upstream."},
      {&S::blob_hits, "paddock_registry_blob_hits_total", "Blob requests answered from the cache."},
      {&S::blob_misses, "paddock_registry_blob_misses_total",
       "Blob requests for blobs not yet published (fetched, or joined a fetch)."},
      {&S::stale_served, "paddock_registry_stale_tags_served_total",
       "Tags served from the cache because the upstream was unreachable."},
      {&S::bytes_from_upstream, "paddock_registry_upstream_bytes_total",
       "Blob bytes transferred from the upstream."},
      {&S::bytes_from_cache, "paddock_registry_cache_bytes_served_total",
       "Blob bytes sent to clients from published files."},
      {&S::bytes_streamed, "paddock_registry_inflight_bytes_served_total",
       "Blob bytes sent to clients while the blob was still arriving."},
  };
  for (const auto& f : kImage) w.Declare(f.name, MetricsWriter::Type::kCounter, f.help);
  for (const auto& [key, stats] : r.images) {
    // Keys are "<namespace>/<repo>"; namespaces (registry host names) hold no '/'.
    size_t slash = key.find('/');
    MetricLabels labels = {{"ns", slash == std::string::npos ? key : key.substr(0, slash)},
                           {"repo", slash == std::string::npos ? "" : key.substr(slash + 1)}};
    for (const auto& f : kImage) w.Add(f.name, labels, stats.*(f.member));
  }
  using T = MetricsWriter::Type;
  w.Single("paddock_registry_upstream_fetches_total", T::kCounter,
           "Blob fetches started from the upstream.", r.upstream_fetches);
  w.Single("paddock_registry_upstream_fetch_failures_total", T::kCounter,
           "Blob fetches that failed (upstream error, digest mismatch).", r.failed_fetches);
  w.Single("paddock_registry_coalesced_manifest_waits_total", T::kCounter,
           "Manifest requests that shared another request's upstream resolution.",
           r.coalesced_manifest_waits);
  w.Single("paddock_registry_store_bytes", T::kGauge, "Bytes of blobs and manifests cached.",
           r.store_bytes);
  w.Single("paddock_registry_store_entries", T::kGauge, "Blobs and manifests cached.",
           r.store_entries);
  w.Single("paddock_registry_store_max_bytes", T::kGauge, "The cache's size bound (0 = unbounded).",
           r.store_max_bytes);
  w.Single("paddock_registry_store_evictions_total", T::kCounter,
           "Entries evicted (least recently used) to keep the size bound.", r.store_evictions);
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

MetricsWriter::Family& MetricsWriter::FamilyFor(std::string_view name) {
  for (auto& f : families_) {
    if (f.name == name) return f;
  }
  families_.push_back(Family{std::string(name), "untyped", "", {}});
  return families_.back();
}

void MetricsWriter::Declare(std::string_view name, Type type, std::string_view help) {
  for (const auto& f : families_) {
    if (f.name == name) return;
  }
  families_.push_back(Family{std::string(name), TypeName(type), std::string(help), {}});
}

void MetricsWriter::Add(std::string_view name, const MetricLabels& labels, uint64_t value) {
  Family& f = FamilyFor(name);
  std::string line(name);
  if (!labels.empty()) {
    line += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) line += ',';
      line += labels[i].first + "=\"" + EscapeLabelValue(labels[i].second) + "\"";
    }
    line += '}';
  }
  line += ' ' + std::to_string(value);
  f.samples.push_back(std::move(line));
}

void MetricsWriter::Single(std::string_view name, Type type, std::string_view help,
                           uint64_t value) {
  Declare(name, type, help);
  Add(name, {}, value);
}

std::string MetricsWriter::Render() const {
  std::string out;
  for (const auto& f : families_) {
    if (!f.help.empty()) out += "# HELP " + f.name + " " + EscapeHelp(f.help) + "\n";
    out += "# TYPE " + f.name + " " + f.type + "\n";
    for (const auto& s : f.samples) out += s + "\n";
  }
  return out;
}

std::string RenderMetrics(const MetricsSnapshot& s) {
  MetricsWriter w;
  if (s.dhcp) AddDhcp(w, *s.dhcp);
  if (s.tftp) AddTftp(w, *s.tftp);
  if (s.http) AddHttp(w, *s.http);
  if (s.registry) AddRegistry(w, *s.registry);
  w.Declare("paddock_events_total", MetricsWriter::Type::kCounter,
            "Timeline events stored, by kind (the phase up to its first dot).");
  for (const auto& [kind, n] : s.events) w.Add("paddock_events_total", {{"kind", kind}}, n);
  w.Single("paddock_events_dropped_total", MetricsWriter::Type::kCounter,
           "Timeline events dropped because the store could not keep up.", s.events_dropped);
  return w.Render();
}

}  // namespace paddock::daemon
