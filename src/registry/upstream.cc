#include "registry/upstream.h"

#include <curl/curl.h>

#include <atomic>
#include <map>
#include <mutex>

#include "common/log.h"
#include "registry/manifest.h"

namespace paddock::registry {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// host[:port] as containerd sends in ?ns=: letters, digits, '.', '-', one optional :port.
bool IsValidNamespace(std::string_view ns) {
  if (ns.empty() || ns.size() > 253) return false;
  size_t colon = ns.find(':');
  std::string_view host = ns.substr(0, colon);
  if (host.empty() || host.front() == '.' || host.front() == '-') return false;
  for (char c : host) {
    if (!(IsLowerAlnum(c) || (c >= 'A' && c <= 'Z') || c == '.' || c == '-')) return false;
  }
  if (colon != std::string_view::npos) {
    std::string_view port = ns.substr(colon + 1);
    if (port.empty() || port.size() > 5) return false;
    for (char c : port) {
      if (c < '0' || c > '9') return false;
    }
  }
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

// scheme://host[:port] of a URL, lowercased, for the same-origin check on redirects.
std::string OriginOf(const std::string& url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return "";
  size_t host_end = url.find_first_of("/?#", scheme_end + 3);
  return Lower(url.substr(0, host_end));
}

struct HttpResult {
  long status = 0;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;                            // non-streamed bodies, capped
  std::string redirect_url;
  CURLcode curl_code = CURLE_OK;
  std::string curl_error;
  bool cancelled = false;
};

struct Transfer {
  HttpResult* result;
  const BlobSink* sink = nullptr;  // stream 200 bodies here when set
  size_t body_cap = 0;
  bool started = false;
  bool too_big = false;
  CURL* curl = nullptr;
};

size_t HeaderCallback(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.substr(0, 5) == "HTTP/") {
    t->result->headers.clear();  // a new response (after 100-continue or a proxy CONNECT)
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string name = Lower(Trim(line.substr(0, colon)));
  std::string value = Trim(line.substr(colon + 1));
  auto& slot = t->result->headers[name];
  // RFC 9110 §5.3: repeated fields combine with ", " (WWW-Authenticate may repeat).
  slot = slot.empty() ? value : slot + ", " + value;
  return size * n;
}

size_t WriteCallback(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  if (t->sink != nullptr) {
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status == 200) {
      if (!t->started) {
        t->started = true;
        int64_t length = -1;
        auto it = t->result->headers.find("content-length");
        if (it != t->result->headers.end()) {
          char* end = nullptr;
          long long v = std::strtoll(it->second.c_str(), &end, 10);
          if (end != it->second.c_str() && *end == '\0' && v >= 0) length = v;
        }
        if (!t->sink->on_start(length)) {
          t->result->cancelled = true;
          return 0;
        }
      }
      if (!t->sink->on_data(ByteSpan(reinterpret_cast<const uint8_t*>(data), len))) {
        t->result->cancelled = true;
        return 0;
      }
      return len;
    }
  }
  if (t->result->body.size() + len > t->body_cap) {
    t->too_big = true;
    return 0;  // aborts the transfer: CURLE_WRITE_ERROR
  }
  t->result->body.append(data, len);
  return len;
}

Status StatusToError(long status, const std::string& what) {
  if (status == 404) return NotFound(what + ": upstream 404");
  if (status == 401 || status == 403) {
    return PermissionDenied(what + ": upstream " + std::to_string(status));
  }
  if (status == 429 || status >= 500) {
    return MakeError(ErrorCode::kUnavailable, what + ": upstream " + std::to_string(status));
  }
  return InvalidArgument(what + ": unexpected upstream status " + std::to_string(status));
}

std::once_flag curl_init_once;

}  // namespace

// ---------------------------------------------------------------------------------------------

UpstreamRouter::UpstreamRouter(std::vector<UpstreamConfig> configured,
                               std::string default_namespace, bool allow_unlisted)
    : configured_(std::move(configured)),
      default_namespace_(std::move(default_namespace)),
      allow_unlisted_(allow_unlisted) {}

Result<UpstreamConfig> UpstreamRouter::Route(std::string_view ns) const {
  if (ns.empty()) ns = default_namespace_;
  for (const auto& u : configured_) {
    if (u.name == ns) return u;
  }
  if (!allow_unlisted_) return NotFound("no upstream configured for namespace " + std::string(ns));
  if (!IsValidNamespace(ns)) return InvalidArgument("invalid namespace");
  UpstreamConfig u;
  u.name = std::string(ns);
  u.url = ns == "docker.io" ? "https://registry-1.docker.io" : "https://" + std::string(ns);
  return u;
}

bool IsValidRepositoryName(std::string_view repo) {
  if (repo.empty() || repo.size() > 255) return false;
  // Walk components; inside one, separators may not lead, trail or double (except "__" and
  // runs of '-').
  size_t start = 0;
  while (start <= repo.size()) {
    size_t slash = repo.find('/', start);
    std::string_view comp = repo.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (comp.empty() || !IsLowerAlnum(comp.front()) || !IsLowerAlnum(comp.back())) return false;
    for (size_t i = 0; i < comp.size(); ++i) {
      char c = comp[i];
      if (IsLowerAlnum(c) || c == '-') continue;
      if (c == '.' && IsLowerAlnum(comp[i + 1]) && IsLowerAlnum(comp[i - 1])) continue;
      if (c == '_') {
        if (comp[i + 1] == '_') {
          if (!IsLowerAlnum(comp[i - 1]) || !IsLowerAlnum(comp[i + 2])) return false;
          ++i;
          continue;
        }
        if (IsLowerAlnum(comp[i - 1]) && IsLowerAlnum(comp[i + 1])) continue;
      }
      return false;
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return true;
}

bool IsValidTag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128) return false;
  for (size_t i = 0; i < tag.size(); ++i) {
    char c = tag[i];
    bool word =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (word) continue;
    if (i > 0 && (c == '.' || c == '-')) continue;
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------

struct CurlUpstream::Impl {
  CurlUpstreamOptions options;
  TokenCache tokens;
  std::atomic<uint64_t> token_fetches{0};

  explicit Impl(CurlUpstreamOptions o)
      : options(std::move(o)), tokens(options.clock ? *options.clock : SystemClock::Instance()) {
    if (options.clock == nullptr) options.clock = &SystemClock::Instance();
  }

  // One HTTP exchange, no redirects followed, no auth logic.
  HttpResult Perform(CURL* curl, const std::string& method, const std::string& url,
                     const std::vector<std::string>& headers, const BlobSink* sink, size_t body_cap,
                     int64_t total_timeout) {
    HttpResult r;
    Transfer t{&r, sink, body_cap, false, false, curl};
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);  // redirects handled in Exchange
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_PROXY, options.proxy.c_str());  // "" disables env proxies
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT,
                     static_cast<long>(options.connect_timeout_seconds));
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                     static_cast<long>(options.stall_timeout_seconds));
    if (total_timeout > 0)
      curl_easy_setopt(curl, CURLOPT_TIMEOUT, static_cast<long>(total_timeout));
    curl_easy_setopt(curl, CURLOPT_USERAGENT, options.user_agent.c_str());
    if (method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &HeaderCallback);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &WriteCallback);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    curl_slist* list = nullptr;
    for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    r.curl_code = curl_easy_perform(curl);
    curl_slist_free_all(list);
    if (r.curl_code != CURLE_OK) {
      r.curl_error = errbuf[0] ? errbuf : curl_easy_strerror(r.curl_code);
      if (t.too_big) r.curl_error = "response body too large";
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
    char* redirect = nullptr;
    curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &redirect);
    if (redirect) r.redirect_url = redirect;
    return r;
  }

  // Fetches a bearer token for `challenge` (token.md "Requesting a Token").
  Status FetchToken(CURL* curl, const UpstreamConfig& up, const Challenge& challenge,
                    const std::string& scope) {
    auto realm = challenge.params.find("realm");
    if (realm == challenge.params.end()) return InvalidArgument("bearer challenge without realm");
    if (realm->second.rfind("https://", 0) != 0 && realm->second.rfind("http://", 0) != 0) {
      return InvalidArgument("bearer realm is not an http(s) URL");
    }
    std::string url = realm->second;
    char sep = url.find('?') == std::string::npos ? '?' : '&';
    if (auto s = challenge.params.find("service"); s != challenge.params.end()) {
      url += sep + std::string("service=") + UrlEncode(s->second);
      sep = '&';
    }
    std::string want_scope = scope;
    if (auto s = challenge.params.find("scope"); s != challenge.params.end()) {
      want_scope = s->second;
    }
    if (!want_scope.empty()) url += sep + std::string("scope=") + UrlEncode(want_scope);
    std::vector<std::string> headers;
    // Credentials go to the realm only over https, or to the upstream's own origin (a local
    // plain-http registry).
    if (!up.username.empty() &&
        (url.rfind("https://", 0) == 0 || OriginOf(url) == OriginOf(up.url))) {
      headers.push_back("Authorization: " + BasicAuthorization(up.username, up.password));
    }
    token_fetches++;
    HttpResult r =
        Perform(curl, "GET", url, headers, nullptr, 1 << 20, options.manifest_timeout_seconds);
    if (r.curl_code != CURLE_OK) {
      return MakeError(ErrorCode::kUnavailable, "token endpoint: " + r.curl_error);
    }
    if (r.status != 200) return StatusToError(r.status, "token endpoint");
    auto token = ParseTokenResponse(r.body, options.clock->NowSeconds());
    if (!token) return tl::unexpected(token.error());
    tokens.Put(up.name, scope, std::move(*token));
    return Ok();
  }

  // A request with auth (cached bearer token, basic credentials, one 401 round) and manual
  // redirects (Authorization only to the upstream's own origin; distribution-spec: clients
  // must not forward credentials to the redirect target).
  Result<HttpResult> Exchange(const UpstreamConfig& up, const std::string& method,
                              const std::string& path, const std::string& scope,
                              std::vector<std::string> extra_headers, const BlobSink* sink,
                              size_t body_cap, int64_t total_timeout) {
    CURL* curl = curl_easy_init();
    if (curl == nullptr) return MakeError(ErrorCode::kInternal, "curl_easy_init failed");
    struct Cleanup {
      CURL* c;
      ~Cleanup() { curl_easy_cleanup(c); }
    } cleanup{curl};

    std::string origin = OriginOf(up.url);
    bool basic_preferred = false;
    for (int auth_round = 0; auth_round < 2; ++auth_round) {
      std::string auth;
      if (auto token = tokens.Get(up.name, scope)) {
        auth = "Authorization: Bearer " + *token;
      } else if (!up.username.empty() && basic_preferred) {
        auth = "Authorization: " + BasicAuthorization(up.username, up.password);
      }
      std::string url = up.url + path;
      HttpResult r;
      for (int hop = 0; hop < 6; ++hop) {
        std::vector<std::string> headers = extra_headers;
        if (!auth.empty() && OriginOf(url) == origin) headers.push_back(auth);
        r = Perform(curl, method, url, headers, sink, body_cap, total_timeout);
        if (r.curl_code != CURLE_OK) {
          if (r.cancelled) return MakeError(ErrorCode::kUnavailable, "cancelled");
          return MakeError(ErrorCode::kUnavailable, up.name + ": " + r.curl_error);
        }
        bool is_redirect = r.status == 301 || r.status == 302 || r.status == 303 ||
                           r.status == 307 || r.status == 308;
        if (!is_redirect || r.redirect_url.empty()) break;
        url = r.redirect_url;
        if (hop == 5) return MakeError(ErrorCode::kUnavailable, "too many redirects");
      }
      if (r.status != 401 || auth_round == 1) return r;
      auto it = r.headers.find("www-authenticate");
      if (it == r.headers.end()) return r;
      auto challenges = ParseWwwAuthenticate(it->second);
      if (!challenges) return r;
      if (const Challenge* bearer = FindChallenge(*challenges, "bearer")) {
        tokens.Forget(up.name, scope);
        if (auto s = FetchToken(curl, up, *bearer, scope); !s) return tl::unexpected(s.error());
      } else if (FindChallenge(*challenges, "basic") && !up.username.empty()) {
        basic_preferred = true;
      } else {
        return r;
      }
    }
    return MakeError(ErrorCode::kInternal, "unreachable");
  }
};

CurlUpstream::CurlUpstream(CurlUpstreamOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  std::call_once(curl_init_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

CurlUpstream::~CurlUpstream() = default;

uint64_t CurlUpstream::token_fetches() const { return impl_->token_fetches.load(); }

Result<FetchedManifest> CurlUpstream::FetchManifest(const UpstreamConfig& upstream,
                                                    const std::string& repo,
                                                    const std::string& reference, bool head_only) {
  std::string scope = "repository:" + repo + ":pull";
  auto r = impl_->Exchange(
      upstream, head_only ? "HEAD" : "GET", "/v2/" + repo + "/manifests/" + reference, scope,
      {"Accept: " + ManifestAcceptHeader()}, nullptr, impl_->options.max_manifest_bytes,
      impl_->options.manifest_timeout_seconds);
  if (!r) return tl::unexpected(r.error());
  if (r->status != 200) {
    return tl::unexpected(StatusToError(r->status, "manifest " + repo + ":" + reference).error());
  }
  FetchedManifest m;
  if (auto it = r->headers.find("content-type"); it != r->headers.end()) m.media_type = it->second;
  if (auto it = r->headers.find("docker-content-digest"); it != r->headers.end()) {
    auto d = Digest::Parse(it->second);
    if (d) m.digest = *d;
  }
  if (auto it = r->headers.find("content-length"); it != r->headers.end()) {
    m.content_length = std::strtoll(it->second.c_str(), nullptr, 10);
  }
  m.bytes = std::move(r->body);
  return m;
}

Status CurlUpstream::FetchBlob(const UpstreamConfig& upstream, const std::string& repo,
                               const Digest& digest, const BlobSink& sink) {
  std::string scope = "repository:" + repo + ":pull";
  auto r = impl_->Exchange(upstream, "GET", "/v2/" + repo + "/blobs/" + digest.ToString(), scope,
                           {}, &sink, 64 * 1024, 0);
  if (!r) return tl::unexpected(r.error());
  if (r->status != 200) return StatusToError(r->status, "blob " + digest.ToString());
  return Ok();
}

Result<std::string> CurlUpstream::FetchTagList(const UpstreamConfig& upstream,
                                               const std::string& repo) {
  std::string scope = "repository:" + repo + ":pull";
  auto r = impl_->Exchange(upstream, "GET", "/v2/" + repo + "/tags/list", scope,
                           {"Accept: application/json"}, nullptr, 4 * 1024 * 1024,
                           impl_->options.manifest_timeout_seconds);
  if (!r) return tl::unexpected(r.error());
  if (r->status != 200) return tl::unexpected(StatusToError(r->status, "tags " + repo).error());
  return std::move(r->body);
}

}  // namespace paddock::registry
