#include "agent/apply.h"

#include <algorithm>
#include <functional>

#include "agent/modules.h"
#include "common/clock.h"

namespace paddock::agent {
namespace {

constexpr std::string_view kSupported[] = {"hostname",
                                           "fqdn",
                                           "preserve_hostname",
                                           "prefer_fqdn_over_hostname",
                                           "manage_etc_hosts",
                                           "users",
                                           "user",
                                           "groups",
                                           "ssh_authorized_keys",
                                           "ssh_keys",
                                           "ssh_deletekeys",
                                           "disable_root",
                                           "disable_root_opts",
                                           "write_files",
                                           "bootcmd",
                                           "runcmd",
                                           "mounts",
                                           "mount_default_fields",
                                           "ca_certs",
                                           "ca-certs",
                                           "timezone",
                                           "power_state",
                                           "final_message",
                                           "merge_how",
                                           "merge_type"};

// cloud-init keys paddock-agent knows but does not implement (reported as such).
constexpr std::string_view kKnownUnsupported[] = {"packages",
                                                  "package_update",
                                                  "package_upgrade",
                                                  "package_reboot_if_required",
                                                  "apt",
                                                  "yum_repos",
                                                  "zypper",
                                                  "snap",
                                                  "ntp",
                                                  "chpasswd",
                                                  "password",
                                                  "ssh_pwauth",
                                                  "ssh_genkeytypes",
                                                  "ssh_import_id",
                                                  "ssh_publish_hostkeys",
                                                  "ssh_quiet_keygen",
                                                  "no_ssh_fingerprints",
                                                  "ssh_fp_console_blacklist",
                                                  "ssh_key_console_blacklist",
                                                  "growpart",
                                                  "resize_rootfs",
                                                  "disk_setup",
                                                  "fs_setup",
                                                  "swap",
                                                  "locale",
                                                  "keyboard",
                                                  "rsyslog",
                                                  "phone_home",
                                                  "puppet",
                                                  "chef",
                                                  "ansible",
                                                  "salt_minion",
                                                  "lxd",
                                                  "seed_random",
                                                  "random_seed",
                                                  "manage_resolv_conf",
                                                  "resolv_conf",
                                                  "wireguard",
                                                  "bootcmd_frequency",
                                                  "update_etc_hosts",
                                                  "apk_repos",
                                                  "byobu_by_default",
                                                  "landscape",
                                                  "mcollective",
                                                  "spacewalk",
                                                  "ubuntu_pro",
                                                  "ubuntu_advantage",
                                                  "write_metadata",
                                                  "cloud_init_modules",
                                                  "cloud_config_modules",
                                                  "cloud_final_modules",
                                                  "system_info",
                                                  "datasource_list",
                                                  "network",
                                                  "output",
                                                  "vendor_data",
                                                  "reporting"};

struct ModuleDef {
  const char* name;
  std::function<bool(const ModuleContext&)> active;
  std::function<Status(ModuleContext&, ModuleOutcome&)> run;
};

bool Has(const ModuleContext& c, const char* key) { return c.cfg.contains(key); }

}  // namespace

bool IsSupportedKey(std::string_view key) {
  return std::find(std::begin(kSupported), std::end(kSupported), key) != std::end(kSupported);
}
bool IsKnownUnsupportedKey(std::string_view key) {
  return std::find(std::begin(kKnownUnsupported), std::end(kKnownUnsupported), key) !=
         std::end(kKnownUnsupported);
}

ApplyResult ApplyUserData(const UserData& ud, const ApplyOptions& opts, Reporter& reporter,
                          CommandRunner& runner) {
  ApplyResult result;
  const Json& cfg = ud.cloud_config;
  for (const auto& w : ud.warnings) result.warnings.push_back(w);
  for (const auto& [key, value] : cfg.items()) {
    if (IsSupportedKey(key)) continue;
    result.warnings.push_back(IsKnownUnsupportedKey(key)
                                  ? "key '" + key + "' is not supported by paddock-agent; ignored"
                                  : "unknown key '" + key + "'; ignored");
  }
  for (const auto& w : result.warnings) reporter.Output("warning: " + w);

  RootFs fs(opts.root, opts.dry_run);
  Accounts accounts = Accounts::Load(fs);
  ModuleContext ctx{cfg, fs, accounts, opts, reporter, runner, ud, Json()};

  const ModuleDef modules[] = {
      // init stage
      {"cloud_boothook", [&](const ModuleContext&) { return !ud.boothooks.empty(); },
       ModuleBootHooks},
      {"bootcmd", [](const ModuleContext& c) { return Has(c, "bootcmd"); }, ModuleBootcmd},
      {"write_files", [](const ModuleContext& c) { return Has(c, "write_files"); },
       [](ModuleContext& c, ModuleOutcome& o) { return ModuleWriteFiles(c, false, o); }},
      {"mounts", [](const ModuleContext& c) { return Has(c, "mounts"); }, ModuleMounts},
      {"set_hostname",
       [](const ModuleContext& c) {
         return Has(c, "hostname") || Has(c, "fqdn") ||
                (c.opts.meta_data.is_object() && c.opts.meta_data.contains("local-hostname"));
       },
       ModuleSetHostname},
      {"ca_certs", [](const ModuleContext& c) { return Has(c, "ca_certs") || Has(c, "ca-certs"); },
       ModuleCaCerts},
      {"users_groups", [](const ModuleContext&) { return true; }, ModuleUsersGroups},
      {"ssh",
       [](const ModuleContext& c) {
         return Has(c, "ssh_keys") || Has(c, "ssh_authorized_keys") ||
                (c.opts.meta_data.is_object() && c.opts.meta_data.contains("public-keys"));
       },
       ModuleSsh},
      // config stage
      {"timezone", [](const ModuleContext& c) { return Has(c, "timezone"); }, ModuleTimezone},
      {"runcmd", [](const ModuleContext& c) { return Has(c, "runcmd"); }, ModuleRuncmd},
      // final stage
      {"write_files_deferred", [](const ModuleContext& c) { return Has(c, "write_files"); },
       [](ModuleContext& c, ModuleOutcome& o) { return ModuleWriteFiles(c, true, o); }},
      {"scripts_user",
       [&](const ModuleContext& c) { return Has(c, "runcmd") || !ud.scripts.empty(); },
       ModuleScriptsUser},
      {"final_message", [](const ModuleContext&) { return true; }, ModuleFinalMessage},
      {"power_state_change", [](const ModuleContext& c) { return Has(c, "power_state"); },
       ModulePowerState},
  };

  for (const auto& m : modules) {
    if (!m.active(ctx)) continue;
    ModuleOutcome outcome;
    outcome.name = m.name;
    int64_t start = SteadyMicros();
    Status st;
    try {
      st = m.run(ctx, outcome);
    } catch (const std::exception& e) {
      // nlohmann type errors on odd documents must not end the boot.
      st = InvalidArgument(std::string("unexpected value: ") + e.what());
    }
    outcome.duration_us = SteadyMicros() - start;
    if (!st) {
      outcome.ok = false;
      outcome.error = st.error().message;
      result.ok = false;
    }
    PhaseReport rep;
    rep.phase = std::string("module:") + m.name;
    rep.ok = outcome.ok;
    rep.duration_us = outcome.duration_us;
    rep.detail["module"] = m.name;
    if (!outcome.warnings.empty()) rep.detail["warnings"] = outcome.warnings;
    if (!outcome.ok) rep.detail["error"] = outcome.error;
    reporter.Phase(rep);
    result.modules.push_back(std::move(outcome));
  }
  result.plan = fs.plan();
  result.power_action = ctx.power_action;
  return result;
}

}  // namespace paddock::agent
