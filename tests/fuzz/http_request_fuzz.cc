// Fuzzes every parser of untrusted HTTP input in src/http/ with the same bytes, and checks
// the invariants callers rely on (a satisfiable range lies inside the file, a parsed path
// starts with '/' and has no NUL, an accepted relative path has no ".." segment, ...).
// The same bytes are also fed to Beast's request parser as a whole request, and whatever it
// accepts goes through BuildRequest, as the server does.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/conditional.h"
#include "http/file_server.h"
#include "http/request.h"

namespace {

void Require(bool condition) {
  if (!condition) std::abort();
}

void FuzzBeastRequest(std::string_view text) {
  namespace bhttp = boost::beast::http;
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(64 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(text.data(), text.size()), ec);
  if (ec || !parser.is_done()) return;
  auto msg = parser.release();
  paddock::http::Headers headers;
  for (const auto& f : msg) headers.Add(std::string(f.name_string()), std::string(f.value()));
  auto req = paddock::http::BuildRequest(std::string(msg.method_string()),
                                         std::string(msg.target()), static_cast<int>(msg.version()),
                                         std::move(headers), std::move(msg.body()));
  if (!req) return;
  Require(!req->path.empty() && req->path.front() == '/');
  if (auto range = req->headers.Get("Range")) paddock::http::ParseRange(*range, 12345);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace paddock::http;
  std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto decoded = PercentDecode(text, true)) Require(decoded->size() <= text.size());
  if (auto q = ParseQuery(text)) {
    for (const auto& [k, v] : *q) Require(k.size() + v.size() <= text.size());
  }
  if (auto t = ParseTarget(text)) {
    Require(!t->path.empty() && t->path.front() == '/');
    Require(t->path.find('\0') == std::string::npos);
  }

  // A file size from the first bytes, so sizes near 0 and near 2^64 are both explored.
  uint64_t file_size = 0;
  if (size >= 8) std::memcpy(&file_size, data, 8);
  for (uint64_t s : {file_size, file_size % 4096, uint64_t{0}, uint64_t{1}}) {
    ByteRange r = ParseRange(text, s);
    if (r.kind == ByteRange::Kind::kSatisfiable) {
      Require(r.length >= 1);
      Require(r.offset < s && r.length <= s - r.offset);
      (void)ContentRange(r.offset, r.length, s);
    }
  }

  (void)IfNoneMatchMatches(text, "\"1-2-3\"");
  (void)StrongEtagEquals(text, "\"1-2-3\"");
  if (auto when = ParseHttpDate(text)) {
    auto again = ParseHttpDate(FormatHttpDate(*when));
    Require(again && *again == *when);
  }

  if (CheckRelativePath(text)) {
    Require(text.empty() || text.front() != '/');
    Require(text.find('\0') == std::string_view::npos);
    size_t pos = 0;
    while (pos <= text.size()) {
      size_t slash = text.find('/', pos);
      if (slash == std::string_view::npos) slash = text.size();
      Require(text.substr(pos, slash - pos) != "..");
      pos = slash + 1;
    }
  }
  size_t split = size / 2;
  (void)IsUnderRoot(text.substr(0, split), text.substr(split));
  (void)ContentTypeFor(text);

  FuzzBeastRequest(text);
  return 0;
}
