// Boot tokens arrive from the network (POST /agent/v1/redeem, NoCloud seed URLs): Verify must
// reject any text but a token its key issued, and never crash. The input is also read as
// claims: a token issued for them must verify to the same claims, and must stop verifying
// when any of its characters changes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "daemon/tokens.h"

using paddock::MacAddress;
using paddock::daemon::BootTokenClaims;
using paddock::daemon::BootTokenSigner;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const BootTokenSigner signer(std::array<uint8_t, BootTokenSigner::kKeyBytes>{42});
  std::string text(reinterpret_cast<const char*>(data), size);
  if (signer.Verify(text)) std::abort();  // a forgery, from a fuzzer, without the key

  if (size < 19) return 0;
  BootTokenClaims claims;
  claims.mac = MacAddress::FromBytes(data);
  uint32_t v[3];
  std::memcpy(v, data + 6, sizeof(v));
  claims.boot = v[0];
  claims.issued_at = v[1];
  claims.expires_at = v[2];
  std::string token = signer.Issue(claims);
  auto back = signer.Verify(token);
  if (!back || back->mac != claims.mac || back->boot != claims.boot ||
      back->issued_at != claims.issued_at || back->expires_at != claims.expires_at) {
    std::abort();
  }
  const size_t pos = data[18] % token.size();
  token[pos] = token[pos] == 'f' ? '0' : static_cast<char>(token[pos] + 1);
  if (signer.Verify(token)) std::abort();
  return 0;
}
