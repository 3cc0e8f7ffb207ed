#pragma once

// The upstream side of the cache: which registry serves a namespace (UpstreamRouter, pure) and
// how to talk to it (Upstream, the I/O seam; CurlUpstream is the real one, tests use fakes).
//
// Every Upstream call blocks on the network: call from worker threads only, never from the
// HTTP I/O thread. CurlUpstream is thread-safe (one curl easy handle per call; the token cache
// is shared and locked).
//
// Errors: kNotFound for 404, kPermissionDenied for 401/403 after auth was tried, kUnavailable
// for connection failures, timeouts, 429 and 5xx (the cache may then serve stale tags),
// kInvalidArgument for answers that break the protocol (bad digest header, oversize manifest).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/clock.h"
#include "common/result.h"
#include "registry/auth.h"
#include "registry/digest.h"

namespace paddock::registry {

struct UpstreamConfig {
  std::string name;  // namespace containerd sends as ?ns=, e.g. "docker.io"
  std::string url;  // API root without /v2: "https://registry-1.docker.io", "http://127.0.0.1:5000"
  std::string username;  // basic credentials (also used at the token realm); empty: anonymous
  std::string password;
};

// Maps a namespace to an upstream. Configured names win; otherwise, when allow_unlisted is on,
// a syntactically valid host[:port] becomes https://host[:port] (docker.io becomes
// registry-1.docker.io). An empty namespace means default_namespace.
class UpstreamRouter {
 public:
  UpstreamRouter(std::vector<UpstreamConfig> configured, std::string default_namespace,
                 bool allow_unlisted);
  Result<UpstreamConfig> Route(std::string_view ns) const;
  const std::string& default_namespace() const { return default_namespace_; }

 private:
  std::vector<UpstreamConfig> configured_;
  std::string default_namespace_;
  bool allow_unlisted_;
};

// Distribution spec repository name: path components of [a-z0-9]+ joined by '.', '_', '__'
// or '-'+, separated by '/'; at most 255 characters.
bool IsValidRepositoryName(std::string_view repo);
// Distribution spec tag: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
bool IsValidTag(std::string_view tag);

struct FetchedManifest {
  std::string media_type;        // Content-Type as sent
  std::string bytes;             // empty for HEAD
  std::optional<Digest> digest;  // Docker-Content-Digest if sent and valid
  int64_t content_length = -1;
};

// Receives a blob body. on_start gets the Content-Length (-1 when the upstream did not send
// one) before any data; returning false from either callback cancels the transfer (the call
// then fails with kUnavailable "cancelled").
struct BlobSink {
  std::function<bool(int64_t content_length)> on_start;
  std::function<bool(ByteSpan data)> on_data;
};

class Upstream {
 public:
  virtual ~Upstream() = default;
  virtual Result<FetchedManifest> FetchManifest(const UpstreamConfig& upstream,
                                                const std::string& repo,
                                                const std::string& reference, bool head_only) = 0;
  virtual Status FetchBlob(const UpstreamConfig& upstream, const std::string& repo,
                           const Digest& digest, const BlobSink& sink) = 0;
  // The JSON body of GET /v2/<repo>/tags/list.
  virtual Result<std::string> FetchTagList(const UpstreamConfig& upstream,
                                           const std::string& repo) = 0;
};

struct CurlUpstreamOptions {
  std::string proxy;  // "http://proxy:3128"; empty: none (env is ignored)
  int64_t connect_timeout_seconds = 10;
  // A transfer slower than 1 KiB/s for this long is aborted (covers stalled upstreams without
  // capping the time a large layer may take).
  int64_t stall_timeout_seconds = 30;
  int64_t manifest_timeout_seconds = 60;
  size_t max_manifest_bytes = 4 * 1024 * 1024;  // distribution's limit is 4 MiB as well
  std::string user_agent = "paddock-registry-cache";
  const Clock* clock = nullptr;  // for token expiry; nullptr: SystemClock
};

class CurlUpstream final : public Upstream {
 public:
  explicit CurlUpstream(CurlUpstreamOptions options);
  ~CurlUpstream() override;

  Result<FetchedManifest> FetchManifest(const UpstreamConfig& upstream, const std::string& repo,
                                        const std::string& reference, bool head_only) override;
  Status FetchBlob(const UpstreamConfig& upstream, const std::string& repo, const Digest& digest,
                   const BlobSink& sink) override;
  Result<std::string> FetchTagList(const UpstreamConfig& upstream,
                                   const std::string& repo) override;

  // Counters for tests and metrics.
  uint64_t token_fetches() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace paddock::registry
