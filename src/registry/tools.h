#pragma once

// Offline tools behind `paddock registry pull IMAGE` and `paddock registry import PATH`, as
// library functions (the CLI only parses arguments and prints).
//
// WarmCache pulls an image through the cache: its manifest (and, for an index, every child
// manifest matching the platform filter), the config and every layer, so that a room can later
// run it with the upstream gone.
//
// ImportOciLayout loads an OCI image layout (image-spec image-layout.md: `oci-layout`,
// `index.json`, `blobs/sha256/...`) from a directory or a tar archive (optionally compressed;
// libarchive detects it) into the BlobStore. Every blob is verified against its digest while it
// is copied. Each index.json entry becomes a tag: the `org.opencontainers.image.ref.name`
// annotation, or the target's tag when the layout holds a single image. Children of an index
// that the layout does not contain (other platforms) are skipped; a missing config or layer of
// an image that is present is an error. From an archive only those three kinds of entries are
// read; any other name (absolute, "..", links) is ignored, so an archive cannot write outside.
//
// Both block (disk, network) and are safe to call while the daemon serves (the store and the
// cache are thread-safe).

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "registry/blob_store.h"
#include "registry/cache.h"

namespace paddock::registry {

struct ImageReference {
  std::string ns;         // "docker.io", "ghcr.io", "127.0.0.1:5000"
  std::string repo;       // "library/busybox"
  std::string reference;  // tag or digest ("latest" when none was given)

  std::string ToString() const;
};

// Parses "busybox", "busybox:1.36", "ghcr.io/org/app@sha256:...", "localhost:5000/x:y" the way
// docker does: the first component is a registry when it has a '.', a ':' or is "localhost";
// Docker Hub names of one component get "library/".
Result<ImageReference> ParseImageReference(std::string_view text);

struct WarmResult {
  size_t manifests = 0;
  size_t blobs = 0;
  uint64_t blob_bytes = 0;
};

// platform: "linux/amd64" (children of an index whose platform starts with it), "" for all.
Result<WarmResult> WarmCache(PullThroughCache& cache, const ImageReference& image,
                             std::string_view platform = "");

struct ImportResult {
  size_t manifests = 0;
  size_t blobs = 0;
  std::vector<std::string> tags;  // tags written, "<ns>/<repo>:<tag>"
};

// target: where the images land (namespace and repository; its reference is the fallback tag).
Result<ImportResult> ImportOciLayout(BlobStore& store, const std::filesystem::path& path,
                                     const ImageReference& target);

}  // namespace paddock::registry
