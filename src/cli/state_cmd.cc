#include "cli/state_cmd.h"

#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <optional>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/net.h"
#include "daemon/agent_service.h"

namespace paddock::cli {
namespace {

std::string StateDir(const std::string& data_dir) { return data_dir + "/state"; }

std::string FormatTime(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The machine named by `mac_text` and its saved versions; prints the error and returns
// nullopt when the MAC does not parse or the state directory cannot be read.
std::optional<std::pair<MacAddress, std::vector<daemon::StateVersion>>> LoadVersions(
    const std::string& data_dir, const std::string& mac_text) {
  auto mac = MacAddress::Parse(mac_text);
  if (!mac) {
    std::fprintf(stderr, "paddock: not a MAC address: %s\n", mac_text.c_str());
    return std::nullopt;
  }
  auto versions = daemon::ListStateVersions(StateDir(data_dir), *mac);
  if (!versions) {
    std::fprintf(stderr, "paddock: %s\n", versions.error().ToString().c_str());
    return std::nullopt;
  }
  return std::make_pair(*mac, std::move(*versions));
}

}  // namespace

int StateList(const std::string& data_dir, const std::string& mac_text, bool json) {
  auto loaded = LoadVersions(data_dir, mac_text);
  if (!loaded) return 1;
  const auto& [mac, versions] = *loaded;
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& v : versions) {
      out.push_back({{"version", v.version},
                     {"bytes", v.size},
                     {"time", FormatTime(v.mtime)},
                     {"path", v.path}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  if (versions.empty()) {
    std::printf("no saved state for %s\n", mac.ToString().c_str());
    return 0;
  }
  std::printf("%-8s %10s  %s\n", "VERSION", "BYTES", "SAVED");
  for (const auto& v : versions) {
    std::printf("%-8lld %10llu  %s\n", static_cast<long long>(v.version),
                static_cast<unsigned long long>(v.size), FormatTime(v.mtime).c_str());
  }
  return 0;
}

int StateGet(const std::string& data_dir, const std::string& mac_text, int64_t version,
             const std::string& out) {
  auto loaded = LoadVersions(data_dir, mac_text);
  if (!loaded) return 1;
  const auto& [mac, versions] = *loaded;
  const daemon::StateVersion* found = nullptr;
  for (const auto& v : versions) {
    if (version == 0 || v.version == version) found = &v;
  }
  if (found == nullptr) {
    std::fprintf(stderr, "paddock: no state version %s for %s\n",
                 version == 0 ? "at all" : std::to_string(version).c_str(), mac.ToString().c_str());
    return 1;
  }
  std::ifstream in(found->path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "paddock: cannot read %s\n", found->path.c_str());
    return 1;
  }
  if (out == "-") {
    std::cout << in.rdbuf();
    return std::cout.good() ? 0 : 1;
  }
  std::ofstream o(out, std::ios::binary | std::ios::trunc);
  o << in.rdbuf();
  o.close();
  if (!o) {
    std::fprintf(stderr, "paddock: cannot write %s\n", out.c_str());
    return 1;
  }
  std::fprintf(stderr, "wrote version %lld (%llu bytes) to %s\n",
               static_cast<long long>(found->version), static_cast<unsigned long long>(found->size),
               out.c_str());
  return 0;
}

}  // namespace paddock::cli
