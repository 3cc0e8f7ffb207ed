#include "registry/digest.h"

#include <openssl/evp.h>

namespace paddock::registry {

Result<Digest> Digest::Parse(std::string_view text) {
  constexpr std::string_view kPrefix = "sha256:";
  if (text.substr(0, kPrefix.size()) != kPrefix) {
    return InvalidArgument("digest: only sha256 is supported");
  }
  std::string_view hex = text.substr(kPrefix.size());
  if (hex.size() != 64) return InvalidArgument("digest: sha256 needs 64 hex characters");
  for (char c : hex) {
    // OCI image-spec descriptor.md: the sha256 encoded part is /[a-f0-9]{64}/ (lowercase only).
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return InvalidArgument("digest: not lowercase hex");
    }
  }
  return Digest(std::string(hex));
}

bool Digest::LooksLikeDigest(std::string_view text) {
  // Distribution spec: a tag is [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}, so it never holds ':'.
  return text.find(':') != std::string_view::npos;
}

struct Sha256::Impl {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr);
}

Sha256::~Sha256() { EVP_MD_CTX_free(impl_->ctx); }

void Sha256::Update(ByteSpan data) {
  if (!data.empty()) EVP_DigestUpdate(impl_->ctx, data.data(), data.size());
}

void Sha256::Update(std::string_view data) {
  if (!data.empty()) EVP_DigestUpdate(impl_->ctx, data.data(), data.size());
}

Digest Sha256::Finish() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(impl_->ctx, md, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(kHex[md[i] >> 4]);
    hex.push_back(kHex[md[i] & 0xf]);
  }
  return Digest(std::move(hex));
}

Digest Sha256Of(std::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.Finish();
}

}  // namespace paddock::registry
