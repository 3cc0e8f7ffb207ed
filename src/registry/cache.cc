#include "registry/cache.h"

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "registry/manifest.h"

namespace paddock::registry {

PullThroughCache::PullThroughCache(BlobStore& store, Upstream& upstream, UpstreamRouter router,
                                   CacheOptions options)
    : store_(store),
      upstream_(upstream),
      router_(std::move(router)),
      options_(options),
      fetcher_(store, upstream) {
  if (options_.clock == nullptr) options_.clock = &SystemClock::Instance();
  fetcher_.SetFetchObserver(
      [this](const UpstreamConfig& up, const std::string& repo, uint64_t bytes) {
        std::lock_guard lock(mu_);
        StatsFor(up.name, repo).bytes_from_upstream += bytes;
      });
}

ImageStats& PullThroughCache::StatsFor(std::string_view ns, std::string_view repo) {
  std::string key =
      std::string(ns.empty() ? router_.default_namespace() : ns) + "/" + std::string(repo);
  return stats_[key];
}

Result<ManifestResult> PullThroughCache::FetchAndStore(const UpstreamConfig& up,
                                                       const std::string& repo,
                                                       const std::string& reference) {
  auto fetched = upstream_.FetchManifest(up, repo, reference, /*head_only=*/false);
  if (!fetched) return tl::unexpected(fetched.error());
  Digest digest = Sha256Of(fetched->bytes);
  if (Digest::LooksLikeDigest(reference) && digest.ToString() != reference) {
    return InvalidArgument("upstream manifest does not match the requested digest");
  }
  if (fetched->digest && !(*fetched->digest == digest)) {
    return InvalidArgument("upstream manifest does not match its Docker-Content-Digest");
  }
  auto parsed = ParseManifest(fetched->bytes, fetched->media_type);
  if (!parsed) return tl::unexpected(parsed.error());
  // Stored with the Content-Type the upstream sent (byte-exact serving), unless it was
  // generic, in which case the parsed media type stands in.
  std::string media_type =
      IsManifestMediaType(fetched->media_type) ? fetched->media_type : parsed->media_type;
  if (auto s = store_.PutManifest(digest, media_type, fetched->bytes); !s) {
    return tl::unexpected(s.error());
  }
  return ManifestResult{digest, media_type, std::move(fetched->bytes), false, false};
}

struct PullThroughCache::ManifestFlight {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Result<ManifestResult>> result;
};

Result<ManifestResult> PullThroughCache::GetManifest(std::string_view ns, std::string_view repo,
                                                     std::string_view reference) {
  std::string key = std::string(ns) + '\n' + std::string(repo) + '\n' + std::string(reference);
  std::shared_ptr<ManifestFlight> flight;
  bool leader = false;
  {
    std::lock_guard lock(flights_mu_);
    auto it = flights_.find(key);
    if (it == flights_.end()) {
      flight = std::make_shared<ManifestFlight>();
      flights_[key] = flight;
      leader = true;
    } else {
      flight = it->second;
    }
  }
  if (!leader) {
    coalesced_manifest_waits_++;
    std::unique_lock lock(flight->mu);
    flight->cv.wait(lock, [&] { return flight->result.has_value(); });
    Result<ManifestResult> r = *flight->result;
    lock.unlock();
    if (r) {
      r->from_cache = true;  // this caller did not cause an upstream fetch
      std::lock_guard slock(mu_);
      StatsFor(router_.Route(ns).value_or(UpstreamConfig{}).name, repo).manifest_hits++;
    }
    return r;
  }
  Result<ManifestResult> r = ResolveManifest(ns, repo, reference);
  {
    std::lock_guard lock(flights_mu_);
    flights_.erase(key);
  }
  {
    std::lock_guard lock(flight->mu);
    flight->result = r;
  }
  flight->cv.notify_all();
  return r;
}

Result<ManifestResult> PullThroughCache::ResolveManifest(std::string_view ns,
                                                         std::string_view repo_in,
                                                         std::string_view reference_in) {
  std::string repo(repo_in), reference(reference_in);
  if (!IsValidRepositoryName(repo)) return InvalidArgument("invalid repository name");
  auto up = router_.Route(ns);
  if (!up) return tl::unexpected(up.error());
  auto count = [&](bool hit, bool stale = false) {
    std::lock_guard lock(mu_);
    ImageStats& s = StatsFor(up->name, repo);
    (hit ? s.manifest_hits : s.manifest_misses)++;
    if (stale) s.stale_served++;
  };

  if (Digest::LooksLikeDigest(reference)) {
    auto digest = Digest::Parse(reference);
    if (!digest) return tl::unexpected(digest.error());
    if (auto m = store_.GetManifest(*digest)) {
      count(true);
      return ManifestResult{m->digest, std::move(m->media_type), std::move(m->bytes), true, false};
    }
    auto r = FetchAndStore(*up, repo, reference);
    if (r) count(false);
    return r;
  }

  if (!IsValidTag(reference)) return InvalidArgument("invalid tag");
  TagKey key{up->name, repo, reference};
  int64_t now = options_.clock->NowSeconds();
  auto tag = store_.GetTag(key);
  std::optional<StoredManifest> cached;
  if (tag) {
    if (auto m = store_.GetManifest(tag->digest)) cached = std::move(*m);
  }
  if (cached && now - tag->fetched_at < options_.tag_ttl_seconds) {
    count(true);
    return ManifestResult{cached->digest, cached->media_type, cached->bytes, true, false};
  }
  auto serve_stale = [&](const Error& why) -> Result<ManifestResult> {
    if (cached && why.code == ErrorCode::kUnavailable) {
      log::Get("registry")
          ->warn(
              "ns={} repo={} tag={}: upstream unreachable ({}), serving cached "
              "{}",
              up->name, repo, reference, why.message, cached->digest.ToString());
      count(true, true);
      return ManifestResult{cached->digest, cached->media_type, cached->bytes, true, true};
    }
    return tl::unexpected(why);
  };
  // HEAD first: cheap, and free of Docker Hub's pull accounting.
  auto head = upstream_.FetchManifest(*up, repo, reference, /*head_only=*/true);
  if (!head) return serve_stale(head.error());
  if (head->digest) {
    if (cached && cached->digest == *head->digest) {
      store_.PutTag(key, cached->digest, now);
      count(true);
      return ManifestResult{cached->digest, cached->media_type, cached->bytes, true, false};
    }
    if (auto m = store_.GetManifest(*head->digest)) {
      store_.PutTag(key, m->digest, now);
      count(true);
      return ManifestResult{m->digest, std::move(m->media_type), std::move(m->bytes), true, false};
    }
  }
  auto r = FetchAndStore(*up, repo, reference);
  if (!r) return serve_stale(r.error());
  if (auto s = store_.PutTag(key, r->digest, now); !s) return tl::unexpected(s.error());
  count(false);
  return r;
}

Result<std::shared_ptr<BlobReader>> PullThroughCache::OpenBlob(std::string_view ns,
                                                               std::string_view repo,
                                                               std::string_view digest_text) {
  if (!IsValidRepositoryName(repo)) return InvalidArgument("invalid repository name");
  auto digest = Digest::Parse(digest_text);
  if (!digest) return tl::unexpected(digest.error());
  auto up = router_.Route(ns);
  if (!up) return tl::unexpected(up.error());
  auto reader = fetcher_.Open(*up, std::string(repo), *digest);
  if (reader) {
    std::lock_guard lock(mu_);
    ImageStats& s = StatsFor(up->name, repo);
    ((*reader)->from_cache() ? s.blob_hits : s.blob_misses)++;
  }
  return reader;
}

Result<std::vector<std::string>> PullThroughCache::ListTags(std::string_view ns,
                                                            std::string_view repo_in) {
  std::string repo(repo_in);
  if (!IsValidRepositoryName(repo)) return InvalidArgument("invalid repository name");
  auto up = router_.Route(ns);
  if (!up) return tl::unexpected(up.error());
  auto body = upstream_.FetchTagList(*up, repo);
  if (!body) {
    if (body.error().code != ErrorCode::kUnavailable) return tl::unexpected(body.error());
    auto tags = store_.ListTags(up->name, repo);
    if (tags.empty()) return tl::unexpected(body.error());
    return tags;
  }
  auto j = nlohmann::json::parse(*body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgument("upstream tag list: bad JSON");
  std::vector<std::string> tags;
  auto it = j.find("tags");
  if (it != j.end() && it->is_array()) {
    for (const auto& t : *it) {
      if (t.is_string()) tags.push_back(t.get<std::string>());
    }
  }
  return tags;
}

void PullThroughCache::RecordBytesServed(std::string_view ns, std::string_view repo, uint64_t bytes,
                                         bool from_cache) {
  std::lock_guard lock(mu_);
  ImageStats& s = StatsFor(router_.Route(ns).value_or(UpstreamConfig{}).name, repo);
  (from_cache ? s.bytes_from_cache : s.bytes_streamed) += bytes;
}

std::map<std::string, ImageStats> PullThroughCache::Stats() {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace paddock::registry
