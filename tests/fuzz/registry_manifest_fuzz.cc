// Fuzzes ParseManifest (and the digest parser behind it). The first byte picks the
// Content-Type the bytes arrive with; the rest is the body.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "registry/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace paddock::registry;
  if (size == 0) return 0;
  static constexpr std::string_view kTypes[] = {
      "",
      "application/json",
      kOciIndexType,
      kOciManifestType,
      kDockerListType,
      kDockerV2Type,
      "application/vnd.oci.image.index.v1+json; charset=utf-8"};
  std::string_view type = kTypes[data[0] % (sizeof(kTypes) / sizeof(kTypes[0]))];
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  auto m = ParseManifest(body, type);
  if (m) {
    // Invariants of a successful parse.
    if (!IsManifestMediaType(m->media_type)) __builtin_trap();
    if (m->is_index != IsIndexMediaType(m->media_type)) __builtin_trap();
    if (!m->is_index && !m->config) __builtin_trap();
    for (const Digest& d : ReferencedDigests(*m)) {
      if (!Digest::Parse(d.ToString())) __builtin_trap();
    }
  }
  (void)Digest::Parse(body);
  return 0;
}
