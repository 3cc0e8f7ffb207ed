#include "registry/manifest.h"

#include <nlohmann/json.hpp>

namespace paddock::registry {
namespace {

using nlohmann::json;

std::string_view StripParams(std::string_view media_type) {
  size_t semi = media_type.find(';');
  std::string_view t = media_type.substr(0, semi);
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
  return t;
}

Result<Descriptor> ParseDescriptor(const json& j, bool want_platform) {
  if (!j.is_object()) return InvalidArgument("manifest: descriptor is not an object");
  Descriptor d{.media_type = {}, .digest = Sha256Of(""), .size = 0, .platform = {}};
  auto mt = j.find("mediaType");
  if (mt != j.end()) {
    if (!mt->is_string()) return InvalidArgument("manifest: descriptor mediaType not a string");
    d.media_type = mt->get<std::string>();
  }
  auto dg = j.find("digest");
  if (dg == j.end() || !dg->is_string()) return InvalidArgument("manifest: descriptor digest");
  auto digest = Digest::Parse(dg->get<std::string>());
  if (!digest) return tl::unexpected(digest.error());
  d.digest = *digest;
  auto sz = j.find("size");
  if (sz == j.end() || !sz->is_number_integer()) {
    return InvalidArgument("manifest: descriptor size");
  }
  d.size = sz->get<int64_t>();
  if (d.size < 0) return InvalidArgument("manifest: negative descriptor size");
  if (want_platform) {
    auto p = j.find("platform");
    if (p != j.end() && p->is_object()) {
      auto os = p->find("os");
      auto arch = p->find("architecture");
      auto variant = p->find("variant");
      if (os != p->end() && os->is_string() && arch != p->end() && arch->is_string()) {
        d.platform = os->get<std::string>() + "/" + arch->get<std::string>();
        if (variant != p->end() && variant->is_string()) {
          d.platform += "/" + variant->get<std::string>();
        }
      }
    }
  }
  return d;
}

}  // namespace

std::string ManifestAcceptHeader() {
  return std::string(kOciIndexType) + ", " + std::string(kOciManifestType) + ", " +
         std::string(kDockerListType) + ", " + std::string(kDockerV2Type);
}

bool IsManifestMediaType(std::string_view media_type) {
  std::string_view t = StripParams(media_type);
  return t == kOciIndexType || t == kOciManifestType || t == kDockerListType || t == kDockerV2Type;
}

bool IsIndexMediaType(std::string_view media_type) {
  std::string_view t = StripParams(media_type);
  return t == kOciIndexType || t == kDockerListType;
}

Result<Manifest> ParseManifest(std::string_view bytes, std::string_view content_type) {
  json j = json::parse(bytes.begin(), bytes.end(), /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgument("manifest: invalid JSON");
  if (!j.is_object()) return InvalidArgument("manifest: not a JSON object");

  Manifest m;
  std::string_view ct = StripParams(content_type);
  std::string field_type;
  if (auto mt = j.find("mediaType"); mt != j.end()) {
    if (!mt->is_string()) return InvalidArgument("manifest: mediaType not a string");
    field_type = mt->get<std::string>();
  }
  // OCI image-spec: the mediaType field SHOULD be present and MUST match the Content-Type when
  // it is. A layout's index.json or a generic HTTP server may say "application/json".
  if (IsManifestMediaType(ct)) {
    if (!field_type.empty() && field_type != ct) {
      return InvalidArgument("manifest: mediaType field contradicts Content-Type");
    }
    m.media_type = std::string(ct);
  } else if (!ct.empty() && ct != "application/json") {
    return InvalidArgument("manifest: unsupported media type " + std::string(ct));
  } else if (IsManifestMediaType(field_type)) {
    m.media_type = field_type;
  } else if (!field_type.empty()) {
    return InvalidArgument("manifest: unsupported media type " + field_type);
  } else if (j.contains("manifests")) {
    m.media_type = std::string(kOciIndexType);
  } else if (j.contains("layers") || j.contains("config")) {
    m.media_type = std::string(kOciManifestType);
  } else {
    return InvalidArgument("manifest: cannot tell the media type");
  }

  if (auto sv = j.find("schemaVersion");
      sv == j.end() || !sv->is_number_integer() || sv->get<int64_t>() != 2) {
    return InvalidArgument("manifest: schemaVersion must be 2");
  }

  m.is_index = IsIndexMediaType(m.media_type);
  if (m.is_index) {
    auto list = j.find("manifests");
    if (list == j.end() || !list->is_array()) return InvalidArgument("manifest: no manifests");
    for (const json& e : *list) {
      auto d = ParseDescriptor(e, /*want_platform=*/true);
      if (!d) return tl::unexpected(d.error());
      m.manifests.push_back(std::move(*d));
    }
  } else {
    auto cfg = j.find("config");
    if (cfg == j.end()) return InvalidArgument("manifest: no config");
    auto c = ParseDescriptor(*cfg, false);
    if (!c) return tl::unexpected(c.error());
    m.config = std::move(*c);
    auto layers = j.find("layers");
    if (layers == j.end() || !layers->is_array()) return InvalidArgument("manifest: no layers");
    for (const json& e : *layers) {
      auto d = ParseDescriptor(e, false);
      if (!d) return tl::unexpected(d.error());
      m.layers.push_back(std::move(*d));
    }
  }
  return m;
}

std::vector<Digest> ReferencedDigests(const Manifest& manifest) {
  std::vector<Digest> out;
  if (manifest.config) out.push_back(manifest.config->digest);
  for (const auto& d : manifest.layers) out.push_back(d.digest);
  for (const auto& d : manifest.manifests) out.push_back(d.digest);
  return out;
}

}  // namespace paddock::registry
