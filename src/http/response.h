#pragma once

// Plain HTTP response type (no Beast). A Response carries its body either in memory (`body`)
// or as a slice of an open file (`file`), which the server sends with sendfile(2) without
// copying the data through user space. Streaming bodies of unknown or large size go through a
// Responder (responder.h) instead.
//
// The server adds Content-Length (or chunked framing), Date, Server and Connection; a handler
// sets everything else (Content-Type, ETag, ...). For HEAD the server sends the same headers,
// Content-Length included, and no body.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "http/request.h"

namespace paddock::http {

// Owns an open file descriptor and closes it on destruction. Shared by a Response and the
// connection sending it, so a handler may return a Response and forget the file.
class FileHandle {
 public:
  explicit FileHandle(int fd) : fd_(fd) {}
  ~FileHandle();
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

// `length` bytes of `file` from `offset`. The server sends exactly `length` bytes; if the file
// shrinks meanwhile the connection is closed (the client sees a short body, never garbage).
struct FileBody {
  std::shared_ptr<const FileHandle> file;
  uint64_t offset = 0;
  uint64_t length = 0;
};

// Opens `path` (no confinement check: the caller chose the path, e.g. a content-addressed
// blob) and returns the whole regular file as a FileBody. NotFound / PermissionDenied /
// InvalidArgument (not a regular file) / IoError otherwise.
Result<FileBody> OpenFileBody(const std::string& path);

struct Response {
  int status = 200;
  Headers headers;
  std::string body;              // used when `file` is empty
  std::optional<FileBody> file;  // when set, the body is this file slice and `body` is ignored
  // Not sent: what the exchange meant to the handler, handed to the server's access observer
  // (AccessRecord::label/detail). The daemon records a labelled exchange as one timeline event
  // of that phase instead of an "http.request" one; `access_detail` is then a JSON object.
  std::string access_label;
  std::string access_detail;

  // The number of body bytes this response announces in Content-Length.
  uint64_t ContentLength() const { return file ? file->length : body.size(); }

  // A response with the given body and Content-Type.
  static Response Text(int status, std::string body,
                       std::string_view content_type = "text/plain; charset=utf-8");
  // A response with no body (Content-Length: 0), e.g. 204 or 304.
  static Response Empty(int status);
  // A short text/plain error page: "<status> <reason>\n" plus `detail` when not empty.
  static Response Error(int status, std::string_view detail = {});
  static Response BadRequest(std::string_view detail = {}) { return Error(400, detail); }
  static Response Forbidden() { return Error(403); }
  static Response NotFound() { return Error(404); }
  // 405 with the Allow header (RFC 9110 §15.5.6), e.g. allow = "GET, HEAD".
  static Response MethodNotAllowed(std::string_view allow);
  static Response InternalError() { return Error(500); }
  static Response ServiceUnavailable() { return Error(503); }
};

// The reason phrase for a status code ("Not Found"), or "Unknown".
const char* StatusReason(int status);

}  // namespace paddock::http
