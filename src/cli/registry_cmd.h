#pragma once

// `paddock registry ...`: offline tools over the pull-through cache.
//   pull IMAGE                 warm the cache (manifest, config, layers) from the upstream
//   import PATH --as REF       load an OCI image layout directory or archive (air-gapped rooms)
//   hosts --dir DIR [NS...]    write containerd certs.d/<ns>/hosts.toml pointing at paddock

#include <string>
#include <vector>

#include "config/config.h"

namespace paddock::cli {

int RegistryPull(const config::Config& config, const std::string& image);
int RegistryImport(const config::Config& config, const std::string& path,
                   const std::string& target);
int RegistryHosts(const config::Config& config, const std::string& dir,
                  std::vector<std::string> namespaces);

}  // namespace paddock::cli
