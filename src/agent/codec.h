#pragma once

// Small codecs the agent needs without pulling a crypto or compression framework into its static
// binary: SHA-256 (state checksums), base64 (write_files, MIME parts) and gzip inflate
// (write_files encodings, gzip-compressed user-data). All functions are pure and thread-safe;
// none throws on bad input.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace paddock::agent {

// Incremental SHA-256 (FIPS 180-4).
class Sha256 {
 public:
  Sha256();
  void Update(std::string_view data);
  std::array<uint8_t, 32> Finish();
  // Lower-case hex digest of `data`.
  static std::string HexDigest(std::string_view data);

 private:
  void Block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

// Decodes base64 the way Python's base64.b64decode does by default (which cloud-init uses):
// characters outside the alphabet (whitespace, newlines) are skipped; missing padding is an
// error only if the data length is impossible. Accepts the URL-safe alphabet too.
Result<std::string> Base64Decode(std::string_view text);
std::string Base64Encode(std::string_view data);

// True when `data` starts with the gzip magic (RFC 1952 §2.3.1: 1f 8b).
bool IsGzip(std::string_view data);
// Inflates a gzip stream (RFC 1952). Fails on corrupt data, or when the output would exceed
// `max_output` bytes (decompression bombs).
Result<std::string> Gunzip(std::string_view data, size_t max_output = 64u << 20);

}  // namespace paddock::agent
