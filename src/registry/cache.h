#pragma once

// PullThroughCache: what the registry serves, independent of HTTP. It resolves manifests (by
// tag with a TTL, by digest forever), opens blobs through the single-flight BlobFetcher, lists
// tags, and keeps statistics per image.
//
// Tag resolution: a tag fetched less than tag_ttl_seconds ago is served from the cache. Older
// (or unknown) tags are checked upstream with HEAD (Docker Hub does not count HEAD against its
// pull limit); if the digest is already cached only the tag's fetch time moves, otherwise the
// manifest is fetched with GET, verified against its digest, and stored byte-exact with its
// media type. When the upstream is unreachable (kUnavailable) a cached tag is served however
// old it is; a 404 from the upstream is passed on.
//
// Concurrent GetManifest calls for the same (namespace, repo, reference) are coalesced: one
// resolves (and talks to the upstream), the others wait for and share its answer; so a room
// booting at once costs the upstream one manifest request per tag, not one per node (Docker
// Hub's pull limit counts manifest GETs).
//
// Threading: every method blocks (disk, upstream) and is thread-safe; call from worker threads.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "registry/blob_store.h"
#include "registry/fetcher.h"
#include "registry/upstream.h"

namespace paddock::registry {

struct CacheOptions {
  int64_t tag_ttl_seconds = 300;
  const Clock* clock = nullptr;  // nullptr: SystemClock
};

struct ManifestResult {
  Digest digest;
  std::string media_type;
  std::string bytes;
  bool from_cache = false;
  bool stale = false;  // served from cache because the upstream was unreachable
};

struct ImageStats {
  uint64_t manifest_hits = 0;
  uint64_t manifest_misses = 0;
  uint64_t blob_hits = 0;
  uint64_t blob_misses = 0;
  uint64_t stale_served = 0;
  uint64_t bytes_from_upstream = 0;  // blob bytes transferred from the upstream (all fetches)
  uint64_t bytes_from_cache = 0;     // blob bytes sent to clients from published files
  uint64_t bytes_streamed = 0;       // blob bytes sent to clients while still in flight
};

class PullThroughCache {
 public:
  PullThroughCache(BlobStore& store, Upstream& upstream, UpstreamRouter router,
                   CacheOptions options);

  // ns: the ?ns= value (may be empty: the router's default). reference: tag or digest.
  Result<ManifestResult> GetManifest(std::string_view ns, std::string_view repo,
                                     std::string_view reference);
  Result<std::shared_ptr<BlobReader>> OpenBlob(std::string_view ns, std::string_view repo,
                                               std::string_view digest);
  // Tags known upstream, or (upstream unreachable) the tags cached for this repository.
  Result<std::vector<std::string>> ListTags(std::string_view ns, std::string_view repo);

  // Called by the HTTP layer as it sends blob bytes (from_cache: a published file).
  void RecordBytesServed(std::string_view ns, std::string_view repo, uint64_t bytes,
                         bool from_cache);
  // Per image, keyed "<namespace>/<repo>".
  std::map<std::string, ImageStats> Stats();

  // How many GetManifest calls joined another call's upstream resolution.
  uint64_t coalesced_manifest_waits() const { return coalesced_manifest_waits_.load(); }

  BlobStore& store() { return store_; }
  BlobFetcher& fetcher() { return fetcher_; }
  const UpstreamRouter& router() const { return router_; }

 private:
  struct ManifestFlight;
  Result<ManifestResult> ResolveManifest(std::string_view ns, std::string_view repo,
                                         std::string_view reference);
  Result<ManifestResult> FetchAndStore(const UpstreamConfig& up, const std::string& repo,
                                       const std::string& reference);
  ImageStats& StatsFor(std::string_view ns, std::string_view repo);  // mu_ held

  BlobStore& store_;
  Upstream& upstream_;
  UpstreamRouter router_;
  CacheOptions options_;
  std::mutex mu_;
  std::map<std::string, ImageStats> stats_;
  std::mutex flights_mu_;
  std::map<std::string, std::shared_ptr<ManifestFlight>> flights_;
  std::atomic<uint64_t> coalesced_manifest_waits_{0};
  // Last: destroyed first, so its fetch threads (which report into stats_) end before the
  // members above go away.
  BlobFetcher fetcher_;
};

}  // namespace paddock::registry
