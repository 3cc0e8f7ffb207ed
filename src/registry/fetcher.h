#pragma once

// BlobFetcher: single-flight blob fetching with stream-through.
//
// Open() returns a BlobReader for a blob. If the blob is published in the BlobStore, the reader
// reads that file. Otherwise exactly one upstream fetch runs per digest, however many clients
// ask at once: the first Open starts it on a thread of its own, later ones join it, and every
// reader follows the temp file as it grows (pread on a shared descriptor, woken by a condition
// variable), so each waiting client is streamed the bytes as they arrive.
//
// Guarantees:
//  - The last byte of an in-flight blob is released to readers only after the digest was
//    verified and the blob published; so a client never receives a complete, "successful"
//    body of a corrupt or truncated blob.
//  - If the upstream fails mid-blob (or the digest does not match), every reader's next read
//    fails; nothing is published; the next Open starts a fresh fetch.
//  - A fetch continues when all its readers have gone (it still fills the cache).
//
// Threading: Open() and BlobReader::ReadAt() block (disk, upstream); call them from worker
// threads. All methods are thread-safe. The destructor cancels running fetches and waits for
// their threads.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/result.h"
#include "registry/blob_store.h"
#include "registry/digest.h"
#include "registry/upstream.h"

namespace paddock::registry {

class BlobReader {
 public:
  virtual ~BlobReader() = default;
  // Total size in bytes (known before the first byte is read).
  virtual uint64_t size() const = 0;
  // True when the blob was already published when it was opened (a cache hit).
  virtual bool from_cache() const = 0;
  // True when it joined an upstream fetch another Open had started (neither a hit nor the
  // request that caused the fetch).
  virtual bool joined() const { return false; }
  // Reads up to len bytes at offset, blocking until at least one is available. Returns 0 at
  // the end (offset >= size), an Error (kUnavailable) when the fetch failed.
  virtual Result<size_t> ReadAt(uint64_t offset, uint8_t* buf, size_t len) = 0;
  // The descriptor of the published file (for sendfile), or -1 while in flight.
  virtual int file_fd() const = 0;
};

class BlobFetcher {
 public:
  BlobFetcher(BlobStore& store, Upstream& upstream);
  ~BlobFetcher();
  BlobFetcher(const BlobFetcher&) = delete;
  BlobFetcher& operator=(const BlobFetcher&) = delete;

  // Blocks until the blob's size is known (upstream headers arrived) or the fetch failed.
  // Errors: kNotFound (upstream 404), kUnavailable, kPermissionDenied, kIoError.
  Result<std::shared_ptr<BlobReader>> Open(const UpstreamConfig& upstream, const std::string& repo,
                                           const Digest& digest);

  // Called on the fetch thread when a fetch ends, with the bytes it transferred from the
  // upstream (also for failed fetches). Set before the first Open.
  using FetchObserver =
      std::function<void(const UpstreamConfig&, const std::string& repo, uint64_t bytes)>;
  void SetFetchObserver(FetchObserver observer) { observer_ = std::move(observer); }

  uint64_t upstream_fetches() const { return upstream_fetches_.load(); }
  uint64_t upstream_bytes() const { return upstream_bytes_.load(); }
  uint64_t failed_fetches() const { return failed_fetches_.load(); }

  struct InFlight;  // public for the reader implementation in fetcher.cc

 private:
  void RunFetch(std::shared_ptr<InFlight> f, UpstreamConfig upstream, std::string repo,
                Digest digest);

  BlobStore& store_;
  Upstream& upstream_;
  FetchObserver observer_;
  std::mutex mu_;
  std::condition_variable idle_cv_;
  std::map<Digest, std::shared_ptr<InFlight>> in_flight_;
  int running_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> upstream_fetches_{0};
  std::atomic<uint64_t> upstream_bytes_{0};
  std::atomic<uint64_t> failed_fetches_{0};
};

}  // namespace paddock::registry
