#include "registry/tools.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "registry/manifest.h"
#include "registry/upstream.h"

namespace paddock::registry {
namespace fs = std::filesystem;

std::string ImageReference::ToString() const {
  return ns + "/" + repo + (Digest::LooksLikeDigest(reference) ? "@" : ":") + reference;
}

Result<ImageReference> ParseImageReference(std::string_view text) {
  ImageReference ref;
  std::string_view rest = text;
  size_t at = rest.find('@');
  if (at != std::string_view::npos) {
    ref.reference = std::string(rest.substr(at + 1));
    rest = rest.substr(0, at);
    if (!Digest::Parse(ref.reference)) return InvalidArgument("image: bad digest");
  }
  size_t slash = rest.find('/');
  std::string_view first = rest.substr(0, slash);
  if (slash != std::string_view::npos &&
      (first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
       first == "localhost")) {
    ref.ns = std::string(first);
    rest = rest.substr(slash + 1);
  } else {
    ref.ns = "docker.io";
  }
  if (ref.reference.empty()) {
    size_t colon = rest.rfind(':');
    if (colon != std::string_view::npos && rest.find('/', colon) == std::string_view::npos) {
      ref.reference = std::string(rest.substr(colon + 1));
      rest = rest.substr(0, colon);
      if (!IsValidTag(ref.reference)) return InvalidArgument("image: bad tag");
    } else {
      ref.reference = "latest";
    }
  }
  ref.repo = std::string(rest);
  if (ref.ns == "docker.io" && ref.repo.find('/') == std::string::npos) {
    ref.repo = "library/" + ref.repo;
  }
  if (!IsValidRepositoryName(ref.repo)) return InvalidArgument("image: bad repository name");
  return ref;
}

// ---------------------------------------------------------------------------------------------

namespace {

Status DrainBlob(PullThroughCache& cache, const ImageReference& image, const Digest& digest,
                 WarmResult& out) {
  auto reader = cache.OpenBlob(image.ns, image.repo, digest.ToString());
  if (!reader) return tl::unexpected(reader.error());
  // Reading to the end waits for the fetch to finish and be verified.
  std::vector<uint8_t> buf(1 << 20);
  uint64_t off = 0;
  while (true) {
    auto n = (*reader)->ReadAt(off, buf.data(), buf.size());
    if (!n) return tl::unexpected(n.error());
    if (*n == 0) break;
    off += *n;
  }
  out.blobs++;
  out.blob_bytes += off;
  return Ok();
}

Status WarmManifest(PullThroughCache& cache, const ImageReference& image,
                    const std::string& reference, std::string_view platform, int depth,
                    WarmResult& out) {
  if (depth > 2) return InvalidArgument("image: manifests nested too deep");
  auto m = cache.GetManifest(image.ns, image.repo, reference);
  if (!m) return tl::unexpected(m.error());
  out.manifests++;
  auto parsed = ParseManifest(m->bytes, m->media_type);
  if (!parsed) return tl::unexpected(parsed.error());
  for (const auto& child : parsed->manifests) {
    if (!platform.empty() && child.platform.rfind(platform, 0) != 0) continue;
    if (auto s = WarmManifest(cache, image, child.digest.ToString(), platform, depth + 1, out);
        !s) {
      return s;
    }
  }
  if (parsed->config) {
    if (auto s = DrainBlob(cache, image, parsed->config->digest, out); !s) return s;
  }
  for (const auto& layer : parsed->layers) {
    if (auto s = DrainBlob(cache, image, layer.digest, out); !s) return s;
  }
  return Ok();
}

}  // namespace

Result<WarmResult> WarmCache(PullThroughCache& cache, const ImageReference& image,
                             std::string_view platform) {
  WarmResult out;
  if (auto s = WarmManifest(cache, image, image.reference, platform, 0, out); !s) {
    return tl::unexpected(s.error());
  }
  log::Get("registry")
      ->info("warmed {}: {} manifests, {} blobs, {} bytes", image.ToString(), out.manifests,
             out.blobs, out.blob_bytes);
  return out;
}

// ---------------------------------------------------------------------------------------------

namespace {

Result<std::string> ReadSmallFile(const fs::path& p, size_t limit) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return NotFound("cannot open " + p.string());
  std::string data;
  char buf[65536];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    data.append(buf, static_cast<size_t>(in.gcount()));
    if (data.size() > limit) return InvalidArgument(p.string() + " is too large");
  }
  return data;
}

Status CopyBlobIn(BlobStore& store, const fs::path& layout, const Digest& digest) {
  if (store.Has(digest)) return Ok();
  fs::path src = layout / "blobs" / "sha256" / digest.hex();
  int fd = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NotFound("layout has no blob " + digest.ToString());
  UniqueFd in(fd);
  auto w = store.CreateBlob(digest);
  if (!w) return tl::unexpected(w.error());
  std::vector<uint8_t> buf(1 << 20);
  while (true) {
    ssize_t n = ::read(in.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoError("read " + src.string() + ": " + std::strerror(errno));
    if (n == 0) break;
    if (auto s = (*w)->Write(ByteSpan(buf.data(), static_cast<size_t>(n))); !s) return s;
  }
  return (*w)->Commit();  // verifies the digest
}

Status ImportManifest(BlobStore& store, const fs::path& layout, const Descriptor& desc, int depth,
                      ImportResult& out) {
  if (depth > 2) return InvalidArgument("layout: manifests nested too deep");
  auto bytes = ReadSmallFile(layout / "blobs" / "sha256" / desc.digest.hex(), 4 << 20);
  if (!bytes) return tl::unexpected(bytes.error());
  if (!(Sha256Of(*bytes) == desc.digest)) {
    return InvalidArgument("layout: manifest " + desc.digest.ToString() + " is corrupt");
  }
  auto parsed = ParseManifest(*bytes, desc.media_type);
  if (!parsed) return tl::unexpected(parsed.error());
  for (const auto& child : parsed->manifests) {
    std::error_code ec;
    if (!fs::exists(layout / "blobs" / "sha256" / child.digest.hex(), ec)) {
      continue;  // a platform the layout does not carry
    }
    if (auto s = ImportManifest(store, layout, child, depth + 1, out); !s) return s;
  }
  if (parsed->config) {
    if (auto s = CopyBlobIn(store, layout, parsed->config->digest); !s) return s;
    out.blobs++;
  }
  for (const auto& l : parsed->layers) {
    if (auto s = CopyBlobIn(store, layout, l.digest); !s) return s;
    out.blobs++;
  }
  // The manifest goes in last, once everything it references is present.
  if (auto s = store.PutManifest(desc.digest, parsed->media_type, *bytes); !s) return s;
  out.manifests++;
  return Ok();
}

Result<ImportResult> ImportLayoutDir(BlobStore& store, const fs::path& layout,
                                     const ImageReference& target) {
  auto index_bytes = ReadSmallFile(layout / "index.json", 4 << 20);
  if (!index_bytes) return tl::unexpected(index_bytes.error());
  auto index = nlohmann::json::parse(*index_bytes, nullptr, false);
  if (index.is_discarded() || !index.is_object() || !index.contains("manifests") ||
      !index["manifests"].is_array()) {
    return InvalidArgument("layout: index.json is not an image index");
  }
  ImportResult out;
  const auto& list = index["manifests"];
  for (const auto& entry : list) {
    if (!entry.is_object() || !entry.contains("digest") || !entry["digest"].is_string()) {
      return InvalidArgument("layout: index.json entry without digest");
    }
    auto digest = Digest::Parse(entry["digest"].get<std::string>());
    if (!digest) return tl::unexpected(digest.error());
    Descriptor desc{.media_type = entry.value("mediaType", std::string()),
                    .digest = *digest,
                    .size = 0,
                    .platform = {}};
    if (auto s = ImportManifest(store, layout, desc, 0, out); !s) {
      return tl::unexpected(s.error());
    }
    std::string tag;
    if (entry.contains("annotations") && entry["annotations"].is_object()) {
      tag = entry["annotations"].value("org.opencontainers.image.ref.name", std::string());
      // Some tools store a full reference ("docker.io/x/y:tag"); keep the tag part.
      size_t colon = tag.rfind(':');
      if (colon != std::string::npos && tag.find('/', colon) == std::string::npos) {
        tag = tag.substr(colon + 1);
      }
    }
    if (tag.empty() && list.size() == 1 && !Digest::LooksLikeDigest(target.reference)) {
      tag = target.reference;
    }
    if (!tag.empty() && IsValidTag(tag)) {
      if (auto s = store.PutTag({target.ns, target.repo, tag}, *digest, 0); !s) {
        return tl::unexpected(s.error());
      }
      out.tags.push_back(target.ns + "/" + target.repo + ":" + tag);
    }
  }
  return out;
}

// Extracts only the layout's own files from an archive into `dir`.
Status ExtractLayout(const fs::path& archive_path, const fs::path& dir) {
  struct archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_tar(a);
  archive_read_support_format_gnutar(a);
  struct Closer {
    struct archive* a;
    ~Closer() { archive_read_free(a); }
  } closer{a};
  if (archive_read_open_filename(a, archive_path.c_str(), 1 << 16) != ARCHIVE_OK) {
    return InvalidArgument("archive: " + std::string(archive_error_string(a) ?: "cannot open"));
  }
  std::error_code ec;
  fs::create_directories(dir / "blobs" / "sha256", ec);
  struct archive_entry* entry = nullptr;
  while (true) {
    int rc = archive_read_next_header(a, &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
      return InvalidArgument("archive: " + std::string(archive_error_string(a) ?: "bad entry"));
    }
    if (archive_entry_filetype(entry) != AE_IFREG) continue;
    const char* raw = archive_entry_pathname(entry);
    std::string name = raw ? raw : "";
    while (name.rfind("./", 0) == 0) name = name.substr(2);
    fs::path out;
    if (name == "index.json" || name == "oci-layout") {
      out = dir / name;
    } else if (name.rfind("blobs/sha256/", 0) == 0 && Digest::Parse("sha256:" + name.substr(13))) {
      out = dir / name;
    } else {
      continue;  // anything else (other paths, "..", absolute names) is ignored
    }
    std::ofstream f(out, std::ios::binary | std::ios::trunc);
    if (!f) return IoError("cannot write " + out.string());
    const void* buf;
    size_t size;
    la_int64_t offset;
    while ((rc = archive_read_data_block(a, &buf, &size, &offset)) == ARCHIVE_OK) {
      f.write(static_cast<const char*>(buf), static_cast<std::streamsize>(size));
    }
    if (rc != ARCHIVE_EOF) {
      return InvalidArgument("archive: " + std::string(archive_error_string(a) ?: "read error"));
    }
  }
  return Ok();
}

}  // namespace

Result<ImportResult> ImportOciLayout(BlobStore& store, const fs::path& path,
                                     const ImageReference& target) {
  std::error_code ec;
  Result<ImportResult> result = InvalidArgument("unreachable");
  if (fs::is_directory(path, ec)) {
    result = ImportLayoutDir(store, path, target);
  } else {
    static std::atomic<int> counter{0};
    fs::path dir = store.options().root / "tmp" /
                   ("import." + std::to_string(::getpid()) + "." + std::to_string(++counter));
    Status s = ExtractLayout(path, dir);
    result = s ? ImportLayoutDir(store, dir, target) : tl::unexpected(s.error());
    fs::remove_all(dir, ec);
  }
  if (result) {
    log::Get("registry")
        ->info("imported {}: {} manifests, {} blobs, tags: {}", path.string(), result->manifests,
               result->blobs, fmt::join(result->tags, " "));
  }
  return result;
}

}  // namespace paddock::registry
