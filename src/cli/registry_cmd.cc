#include "cli/registry_cmd.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "daemon/registry_cache.h"
#include "registry/cache.h"
#include "registry/containerd.h"
#include "registry/tools.h"

namespace paddock::cli {
namespace {

std::unique_ptr<daemon::RegistryCache> OpenOrReport(const config::Config& config) {
  auto reg = daemon::RegistryCache::Open(config.registry);
  if (!reg) {
    std::fprintf(stderr, "paddock: %s\n", reg.error().ToString().c_str());
    return nullptr;
  }
  return std::move(*reg);
}

}  // namespace

int RegistryPull(const config::Config& config, const std::string& image) {
  auto ref = registry::ParseImageReference(image);
  if (!ref) {
    std::fprintf(stderr, "paddock: %s\n", ref.error().ToString().c_str());
    return 2;
  }
  auto reg = OpenOrReport(config);
  if (!reg) return 1;
  std::fprintf(stderr, "pulling %s into %s ...\n", image.c_str(),
               config.registry.cache_dir.c_str());
  auto r = registry::WarmCache(reg->cache(), *ref);
  if (!r) {
    std::fprintf(stderr, "paddock: pull %s: %s\n", image.c_str(), r.error().ToString().c_str());
    return 1;
  }
  std::printf("pulled %s: %zu manifests, %zu blobs, %llu bytes\n", image.c_str(),
              static_cast<size_t>(r->manifests), static_cast<size_t>(r->blobs),
              static_cast<unsigned long long>(r->blob_bytes));
  return 0;
}

int RegistryImport(const config::Config& config, const std::string& path,
                   const std::string& target) {
  auto ref = registry::ParseImageReference(target);
  if (!ref) {
    std::fprintf(stderr, "paddock: --as %s\n", ref.error().ToString().c_str());
    return 2;
  }
  auto reg = OpenOrReport(config);
  if (!reg) return 1;
  auto r = registry::ImportOciLayout(reg->store(), path, *ref);
  if (!r) {
    std::fprintf(stderr, "paddock: import %s: %s\n", path.c_str(), r.error().ToString().c_str());
    return 1;
  }
  std::printf("imported %s as %s: %zu manifests, %zu blobs\n", path.c_str(), target.c_str(),
              static_cast<size_t>(r->manifests), static_cast<size_t>(r->blobs));
  return 0;
}

int RegistryHosts(const config::Config& config, const std::string& dir,
                  std::vector<std::string> namespaces) {
  if (namespaces.empty()) namespaces = config.registry.node_namespaces;
  auto files = registry::RenderContainerdHosts(
      namespaces, {config.ServerUrl(), config.registry.node_fallback_to_upstream, false}, dir);
  for (const auto& f : files) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(f.path).parent_path(), ec);
    std::ofstream out(f.path);
    out << f.content;
    if (!out) {
      std::fprintf(stderr, "paddock: cannot write %s\n", f.path.c_str());
      return 1;
    }
    std::printf("%s\n", f.path.c_str());
  }
  return 0;
}

}  // namespace paddock::cli
