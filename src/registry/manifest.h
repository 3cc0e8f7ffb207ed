#pragma once

// Image manifests as the cache sees them: opaque bytes, stored and served byte-exact with the
// Content-Type they came with (the digest is the sha256 of those exact bytes), plus the list of
// digests they reference so the cache can warm or import a whole image.
//
// Four media types are understood (OCI image-spec manifest.md / image-index.md, Docker
// "Image Manifest V2, Schema 2"): OCI index, OCI manifest, Docker manifest list, Docker v2.
// Docker schema 1 (signed JSON) is refused: containerd refuses it as well.
//
// ParseManifest never throws: invalid JSON, a wrong shape or a bad digest is an Error value.
// All functions are pure and thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "registry/digest.h"

namespace paddock::registry {

inline constexpr std::string_view kOciIndexType = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciManifestType = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kDockerListType =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerV2Type =
    "application/vnd.docker.distribution.manifest.v2+json";

// The Accept header value listing all four types (what containerd sends, minus "*/*").
std::string ManifestAcceptHeader();

// True for one of the four manifest media types (parameters after ';' ignored).
bool IsManifestMediaType(std::string_view media_type);
// True for an OCI index or a Docker manifest list.
bool IsIndexMediaType(std::string_view media_type);

struct Descriptor {
  std::string media_type;
  Digest digest;
  int64_t size = 0;
  std::string platform;  // "os/arch[/variant]" for index entries, empty otherwise
};

struct Manifest {
  // The effective media type: the Content-Type given, or (when that is missing or generic,
  // e.g. "application/json" from an OCI layout) the "mediaType" field, or the shape.
  std::string media_type;
  bool is_index = false;
  std::optional<Descriptor> config;   // image manifests only
  std::vector<Descriptor> layers;     // image manifests only
  std::vector<Descriptor> manifests;  // indexes only
};

// Parses a manifest. content_type may be empty. Fails on invalid JSON, an unknown media type,
// a missing or malformed digest, or a negative size.
Result<Manifest> ParseManifest(std::string_view bytes, std::string_view content_type);

// Every digest a manifest references: config and layers, or child manifests.
std::vector<Digest> ReferencedDigests(const Manifest& manifest);

}  // namespace paddock::registry
