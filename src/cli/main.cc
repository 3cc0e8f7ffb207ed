// paddock: the command line. Wiring only; each subcommand calls into its module.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "cli/inspect.h"
#include "cli/registry_cmd.h"
#include "cli/state_cmd.h"
#include "common/log.h"
#include "config/config.h"
#include "daemon/daemon.h"
#include "daemon/options.h"

namespace {

using paddock::config::Config;

// Loads the config or prints every error (file:line:col: key.path: message) and returns null.
std::optional<Config> LoadOrReport(const std::string& path) {
  auto cfg = paddock::config::LoadConfigFile(path);
  if (!cfg) {
    std::fprintf(stderr, "%s", paddock::config::FormatErrors(cfg.error()).c_str());
    std::fprintf(stderr, "paddock: %zu error(s) in %s\n", cfg.error().size(), path.c_str());
    return std::nullopt;
  }
  return std::move(*cfg);
}

// The database for read-side commands: --data-dir wins, else the config's server.data_dir.
std::optional<std::string> DatabaseFor(const std::string& config_path,
                                       const std::string& data_dir) {
  if (!data_dir.empty()) return data_dir + "/paddock.db";
  auto cfg = LoadOrReport(config_path);
  if (!cfg) return std::nullopt;
  return paddock::daemon::DatabasePath(*cfg);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"paddock: PXE-boots a room of diskless machines into a cluster"};
  app.require_subcommand(1);
  std::string config_path = "/etc/paddock/paddock.yaml";

  auto* serve = app.add_subcommand("serve", "Run DHCP/proxyDHCP, TFTP and HTTP from the config");
  serve->add_option("-c,--config", config_path, "Config file")->capture_default_str();

  auto* check = app.add_subcommand("check", "Validate the config and exit (0 = valid)");
  check->add_option("-c,--config", config_path, "Config file")->capture_default_str();

  std::string data_dir;
  bool json = false;
  auto* machines = app.add_subcommand("machines", "List the machines paddock has seen");
  machines->add_option("-c,--config", config_path, "Config file")->capture_default_str();
  machines->add_option("--data-dir", data_dir, "Read this data dir instead of the config's");
  machines->add_flag("--json", json, "JSON output");

  std::string mac;
  int64_t boot = 0;
  bool last = false;
  auto* timeline = app.add_subcommand("timeline", "Print one machine's boot timeline");
  timeline->add_option("mac", mac, "The machine's MAC address")->required();
  timeline->add_option("-c,--config", config_path, "Config file")->capture_default_str();
  timeline->add_option("--data-dir", data_dir, "Read this data dir instead of the config's");
  timeline->add_option("--boot", boot, "Only this boot number (default: every boot)");
  timeline->add_flag("--last", last, "Only the latest boot");
  timeline->add_flag("--json", json, "JSON output");

  auto* reg = app.add_subcommand("registry", "Offline tools for the image cache");
  reg->require_subcommand(1);
  reg->fallthrough();  // --config may follow pull|import|hosts
  reg->add_option("-c,--config", config_path, "Config file")->capture_default_str();
  std::string image, import_path, import_as, hosts_dir;
  std::vector<std::string> namespaces;
  auto* reg_pull = reg->add_subcommand("pull", "Warm the cache with IMAGE from its upstream");
  reg_pull->add_option("image", image, "e.g. docker.io/library/busybox:1.36")->required();
  auto* reg_import =
      reg->add_subcommand("import", "Load an OCI image layout (directory or archive)");
  reg_import->add_option("path", import_path, "OCI layout directory or tar")->required();
  reg_import->add_option("--as", import_as, "Image name to store it under")->required();
  auto* reg_hosts =
      reg->add_subcommand("hosts", "Write containerd hosts.toml files pointing at paddock");
  reg_hosts->add_option("--dir", hosts_dir, "certs.d directory")->required();
  reg_hosts->add_option("namespaces", namespaces,
                        "Registries (default: registry.nodes.namespaces)");

  auto* state = app.add_subcommand("state", "Saved node state (agent persist paths)");
  state->require_subcommand(1);
  int64_t state_version = 0;
  std::string state_out;
  auto* state_ls = state->add_subcommand("ls", "List a machine's saved state versions");
  state_ls->add_option("mac", mac, "The machine's MAC address")->required();
  state_ls->add_option("-c,--config", config_path, "Config file")->capture_default_str();
  state_ls->add_option("--data-dir", data_dir, "Read this data dir instead of the config's");
  state_ls->add_flag("--json", json, "JSON output");
  auto* state_get = state->add_subcommand("get", "Write a saved state archive (ustar) to a file");
  state_get->add_option("mac", mac, "The machine's MAC address")->required();
  state_get->add_option("-c,--config", config_path, "Config file")->capture_default_str();
  state_get->add_option("--data-dir", data_dir, "Read this data dir instead of the config's");
  state_get->add_option("--version", state_version, "Version (default: the latest)");
  state_get->add_option("-o,--output", state_out, "Output file ('-' = stdout)")->required();

  CLI11_PARSE(app, argc, argv);

  if (*state) {
    std::string dir = data_dir;
    if (dir.empty()) {
      auto cfg = LoadOrReport(config_path);
      if (!cfg) return 1;
      dir = cfg->server.data_dir;
    }
    if (*state_ls) return paddock::cli::StateList(dir, mac, json);
    if (*state_get) return paddock::cli::StateGet(dir, mac, state_version, state_out);
  }

  if (*reg) {
    auto cfg = LoadOrReport(config_path);
    if (!cfg) return 1;
    if (*reg_pull) return paddock::cli::RegistryPull(*cfg, image);
    if (*reg_import) return paddock::cli::RegistryImport(*cfg, import_path, import_as);
    if (*reg_hosts) return paddock::cli::RegistryHosts(*cfg, hosts_dir, namespaces);
  }

  if (*check) {
    auto cfg = LoadOrReport(config_path);
    if (!cfg) return 1;
    std::printf("%s: ok (dhcp %s, %zu profiles, %zu groups, %zu machines)\n", config_path.c_str(),
                paddock::config::DhcpModeName(cfg->dhcp.mode), cfg->inventory.profiles.size(),
                cfg->inventory.groups.size(), cfg->inventory.machines.size());
    return 0;
  }
  if (*serve) {
    auto cfg = LoadOrReport(config_path);
    if (!cfg) return 1;
    paddock::log::Configure(cfg->server.log_level,
                            cfg->server.log_format == paddock::config::LogFormat::kJson
                                ? paddock::log::Format::kJson
                                : paddock::log::Format::kText);
    auto daemon = paddock::daemon::Daemon::Create(std::move(*cfg));
    if (!daemon) {
      std::fprintf(stderr, "paddock: %s\n", daemon.error().ToString().c_str());
      return 1;
    }
    return (*daemon)->Run();
  }
  if (*machines) {
    auto db = DatabaseFor(config_path, data_dir);
    if (!db) return 1;
    return paddock::cli::PrintMachines(*db, json);
  }
  if (*timeline) {
    auto db = DatabaseFor(config_path, data_dir);
    if (!db) return 1;
    return paddock::cli::PrintTimeline(*db, mac, last ? -1 : boot, json);
  }
  return 0;
}
