#pragma once

// Content digests of the OCI image spec, restricted to what this cache stores: "sha256:" and
// exactly 64 lowercase hex characters. A Digest that exists has been validated, so its hex part
// is safe to use as a file name (no '/', no '..', fixed length). Everything else (other
// algorithms, uppercase, whitespace, shorter or longer hex) is rejected by Parse.
//
// Sha256 hashes bytes incrementally as they stream in (OpenSSL EVP). Neither type is shared
// between threads without external locking; Digest values are immutable and freely copied.

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/result.h"

namespace paddock::registry {

class Digest {
 public:
  // Accepts "sha256:<64 lowercase hex>" and nothing else.
  static Result<Digest> Parse(std::string_view text);
  // True when text has the shape of a digest of any algorithm ("alg:encoded"); used to tell a
  // tag from a digest in a manifest reference. Parse still decides whether it is acceptable.
  static bool LooksLikeDigest(std::string_view text);

  const std::string& hex() const { return hex_; }
  std::string ToString() const { return "sha256:" + hex_; }

  friend bool operator==(const Digest& a, const Digest& b) { return a.hex_ == b.hex_; }
  friend bool operator<(const Digest& a, const Digest& b) { return a.hex_ < b.hex_; }

 private:
  friend class Sha256;
  explicit Digest(std::string hex) : hex_(std::move(hex)) {}
  std::string hex_;
};

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(ByteSpan data);
  void Update(std::string_view data);
  // Returns the digest of everything passed to Update. The object must not be used afterwards.
  Digest Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

Digest Sha256Of(std::string_view data);

}  // namespace paddock::registry

template <>
struct std::hash<paddock::registry::Digest> {
  size_t operator()(const paddock::registry::Digest& d) const {
    return std::hash<std::string>()(d.hex());
  }
};
