#include "daemon/registry_cache.h"

#include <fstream>
#include <sstream>

#include "registry/blob_store.h"
#include "registry/cache.h"
#include "registry/service.h"
#include "registry/upstream.h"

namespace paddock::daemon {

struct RegistryCache::Parts {
  std::unique_ptr<registry::BlobStore> store;
  std::unique_ptr<registry::CurlUpstream> upstream;
  std::unique_ptr<registry::PullThroughCache> cache;
  std::unique_ptr<registry::Service> service;
};

RegistryCache::RegistryCache(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

RegistryCache::~RegistryCache() {
  if (!parts_) return;
  parts_->service.reset();
  parts_->cache.reset();
  parts_->upstream.reset();
  parts_->store.reset();
}

Result<std::unique_ptr<RegistryCache>> RegistryCache::Open(const config::RegistryConfig& c) {
  std::vector<registry::UpstreamConfig> upstreams;
  for (const auto& u : c.upstreams) {
    registry::UpstreamConfig up{u.name, u.url, u.username, ""};
    if (!u.password_file.empty()) {
      std::ifstream f(u.password_file);
      if (!f) return IoError("registry upstream " + u.name + ": cannot read " + u.password_file);
      std::stringstream buf;
      buf << f.rdbuf();
      up.password = buf.str();
      while (!up.password.empty() && (up.password.back() == '\n' || up.password.back() == '\r')) {
        up.password.pop_back();
      }
    }
    upstreams.push_back(std::move(up));
  }
  auto parts = std::make_unique<Parts>();
  auto store = registry::BlobStore::Open({c.cache_dir, c.max_size, nullptr});
  if (!store) {
    return MakeError(store.error().code,
                     "registry cache " + c.cache_dir + ": " + store.error().message);
  }
  parts->store = std::move(*store);
  registry::CurlUpstreamOptions uo;
  uo.proxy = c.proxy;
  uo.connect_timeout_seconds = c.connect_timeout.count();
  uo.stall_timeout_seconds = c.stall_timeout.count();
  parts->upstream = std::make_unique<registry::CurlUpstream>(uo);
  parts->cache = std::make_unique<registry::PullThroughCache>(
      *parts->store, *parts->upstream,
      registry::UpstreamRouter(std::move(upstreams), c.default_namespace, c.allow_unlisted),
      registry::CacheOptions{.tag_ttl_seconds = c.tag_ttl.count(), .clock = nullptr});
  return std::unique_ptr<RegistryCache>(new RegistryCache(std::move(parts)));
}

void RegistryCache::Register(http::Router& router) {
  parts_->service = std::make_unique<registry::Service>(*parts_->cache);
  parts_->service->Register(router);
}

registry::PullThroughCache& RegistryCache::cache() { return *parts_->cache; }
registry::BlobStore& RegistryCache::store() { return *parts_->store; }

}  // namespace paddock::daemon
