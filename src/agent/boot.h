#pragma once

// `paddock-agent boot`: the whole node-side sequence, in this order (each step is a report
// to the server, see server_api.h):
//   1. read paddock.server/token/mac from the kernel command line;
//   2. redeem the token for the machine credential (refused -> exit 3, nothing applied);
//   3. "agent_started" with the kernel uptime at which the agent started;
//   4. restore the latest state archive into the root ("state_restored");
//   5. fetch meta-data, user-data, vendor-data, network-config ("datasource_fetched");
//   6. decode user-data ("userdata", errors such as invalid YAML are reported, and the rest
//      of the document still applies) and apply every module ("module:<name>");
//   7. "runcmd_finished", save the persisted paths (meta-data `persist_paths`) and upload
//      them ("state_saved"), then "ready" (or "failed" with the reason);
//   8. power_state, if the document asked for it and the condition held.
// With watch_seconds > 0 the agent then stays resident and uploads the state whenever it
// changed, every watch_seconds and once more on SIGTERM/SIGINT (shutdown).

#include <string>
#include <vector>

#include "agent/runner.h"

namespace paddock::agent {

struct BootOptions {
  std::string cmdline_file = "/proc/cmdline";
  std::string root = "/";
  RunMode run_mode = RunMode::kChroot;
  std::string default_user = "paddock";
  int timeout_ms = 10000;
  int retries = 4;
  bool act_on_power_state = true;  // false: record only (tests)
  int watch_seconds = 0;
};

// Returns the process exit status: 0 ready, 1 some module failed, 2 bad command line,
// 3 token refused, 4 server unreachable.
int RunBoot(const BootOptions& opts);

}  // namespace paddock::agent
