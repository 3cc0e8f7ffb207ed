#include "daemon/boot_service.h"

#include <filesystem>

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

BootService::BootService(EventRecorder* recorder, MacResolver resolver)
    : recorder_(recorder), resolver_(std::move(resolver)) {}

void BootService::SetConfig(std::shared_ptr<const BootServiceConfig> config) {
  std::lock_guard<std::mutex> lock(mu_);
  config_ = std::move(config);
}

std::shared_ptr<const BootServiceConfig> BootService::config() const {
  std::lock_guard<std::mutex> lock(mu_);
  return config_;
}

void BootService::Register(http::Router& router) {
  router.Handle("GET", "/healthz",
                [](const http::Request&) { return http::Response::Text(200, "ok\n"); });

  router.Handle("GET", "/boot.ipxe", [this](const http::Request&) {
    return http::Response::Text(200, render::RenderChainScript(config()->server_url),
                                kIpxeContentType);
  });

  router.Handle("GET", "/ipxe", [this](const http::Request& req) {
    auto cfg = config();
    auto mac = MacAddress::Parse(QueryOr(req, "mac"));
    if (!mac) return http::Response::BadRequest("missing or malformed mac parameter");
    inventory::MachineFacts reported;
    reported.mac = *mac;
    reported.uuid = render::SanitizeMachineString(QueryOr(req, "uuid"));
    reported.arch = inventory::ArchFromIpxe(QueryOr(req, "arch"), QueryOr(req, "platform"));
    reported.serial = render::SanitizeMachineString(QueryOr(req, "serial"));
    reported.asset = render::SanitizeMachineString(QueryOr(req, "asset"));
    inventory::MachineFacts facts = cfg->inventory.FactsFor(reported);
    const inventory::Group* group = cfg->inventory.Match(facts);
    const inventory::Profile* profile =
        group ? cfg->inventory.FindProfile(group->profile) : nullptr;

    nlohmann::json detail = {{"group", group ? group->name : ""},
                             {"profile", profile ? profile->name : ""},
                             {"hostname", facts.hostname},
                             {"arch", facts.arch}};
    recorder_->UpdateMachine(*mac, [facts, group = detail["group"].get<std::string>(),
                                    prof = detail["profile"].get<std::string>(),
                                    ip = req.peer_address](store::MachineRecord& m) {
      m.group = group;
      m.profile = prof;
      if (!facts.hostname.empty()) m.hostname = facts.hostname;
      if (!facts.uuid.empty()) m.uuid = facts.uuid;
      if (!facts.arch.empty()) m.arch = facts.arch;
      if (!facts.serial.empty()) m.serial = facts.serial;
      if (!ip.IsZero()) m.last_ip = ip.ToString();
    });

    if (profile == nullptr) {
      BootEvent e;
      e.mac = *mac;
      e.phase = "boot.unmatched";
      e.ok = false;
      e.detail = DumpJson(detail);
      recorder_->Record(std::move(e));
      log::Get("boot")->warn("mac={} matches no group and there is no default group",
                             mac->ToString());
      return http::Response::Text(200, render::RenderNoProfileScript(facts), kIpxeContentType);
    }

    std::string token = NewBootToken();
    int64_t now = WallMicros() / 1000000;
    store::BootToken stored{HashToken(token),
                            *mac,
                            recorder_->CurrentBoot(*mac),
                            now,
                            now + cfg->token_lifetime_seconds,
                            0};
    recorder_->Post([stored](store::Store& s) {
      if (auto st = s.PutToken(stored); !st) {
        log::Get("boot")->error("mac={} cannot store boot token: {}", stored.mac.ToString(),
                                st.error().ToString());
      }
    });

    render::RenderContext ctx;
    ctx.facts = facts;
    ctx.group = group->name;
    ctx.metadata = group->metadata;
    ctx.server_url = cfg->server_url;
    ctx.boot_token = token;
    auto script = render::RenderIpxeScript(*profile, ctx);
    if (!script) {
      log::Get("boot")->error("mac={} cannot render profile {}: {}", mac->ToString(), profile->name,
                              script.error().ToString());
      return http::Response::InternalError();
    }
    BootEvent e;
    e.mac = *mac;
    e.phase = "boot.script";
    e.detail = DumpJson(detail);
    recorder_->Record(std::move(e));
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
