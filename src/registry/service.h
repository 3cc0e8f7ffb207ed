#pragma once

// registry::Service: the OCI Distribution pull API (distribution-spec v1.1 "Pull") on an
// http::Router, backed by a PullThroughCache.
//
//   GET  /v2/                                   200 {} + Docker-Distribution-API-Version
//   GET|HEAD /v2/<name>/manifests/<tag|digest>  stored bytes, original Content-Type
//   GET|HEAD /v2/<name>/blobs/<digest>          with Range (one range; RFC 9110 §14)
//   GET  /v2/<name>/tags/list[?n=&last=]
//
// Every request may carry `?ns=<registry>` (containerd's mirror parameter) naming the upstream;
// without it the router's default namespace (docker.io) is used. Every success carries
// Docker-Content-Digest (not tags/list) and an exact Content-Length. Errors use the
// distribution JSON error body ({"errors":[{"code":"BLOB_UNKNOWN",...}]}). Push methods are
// answered 405 by the router.
//
// Threading: Register() before the server starts. Handlers run on the I/O thread and only post
// work to the Service's own worker threads (disk, upstream, waiting on in-flight blobs); a
// cached blob goes out with sendfile, an in-flight one is streamed through the Responder with
// backpressure. The destructor stops the workers; destroy the Service after the http::Server
// has stopped, and before the cache.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/net.h"
#include "http/router.h"
#include "registry/cache.h"

namespace paddock::registry {

// One manifest or blob request as the service answered it, for the puller's timeline. Reported
// on a worker thread just before the answer is handed to the Responder (so an HTTP access
// observer sees the request complete only after its PullRecord was reported).
struct PullRecord {
  enum class Kind { kManifest, kBlob };
  Kind kind = Kind::kManifest;
  Ipv4Address peer_address;
  uint16_t peer_port = 0;
  std::string method;     // "GET" or "HEAD"
  std::string path;       // the request's decoded path (to match the access record)
  std::string ns;         // the upstream namespace the request went to ("docker.io")
  std::string repo;       // "library/busybox"
  std::string reference;  // manifests: the tag or digest asked for; blobs: the digest
  std::string digest;     // the manifest's digest ("" on errors and for blobs)
  // "hit" (cache), "miss" (fetched from the upstream for this request), "stale" (manifest
  // served from cache because the upstream was unreachable), "inflight" (blob: joined a fetch
  // another request started), "error".
  std::string outcome;
  int status = 0;
  uint64_t size = 0;       // bytes the answer's body has (0 for HEAD and errors)
  std::string error;       // the error's message when outcome == "error"
  int64_t started_us = 0;  // SteadyMicros() when the request reached the service
};

struct ServiceOptions {
  // Worker threads; a client waiting for an in-flight blob holds one while it waits for bytes.
  size_t worker_threads = 32;
  size_t stream_chunk_bytes = 256 * 1024;
};

class Service {
 public:
  Service(PullThroughCache& cache, ServiceOptions options = {});
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  void Register(http::Router& router);
  // Called for every manifest and blob request (see PullRecord), on a worker thread. Set
  // before Register; the observer must be thread-safe and must not block.
  void SetPullObserver(std::function<void(const PullRecord&)> observer) {
    observer_ = std::move(observer);
  }

  // Runs `work` on a worker thread (exposed for the stream pump).
  void Post(std::function<void()> work);

 private:
  void HandleV2(const http::Request& request, std::shared_ptr<http::Responder> responder);
  void ServeManifest(const http::Request& request, std::string ns, std::string repo,
                     std::string reference, std::shared_ptr<http::Responder> responder,
                     int64_t started_us);
  void ServeBlob(const http::Request& request, std::string ns, std::string repo, std::string digest,
                 std::shared_ptr<http::Responder> responder, int64_t started_us);
  void ServeTags(const http::Request& request, std::string ns, std::string repo,
                 std::shared_ptr<http::Responder> responder);

  void Report(const http::Request& request, PullRecord::Kind kind, std::string ns, std::string repo,
              std::string reference, std::string digest, std::string outcome, int status,
              uint64_t size, std::string error, int64_t started_us);
  PullThroughCache& cache_;
  ServiceOptions options_;
  std::function<void(const PullRecord&)> observer_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

// The distribution-spec error body: {"errors":[{"code":..,"message":..,"detail":null}]}.
std::string DistributionErrorBody(std::string_view code, std::string_view message);

}  // namespace paddock::registry
