#pragma once

// BlobStore: the cache's disk. Content-addressed files plus a small SQLite index.
//
// Layout under `root`:
//   blobs/sha256/ab/abcd...   published blobs and manifests (name = digest hex, verified)
//   tmp/                      blobs being written; removed at startup (never served)
//   index.db                  SQLite (WAL): sizes and last-access times (LRU), manifest
//                             media types, and the tag index (registry, repo, tag) -> digest
//
// Publishing: a BlobWriter writes to tmp/ and hashes as bytes arrive; Commit() checks the
// digest (and the expected size when given), fsyncs the file, renames it into blobs/ and fsyncs
// the directory, then records it in the index. A partial or corrupt blob is therefore never
// visible under blobs/. After a crash (kill -9) Open() removes tmp/ leftovers, adds published
// files missing from the index (access time = file mtime) and drops index rows whose file is
// gone, so disk and index agree again.
//
// Size bound: when max_bytes > 0, every Commit evicts least-recently-used entries (blobs and
// manifests alike) until the total fits. A reader that already holds a file descriptor keeps
// reading an evicted blob (POSIX unlink semantics); tag rows whose manifest was evicted are
// treated as missing by the cache above.
//
// Threading: every method is thread-safe (one mutex guards the SQLite handle; file I/O runs
// outside it). All calls block on disk: call them from worker threads, never the I/O thread.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/clock.h"
#include "common/result.h"
#include "registry/digest.h"

struct sqlite3;

namespace paddock::registry {

// Owns a file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd();
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.Release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

struct BlobStoreOptions {
  std::filesystem::path root;
  uint64_t max_bytes = 0;        // 0: unbounded
  const Clock* clock = nullptr;  // nullptr: SystemClock
};

struct TagKey {
  std::string registry;  // upstream namespace, "docker.io"
  std::string repo;      // "library/busybox"
  std::string tag;       // "latest"
};

struct TagEntry {
  Digest digest;
  int64_t fetched_at = 0;  // Clock seconds when the upstream last confirmed it
};

struct StoredManifest {
  Digest digest;
  std::string media_type;
  std::string bytes;
};

struct OpenedBlob {
  UniqueFd fd;
  uint64_t size = 0;
};

class BlobStore;

// Writes one blob. Not thread-safe; one producer. Destroying an uncommitted writer aborts it
// (the temp file is removed).
class BlobWriter {
 public:
  ~BlobWriter();
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;

  Status Write(ByteSpan data);
  // Verifies and publishes. Fails with kInvalidArgument on a digest or size mismatch (nothing
  // is published) and kIoError on disk trouble.
  Status Commit();
  void Abort();

  uint64_t bytes_written() const { return written_; }
  const std::filesystem::path& temp_path() const { return temp_path_; }
  // The temp file's descriptor (read-only users may pread it; it follows the rename).
  int fd() const { return fd_.get(); }

 private:
  friend class BlobStore;
  BlobWriter(BlobStore* store, Digest expected, int64_t expected_size,
             std::filesystem::path temp_path, UniqueFd fd);

  BlobStore* store_;
  Digest expected_;
  int64_t expected_size_;
  std::filesystem::path temp_path_;
  UniqueFd fd_;
  Sha256 hasher_;
  uint64_t written_ = 0;
  bool finished_ = false;
};

class BlobStore {
 public:
  // Creates the layout if needed, recovers from a crash (see above). Fails with kIoError when
  // the root is not writable or the index cannot be opened.
  static Result<std::unique_ptr<BlobStore>> Open(BlobStoreOptions options);
  ~BlobStore();

  std::filesystem::path PathFor(const Digest& digest) const;
  bool Has(const Digest& digest);
  // Opens a published blob for reading and marks it used (LRU). NotFound if absent.
  Result<OpenedBlob> OpenBlob(const Digest& digest);
  // A writer for a blob whose digest is known in advance. expected_size < 0: unknown.
  Result<std::unique_ptr<BlobWriter>> CreateBlob(const Digest& expected,
                                                 int64_t expected_size = -1);
  // Convenience: writes a whole blob held in memory.
  Status PutBlob(const Digest& digest, std::string_view bytes);

  // Stores manifest bytes under their digest with their media type (verifies the digest).
  Status PutManifest(const Digest& digest, std::string_view media_type, std::string_view bytes);
  Result<StoredManifest> GetManifest(const Digest& digest);

  Status PutTag(const TagKey& key, const Digest& digest, int64_t fetched_at);
  Result<TagEntry> GetTag(const TagKey& key);
  std::vector<std::string> ListTags(const std::string& registry, const std::string& repo);

  uint64_t TotalBytes();
  size_t EntryCount();
  // Evicts LRU entries until TotalBytes() <= max_bytes. Returns how many were removed.
  size_t EvictToBound();
  // Entries evicted since Open (for /metrics). Never blocks.
  uint64_t evictions() const { return evictions_.load(); }

  const BlobStoreOptions& options() const { return options_; }

 private:
  friend class BlobWriter;
  explicit BlobStore(BlobStoreOptions options);
  Status Init();
  Status Recover();
  Status Exec(const char* sql);
  // Called by BlobWriter::Commit after the rename.
  void RecordPublished(const Digest& digest, uint64_t size);
  void Touch(const Digest& digest);
  int64_t Now() const;

  BlobStoreOptions options_;
  std::mutex mu_;
  sqlite3* db_ = nullptr;
  uint64_t temp_counter_ = 0;
  std::atomic<uint64_t> evictions_{0};
};

}  // namespace paddock::registry
