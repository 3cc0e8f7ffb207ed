#pragma once

// Applies a decoded user-data (userdata.h) to a root with cloud-init's modules, in cloud-init's
// stage order (docs/agent.md has the table of keys):
//   init:   boothooks, bootcmd, write_files, mounts, set_hostname (+ /etc/hosts), ca_certs,
//           users_groups, ssh (host keys, authorized keys)
//   config: timezone, runcmd (writes the script)
//   final:  write_files_deferred, scripts_user (runcmd + "#!" parts), final_message,
//           power_state_change
// A module runs only when its key is present. A failing module is reported and the next one
// still runs (as cloud-init does). Unknown top-level keys are warnings, never failures.
//
// Each module is reported through Reporter as phase "module:<name>" with ok, duration and a
// detail object; command output lines go to Reporter::Output. ApplyCloudConfig is not
// thread-safe (it owns the root for its duration) and never throws.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/runner.h"
#include "agent/userdata.h"
#include "agent/yaml.h"

namespace paddock::agent {

struct PhaseReport {
  std::string phase;  // "module:write_files", "runcmd", "ready", ...
  bool ok = true;
  int64_t duration_us = 0;
  Json detail = Json::object();
};

// Where phase results and output lines go (stderr for `apply`, the server for `boot`).
class Reporter {
 public:
  virtual ~Reporter() = default;
  virtual void Phase(const PhaseReport& report) = 0;
  virtual void Output(std::string_view line) = 0;
};

struct ApplyOptions {
  std::string root = "/";
  bool dry_run = false;
  RunMode run_mode = RunMode::kChroot;
  // Boot mode on the node itself (root "/"): set the kernel hostname and run `mount -a`.
  bool live = false;
  // Run `mount -a` after fstab changes even when not live (apply --mount).
  bool mount = false;
  // The distro's "default" user (cloud-init system_info.default_user).
  std::string default_user = "paddock";
  Json meta_data = Json::object();  // NoCloud meta-data: instance-id, local-hostname, public-keys
  std::string datasource = "NoCloud";
  std::string version = "paddock-agent";
};

struct ModuleOutcome {
  std::string name;
  bool ok = true;
  int64_t duration_us = 0;
  std::vector<std::string> warnings;
  std::string error;
};

struct ApplyResult {
  bool ok = true;  // every module succeeded
  std::vector<ModuleOutcome> modules;
  std::vector<std::string> warnings;  // unknown keys and part-level warnings
  std::vector<std::string> plan;      // dry-run: what would change
  // power_state: {"mode":..,"delay_s":..,"message":..,"timeout_s":..} when it should happen.
  Json power_action;
};

ApplyResult ApplyUserData(const UserData& ud, const ApplyOptions& opts, Reporter& reporter,
                          CommandRunner& runner);

// Top-level keys this agent implements, and cloud-init keys it knows but does not implement
// (reported as "not supported" rather than "unknown").
bool IsSupportedKey(std::string_view key);
bool IsKnownUnsupportedKey(std::string_view key);

}  // namespace paddock::agent
