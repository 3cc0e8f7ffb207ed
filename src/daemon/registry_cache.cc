#include "daemon/registry_cache.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "http/server.h"
#include "registry/blob_store.h"
#include "registry/cache.h"
#include "registry/service.h"
#include "registry/upstream.h"

namespace paddock::daemon {
namespace {

// More requests than this waiting for their access record means records were lost (a server
// that stopped mid-response); the oldest peers' entries go.
constexpr size_t kMaxPending = 4096;

}  // namespace

RegistryTimeline::RegistryTimeline(EventSink* sink, MacResolver resolver)
    : sink_(sink), resolver_(std::move(resolver)) {}

void RegistryTimeline::OnPull(const registry::PullRecord& record) {
  std::lock_guard lock(mu_);
  if (pending_.size() >= kMaxPending) pending_.erase(pending_.begin());
  pending_[{record.peer_address.value(), record.peer_port}] = record;
}

size_t RegistryTimeline::pending() const {
  std::lock_guard lock(mu_);
  return pending_.size();
}

bool RegistryTimeline::OnAccess(const http::AccessRecord& access) {
  registry::PullRecord pull;
  {
    std::lock_guard lock(mu_);
    auto it = pending_.find({access.peer_address.value(), access.peer_port});
    if (it == pending_.end()) return false;
    if (it->second.path != access.path) return false;  // not the request that was reported
    pull = std::move(it->second);
    pending_.erase(it);
  }
  if (!sink_ || !resolver_) return true;
  std::optional<MacAddress> mac = resolver_(access.peer_address);
  if (!mac) return true;  // not a machine we know: counted in /metrics only
  const bool manifest = pull.kind == registry::PullRecord::Kind::kManifest;
  nlohmann::json detail = {{"ns", pull.ns}, {"repo", pull.repo}};
  if (manifest) {
    detail["reference"] = pull.reference;
    detail["digest"] = pull.digest;
  } else {
    detail["digest"] = pull.reference;
  }
  detail["outcome"] = pull.outcome;
  detail["method"] = access.method;
  detail["status"] = access.status;
  detail["complete"] = access.complete;
  detail["peer"] = access.peer_address.ToString();
  if (!pull.error.empty()) detail["error"] = pull.error;
  BootEvent e;
  e.mac = *mac;
  e.phase = manifest ? "registry.manifest" : "registry.blob";
  e.time_us = WallMicros() - access.duration_us;
  e.bytes = static_cast<int64_t>(access.bytes_sent);
  e.duration_us = access.duration_us;
  e.ok = access.complete && access.status < 400;
  e.detail = detail.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  sink_->Record(std::move(e));
  return true;
}

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

void RegistryCache::Register(http::Router& router, RegistryTimeline* timeline) {
  parts_->service = std::make_unique<registry::Service>(*parts_->cache);
  if (timeline != nullptr) {
    parts_->service->SetPullObserver(
        [timeline](const registry::PullRecord& r) { timeline->OnPull(r); });
  }
  parts_->service->Register(router);
}

void RegistryCache::Post(std::function<void()> work) { parts_->service->Post(std::move(work)); }

RegistryMetrics RegistryCache::Metrics() {
  RegistryMetrics m;
  m.images = parts_->cache->Stats();
  const registry::BlobFetcher& f = parts_->cache->fetcher();
  m.upstream_fetches = f.upstream_fetches();
  m.failed_fetches = f.failed_fetches();
  m.upstream_bytes = f.upstream_bytes();
  m.coalesced_manifest_waits = parts_->cache->coalesced_manifest_waits();
  m.store_bytes = parts_->store->TotalBytes();
  m.store_entries = parts_->store->EntryCount();
  m.store_max_bytes = parts_->store->options().max_bytes;
  m.store_evictions = parts_->store->evictions();
  return m;
}

registry::PullThroughCache& RegistryCache::cache() { return *parts_->cache; }
registry::BlobStore& RegistryCache::store() { return *parts_->store; }

}  // namespace paddock::daemon
