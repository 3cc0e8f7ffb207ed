#pragma once

// RegistryCache: the OCI pull-through cache (src/registry) assembled from the config: blob
// store, curl upstream, cache and the /v2/ HTTP service. The daemon registers it on the boot
// HTTP server; `paddock registry pull|import` use the same assembly without serving.
//
// RegistryTimeline: turns the service's PullRecords plus the HTTP server's access records into
// timeline events (registry.manifest, registry.blob) on the machine that pulled.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "common/event.h"
#include "common/result.h"
#include "config/config.h"
#include "registry/cache.h"
#include "registry/service.h"

namespace paddock::http {
class Router;
struct AccessRecord;
}  // namespace paddock::http

namespace paddock::daemon {

// Matches each PullRecord with the HTTP access record of the same request (same peer address,
// port and path: a connection carries one request at a time) and records one event on the
// machine of the peer address:
//
//   registry.manifest  {"ns","repo","reference","digest","outcome","method","status",
//                       "complete","peer"[,"error"]}
//   registry.blob      {"ns","repo","digest","outcome","method","status","complete","peer"
//                       [,"error"]}
//
// with bytes = body bytes sent, duration_us = from the request reaching the registry service
// to its last body byte leaving (the access record's end), ok = complete and status < 400.
// outcome is the PullRecord's: hit, miss, stale, inflight, error. Peers the resolver does not
// know (no lease, not in the neighbour table) are not recorded in any timeline; /metrics still
// counts their pulls.
//
// Thread-safety: OnPull from any thread, OnAccess from the HTTP io thread; both are cheap (a
// mutex and a map; the sink queues).
class RegistryTimeline {
 public:
  // `sink` must outlive this object; `resolver` may be empty (nothing is recorded).
  RegistryTimeline(EventSink* sink, MacResolver resolver);

  void OnPull(const registry::PullRecord& record);
  // Returns true when the record belonged to a manifest or blob request reported by OnPull
  // (then its event, if any, has been recorded); false for every other request.
  bool OnAccess(const http::AccessRecord& record);

  // Pulls waiting for their access record (tests).
  size_t pending() const;

 private:
  EventSink* sink_;
  MacResolver resolver_;
  mutable std::mutex mu_;
  // (peer address, peer port) -> the request's PullRecord. Bounded: a record whose access
  // record never comes (server stopped) is dropped when the map is full.
  std::map<std::pair<uint32_t, uint16_t>, registry::PullRecord> pending_;
};

// What /metrics shows of the registry (a snapshot; see docs/registry.md "Metrics").
struct RegistryMetrics {
  std::map<std::string, registry::ImageStats> images;  // "<ns>/<repo>"
  uint64_t upstream_fetches = 0;
  uint64_t failed_fetches = 0;
  uint64_t upstream_bytes = 0;
  uint64_t coalesced_manifest_waits = 0;
  uint64_t store_bytes = 0;
  uint64_t store_entries = 0;
  uint64_t store_max_bytes = 0;  // 0 = unbounded
  uint64_t store_evictions = 0;
};

class RegistryCache {
 public:
  // Opens (creating) the cache directory and reads upstream password files. Errors name the
  // file that could not be read.
  static Result<std::unique_ptr<RegistryCache>> Open(const config::RegistryConfig& config);
  // Stops the service's workers first, then releases the cache, upstream and store. Call after
  // the HTTP server has stopped.
  ~RegistryCache();

  // Registers GET/HEAD /v2/... on the router. Call once, before the server starts. With a
  // timeline, every manifest and blob request is reported to it.
  void Register(http::Router& router, RegistryTimeline* timeline = nullptr);

  // Runs `work` on one of the service's worker threads (after Register; for blocking work such
  // as Metrics() that must not run on the io thread).
  void Post(std::function<void()> work);
  // Blocks (SQLite): call from a worker thread.
  RegistryMetrics Metrics();

  registry::PullThroughCache& cache();
  registry::BlobStore& store();

 private:
  struct Parts;
  explicit RegistryCache(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace paddock::daemon
