#pragma once

// Internal to the agent: the module functions ApplyUserData calls, and the helpers they share.
// Each module reads its keys from `cfg`, changes the root through ctx.fs, appends warnings to
// `out`, and returns an error when it failed (the apply continues with the next module).

#include <string>
#include <vector>

#include "agent/accounts.h"
#include "agent/apply.h"
#include "agent/rootfs.h"

namespace paddock::agent {

struct ModuleContext {
  const Json& cfg;
  RootFs& fs;
  Accounts& accounts;
  const ApplyOptions& opts;
  Reporter& reporter;
  CommandRunner& runner;
  const UserData& ud;
  Json power_action;  // set by power_state_change
};

// Python-like str() of a scalar (cloud-init str()s most values): bools "True"/"False".
std::string ToStr(const Json& v);
// cloud-init util.get_cfg_option_bool / translate_bool.
bool ToBool(const Json& v, bool def);
// A string or a list of strings (comma-separated string for `groups`), as a list.
std::vector<std::string> ToStringList(const Json& v, bool split_commas = false);

Status ModuleWriteFiles(ModuleContext& ctx, bool deferred, ModuleOutcome& out);
Status ModuleSetHostname(ModuleContext& ctx, ModuleOutcome& out);
Status ModuleCaCerts(ModuleContext& ctx, ModuleOutcome& out);
Status ModuleTimezone(ModuleContext& ctx, ModuleOutcome& out);
Status ModuleMounts(ModuleContext& ctx, ModuleOutcome& out);
Status ModuleUsersGroups(ModuleContext& ctx, ModuleOutcome& out);
Status ModuleSsh(ModuleContext& ctx, ModuleOutcome& out);
Status ModuleBootHooks(ModuleContext& ctx, ModuleOutcome& out);
Status ModuleBootcmd(ModuleContext& ctx, ModuleOutcome& out);
Status ModuleRuncmd(ModuleContext& ctx, ModuleOutcome& out);
Status ModuleScriptsUser(ModuleContext& ctx, ModuleOutcome& out);
Status ModuleFinalMessage(ModuleContext& ctx, ModuleOutcome& out);
Status ModulePowerState(ModuleContext& ctx, ModuleOutcome& out);

// Writes keys into a user's ~/.ssh/authorized_keys (0700 dir, 0600 file, owned by the user),
// keeping existing lines and adding missing ones; `prefix` is prepended to each new key.
Status SetupUserKeys(ModuleContext& ctx, const std::string& user,
                     const std::vector<std::string>& keys, const std::string& prefix);

}  // namespace paddock::agent
