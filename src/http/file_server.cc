#include "http/file_server.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <utility>

#include "http/conditional.h"

namespace paddock::http {
namespace {

std::optional<std::string> RealPath(const std::string& path, int* error) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) {
    *error = errno;
    return std::nullopt;
  }
  return std::string(buf);
}

void AddValidators(Response& r, const std::string& etag, int64_t mtime) {
  r.headers.Set("ETag", etag);
  r.headers.Set("Last-Modified", FormatHttpDate(mtime));
}

}  // namespace

Status CheckRelativePath(std::string_view relative_path) {
  if (!relative_path.empty() && relative_path.front() == '/') {
    return PermissionDenied("absolute path");
  }
  if (relative_path.find('\0') != std::string_view::npos) return PermissionDenied("NUL in path");
  // A backslash is an ordinary byte on Linux, but refusing it costs nothing and keeps
  // Windows-style "..\\" probes out of the logs' "not found" noise.
  if (relative_path.find('\\') != std::string_view::npos) return PermissionDenied("backslash");
  size_t pos = 0;
  while (pos <= relative_path.size()) {
    size_t slash = relative_path.find('/', pos);
    if (slash == std::string_view::npos) slash = relative_path.size();
    if (relative_path.substr(pos, slash - pos) == "..") return PermissionDenied("'..' segment");
    pos = slash + 1;
  }
  return Ok();
}

bool IsUnderRoot(std::string_view root, std::string_view path) {
  if (root == "/") return !path.empty() && path.front() == '/';
  if (!path.starts_with(root)) return false;
  return path.size() == root.size() || path[root.size()] == '/';
}

std::string_view ContentTypeFor(std::string_view file_name) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 17> kTypes = {{
      {".ipxe", "text/plain; charset=utf-8"},
      {".txt", "text/plain; charset=utf-8"},
      {".cfg", "text/plain; charset=utf-8"},
      {".conf", "text/plain; charset=utf-8"},
      {".sh", "text/x-shellscript"},
      {".html", "text/html; charset=utf-8"},
      {".css", "text/css"},
      {".js", "text/javascript"},
      {".json", "application/json"},
      {".yaml", "application/yaml"},
      {".yml", "application/yaml"},
      {".ign", "application/vnd.coreos.ignition+json"},
      {".gz", "application/gzip"},
      {".xz", "application/x-xz"},
      {".zst", "application/zstd"},
      {".tar", "application/x-tar"},
      {".iso", "application/x-iso9660-image"},
  }};
  size_t slash = file_name.rfind('/');
  std::string_view base = slash == std::string_view::npos ? file_name : file_name.substr(slash);
  size_t dot = base.rfind('.');
  if (dot != std::string_view::npos) {
    std::string_view ext = base.substr(dot);
    for (const auto& [e, type] : kTypes) {
      if (EqualsIgnoreCase(ext, e)) return type;
    }
  }
  return "application/octet-stream";
}

std::string FileEtag(uint64_t inode, uint64_t size, int64_t mtime_ns) {
  char buf[80];
  std::snprintf(buf, sizeof(buf), "\"%llx-%llx-%llx\"", static_cast<unsigned long long>(inode),
                static_cast<unsigned long long>(size), static_cast<unsigned long long>(mtime_ns));
  return buf;
}

Response ServeFile(const std::string& root, std::string_view relative_path,
                   const Request& request) {
  if (request.method != "GET" && request.method != "HEAD") {
    return Response::MethodNotAllowed("GET, HEAD");
  }
  if (!CheckRelativePath(relative_path)) return Response::Forbidden();

  int error = 0;
  auto real_root = RealPath(root, &error);
  if (!real_root) return Response::NotFound();
  auto real = RealPath(root + "/" + std::string(relative_path), &error);
  if (!real) {
    if (error == EACCES) return Response::Forbidden();
    return Response::NotFound();
  }
  if (!IsUnderRoot(*real_root, *real)) return Response::Forbidden();

  // O_NOFOLLOW: realpath resolved every link; if the last component became a symlink since,
  // refuse rather than follow it out of the root.
  int fd = ::open(real->c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    if (errno == EACCES || errno == ELOOP) return Response::Forbidden();
    return Response::NotFound();
  }
  auto file = std::make_shared<const FileHandle>(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return Response::NotFound();

  const uint64_t size = static_cast<uint64_t>(st.st_size);
  const int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec);
  const std::string etag =
      FileEtag(static_cast<uint64_t>(st.st_ino), size, mtime * 1000000000LL + st.st_mtim.tv_nsec);

  // RFC 9110 §13.2.2: If-None-Match first; If-Modified-Since only when it is absent.
  if (auto inm = request.headers.Get("If-None-Match")) {
    if (IfNoneMatchMatches(*inm, etag)) {
      Response r = Response::Empty(304);
      AddValidators(r, etag, mtime);
      return r;
    }
  } else if (auto ims = request.headers.Get("If-Modified-Since")) {
    auto since = ParseHttpDate(*ims);
    if (since && mtime <= *since) {
      Response r = Response::Empty(304);
      AddValidators(r, etag, mtime);
      return r;
    }
  }

  Response r;
  r.status = 200;
  r.headers.Set("Content-Type", std::string(ContentTypeFor(*real)));
  r.headers.Set("Accept-Ranges", "bytes");
  AddValidators(r, etag, mtime);
  r.file = FileBody{file, 0, size};

  // §14.2: Range is defined for GET only. §13.1.5: If-Range with a validator that does not
  // match means "send me everything".
  auto range_header = request.headers.Get("Range");
  if (request.method != "GET" || !range_header) return r;
  if (auto if_range = request.headers.Get("If-Range")) {
    bool matches = false;
    std::string_view v = *if_range;
    if (v.find('"') != std::string_view::npos) {
      matches = StrongEtagEquals(v, etag);
    } else if (auto date = ParseHttpDate(v)) {
      matches = *date == mtime;
    }
    if (!matches) return r;
  }
  ByteRange range = ParseRange(*range_header, size);
  switch (range.kind) {
    case ByteRange::Kind::kNone:
    case ByteRange::Kind::kMultiple:
      return r;
    case ByteRange::Kind::kUnsatisfiable: {
      Response u = Response::Error(416);
      u.headers.Set("Content-Range", UnsatisfiedContentRange(size));
      u.headers.Set("Accept-Ranges", "bytes");
      AddValidators(u, etag, mtime);
      return u;
    }
    case ByteRange::Kind::kSatisfiable:
      r.status = 206;
      r.headers.Set("Content-Range", ContentRange(range.offset, range.length, size));
      r.file = FileBody{file, range.offset, range.length};
      return r;
  }
  return r;
}

}  // namespace paddock::http
