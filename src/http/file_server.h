#pragma once

// Static file serving from a root directory, with byte ranges and conditional requests.
// No Beast here: ServeFile builds a plain Response whose body is an open file slice, which the
// server sends with sendfile(2).

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "http/request.h"
#include "http/response.h"

namespace paddock::http {

// Checks a relative path taken from a (decoded) URL before it touches the file system.
// Refuses (kPermissionDenied) an absolute path, a NUL byte, a backslash and any ".." segment;
// ".", empty segments and duplicate slashes are fine. Pure; fuzzed.
Status CheckRelativePath(std::string_view relative_path);

// True if `path` equals `root` or lies under it ("/srv/a" is not under "/srv/ab"). Both must
// be canonical (realpath) absolute paths.
bool IsUnderRoot(std::string_view root, std::string_view path);

// The Content-Type for a file name by its extension; "application/octet-stream" by default.
std::string_view ContentTypeFor(std::string_view file_name);

// A strong ETag from the file's identity and version: "\"<inode>-<size>-<mtime ns>\"" in hex.
std::string FileEtag(uint64_t inode, uint64_t size, int64_t mtime_ns);

// Answers a GET or HEAD for `relative_path` under `root` (the caller has stripped its route
// prefix, e.g. "/assets/", and passes the rest of the decoded Request::path).
//
// Confinement: CheckRelativePath, then realpath() of the file must lie under realpath(root),
// so a symlink pointing outside the root is refused even if its target exists. Escapes get
// 403; a missing file, a directory or anything but a regular file gets 404; another method
// gets 405 (Allow: GET, HEAD).
//
// Caching (RFC 9110 §13.2.2 order): If-None-Match (weak comparison, "*" too) and, only when it
// is absent, If-Modified-Since give 304 with ETag and Last-Modified. Ranges (§14, GET only):
// one satisfiable range gives 206 with Content-Range; an unsatisfiable one 416 with
// "Content-Range: bytes */size"; several ranges or an If-Range that does not match give 200
// with the whole file. Every 200/206 carries Accept-Ranges: bytes, ETag, Last-Modified and
// Content-Type. Blocking file-system calls (realpath, open, fstat: no data reads) run on the
// caller's thread; they are quick on a local disk.
Response ServeFile(const std::string& root, std::string_view relative_path, const Request& request);

}  // namespace paddock::http
