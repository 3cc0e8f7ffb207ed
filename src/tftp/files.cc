#include "tftp/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

namespace paddock::tftp {
namespace {

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

}  // namespace

Result<std::string> CanonicalRoot(const std::string& root) {
  char buf[PATH_MAX];
  if (::realpath(root.c_str(), buf) == nullptr) {
    if (errno == ENOENT || errno == ENOTDIR) return NotFound("tftp root " + root + " missing");
    return IoError(Errno("realpath " + root));
  }
  struct stat st {};
  if (::stat(buf, &st) != 0) return IoError(Errno("stat " + root));
  if (!S_ISDIR(st.st_mode)) return InvalidArgument("tftp root " + root + " is not a directory");
  return std::string(buf);
}

Result<std::string> ResolveUnderRoot(const std::string& canonical_root, std::string_view name) {
  if (name.empty()) return NotFound("empty filename");
  if (name.front() == '/' || name.front() == '\\') {
    return PermissionDenied("absolute path refused");
  }
  // Lexical check first: a ".." component is refused even when it would stay inside the root,
  // so that what is logged as refused does not depend on the layout of the disk.
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find_first_of("/\\", start);
    if (end == std::string_view::npos) end = name.size();
    if (name.substr(start, end - start) == "..") return PermissionDenied("'..' component refused");
    start = end + 1;
  }
  std::string joined = canonical_root;
  if (joined.empty() || joined.back() != '/') joined.push_back('/');
  joined.append(name);
  char buf[PATH_MAX];
  if (::realpath(joined.c_str(), buf) == nullptr) {
    if (errno == ENOENT || errno == ENOTDIR) return NotFound("no such file");
    if (errno == EACCES) return PermissionDenied(Errno("realpath"));
    if (errno == ENAMETOOLONG || errno == ELOOP) return PermissionDenied(Errno("realpath"));
    return IoError(Errno("realpath"));
  }
  std::string resolved(buf);
  // The result must be the root itself (refused below: a directory) or below "root/".
  bool inside =
      canonical_root == "/" || (resolved.size() > canonical_root.size() &&
                                resolved.compare(0, canonical_root.size(), canonical_root) == 0 &&
                                resolved[canonical_root.size()] == '/');
  if (!inside) return PermissionDenied("resolves outside the root (" + resolved + ")");
  struct stat st {};
  if (::stat(resolved.c_str(), &st) != 0) return NotFound(Errno("stat"));
  if (!S_ISREG(st.st_mode)) return PermissionDenied("not a regular file");
  return resolved;
}

OpenFile::OpenFile(OpenFile&& other) noexcept
    : fd_(other.fd_), size_(other.size_), mtime_ns_(other.mtime_ns_) {
  other.fd_ = -1;
}

OpenFile& OpenFile::operator=(OpenFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    size_ = other.size_;
    mtime_ns_ = other.mtime_ns_;
    other.fd_ = -1;
  }
  return *this;
}

OpenFile::~OpenFile() {
  if (fd_ >= 0) ::close(fd_);
}

Status OpenFile::ReadAt(uint64_t offset, uint8_t* out, size_t len) const {
  while (len > 0) {
    ssize_t n = ::pread(fd_, out, len, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError(Errno("pread"));
    }
    if (n == 0) return IoError("file shrank while being served");
    out += n;
    offset += static_cast<uint64_t>(n);
    len -= static_cast<size_t>(n);
  }
  return Ok();
}

Result<OpenFile> OpenRegularFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return NotFound("no such file");
    if (errno == EACCES || errno == ELOOP) return PermissionDenied(Errno("open"));
    return IoError(Errno("open"));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return IoError(Errno("fstat"));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return PermissionDenied("not a regular file");
  }
  int64_t mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
  return OpenFile(fd, static_cast<uint64_t>(st.st_size), mtime_ns);
}

Result<std::shared_ptr<const Bytes>> FileCache::Get(const std::string& path, const OpenFile& file) {
  auto it = map_.find(path);
  if (it != map_.end()) {
    Entry& e = *it->second;
    if (e.size == file.size() && e.mtime_ns == file.mtime_ns()) {
      ++hits_;
      lru_.splice(lru_.begin(), lru_, it->second);
      return e.data;
    }
    total_bytes_ -= e.size;
    lru_.erase(it->second);
    map_.erase(it);
  }
  ++misses_;
  auto data = std::make_shared<Bytes>(file.size());
  if (auto st = file.ReadAt(0, data->data(), data->size()); !st) return tl::unexpected(st.error());
  if (!Cacheable(file.size())) return std::shared_ptr<const Bytes>(std::move(data));
  lru_.push_front(Entry{path, file.size(), file.mtime_ns(), data});
  map_[path] = lru_.begin();
  total_bytes_ += file.size();
  EvictToFit();
  return std::shared_ptr<const Bytes>(std::move(data));
}

void FileCache::EvictToFit() {
  while (total_bytes_ > max_total_bytes_ && lru_.size() > 1) {
    Entry& victim = lru_.back();
    total_bytes_ -= victim.size;
    map_.erase(victim.path);
    lru_.pop_back();
  }
}

void FileCache::Clear() {
  lru_.clear();
  map_.clear();
  total_bytes_ = 0;
}

void FileCache::SetLimits(size_t max_file_bytes, size_t max_total_bytes) {
  max_file_bytes_ = max_file_bytes;
  max_total_bytes_ = max_total_bytes;
  EvictToFit();
}

}  // namespace paddock::tftp
