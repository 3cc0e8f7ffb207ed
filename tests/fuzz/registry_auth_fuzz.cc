// Fuzzes the WWW-Authenticate parser and the token-endpoint response parser.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "registry/auth.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace paddock::registry;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto challenges = ParseWwwAuthenticate(text);
  if (challenges) {
    if (challenges->empty()) __builtin_trap();
    for (const auto& c : *challenges) {
      if (c.scheme.empty()) __builtin_trap();
      for (char ch : c.scheme) {
        if (ch >= 'A' && ch <= 'Z') __builtin_trap();  // schemes are lowercased
      }
    }
    (void)FindChallenge(*challenges, "bearer");
  }
  auto token = ParseTokenResponse(text, 1700000000);
  if (token) {
    if (token->token.empty() || token->expires_at < 1700000000 + 60) __builtin_trap();
    for (char ch : token->token) {
      if (ch < 0x21 || ch > 0x7e) __builtin_trap();
    }
  }
  (void)UrlEncode(text);
  return 0;
}
