#pragma once

// FakeUpstream: an in-memory Upstream for unit tests (the fake at the I/O seam). Blobs are
// streamed to the sink in chunks; a test can hold a transfer after a given number of bytes
// (hold_at + Release()), make it fail there (fail_at), or make every call unreachable.

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>

#include "registry/manifest.h"
#include "registry/upstream.h"

namespace paddock::registry::testing {

class FakeUpstream final : public Upstream {
 public:
  void AddBlob(const std::string& bytes) { blobs_[Sha256Of(bytes)] = bytes; }
  // Serves `bytes` under digest `d` (to simulate a corrupt upstream).
  void AddBlobAs(const Digest& d, const std::string& bytes) { blobs_[d] = bytes; }
  void AddManifest(const std::string& repo, const std::string& tag, const std::string& type,
                   const std::string& bytes) {
    Digest d = Sha256Of(bytes);
    manifests_[{repo, tag}] = {type, bytes};
    manifests_[{repo, d.ToString()}] = {type, bytes};
  }

  Result<FetchedManifest> FetchManifest(const UpstreamConfig&, const std::string& repo,
                                        const std::string& reference, bool head_only) override {
    std::unique_lock lock(mu_);
    (head_only ? manifest_heads : manifest_gets)++;
    if (hold_manifests) {
      held_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return released_; });
    }
    if (unreachable) return MakeError(ErrorCode::kUnavailable, "fake: unreachable");
    auto it = manifests_.find({repo, reference});
    if (it == manifests_.end()) return NotFound("fake: no manifest");
    FetchedManifest m;
    m.media_type = it->second.first;
    m.digest = Sha256Of(it->second.second);
    m.content_length = static_cast<int64_t>(it->second.second.size());
    if (!head_only) m.bytes = it->second.second;
    return m;
  }

  Status FetchBlob(const UpstreamConfig&, const std::string&, const Digest& digest,
                   const BlobSink& sink) override {
    std::string bytes;
    {
      std::lock_guard lock(mu_);
      blob_fetches++;
      if (unreachable) return MakeError(ErrorCode::kUnavailable, "fake: unreachable");
      auto it = blobs_.find(digest);
      if (it == blobs_.end()) return NotFound("fake: no blob");
      bytes = it->second;
    }
    if (!sink.on_start(static_cast<int64_t>(bytes.size())))
      return MakeError(ErrorCode::kUnavailable, "cancelled");
    for (size_t off = 0; off < bytes.size(); off += chunk) {
      if (hold_at >= 0 && off >= static_cast<size_t>(hold_at)) {
        std::unique_lock lock(mu_);
        held_ = true;
        cv_.notify_all();
        cv_.wait(lock, [&] { return released_; });
        hold_at = -1;
      }
      if (fail_at >= 0 && off >= static_cast<size_t>(fail_at)) {
        return MakeError(ErrorCode::kUnavailable, "fake: connection reset");
      }
      std::string_view piece = std::string_view(bytes).substr(off, chunk);
      if (!sink.on_data(AsBytes(piece))) return MakeError(ErrorCode::kUnavailable, "cancelled");
    }
    return Ok();
  }

  Result<std::string> FetchTagList(const UpstreamConfig&, const std::string& repo) override {
    std::lock_guard lock(mu_);
    if (unreachable) return MakeError(ErrorCode::kUnavailable, "fake: unreachable");
    std::string out = "{\"name\":\"" + repo + "\",\"tags\":[";
    bool first = true;
    for (const auto& [key, value] : manifests_) {
      if (key.first != repo || Digest::LooksLikeDigest(key.second)) continue;
      out += (first ? "\"" : ",\"") + key.second + "\"";
      first = false;
    }
    return out + "]}";
  }

  void WaitHeld() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return held_; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

  // Knobs and counters (set before use; counters read after the calls returned).
  size_t chunk = 4096;
  int64_t hold_at = -1;
  int64_t fail_at = -1;
  bool hold_manifests = false;  // manifest calls wait for Release() (WaitHeld() sees them)
  bool unreachable = false;
  int blob_fetches = 0;
  int manifest_gets = 0;
  int manifest_heads = 0;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
  bool released_ = false;
  std::map<Digest, std::string> blobs_;
  std::map<std::pair<std::string, std::string>, std::pair<std::string, std::string>> manifests_;
};

}  // namespace paddock::registry::testing
