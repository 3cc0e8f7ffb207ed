#include "config/config.h"

#include <algorithm>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include <yaml-cpp/yaml.h>

#include "config/parser.h"
#include "config/sections.h"

namespace paddock::config {
namespace {

namespace fs = std::filesystem;

using detail::CheckDhcp;
using detail::CheckInventory;
using detail::MapView;
using detail::ParseBoot;
using detail::ParseDecimal;
using detail::ParseDhcp;
using detail::ParseGroups;
using detail::ParseHttp;
using detail::ParseMachines;
using detail::ParseProfiles;
using detail::Parser;
using detail::ParseRegistry;
using detail::ParseServer;
using detail::ParseTftp;

// A config file is hand-written; anything bigger is a mistake (or an attack on `check`).
constexpr size_t kMaxConfigBytes = 4 << 20;

ConfigResult ParseTree(const YAML::Node& root, Parser& p, Config config) {
  MapView top(
      p, root, "",
      {"server", "dhcp", "tftp", "http", "boot", "registry", "profiles", "groups", "machines"});
  bool has_address = false;
  if (top.ok()) {
    for (const auto& e : top.entries()) {
      if (e.key == "server") ParseServer(p, e, config, has_address);
      if (e.key == "dhcp") ParseDhcp(p, e, config);
      if (e.key == "tftp") ParseTftp(p, e, config);
      if (e.key == "http") ParseHttp(p, e, config);
      if (e.key == "boot") ParseBoot(p, e, config);
      if (e.key == "registry") ParseRegistry(p, e, config);
      if (e.key == "profiles") ParseProfiles(p, e, config);
      if (e.key == "groups") ParseGroups(p, e, config);
      if (e.key == "machines") ParseMachines(p, e, config);
    }
    if (!has_address) p.ErrorAtPath("server.address", "server.address is required");
    CheckDhcp(p, config, has_address);
    CheckInventory(p, config);
  }

  // Relative paths resolve against the config file's directory.
  config.server.data_dir = p.Resolve(config.server.data_dir);
  config.tftp.root = p.Resolve(config.tftp.root);
  config.http.assets = config.http.assets.empty()
                           ? (fs::path(config.server.data_dir) / "assets").string()
                           : p.Resolve(config.http.assets);
  config.registry.cache_dir = config.registry.cache_dir.empty()
                                  ? (fs::path(config.server.data_dir) / "registry").string()
                                  : p.Resolve(config.registry.cache_dir);
  for (RegistryUpstream& up : config.registry.upstreams) {
    if (!up.password_file.empty()) up.password_file = p.Resolve(up.password_file);
  }

  if (!p.errors().empty()) {
    // Report in file order; errors without a position (line 0) come first.
    std::stable_sort(p.errors().begin(), p.errors().end(),
                     [](const ConfigError& a, const ConfigError& b) {
                       return std::pair(a.line, a.column) < std::pair(b.line, b.column);
                     });
    return tl::unexpected(std::move(p.errors()));
  }
  return config;
}

fs::path BaseDir(std::string_view filename) {
  std::error_code ec;
  fs::path parent = fs::path(filename).parent_path();
  fs::path absolute = fs::absolute(parent.empty() ? fs::path(".") : parent, ec);
  if (ec) return parent;
  return absolute.lexically_normal();
}

}  // namespace

std::string Config::ServerUrl() const {
  return "http://" + server.address.ToString() + ":" + std::to_string(http.port);
}

std::string ConfigError::ToString() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
  out += ": ";
  if (!key_path.empty()) out += key_path + ": ";
  out += message;
  return out;
}

std::string FormatErrors(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const ConfigError& e : errors) out += e.ToString() + "\n";
  return out;
}

const char* DhcpModeName(DhcpMode mode) {
  switch (mode) {
    case DhcpMode::kFull:
      return "full";
    case DhcpMode::kProxy:
      return "proxy";
    case DhcpMode::kOff:
      return "off";
  }
  return "?";
}

std::optional<uint64_t> ParseSize(std::string_view text) {
  size_t digits = 0;
  uint64_t value = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    if (value > (UINT64_MAX - 9) / 10) return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(text[digits] - '0');
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  std::string_view unit = text.substr(digits);
  static constexpr std::pair<std::string_view, int> kUnits[] = {
      {"", 0},     {"B", 0},  {"K", 10},  {"KB", 10},  {"KiB", 10}, {"M", 20},  {"MB", 20},
      {"MiB", 20}, {"G", 30}, {"GB", 30}, {"GiB", 30}, {"T", 40},   {"TB", 40}, {"TiB", 40}};
  for (const auto& [name, shift] : kUnits) {
    if (unit != name) continue;
    if (shift > 0 && value > (UINT64_MAX >> shift)) return std::nullopt;
    return value << shift;
  }
  return std::nullopt;
}

std::optional<std::chrono::seconds> ParseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t unit = 1;
  switch (text.back()) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    default:
      unit = 0;
  }
  if (unit != 0) text.remove_suffix(1);
  if (unit == 0) unit = 1;
  auto n = ParseDecimal<int64_t>(text);
  // Ten years is more than any lease or timeout needs and keeps arithmetic far from overflow.
  if (!n || *n > 10LL * 365 * 86400 / unit) return std::nullopt;
  return std::chrono::seconds(*n * unit);
}

ConfigResult ParseConfig(std::string_view text, std::string_view filename) {
  Parser p{std::string(filename), BaseDir(filename)};
  Config config;
  config.source = std::string(filename);
  config.base_dir = p.base_dir().string();
  if (text.size() > kMaxConfigBytes) {
    p.ErrorAt(YAML::Mark::null_mark(), "",
              "file is larger than " + std::to_string(kMaxConfigBytes) + " bytes");
    return tl::unexpected(std::move(p.errors()));
  }
  // yaml-cpp reports syntax errors (and its recursion limit) by exception; they stop here.
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    return ParseTree(root, p, std::move(config));
  } catch (const YAML::Exception& e) {
    p.ErrorAt(e.mark, "", "YAML syntax: " + e.msg);
  } catch (const std::exception& e) {
    p.ErrorAt(YAML::Mark::null_mark(), "", std::string("cannot parse: ") + e.what());
  }
  return tl::unexpected(std::move(p.errors()));
}

ConfigResult LoadConfigFile(const std::string& path) {
  std::error_code ec;
  std::vector<ConfigError> errors;
  auto fail = [&](std::string message) {
    errors.push_back(ConfigError{path, 0, 0, "", std::move(message)});
    return tl::unexpected(std::move(errors));
  };
  if (!fs::is_regular_file(path, ec)) return fail("no such file (or not a regular file)");
  const auto size = fs::file_size(path, ec);
  if (ec) return fail("cannot read: " + ec.message());
  if (size > kMaxConfigBytes) {
    return fail("file is larger than " + std::to_string(kMaxConfigBytes) + " bytes");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail("cannot open for reading");
  std::ostringstream text;
  text << in.rdbuf();
  return ParseConfig(text.str(), path);
}

}  // namespace paddock::config
