#include "agent/boot.h"

#include <signal.h>
#include <sys/reboot.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>

#include "agent/apply.h"
#include "agent/codec.h"
#include "agent/merge.h"
#include "agent/rootfs.h"
#include "agent/server_api.h"
#include "agent/state_archive.h"
#include "agent/userdata.h"
#include "common/clock.h"

namespace paddock::agent {
namespace {

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

// Sends phases and output lines to the server, and echoes them on the console (stderr), which
// is the serial console on a node. Output is batched and flushed at every phase.
class ServerReporter final : public Reporter {
 public:
  explicit ServerReporter(ServerApi& api) : api_(api) {}
  void Phase(const PhaseReport& r) override {
    Flush();
    std::fprintf(stderr, "paddock-agent: %s %s (%lld us)%s%s\n", r.phase.c_str(),
                 r.ok ? "ok" : "FAILED", static_cast<long long>(r.duration_us),
                 r.detail.contains("error") ? ": " : "",
                 r.detail.contains("error") ? r.detail["error"].get<std::string>().c_str() : "");
    if (auto st = api_.Report(r, KernelUptime()); !st) {
      std::fprintf(stderr, "paddock-agent: report failed: %s\n", st.error().message.c_str());
    }
  }
  void Output(std::string_view line) override {
    std::fprintf(stderr, "paddock-agent: %.*s\n", static_cast<int>(line.size()), line.data());
    pending_.emplace_back(line);
    if (pending_.size() >= 200) Flush();
  }
  void Flush() {
    if (pending_.empty()) return;
    if (auto st = api_.Log(pending_); !st) {
      std::fprintf(stderr, "paddock-agent: log upload failed: %s\n", st.error().message.c_str());
    }
    pending_.clear();
  }

 private:
  ServerApi& api_;
  std::vector<std::string> pending_;
};

PhaseReport Phase(std::string name, bool ok, int64_t start_us, Json detail = Json::object()) {
  PhaseReport r;
  r.phase = std::move(name);
  r.ok = ok;
  r.duration_us = start_us ? SteadyMicros() - start_us : 0;
  r.detail = std::move(detail);
  return r;
}

}  // namespace

int RunBoot(const BootOptions& opts) {
  double started_uptime = KernelUptime();
  int64_t t0 = SteadyMicros();
  RootFs fs(opts.root, false);
  std::string cmdline;
  if (FILE* f = std::fopen(opts.cmdline_file.c_str(), "r")) {
    char buf[4096];
    size_t n = std::fread(buf, 1, sizeof(buf), f);
    std::fclose(f);
    cmdline.assign(buf, n);
  }
  auto params = ParseBootParams(cmdline);
  if (!params) {
    std::fprintf(stderr, "paddock-agent: %s\n", params.error().message.c_str());
    return 2;
  }
  ServerApi api(params->server, opts.timeout_ms, opts.retries);
  int64_t t = SteadyMicros();
  auto cred = api.Redeem(params->token, params->mac);
  if (!cred) {
    std::fprintf(stderr, "paddock-agent: redeem failed: %s\n", cred.error().message.c_str());
    return cred.error().code == ErrorCode::kPermissionDenied ? 3 : 4;
  }
  ServerReporter reporter(api);
  reporter.Phase(Phase("agent_started", true, 0,
                       {{"uptime_at_start", started_uptime},
                        {"mac", params->mac.ToString()},
                        {"version", "paddock-agent"}}));
  reporter.Phase(Phase("token_redeemed", true, t));
  // The credential stays in RAM (and /run) for `state push` at shutdown.
  fs.WriteFile("/run/paddock/credential", *cred + "\n", {.mode = 0600});

  t = SteadyMicros();
  auto state = api.GetState();
  if (!state) {
    reporter.Phase(Phase("state_restored", false, t, {{"error", state.error().message}}));
  } else if (!state->has_value()) {
    reporter.Phase(Phase("state_restored", true, t, {{"entries", 0}, {"note", "no saved state"}}));
  } else {
    auto n = RestoreStateArchive(fs, **state);
    reporter.Phase(Phase("state_restored", n.has_value(), t,
                         n ? Json{{"entries", *n}, {"bytes", (*state)->size()}}
                           : Json{{"error", n.error().message}}));
  }

  t = SteadyMicros();
  Json docs = Json::object();
  std::string meta_text, user_text, vendor_text;
  bool fetch_ok = true;
  for (const char* name : {"meta-data", "user-data", "vendor-data", "network-config"}) {
    auto d = api.GetDocument(name);
    if (!d) {
      fetch_ok = false;
      docs[name] = d.error().message;
      continue;
    }
    docs[name] = d->has_value() ? Json((*d)->size()) : Json("absent");
    if (!d->has_value()) continue;
    if (std::string_view(name) == "meta-data") meta_text = **d;
    if (std::string_view(name) == "user-data") user_text = **d;
    if (std::string_view(name) == "vendor-data") vendor_text = **d;
    if (std::string_view(name) == "network-config") {
      fs.WriteFile("/run/paddock/network-config", **d, {.mode = 0600});
    }
  }
  reporter.Phase(Phase("datasource_fetched", fetch_ok, t, {{"documents", docs}}));

  ApplyOptions aopts;
  aopts.root = opts.root;
  aopts.run_mode = opts.run_mode;
  aopts.live = opts.root == "/";
  aopts.default_user = opts.default_user;
  Json persist = Json::array();
  if (!meta_text.empty()) {
    auto meta = ParseYaml(meta_text);
    if (meta && meta->is_object()) {
      aopts.meta_data = *meta;
      if (meta->contains("persist_paths")) persist = (*meta)["persist_paths"];
    } else {
      reporter.Phase(
          Phase("meta_data", false, 0,
                {{"error", meta ? "meta-data is not a mapping" : meta.error().message}}));
    }
  }
  t = SteadyMicros();
  UserData ud = ParseUserData(user_text);
  if (!vendor_text.empty()) {
    // vendor-data is lower priority: its keys fill in only what user-data does not set.
    UserData vd = ParseUserData(vendor_text);
    ud.cloud_config = MergeValues(ud.cloud_config, vd.cloud_config,
                                  ParseMergerString("dict(no_replace)+list()+str()"));
    for (auto& e : vd.errors) ud.errors.push_back("vendor-data: " + e);
    if (!vd.scripts.empty()) ud.warnings.push_back("vendor-data scripts are not run");
  }
  {
    Json detail = {{"parts", ud.cloud_config_parts}, {"scripts", ud.scripts.size()}};
    if (!ud.errors.empty()) detail["errors"] = ud.errors;
    if (!ud.warnings.empty()) detail["warnings"] = ud.warnings;
    // Unknown keys are warnings, never failures; they are listed here for the timeline.
    Json unknown = Json::array();
    for (const auto& [key, value] : ud.cloud_config.items()) {
      if (!IsSupportedKey(key)) unknown.push_back(key);
    }
    if (!unknown.empty()) detail["unknown_keys"] = unknown;
    reporter.Phase(Phase("userdata", ud.errors.empty(), t, detail));
  }
  ProcessRunner runner(opts.root, opts.run_mode);
  ApplyResult result = ApplyUserData(ud, aopts, reporter, runner);
  bool runcmd_ok = true;
  for (const auto& m : result.modules) {
    if (m.name == "scripts_user") runcmd_ok = m.ok;
  }
  reporter.Phase(Phase("runcmd_finished", runcmd_ok, 0));

  std::vector<std::string> globs;
  for (const auto& p : persist) {
    if (p.is_string()) globs.push_back(p.get<std::string>());
  }
  std::string last_sha;
  // `phase` "state_saved_shutdown" is always reported (with "unchanged": true when the last
  // upload already holds everything), so the timeline shows that the agent got to run its
  // shutdown save; the other phases are reported only when something was uploaded.
  auto save_state = [&](const char* phase) {
    if (globs.empty()) return;
    int64_t ts = SteadyMicros();
    std::vector<std::string> warnings;
    auto archive = BuildStateArchive(fs, globs, &warnings);
    if (!archive) {
      reporter.Phase(Phase(phase, false, ts, {{"error", archive.error().message}}));
      return;
    }
    std::string sha = Sha256::HexDigest(*archive);
    if (sha == last_sha) {  // unchanged since the last upload
      if (std::string_view(phase) == "state_saved_shutdown") {
        reporter.Phase(Phase(phase, true, ts, {{"unchanged", true}, {"sha256", sha}}));
      }
      return;
    }
    auto st = api.PutState(*archive);
    if (st) last_sha = sha;
    Json detail = {{"bytes", archive->size()}, {"sha256", sha}};
    if (!warnings.empty()) detail["warnings"] = warnings;
    if (!st) detail["error"] = st.error().message;
    reporter.Phase(Phase(phase, st.has_value(), ts, detail));
  };
  save_state("state_saved");

  bool ok = result.ok && ud.errors.empty();
  Json final_detail = {{"total_us", SteadyMicros() - t0}, {"uptime", KernelUptime()}};
  if (!ok) {
    std::string reason;
    for (const auto& m : result.modules) {
      if (!m.ok) reason += (reason.empty() ? "" : "; ") + m.name + ": " + m.error;
    }
    for (const auto& e : ud.errors) reason += (reason.empty() ? "" : "; ") + e;
    final_detail["reason"] = reason;
  }
  reporter.Phase(Phase(ok ? "ready" : "failed", ok, 0, final_detail));
  reporter.Flush();

  if (!result.power_action.is_null() && opts.act_on_power_state) {
    int64_t delay = result.power_action.value("delay_s", 0);
    std::string mode = result.power_action.value("mode", "");
    std::string msg = result.power_action.value("message", "");
    if (!msg.empty()) std::fprintf(stderr, "paddock-agent: %s\n", msg.c_str());
    save_state("state_saved");
    if (delay > 0) sleep(static_cast<unsigned>(delay));
    sync();
    reboot(mode == "reboot" ? RB_AUTOBOOT : mode == "halt" ? RB_HALT_SYSTEM : RB_POWER_OFF);
  }
  if (opts.watch_seconds > 0) {
    std::signal(SIGTERM, OnSignal);
    std::signal(SIGINT, OnSignal);
    while (!g_stop) {
      for (int i = 0; i < opts.watch_seconds && !g_stop; ++i) sleep(1);
      if (!g_stop) save_state("state_saved");
    }
    // Always after the loop: a signal that arrives while an interval upload runs ends the loop
    // with that (older) archive as the last one sent, so the shutdown archive is built here,
    // after the signal, and holds every change made before it (a no-op when nothing changed).
    save_state("state_saved_shutdown");
    reporter.Flush();
  }
  return ok ? 0 : 1;
}

}  // namespace paddock::agent
