#include "daemon/boot_service.h"

#include <filesystem>
#include <unordered_map>

#include "common/clock.h"
#include "common/json_writer.h"
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

BootService::BootService(EventRecorder* recorder, const BootTokenSigner* signer,
                         MacResolver resolver)
    : recorder_(recorder), signer_(signer), resolver_(std::move(resolver)) {}

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

    const std::string detail = FlatJsonWriter()
                                   .String("arch", facts.arch)
                                   .String("group", group_name)
                                   .String("hostname", facts.hostname)
                                   .String("profile", profile_name)
                                   .Finish();
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

    // The exchange becomes ONE timeline event (OnAccess), "boot.script" or "boot.unmatched",
    // carrying these facts and the HTTP ones (bytes, duration, status).
    auto labelled = [&](http::Response r, const char* phase) {
      r.access_label = phase;
      r.access_detail = detail;
      return r;
    };
    if (profile == nullptr) {
      log::Get("boot")->warn("mac={} matches no group and there is no default group",
                             mac->ToString());
      return labelled(
          http::Response::Text(200, render::RenderNoProfileScript(facts), kIpxeContentType),
          "boot.unmatched");
    }

    auto renderer = prep->renderers.find(group->name);
    if (renderer == prep->renderers.end()) {
      log::Get("boot")->error("mac={} group {} has no usable iPXE template (profile {})",
                              mac->ToString(), group->name, profile->name);
      return http::Response::InternalError();
    }
    // A stateless token (daemon/tokens.h): nothing is stored until the agent redeems it.
    const int64_t now = WallMicros() / 1000000;
    std::string token =
        signer_->Issue({*mac, recorder_->CurrentBoot(*mac), now, now + cfg.token_lifetime_seconds});
    auto script = renderer->second.Render(facts, token);
    if (!script) {
      log::Get("boot")->error("mac={} cannot render profile {}: {}", mac->ToString(), profile->name,
                              script.error().ToString());
      return http::Response::InternalError();
    }
    return labelled(http::Response::Text(200, std::move(*script), kIpxeContentType), "boot.script");
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
    http::Response r = http::Response::Text(200, "ok\n");
    r.access_label = "node.booted";  // one event with the HTTP facts (OnAccess)
    r.access_detail = FlatJsonWriter()
                          .Ip("ip", req.peer_address)
                          .String("uptime", QueryOr(req, "uptime"))
                          .Finish();
    return r;
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
  e.phase = record.label.empty() ? "http.request" : record.label;
  e.time_us = WallMicros() - record.duration_us;
  e.bytes = static_cast<int64_t>(record.bytes_sent);
  e.duration_us = record.duration_us;
  e.ok = record.complete && record.status < 400 && e.phase != "boot.unmatched";
  // A labelled exchange's own facts (a JSON object from the handler) come first.
  e.detail = FlatJsonWriter()
                 .Merge(record.detail)
                 .Bool("complete", record.complete)
                 .String("method", record.method)
                 .String("path", record.path)
                 .Ip("peer", record.peer_address)
                 .Int("status", record.status)
                 .Finish();
  recorder_->Record(std::move(e));
}

}  // namespace paddock::daemon
