#include "daemon/boot_service.h"

#include <filesystem>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/log.h"
#include "daemon/event_recorder.h"
#include "daemon/tokens.h"
#include "http/file_server.h"
#include "http/router.h"
#include "http/server.h"
#include "render/ipxe.h"
#include "render/template.h"

namespace paddock::daemon {
namespace {

constexpr char kIpxeContentType[] = "text/plain; charset=utf-8";

std::string QueryOr(const http::Request& req, std::string_view name) {
  auto v = req.Query(name);
  return v ? std::string(*v) : std::string();
}

// Query strings are untrusted bytes; invalid UTF-8 must not make the JSON dump throw.
std::string DumpJson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string RestAfter(const std::string& path, std::string_view prefix) {
  return path.substr(prefix.size());
}

}  // namespace

struct BootService::Prepared {
  std::shared_ptr<const BootServiceConfig> config;
  std::string chain_script;  // /boot.ipxe, the same for every machine
  // Group name -> its machines' script renderer (template parsed, shared variables built).
  std::unordered_map<std::string, render::IpxeRenderer> renderers;
  // Declared machines by MAC: Inventory::FindMachine scans the list (1,000 MAC compares per
  // request with 1,000 machines; the largest user-space cost of /ipxe after the template).
  std::unordered_map<MacAddress, const inventory::MachineSpec*> machines;
};

namespace {

// Inventory::FactsFor with the prepared index: the declared hostname and labels win.
inventory::MachineFacts FactsFor(const BootService::Prepared& prep,
                                 inventory::MachineFacts reported) {
  auto it = prep.machines.find(reported.mac);
  if (it == prep.machines.end()) return reported;
  const inventory::MachineSpec& spec = *it->second;
  if (!spec.hostname.empty()) reported.hostname = spec.hostname;
  for (const auto& [key, value] : spec.labels) reported.labels[key] = value;
  return reported;
}

}  // namespace

BootService::BootService(EventRecorder* recorder, MacResolver resolver)
    : recorder_(recorder), resolver_(std::move(resolver)) {}

void BootService::SetConfig(std::shared_ptr<const BootServiceConfig> config) {
  auto prepared = std::make_shared<Prepared>();
  prepared->chain_script = render::RenderChainScript(config->server_url);
  for (const inventory::Group& group : config->inventory.groups) {
    const inventory::Profile* profile = config->inventory.FindProfile(group.profile);
    if (profile == nullptr) continue;
    auto renderer =
        render::IpxeRenderer::Create(*profile, group.name, group.metadata, config->server_url);
    if (!renderer) {
      log::Get("boot")->error("group {}: cannot prepare the iPXE template of profile {}: {}",
                              group.name, profile->name, renderer.error().ToString());
      continue;
    }
    prepared->renderers.emplace(group.name, std::move(*renderer));
  }
  // First declaration wins, as in Inventory::FindMachine.
  for (const inventory::MachineSpec& m : config->inventory.machines) {
    prepared->machines.emplace(m.mac, &m);
  }
  prepared->config = std::move(config);
  std::lock_guard<std::mutex> lock(mu_);
  prepared_ = std::move(prepared);
}

std::shared_ptr<const BootService::Prepared> BootService::prepared() const {
  std::lock_guard<std::mutex> lock(mu_);
  return prepared_;
}

std::shared_ptr<const BootServiceConfig> BootService::config() const { return prepared()->config; }

void BootService::Register(http::Router& router) {
  router.Handle("GET", "/healthz",
                [](const http::Request&) { return http::Response::Text(200, "ok\n"); });

  router.Handle("GET", "/boot.ipxe", [this](const http::Request&) {
    return http::Response::Text(200, prepared()->chain_script, kIpxeContentType);
  });

  router.Handle("GET", "/ipxe", [this](const http::Request& req) {
    auto prep = prepared();
    const BootServiceConfig& cfg = *prep->config;
    auto mac = MacAddress::Parse(QueryOr(req, "mac"));
    if (!mac) {
      return http::Response::BadRequest("missing or malformed mac parameter");
    }
    inventory::MachineFacts reported;
    reported.mac = *mac;
    reported.uuid = render::SanitizeMachineString(QueryOr(req, "uuid"));
    reported.arch = inventory::ArchFromIpxe(QueryOr(req, "arch"), QueryOr(req, "platform"));
    reported.serial = render::SanitizeMachineString(QueryOr(req, "serial"));
    reported.asset = render::SanitizeMachineString(QueryOr(req, "asset"));
    inventory::MachineFacts facts = FactsFor(*prep, std::move(reported));
    const inventory::Group* group = cfg.inventory.Match(facts);
    const inventory::Profile* profile = group ? cfg.inventory.FindProfile(group->profile) : nullptr;
    const std::string group_name = group ? group->name : std::string();
    const std::string profile_name = profile ? profile->name : std::string();

    const std::string detail = DumpJson({{"group", group_name},
                                         {"profile", profile_name},
                                         {"hostname", facts.hostname},
                                         {"arch", facts.arch}});
    recorder_->UpdateMachine(*mac, [hostname = facts.hostname, uuid = facts.uuid, arch = facts.arch,
                                    serial = facts.serial, group_name, profile_name,
                                    ip = req.peer_address](store::MachineRecord& m) {
      m.group = group_name;
      m.profile = profile_name;
      if (!hostname.empty()) m.hostname = hostname;
      if (!uuid.empty()) m.uuid = uuid;
      if (!arch.empty()) m.arch = arch;
      if (!serial.empty()) m.serial = serial;
      if (!ip.IsZero()) m.last_ip = ip.ToString();
    });

    if (profile == nullptr) {
      BootEvent e;
      e.mac = *mac;
      e.phase = "boot.unmatched";
      e.ok = false;
      e.detail = detail;
      recorder_->Record(std::move(e));
      log::Get("boot")->warn("mac={} matches no group and there is no default group",
                             mac->ToString());
      return http::Response::Text(200, render::RenderNoProfileScript(facts), kIpxeContentType);
    }

    auto renderer = prep->renderers.find(group->name);
    if (renderer == prep->renderers.end()) {
      log::Get("boot")->error("mac={} group {} has no usable iPXE template (profile {})",
                              mac->ToString(), group->name, profile->name);
      return http::Response::InternalError();
    }
    std::string token = NewBootToken();
    auto script = renderer->second.Render(facts, token);
    if (!script) {
      log::Get("boot")->error("mac={} cannot render profile {}: {}", mac->ToString(), profile->name,
                              script.error().ToString());
      return http::Response::InternalError();
    }
    BootEvent e;
    e.mac = *mac;
    e.phase = "boot.script";
    e.detail = detail;
    recorder_->Record(std::move(e));

    // The token is handed to the store at once (visible to the agent's redeem immediately)
    // and written, fsynced, with the recorder's next batch (group commit). Waiting for that
    // fsync before replying cost a disk round trip per script (0.26x nginx's req/s instead of
    // >= 0.9x); a crash in the milliseconds before the commit loses the token: that machine's
    // agent then cannot redeem it and the machine must boot again (docs/architecture.md).
    const int64_t now = WallMicros() / 1000000;
    recorder_->IssueToken(store::BootToken{HashToken(token), *mac, recorder_->CurrentBoot(*mac),
                                           now, now + cfg.token_lifetime_seconds, 0},
                          nullptr);
    return http::Response::Text(200, std::move(*script), kIpxeContentType);
  });

  router.HandlePrefix("GET", "/assets/", [this](const http::Request& req) {
    return http::ServeFile(config()->assets_dir, RestAfter(req.path, "/assets/"), req);
  });
  router.HandlePrefix("GET", "/tftp/", [this](const http::Request& req) {
    auto cfg = config();
    std::string rest = RestAfter(req.path, "/tftp/");
    auto pinned = cfg->pinned_files.find(rest);
    if (pinned != cfg->pinned_files.end()) {
      std::filesystem::path target(pinned->second);
      return http::ServeFile(target.parent_path().string(), target.filename().string(), req);
    }
    return http::ServeFile(cfg->tftp_root, rest, req);
  });

  router.Handle("GET", "/node/booted", [this](const http::Request& req) {
    auto mac = MacAddress::Parse(QueryOr(req, "mac"));
    if (!mac) return http::Response::BadRequest("missing or malformed mac parameter");
    BootEvent e;
    e.mac = *mac;
    e.phase = "node.booted";
    e.detail = DumpJson(
        nlohmann::json{{"ip", req.peer_address.ToString()}, {"uptime", QueryOr(req, "uptime")}});
    recorder_->Record(std::move(e));
    return http::Response::Text(200, "ok\n");
  });
}

void BootService::OnAccess(const http::AccessRecord& record) {
  std::optional<MacAddress> mac;
  for (const auto& [k, v] : record.query) {
    if (k == "mac") mac = MacAddress::Parse(v);
  }
  if (!mac && resolver_) mac = resolver_(record.peer_address);
  if (!mac) {
    // Not attributable to a machine (e.g. a browser, curl from the host): log only.
    log::Get("http")->debug("{} {} {} from {} (no machine)", record.method, record.target,
                            record.status, record.peer_address.ToString());
    return;
  }
  BootEvent e;
  e.mac = *mac;
  e.phase = "http.request";
  e.time_us = WallMicros() - record.duration_us;
  e.bytes = static_cast<int64_t>(record.bytes_sent);
  e.duration_us = record.duration_us;
  e.ok = record.complete && record.status < 400;
  e.detail = DumpJson(nlohmann::json{{"method", record.method},
                                     {"path", record.path},
                                     {"status", record.status},
                                     {"peer", record.peer_address.ToString()},
                                     {"complete", record.complete}});
  recorder_->Record(std::move(e));
}

}  // namespace paddock::daemon
