#pragma once

// Boot tokens: one-time secrets put on a machine's kernel command line by its iPXE script.
//
// A boot token is stateless: it carries its own facts (MAC, boot number, issue and expiry
// times, a random nonce) and an HMAC-SHA256 tag over them, keyed with a secret kept in the
// store. Issuing one writes nothing; the store keeps only the tokens that were redeemed (their
// SHA-256, so a token is accepted once). Anyone can read a token's facts; nobody without the
// key can make or alter one. Rotating the key (deleting the `boot_token_key` secret) makes every
// unredeemed token unknown.
//
// Agent credentials (issued at redemption) are plain random secrets, stored hashed.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/net.h"
#include "common/result.h"

namespace paddock::store {
class Store;
}

namespace paddock::daemon {

// What a valid boot token says.
struct BootTokenClaims {
  MacAddress mac;
  int64_t boot = 0;        // the machine's boot number when the script was rendered
  int64_t issued_at = 0;   // unix seconds
  int64_t expires_at = 0;  // unix seconds
};

class BootTokenSigner {
 public:
  static constexpr size_t kKeyBytes = 32;
  // Length of a token's text (lower-case hex).
  static constexpr size_t kTextLength = 86;

  explicit BootTokenSigner(const std::array<uint8_t, kKeyBytes>& key);
  BootTokenSigner(const BootTokenSigner&) = delete;
  BootTokenSigner& operator=(const BootTokenSigner&) = delete;
  // The signer whose key is the store's `boot_token_key` secret, created (random, from
  // getrandom) on first use.
  static Result<std::unique_ptr<BootTokenSigner>> FromStore(store::Store& store);

  // A new token for `claims`, unique through its nonce (a counter from a random start: only
  // the key makes a token unguessable, so the nonce need not be). Times must fit in 32 unsigned
  // bits (until 2106) and the boot number too; out-of-range values are clamped. Thread-safe.
  std::string Issue(const BootTokenClaims& claims) const;
  // The claims of a token this signer issued; nullopt when the text is malformed, altered or
  // signed with another key. Expiry is NOT checked here (the caller reports it separately).
  std::optional<BootTokenClaims> Verify(std::string_view token) const;

 private:
  std::array<uint8_t, kKeyBytes> key_;
  mutable std::atomic<uint64_t> nonce_;
};

// 128 random bits from the kernel (getrandom), as 32 lower-case hex characters.
std::string NewSecretToken();

// Lower-case hex SHA-256 of the token text.
std::string HashToken(std::string_view token);

namespace detail {
// HMAC-SHA256 (RFC 2104) of `message` into out[32]; exposed for its known-answer test.
void HmacSha256(ByteSpan key, ByteSpan message, uint8_t* out);
}  // namespace detail

}  // namespace paddock::daemon
