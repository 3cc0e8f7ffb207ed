#include "http/request.h"

#include <algorithm>

namespace paddock::http {
namespace {

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (LowerAscii(a[i]) != LowerAscii(b[i])) return false;
  }
  return true;
}

std::optional<std::string_view> Headers::Get(std::string_view name) const {
  for (const auto& [k, v] : fields_) {
    if (EqualsIgnoreCase(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

void Headers::Add(std::string name, std::string value) {
  fields_.emplace_back(std::move(name), std::move(value));
}

void Headers::Set(std::string name, std::string value) {
  Remove(name);
  Add(std::move(name), std::move(value));
}

void Headers::Remove(std::string_view name) {
  std::erase_if(fields_, [&](const Field& f) { return EqualsIgnoreCase(f.first, name); });
}

std::optional<std::string_view> Request::Query(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return std::string_view(v);
  }
  return std::nullopt;
}

std::string Request::PeerString() const {
  return peer_address.ToString() + ":" + std::to_string(peer_port);
}

// RFC 3986 §2.1: a percent-encoded octet is '%' followed by two hex digits.
Result<std::string> PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return InvalidArgument("truncated percent escape");
      int hi = HexValue(text[i + 1]);
      int lo = HexValue(text[i + 2]);
      if (hi < 0 || lo < 0) return InvalidArgument("bad percent escape");
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Result<QueryParams> ParseQuery(std::string_view raw_query) {
  QueryParams params;
  size_t pos = 0;
  while (pos <= raw_query.size()) {
    size_t amp = raw_query.find('&', pos);
    if (amp == std::string_view::npos) amp = raw_query.size();
    std::string_view pair = raw_query.substr(pos, amp - pos);
    pos = amp + 1;
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    std::string_view value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    auto k = PercentDecode(key, true);
    if (!k) return tl::unexpected(k.error());
    auto v = PercentDecode(value, true);
    if (!v) return tl::unexpected(v.error());
    params.emplace_back(std::move(*k), std::move(*v));
  }
  return params;
}

Result<ParsedTarget> ParseTarget(std::string_view target) {
  if (target.empty()) return InvalidArgument("empty request-target");
  // RFC 9112 §3.2.2 absolute-form: keep only the path and query.
  if (target.size() > 7 &&
      (EqualsIgnoreCase(target.substr(0, 7), "http://") ||
       (target.size() > 8 && EqualsIgnoreCase(target.substr(0, 8), "https://")))) {
    size_t scheme_end = target.find("://") + 3;
    size_t path_start = target.find_first_of("/?#", scheme_end);
    if (path_start == std::string_view::npos) {
      target = "/";
    } else if (target[path_start] != '/') {
      return InvalidArgument("absolute-form target without a path");
    } else {
      target = target.substr(path_start);
    }
  }
  if (target.front() != '/') return InvalidArgument("request-target does not start with '/'");
  size_t hash = target.find('#');
  if (hash != std::string_view::npos) target = target.substr(0, hash);
  size_t question = target.find('?');
  std::string_view raw_path = target.substr(0, question);
  std::string_view raw_query =
      question == std::string_view::npos ? std::string_view() : target.substr(question + 1);

  ParsedTarget out;
  auto path = PercentDecode(raw_path, /*plus_is_space=*/false);
  if (!path) return tl::unexpected(path.error());
  if (path->find('\0') != std::string::npos) return InvalidArgument("NUL in request path");
  out.path = std::move(*path);
  out.raw_query = std::string(raw_query);
  auto query = ParseQuery(raw_query);
  if (!query) return tl::unexpected(query.error());
  out.query = std::move(*query);
  return out;
}

Result<Request> BuildRequest(std::string method, std::string target, int version, Headers headers,
                             std::string body) {
  if (method.empty()) return InvalidArgument("empty method");
  auto parsed = ParseTarget(target);
  if (!parsed) return tl::unexpected(parsed.error());
  Request req;
  req.method = std::move(method);
  req.target = std::move(target);
  req.path = std::move(parsed->path);
  req.raw_query = std::move(parsed->raw_query);
  req.query = std::move(parsed->query);
  req.version = version;
  req.headers = std::move(headers);
  req.body = std::move(body);
  return req;
}

}  // namespace paddock::http
