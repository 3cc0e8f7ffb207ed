#pragma once

// RegistryCache: the OCI pull-through cache (src/registry) assembled from the config: blob
// store, curl upstream, cache and the /v2/ HTTP service. The daemon registers it on the boot
// HTTP server; `paddock registry pull|import` use the same assembly without serving.

#include <memory>

#include "common/result.h"
#include "config/config.h"

namespace paddock::http {
class Router;
}
namespace paddock::registry {
class BlobStore;
class PullThroughCache;
}  // namespace paddock::registry

namespace paddock::daemon {

class RegistryCache {
 public:
  // Opens (creating) the cache directory and reads upstream password files. Errors name the
  // file that could not be read.
  static Result<std::unique_ptr<RegistryCache>> Open(const config::RegistryConfig& config);
  // Stops the service's workers first, then releases the cache, upstream and store. Call after
  // the HTTP server has stopped.
  ~RegistryCache();

  // Registers GET/HEAD /v2/... on the router. Call once, before the server starts.
  void Register(http::Router& router);

  registry::PullThroughCache& cache();
  registry::BlobStore& store();

 private:
  struct Parts;
  explicit RegistryCache(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace paddock::daemon
