#include "registry/auth.h"

#include <nlohmann/json.hpp>

namespace paddock::registry {
namespace {

// RFC 9110 §5.6.2: tchar.
bool IsTchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool IsToken68Char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}
  bool AtEnd() const { return pos_ >= s_.size(); }
  char Peek() const { return AtEnd() ? '\0' : s_[pos_]; }
  size_t pos() const { return pos_; }
  void Reset(size_t p) { pos_ = p; }
  void SkipWs() {
    while (!AtEnd() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
  }
  // Skips whitespace and commas (RFC 9110 §5.6.1: empty list elements are allowed).
  void SkipWsAndCommas() {
    while (!AtEnd() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == ',')) ++pos_;
  }
  std::string_view Token() {
    size_t start = pos_;
    while (!AtEnd() && IsTchar(s_[pos_])) ++pos_;
    return s_.substr(start, pos_ - start);
  }
  bool Consume(char c) {
    if (Peek() != c) return false;
    ++pos_;
    return true;
  }
  // RFC 9110 §5.6.4 quoted-string with quoted-pair. An unterminated string takes the rest.
  std::string Quoted() {
    std::string out;
    ++pos_;  // opening quote
    while (!AtEnd()) {
      char c = s_[pos_++];
      if (c == '"') return out;
      if (c == '\\' && !AtEnd()) c = s_[pos_++];
      out.push_back(c);
    }
    return out;
  }
  // A token68, including its trailing '=' padding.
  std::string_view Token68() {
    size_t start = pos_;
    while (!AtEnd() && IsToken68Char(s_[pos_])) ++pos_;
    while (!AtEnd() && s_[pos_] == '=') ++pos_;
    return s_.substr(start, pos_ - start);
  }
  // Skips to the next ',' (used to recover from garbage).
  void SkipToComma() {
    while (!AtEnd() && s_[pos_] != ',') {
      if (s_[pos_] == '"') {
        Quoted();
      } else {
        ++pos_;
      }
    }
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

Result<std::vector<Challenge>> ParseWwwAuthenticate(std::string_view header) {
  // RFC 9110 §11.6.1: WWW-Authenticate = #challenge; challenge = auth-scheme
  // [ 1*SP ( token68 / #auth-param ) ]. Params and the next challenge are both separated by
  // commas, so after a comma we look ahead: "token =" is a param, "token SP token =" or a lone
  // token starts a new challenge.
  std::vector<Challenge> out;
  Scanner sc(header);
  Challenge* current = nullptr;
  while (true) {
    sc.SkipWsAndCommas();
    if (sc.AtEnd()) break;
    size_t mark = sc.pos();
    std::string_view name = sc.Token();
    if (name.empty()) {
      sc.Reset(mark + 1);  // not a token character: skip it and try again
      sc.SkipToComma();
      continue;
    }
    sc.SkipWs();
    if (current != nullptr && sc.Peek() == '=') {
      // An auth-param of the current challenge: token BWS "=" BWS ( token / quoted-string ).
      sc.Consume('=');
      sc.SkipWs();
      std::string value;
      if (sc.Peek() == '"') {
        value = sc.Quoted();
      } else {
        value = std::string(sc.Token());
      }
      current->params[Lower(name)] = std::move(value);
      sc.SkipWs();
      if (!sc.AtEnd() && sc.Peek() != ',') sc.SkipToComma();
      continue;
    }
    // A new challenge: the scheme.
    out.push_back(Challenge{Lower(name), {}, {}});
    current = &out.back();
    if (sc.AtEnd() || sc.Peek() == ',') continue;
    // After the scheme: either a token68 (not followed by '=' token chars) or the first param.
    size_t after_scheme = sc.pos();
    std::string_view first = sc.Token();
    sc.SkipWs();
    if (!first.empty() && sc.Peek() == '=') {
      // Could be "param=value" or a token68 ending in '=' padding: a param has a value after.
      sc.Consume('=');
      sc.SkipWs();
      if (sc.Peek() == '"') {
        current->params[Lower(first)] = sc.Quoted();
      } else if (!sc.AtEnd() && sc.Peek() != ',' && sc.Peek() != '=') {
        current->params[Lower(first)] = std::string(sc.Token());
      } else {
        sc.Reset(after_scheme);
        current->token68 = std::string(sc.Token68());
      }
    } else {
      sc.Reset(after_scheme);
      current->token68 = std::string(sc.Token68());
    }
    sc.SkipWs();
    if (!sc.AtEnd() && sc.Peek() != ',') sc.SkipToComma();
  }
  if (out.empty()) return InvalidArgument("www-authenticate: no challenge");
  return out;
}

const Challenge* FindChallenge(const std::vector<Challenge>& challenges, std::string_view scheme) {
  for (const auto& c : challenges) {
    if (c.scheme == scheme) return &c;
  }
  return nullptr;
}

Result<BearerToken> ParseTokenResponse(std::string_view body, int64_t now_seconds) {
  using nlohmann::json;
  json j = json::parse(body.begin(), body.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgument("token: invalid JSON");
  BearerToken t;
  // token.md: "token" is required; "access_token" is the OAuth 2.0 alias. Either may be sent.
  for (const char* key : {"token", "access_token"}) {
    auto it = j.find(key);
    if (it != j.end() && it->is_string() && !it->get<std::string>().empty()) {
      t.token = it->get<std::string>();
      break;
    }
  }
  if (t.token.empty()) return InvalidArgument("token: no token in response");
  for (char c : t.token) {
    if (c < 0x21 || c > 0x7e) return InvalidArgument("token: bad character in token");
  }
  int64_t expires_in = 60;
  if (auto it = j.find("expires_in"); it != j.end() && it->is_number_integer()) {
    expires_in = it->get<int64_t>();
  }
  // token.md: "If expires_in is not specified, 60 seconds"; a smaller value must be treated
  // as 60. Clamp the top so a hostile value cannot overflow.
  if (expires_in < 60) expires_in = 60;
  if (expires_in > 86400 * 365) expires_in = 86400 * 365;
  t.expires_at = now_seconds + expires_in;
  return t;
}

std::string BasicAuthorization(std::string_view user, std::string_view password) {
  static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string in = std::string(user) + ":" + std::string(password);
  std::string out = "Basic ";
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::optional<std::string> TokenCache::Get(const std::string& registry, const std::string& scope,
                                           int64_t margin) const {
  std::lock_guard lock(mu_);
  auto it = tokens_.find({registry, scope});
  if (it == tokens_.end()) return std::nullopt;
  if (it->second.expires_at - margin <= clock_.NowSeconds()) return std::nullopt;
  return it->second.token;
}

void TokenCache::Put(const std::string& registry, const std::string& scope, BearerToken token) {
  std::lock_guard lock(mu_);
  tokens_[{registry, scope}] = std::move(token);
}

void TokenCache::Forget(const std::string& registry, const std::string& scope) {
  std::lock_guard lock(mu_);
  tokens_.erase({registry, scope});
}

}  // namespace paddock::registry
