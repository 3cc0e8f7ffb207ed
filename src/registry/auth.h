#pragma once

// Upstream registry authentication (distribution docs/spec/auth/token.md, RFC 9110 §11.6.1,
// RFC 7235 challenge grammar).
//
// ParseWwwAuthenticate reads a WWW-Authenticate header value (untrusted: it comes from the
// upstream) into challenges: scheme plus auth-params. It handles several challenges in one
// header, quoted strings with backslash escapes, commas and '=' inside quoted values, token68,
// stray whitespace and empty list elements; it never throws and fails only when no challenge can
// be read at all.
//
// ParseTokenResponse reads the token endpoint's JSON ("token" or "access_token", "expires_in"
// defaulting to 60 s, never less than 60 s per the spec).
//
// TokenCache keeps bearer tokens per (registry, scope) until they expire. Thread-safe.

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace paddock::registry {

struct Challenge {
  std::string scheme;                         // lowercased: "bearer", "basic", ...
  std::map<std::string, std::string> params;  // keys lowercased, values unquoted
  std::string token68;                        // rare: "Negotiate abc==" style
};

Result<std::vector<Challenge>> ParseWwwAuthenticate(std::string_view header);

// The first challenge with the given (lowercase) scheme, if any.
const Challenge* FindChallenge(const std::vector<Challenge>& challenges, std::string_view scheme);

struct BearerToken {
  std::string token;
  int64_t expires_at = 0;  // Clock seconds
};

Result<BearerToken> ParseTokenResponse(std::string_view body, int64_t now_seconds);

// "Basic base64(user:pass)" for an Authorization header (RFC 7617).
std::string BasicAuthorization(std::string_view user, std::string_view password);

// Percent-encodes a query component (RFC 3986 unreserved characters pass through).
std::string UrlEncode(std::string_view s);

class TokenCache {
 public:
  explicit TokenCache(const Clock& clock) : clock_(clock) {}

  // A token still valid for at least `margin` seconds, or nullopt.
  std::optional<std::string> Get(const std::string& registry, const std::string& scope,
                                 int64_t margin = 5) const;
  void Put(const std::string& registry, const std::string& scope, BearerToken token);
  void Forget(const std::string& registry, const std::string& scope);

 private:
  const Clock& clock_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, BearerToken> tokens_;
};

}  // namespace paddock::registry
