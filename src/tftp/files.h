#pragma once

// File access for the TFTP server: root confinement and the in-memory cache of small hot files
// (the iPXE binaries that every booting machine reads). No sockets here; plain POSIX calls.

#include <sys/types.h>

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/bytes.h"
#include "common/result.h"

namespace paddock::tftp {

// Canonicalizes a root directory (realpath). Errors: kNotFound (missing), kInvalidArgument (not
// a directory), kIoError otherwise.
Result<std::string> CanonicalRoot(const std::string& root);

// Maps a requested filename to a canonical path inside canonical_root (from CanonicalRoot).
// Refused with kPermissionDenied, before touching the disk: an absolute name ("/etc/passwd", or
// one starting with '\'), any ".." component (separated by '/' or '\'). Then the path is
// resolved with realpath(), so symlinks are followed, and refused with kPermissionDenied when
// the result lies outside the root or is not a regular file. kNotFound when it does not exist.
// (Between this check and open() a symlink could be swapped by someone with write access to the
// root; the root is trusted to be writable by the operator only.)
Result<std::string> ResolveUnderRoot(const std::string& canonical_root, std::string_view filename);

// An open, regular file: the descriptor (owned, closed on destruction) and what fstat said.
class OpenFile {
 public:
  OpenFile() = default;
  OpenFile(int fd, uint64_t size, int64_t mtime_ns) : fd_(fd), size_(size), mtime_ns_(mtime_ns) {}
  OpenFile(OpenFile&& other) noexcept;
  OpenFile& operator=(OpenFile&& other) noexcept;
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  ~OpenFile();

  int fd() const { return fd_; }
  uint64_t size() const { return size_; }
  int64_t mtime_ns() const { return mtime_ns_; }
  // Reads exactly len bytes at offset (short reads retried). kIoError on failure or early EOF.
  Status ReadAt(uint64_t offset, uint8_t* out, size_t len) const;

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
  int64_t mtime_ns_ = 0;
};

// Opens a path returned by ResolveUnderRoot (O_NOFOLLOW: a final component swapped for a symlink
// after the check is refused). kPermissionDenied when it is not a regular file.
Result<OpenFile> OpenRegularFile(const std::string& path);

// Whole contents of small files, keyed by canonical path + mtime + size: a file changed on disk
// is read again. Bounded: files above max_file_bytes are not cached; above max_total_bytes the
// least recently used entries are dropped. Contents are shared_ptr<const Bytes>, so a transfer
// in flight keeps its copy alive after eviction. Not thread-safe: one owner (the server's
// io_context thread) calls it.
class FileCache {
 public:
  FileCache(size_t max_file_bytes, size_t max_total_bytes)
      : max_file_bytes_(max_file_bytes), max_total_bytes_(max_total_bytes) {}

  bool Cacheable(uint64_t size) const { return size <= max_file_bytes_; }
  // The contents of file (opened from path). A hit needs the same path, size and mtime; a miss
  // reads the file through its descriptor and stores it.
  Result<std::shared_ptr<const Bytes>> Get(const std::string& path, const OpenFile& file);
  void Clear();
  void SetLimits(size_t max_file_bytes, size_t max_total_bytes);

  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }
  size_t total_bytes() const { return total_bytes_; }
  size_t entries() const { return map_.size(); }

 private:
  struct Entry {
    std::string path;
    uint64_t size;
    int64_t mtime_ns;
    std::shared_ptr<const Bytes> data;
  };
  void EvictToFit();

  size_t max_file_bytes_;
  size_t max_total_bytes_;
  size_t total_bytes_ = 0;
  std::list<Entry> lru_;  // front = most recently used
  std::unordered_map<std::string, std::list<Entry>::iterator> map_;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace paddock::tftp
