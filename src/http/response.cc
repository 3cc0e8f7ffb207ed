#include "http/response.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace paddock::http {

FileHandle::~FileHandle() {
  if (fd_ >= 0) ::close(fd_);
}

Result<FileBody> OpenFileBody(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int e = errno;
    std::string msg = "open " + path + ": " + std::strerror(e);
    if (e == ENOENT || e == ENOTDIR) return NotFound(msg);
    if (e == EACCES || e == EPERM) return PermissionDenied(msg);
    return IoError(msg);
  }
  auto file = std::make_shared<const FileHandle>(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return IoError("fstat " + path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return InvalidArgument(path + " is not a regular file");
  return FileBody{std::move(file), 0, static_cast<uint64_t>(st.st_size)};
}

Response Response::Text(int status, std::string body, std::string_view content_type) {
  Response r;
  r.status = status;
  r.headers.Set("Content-Type", std::string(content_type));
  r.body = std::move(body);
  return r;
}

Response Response::Empty(int status) {
  Response r;
  r.status = status;
  return r;
}

Response Response::Error(int status, std::string_view detail) {
  std::string text = std::to_string(status) + " " + StatusReason(status) + "\n";
  if (!detail.empty()) {
    text.append(detail);
    text.push_back('\n');
  }
  return Text(status, std::move(text));
}

Response Response::MethodNotAllowed(std::string_view allow) {
  Response r = Error(405);
  r.headers.Set("Allow", std::string(allow));
  return r;
}

const char* StatusReason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 416:
      return "Range Not Satisfiable";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

}  // namespace paddock::http
