#include "daemon/tokens.h"

#include <openssl/sha.h>
#include <sys/random.h>

#include <cstdint>

#include "common/bytes.h"

namespace paddock::daemon {

std::string NewBootToken() {
  uint8_t buf[16];
  size_t got = 0;
  while (got < sizeof(buf)) {
    ssize_t n = getrandom(buf + got, sizeof(buf) - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  return HexEncode(ByteSpan(buf, sizeof(buf)));
}

std::string HashToken(const std::string& token) {
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const uint8_t*>(token.data()), token.size(), digest);
  return HexEncode(ByteSpan(digest, sizeof(digest)));
}

}  // namespace paddock::daemon
