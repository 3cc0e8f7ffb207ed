#include "daemon/tokens.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sys/random.h>

#include <algorithm>
#include <cstring>

#include "common/bytes.h"
#include "store/store.h"

namespace paddock::daemon {
namespace {

// Token layout (43 bytes, sent as 86 hex characters):
//   [0]      version (1)
//   [1..6]   MAC
//   [7..10]  boot number          (big-endian, unsigned 32)
//   [11..14] issued, unix seconds (big-endian, unsigned 32)
//   [15..18] expires, unix seconds
//   [19..26] nonce (a counter from a random start)
//   [27..42] first 16 bytes of HMAC-SHA256(key, bytes 0..26)
constexpr uint8_t kVersion = 1;
constexpr size_t kSignedBytes = 27;
constexpr size_t kTagBytes = 16;
constexpr size_t kTokenBytes = kSignedBytes + kTagBytes;
static_assert(kTokenBytes * 2 == BootTokenSigner::kTextLength);

constexpr char kKeyName[] = "boot_token_key";

void FillRandom(uint8_t* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = getrandom(buf + got, n - got, 0);
    if (r > 0) got += static_cast<size_t>(r);
  }
}

// A time or boot number as the token's unsigned 32 bits (clamped, never wrapped).
uint32_t Clamp32(int64_t v) { return static_cast<uint32_t>(std::clamp<int64_t>(v, 0, UINT32_MAX)); }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case is not a token we issued
}

// SHA-256 through a digest fetched once: the one-shot SHA256() and HMAC() look the algorithm
// up by name on every call (a provider-store lock and string compares), a visible share of an
// /ipxe request.
const EVP_MD* Sha256() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

void Sha256Of(const uint8_t* data, size_t n, uint8_t* out) {
  unsigned int len = 0;
  EVP_Digest(data, n, out, &len, Sha256(), nullptr);
}

void Tag(const std::array<uint8_t, BootTokenSigner::kKeyBytes>& key, const uint8_t* data,
         uint8_t* tag) {
  uint8_t full[SHA256_DIGEST_LENGTH];
  detail::HmacSha256(ByteSpan(key.data(), key.size()), ByteSpan(data, kSignedBytes), full);
  std::memcpy(tag, full, kTagBytes);
}

}  // namespace

BootTokenSigner::BootTokenSigner(const std::array<uint8_t, kKeyBytes>& key) : key_(key) {
  uint64_t start = 0;
  FillRandom(reinterpret_cast<uint8_t*>(&start), sizeof(start));
  nonce_.store(start);
}

Result<std::unique_ptr<BootTokenSigner>> BootTokenSigner::FromStore(store::Store& store) {
  std::string candidate(kKeyBytes, '\0');
  FillRandom(reinterpret_cast<uint8_t*>(candidate.data()), candidate.size());
  auto key = store.Secret(kKeyName, candidate);
  if (!key) return tl::unexpected(key.error());
  if (key->size() != kKeyBytes) {
    return IoError(std::string("the store's ") + kKeyName + " secret has " +
                   std::to_string(key->size()) + " bytes, expected " + std::to_string(kKeyBytes));
  }
  std::array<uint8_t, kKeyBytes> bytes;
  std::memcpy(bytes.data(), key->data(), kKeyBytes);
  return std::make_unique<BootTokenSigner>(bytes);
}

std::string BootTokenSigner::Issue(const BootTokenClaims& claims) const {
  ByteWriter w(kTokenBytes);
  w.WriteU8(kVersion);
  w.WriteBytes(claims.mac.bytes());
  w.WriteU32(Clamp32(claims.boot));
  w.WriteU32(Clamp32(claims.issued_at));
  w.WriteU32(Clamp32(claims.expires_at));
  const uint64_t nonce = nonce_.fetch_add(1, std::memory_order_relaxed);
  w.WriteU32(static_cast<uint32_t>(nonce >> 32));
  w.WriteU32(static_cast<uint32_t>(nonce));
  uint8_t tag[kTagBytes];
  Tag(key_, w.bytes().data(), tag);
  w.WriteBytes(ByteSpan(tag, sizeof(tag)));
  return HexEncode(w.bytes());
}

std::optional<BootTokenClaims> BootTokenSigner::Verify(std::string_view token) const {
  if (token.size() != kTextLength) return std::nullopt;
  uint8_t raw[kTokenBytes];
  for (size_t i = 0; i < kTokenBytes; ++i) {
    const int hi = HexValue(token[2 * i]);
    const int lo = HexValue(token[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    raw[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  if (raw[0] != kVersion) return std::nullopt;
  uint8_t tag[kTagBytes];
  Tag(key_, raw, tag);
  if (CRYPTO_memcmp(tag, raw + kSignedBytes, kTagBytes) != 0) return std::nullopt;
  ByteReader r(ByteSpan(raw + 1, kSignedBytes - 1));  // after the version
  ByteSpan mac;
  uint32_t boot = 0, issued = 0, expires = 0;
  r.ReadSpan(6, &mac);
  r.ReadU32(&boot);
  r.ReadU32(&issued);
  r.ReadU32(&expires);
  BootTokenClaims c;
  c.mac = MacAddress::FromBytes(mac.data());
  c.boot = boot;
  c.issued_at = issued;
  c.expires_at = expires;
  return c;
}

std::string NewSecretToken() {
  uint8_t buf[16];
  FillRandom(buf, sizeof(buf));
  return HexEncode(ByteSpan(buf, sizeof(buf)));
}

namespace detail {

// RFC 2104 with a block of 64 bytes: H((K ^ opad) || H((K ^ ipad) || m)).
void HmacSha256(ByteSpan key, ByteSpan message, uint8_t* out) {
  constexpr size_t kBlock = 64;
  uint8_t k[kBlock] = {};
  if (key.size() > kBlock) {
    Sha256Of(key.data(), key.size(), k);
  } else {
    std::memcpy(k, key.data(), key.size());
  }
  std::string inner(kBlock + message.size(), '\0');
  uint8_t* in = reinterpret_cast<uint8_t*>(inner.data());
  for (size_t i = 0; i < kBlock; ++i) in[i] = k[i] ^ 0x36;
  std::memcpy(in + kBlock, message.data(), message.size());
  uint8_t outer[kBlock + SHA256_DIGEST_LENGTH];
  for (size_t i = 0; i < kBlock; ++i) outer[i] = k[i] ^ 0x5c;
  Sha256Of(in, inner.size(), outer + kBlock);
  Sha256Of(outer, sizeof(outer), out);
}

}  // namespace detail

std::string HashToken(std::string_view token) {
  uint8_t digest[SHA256_DIGEST_LENGTH];
  Sha256Of(reinterpret_cast<const uint8_t*>(token.data()), token.size(), digest);
  return HexEncode(ByteSpan(digest, sizeof(digest)));
}

}  // namespace paddock::daemon
