// bootcmd, runcmd, scripts_user, cloud-boothook, final_message, power_state_change.

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "agent/modules.h"

namespace paddock::agent {
namespace {

constexpr const char* kScriptsDir = "/var/lib/cloud/instance/scripts";

// cloud-init util.shellify: strings verbatim, lists shell-quoted, one command per line.
Result<std::string> Shellify(const Json& cmds, const char* key) {
  if (!cmds.is_array()) return InvalidArgument(std::string(key) + " must be a list");
  std::string script = "#!/bin/sh\n";
  int i = 0;
  for (const auto& c : cmds) {
    ++i;
    if (c.is_array()) {
      std::string line;
      for (const auto& a : c) line += (line.empty() ? "" : " ") + ShellQuote(ToStr(a));
      script += line + "\n";
    } else if (c.is_string()) {
      script += c.get<std::string>() + "\n";
    } else if (c.is_null()) {
      return InvalidArgument(std::string(key) + " item " + std::to_string(i) +
                             " is empty (null); nothing was run");
    } else {
      script += ToStr(c) + "\n";
    }
  }
  return script;
}

// The path to hand to the runner: inside the chroot the root-relative one, on the host the
// resolved host path.
std::string RunPath(ModuleContext& ctx, const std::string& path) {
  if (ctx.opts.run_mode == RunMode::kHost) return ctx.fs.Resolve(path).value_or(path);
  return path;
}

std::vector<std::string> InstanceEnv(const ModuleContext& ctx) {
  std::string iid = ctx.opts.meta_data.is_object() && ctx.opts.meta_data.contains("instance-id")
                        ? ToStr(ctx.opts.meta_data["instance-id"])
                        : "iid-paddock";
  return {"INSTANCE_ID=" + iid};
}

Result<int> RunLogged(ModuleContext& ctx, const std::string& label,
                      const std::vector<std::string>& argv) {
  return ctx.runner.Run(argv, InstanceEnv(ctx), [&](std::string_view line) {
    ctx.reporter.Output(label + ": " + std::string(line));
  });
}

double UptimeSeconds() {
  struct timespec ts;
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

}  // namespace

Status ModuleBootHooks(ModuleContext& ctx, ModuleOutcome&) {
  std::vector<std::string> failed;
  for (const auto& hook : ctx.ud.boothooks) {
    // handlers/boot_hook.py: the "#cloud-boothook" line is dropped, the rest runs as a script.
    std::string body = hook.content.substr(hook.content.find('\n') + 1);
    if (body.rfind("#!", 0) != 0) body = "#!/bin/sh\n" + body;
    std::string path = "/var/lib/cloud/instance/boothooks/" + hook.name;
    if (auto st = ctx.fs.WriteFile(path, body, {.mode = 0700}); !st) return st;
    if (ctx.fs.dry_run()) continue;
    auto rc = RunLogged(ctx, "boothook", {RunPath(ctx, path)});
    if (!rc || *rc != 0) failed.push_back(hook.name);
  }
  if (!failed.empty()) return IoError("boothooks failed: " + failed.front());
  return Ok();
}

Status ModuleBootcmd(ModuleContext& ctx, ModuleOutcome&) {
  auto script = Shellify(ctx.cfg["bootcmd"], "bootcmd");
  if (!script) return tl::unexpected(script.error());
  const std::string path = "/run/paddock/bootcmd.sh";
  if (auto st = ctx.fs.WriteFile(path, *script, {.mode = 0700}); !st) return st;
  if (ctx.fs.dry_run()) return Ok();
  // cc_bootcmd: `/bin/sh tmpfile`; a non-zero exit fails the module.
  auto rc = RunLogged(ctx, "bootcmd", {"/bin/sh", RunPath(ctx, path)});
  if (!rc) return tl::unexpected(rc.error());
  if (*rc != 0) return IoError("bootcmd exited " + std::to_string(*rc));
  return Ok();
}

Status ModuleRuncmd(ModuleContext& ctx, ModuleOutcome&) {
  // cc_runcmd only writes the script; scripts_user runs it in the final stage.
  auto script = Shellify(ctx.cfg["runcmd"], "runcmd");
  if (!script) return tl::unexpected(script.error());
  return ctx.fs.WriteFile(std::string(kScriptsDir) + "/runcmd", *script, {.mode = 0700});
}

Status ModuleScriptsUser(ModuleContext& ctx, ModuleOutcome& out) {
  // User "#!" parts are written next to runcmd; cloud-init's runparts runs every file of the
  // directory in sorted name order, continues after a failure, and fails at the end.
  std::vector<std::string> names;
  for (const auto& s : ctx.ud.scripts) {
    std::string name = s.name;
    std::replace(name.begin(), name.end(), '/', '_');
    if (auto st =
            ctx.fs.WriteFile(std::string(kScriptsDir) + "/" + name, s.content, {.mode = 0700});
        !st) {
      return st;
    }
    names.push_back(name);
  }
  if (ctx.cfg.contains("runcmd")) names.push_back("runcmd");
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  if (ctx.fs.dry_run()) {
    for (const auto& n : names) ctx.fs.Note("run " + std::string(kScriptsDir) + "/" + n);
    return Ok();
  }
  std::vector<std::string> failed;
  for (const auto& n : names) {
    std::string path = std::string(kScriptsDir) + "/" + n;
    auto rc = RunLogged(ctx, n, {RunPath(ctx, path)});
    if (!rc) {
      failed.push_back(n + " (" + rc.error().message + ")");
    } else if (*rc != 0) {
      failed.push_back(n + " (exit " + std::to_string(*rc) + ")");
    }
  }
  out.warnings.insert(out.warnings.end(), failed.begin(), failed.end());
  if (!failed.empty()) {
    std::string msg = "failed to run scripts:";
    for (const auto& f : failed) msg += " " + f;
    return IoError(msg);
  }
  return Ok();
}

Status ModuleFinalMessage(ModuleContext& ctx, ModuleOutcome&) {
  std::string msg = ctx.cfg.contains("final_message")
                        ? ToStr(ctx.cfg["final_message"])
                        : "cloud-init v. {{version}} finished at {{timestamp}}. Datasource "
                          "{{datasource}}.  Up {{uptime}} seconds";
  char uptime[32], stamp[64];
  std::snprintf(uptime, sizeof(uptime), "%.2f", UptimeSeconds());
  time_t now = time(nullptr);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(stamp, sizeof(stamp), "%a, %d %b %Y %H:%M:%S +0000", &tm);
  // cc_final_message substitutes both "{{ name }}" (jinja) and "$NAME" forms.
  const std::pair<std::string, std::string> vars[] = {{"uptime", uptime},
                                                      {"timestamp", stamp},
                                                      {"datasource", ctx.opts.datasource},
                                                      {"version", ctx.opts.version}};
  for (const auto& [k, v] : vars) {
    std::string upper = k;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (const std::string& pat : {"{{" + k + "}}", "{{ " + k + " }}", "$" + upper}) {
      for (size_t p = msg.find(pat); p != std::string::npos; p = msg.find(pat, p + v.size())) {
        msg.replace(p, pat.size(), v);
      }
    }
  }
  ctx.reporter.Output(msg);
  return ctx.fs.WriteFile("/var/lib/cloud/instance/boot-finished",
                          std::string(uptime) + " - " + stamp + " - v. " + ctx.opts.version + "\n",
                          {.mode = 0644});
}

Status ModulePowerState(ModuleContext& ctx, ModuleOutcome&) {
  const Json& ps = ctx.cfg["power_state"];
  if (!ps.is_object()) return InvalidArgument("power_state must be a mapping");
  std::string mode = ToStr(ps.value("mode", Json("")));
  if (mode != "poweroff" && mode != "reboot" && mode != "halt") {
    return InvalidArgument("power_state.mode must be poweroff, reboot or halt, not '" + mode + "'");
  }
  // delay: "now", "+N" (minutes) or N (minutes), as shutdown(8) takes it.
  const Json& d = ps.value("delay", Json("now"));
  int64_t delay_s = 0;
  if (d.is_number_integer()) {
    delay_s = d.get<int64_t>() * 60;
  } else {
    std::string s = ToStr(d);
    if (s != "now") {
      if (!s.empty() && s[0] == '+') s = s.substr(1);
      if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 6) {
        return InvalidArgument("power_state.delay must be 'now', '+N' or N: " + ToStr(d));
      }
      delay_s = std::stoll(s) * 60;
    }
  }
  // condition: true/false, or a command whose exit status 0 means "go".
  const Json& cond = ps.value("condition", Json(true));
  bool go = true;
  if (cond.is_boolean()) {
    go = cond.get<bool>();
  } else if (cond.is_string() || cond.is_array()) {
    std::vector<std::string> argv;
    if (cond.is_string()) {
      argv = {"/bin/sh", "-c", cond.get<std::string>()};
    } else {
      for (const auto& a : cond) argv.push_back(ToStr(a));
    }
    if (ctx.fs.dry_run()) {
      ctx.fs.Note("power_state condition would run: " + argv.back());
    } else {
      auto rc = RunLogged(ctx, "power_state condition", argv);
      go = rc && *rc == 0;
    }
  }
  Json action = {{"mode", mode},
                 {"delay_s", delay_s},
                 {"message", ToStr(ps.value("message", Json("")))},
                 {"timeout_s", ps.value("timeout", Json(30))},
                 {"condition_met", go}};
  if (!go) {
    ctx.reporter.Output("power_state: condition not met; no " + mode);
    return Ok();
  }
  ctx.power_action = action;
  // Recorded in the root so an apply run (and a test) can see what would have happened; only
  // `paddock-agent boot` acts on it, after the final report.
  return ctx.fs.WriteFile("/run/paddock/power_state.json", action.dump() + "\n", {.mode = 0644});
}

}  // namespace paddock::agent
