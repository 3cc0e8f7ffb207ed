#include "daemon/daemon.h"

#include <sys/stat.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <filesystem>

#include "common/log.h"
#include "daemon/agent_service.h"
#include "daemon/boot_service.h"
#include "daemon/event_recorder.h"
#include "daemon/lease_store.h"
#include "daemon/metrics.h"
#include "daemon/neighbors.h"
#include "daemon/options.h"
#include "daemon/registry_cache.h"
#include "daemon/tokens.h"
#include "dhcp/server.h"
#include "http/responder.h"
#include "http/router.h"
#include "http/server.h"
#include "store/store.h"
#include "tftp/server.h"

namespace paddock::daemon {

struct Daemon::Impl {
  config::Config config;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<EventRecorder> recorder;
  std::unique_ptr<BootTokenSigner> signer;  // boot tokens: /ipxe issues, the agent redeems
  std::unique_ptr<StoreLeaseStorage> lease_storage;
  boost::asio::io_context io;
  std::unique_ptr<dhcp::Server> dhcp;
  std::unique_ptr<tftp::Server> tftp;
  http::Router router;
  std::unique_ptr<http::Server> http;
  std::unique_ptr<BootService> boot;
  std::unique_ptr<AgentService> agent;  // node agent protocol (docs/agent.md)
  std::unique_ptr<RegistryCache> registry;
  std::unique_ptr<RegistryTimeline> registry_timeline;
  std::mutex event_counts_mu;
  std::map<std::string, uint64_t> event_counts;  // stored events by kind, for /metrics
  std::unique_ptr<boost::asio::signal_set> signals;
  std::shared_ptr<spdlog::logger> log = log::Get("paddock");

  std::optional<MacAddress> ResolveMac(Ipv4Address ip) const {
    if (dhcp) {
      if (auto mac = dhcp->MacForAddress(ip)) return mac;
    }
    return LookupNeighbor(ip);
  }

  Status StartServers();
  void ServeMetrics(std::shared_ptr<http::Responder> responder);
  void StopServers();
  void WaitForSignal();
  void Reload();
};

// What the node agent's server side needs from the config.
static std::shared_ptr<const AgentServiceConfig> AgentServiceConfigFrom(
    const config::Config& config) {
  auto c = std::make_shared<AgentServiceConfig>();
  c->server_url = config.ServerUrl();
  c->inventory = config.inventory;
  c->registry_mirror_url = RegistryMirrorUrl(config);
  c->containerd_hosts = ContainerdHostsFiles(config);
  return c;
}

Status Daemon::Impl::StartServers() {
  MacResolver resolver = [this](Ipv4Address ip) { return ResolveMac(ip); };

  boot = std::make_unique<BootService>(recorder.get(), signer.get(), resolver);
  boot->SetConfig(std::make_shared<BootServiceConfig>(BootServiceConfigFrom(config)));
  boot->Register(router);
  agent = std::make_unique<AgentService>(
      store.get(), recorder.get(), signer.get(),
      AgentServiceOptions{(std::filesystem::path(config.server.data_dir) / "state").string(), 5,
                          (std::filesystem::path(config.server.data_dir) / "hostkeys").string()});
  agent->SetConfig(AgentServiceConfigFrom(config));
  agent->Register(router);
  if (config.registry.enabled) {
    auto reg = RegistryCache::Open(config.registry);
    if (!reg) return tl::unexpected(reg.error());
    registry = std::move(*reg);
    registry_timeline = std::make_unique<RegistryTimeline>(recorder.get(), resolver);
    registry->Register(router, registry_timeline.get());
    log->info("registry: pull-through cache at {}/v2/ (cache {})", config.ServerUrl(),
              config.registry.cache_dir);
  }
  recorder->AddListener([this](const store::StoredEvent& e) {
    std::string kind = e.event.phase.substr(0, e.event.phase.find('.'));
    std::lock_guard lock(event_counts_mu);
    event_counts[kind]++;
  });
  router.HandleAsync("GET", "/metrics",
                     [this](const http::Request&, std::shared_ptr<http::Responder> responder) {
                       ServeMetrics(std::move(responder));
                     });
  http = std::make_unique<http::Server>(io, HttpOptionsFrom(config), router);
  http->SetAccessObserver([this](const http::AccessRecord& r) {
    // Manifest and blob requests become registry.* events instead of http.request.
    if (registry_timeline && registry_timeline->OnAccess(r)) return;
    boot->OnAccess(r);
  });
  if (auto st = http->Start(); !st)
    return MakeError(st.error().code, "http: " + st.error().message);
  log->info("http: serving on {}:{} (assets {})", config.http.address.ToString(), http->port(),
            config.http.assets);

  if (config.tftp.enabled) {
    tftp = std::make_unique<tftp::Server>(io, TftpOptionsFrom(config), recorder.get(), resolver);
    if (auto st = tftp->Start(); !st) {
      return MakeError(st.error().code, "tftp: " + st.error().message);
    }
    log->info("tftp: serving {} on port {}", config.tftp.root, tftp->port());
  }

  if (config.dhcp.mode != config::DhcpMode::kOff) {
    dhcp = std::make_unique<dhcp::Server>(io, DhcpOptionsFrom(config), recorder.get(),
                                          lease_storage.get());
    if (auto st = dhcp->Start(); !st) {
      return MakeError(st.error().code, "dhcp: " + st.error().message);
    }
    log->info("dhcp: {} mode on {} (server {})", config::DhcpModeName(config.dhcp.mode),
              config.server.interface.empty() ? "all interfaces" : config.server.interface,
              config.server.address.ToString());
  }
  return Ok();
}

void Daemon::Impl::ServeMetrics(std::shared_ptr<http::Responder> responder) {
  auto snapshot = std::make_shared<MetricsSnapshot>();
  if (dhcp) snapshot->dhcp = dhcp->GetStats();
  if (tftp) snapshot->tftp = tftp->GetStats();
  if (http) snapshot->http = http->stats();
  {
    std::lock_guard lock(event_counts_mu);
    snapshot->events = event_counts;
  }
  snapshot->events_dropped = recorder->dropped();
  auto send = [](std::shared_ptr<http::Responder> r, const MetricsSnapshot& s) {
    r->Send(http::Response::Text(200, RenderMetrics(s), std::string(kMetricsContentType)));
  };
  if (!registry) {
    send(std::move(responder), *snapshot);
    return;
  }
  // The cache's size comes from SQLite: gather it on a registry worker, not the io thread.
  registry->Post([this, snapshot, responder, send] {
    snapshot->registry = registry->Metrics();
    send(responder, *snapshot);
  });
}

void Daemon::Impl::StopServers() {
  if (dhcp) dhcp->Stop();
  if (tftp) tftp->Stop();
  if (http) http->Stop();
  if (signals) signals->cancel();
}

void Daemon::Impl::WaitForSignal() {
  signals->async_wait([this](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    if (signo == SIGHUP) {
      Reload();
      WaitForSignal();
      return;
    }
    log->info("received signal {}, stopping", signo);
    StopServers();
    io.stop();
  });
}

void Daemon::Impl::Reload() {
  log->info("SIGHUP: reloading {}", config.source);
  config::ConfigResult next = config::LoadConfigFile(config.source);
  if (!next) {
    log->error("reload rejected, still running the previous config; {} error(s):",
               next.error().size());
    for (const auto& e : next.error()) log->error("  {}", e.ToString());
    return;
  }
  const config::Config& n = *next;
  auto needs_restart = [&](bool changed, const char* what) {
    if (changed) log->warn("reload: a change of {} takes effect only after a restart", what);
  };
  needs_restart(n.server.address != config.server.address, "server.address");
  needs_restart(n.server.interface != config.server.interface, "server.interface");
  needs_restart(n.server.data_dir != config.server.data_dir, "server.data_dir");
  needs_restart(n.http.address != config.http.address || n.http.port != config.http.port,
                "http.address/port");
  needs_restart(n.tftp.port != config.tftp.port || n.tftp.enabled != config.tftp.enabled,
                "tftp.enabled/port");
  needs_restart(n.registry.enabled != config.registry.enabled ||
                    n.registry.cache_dir != config.registry.cache_dir ||
                    n.registry.max_size != config.registry.max_size ||
                    n.registry.upstreams.size() != config.registry.upstreams.size(),
                "registry");
  needs_restart(n.dhcp.mode != config.dhcp.mode || n.dhcp.port != config.dhcp.port ||
                    n.dhcp.proxy_port != config.dhcp.proxy_port,
                "dhcp.mode/ports");

  log::Configure(n.server.log_level, n.server.log_format == config::LogFormat::kJson
                                         ? log::Format::kJson
                                         : log::Format::kText);
  // Keep what needs a restart as it runs; apply the rest.
  config::Config applied = n;
  applied.server.address = config.server.address;
  applied.server.interface = config.server.interface;
  applied.server.data_dir = config.server.data_dir;
  applied.http.address = config.http.address;
  applied.http.port = config.http.port;
  applied.tftp.port = config.tftp.port;
  applied.tftp.enabled = config.tftp.enabled;
  applied.dhcp.mode = config.dhcp.mode;
  applied.dhcp.port = config.dhcp.port;
  applied.dhcp.proxy_port = config.dhcp.proxy_port;
  applied.registry = config.registry;
  if (dhcp) {
    if (auto st = dhcp->UpdateOptions(DhcpOptionsFrom(applied)); !st) {
      log->error("reload rejected by dhcp, still running the previous config: {}",
                 st.error().ToString());
      return;
    }
  }
  if (tftp) tftp->UpdateOptions(TftpOptionsFrom(applied));
  boot->SetConfig(std::make_shared<BootServiceConfig>(BootServiceConfigFrom(applied)));
  agent->SetConfig(AgentServiceConfigFrom(applied));
  config = std::move(applied);
  log->info("reload done: {} profiles, {} groups, {} machines", config.inventory.profiles.size(),
            config.inventory.groups.size(), config.inventory.machines.size());
}

Daemon::Daemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Daemon::~Daemon() {
  if (impl_) {
    impl_->StopServers();
    impl_->dhcp.reset();  // joins its lease writer before the storage goes away
    impl_->tftp.reset();
    impl_->http.reset();
    impl_->agent.reset();     // after the HTTP server: its handlers queue work to the agent service
    impl_->registry.reset();  // after the HTTP server: its handlers use the cache
    if (impl_->recorder) impl_->recorder->Flush();
  }
}

Result<std::unique_ptr<Daemon>> Daemon::Create(config::Config config) {
  std::error_code ec;
  std::filesystem::create_directories(config.server.data_dir, ec);
  if (ec) {
    return IoError("cannot create data directory " + config.server.data_dir + ": " + ec.message());
  }
  auto impl = std::make_unique<Impl>();
  impl->config = std::move(config);
  auto store = store::OpenSqliteStore(DatabasePath(impl->config));
  if (!store) return tl::unexpected(store.error());
  impl->store = std::move(*store);
  auto signer = BootTokenSigner::FromStore(*impl->store);
  if (!signer) return MakeError(signer.error().code, "boot token key: " + signer.error().message);
  impl->signer = std::move(*signer);
  impl->recorder = std::make_unique<EventRecorder>(impl->store.get());
  impl->lease_storage = std::make_unique<StoreLeaseStorage>(impl->store.get());
  if (!std::filesystem::is_directory(impl->config.http.assets)) {
    impl->log->warn("http.assets {} is not a directory: /assets/ will answer 404",
                    impl->config.http.assets);
  }
  return std::unique_ptr<Daemon>(new Daemon(std::move(impl)));
}

int Daemon::Run() {
  Impl& d = *impl_;
  d.signals = std::make_unique<boost::asio::signal_set>(d.io, SIGTERM, SIGINT, SIGHUP);
  if (auto st = d.StartServers(); !st) {
    d.log->error("cannot start: {}", st.error().message);
    d.StopServers();
    return 1;
  }
  d.WaitForSignal();
  d.log->info("paddock ready: {} (data {})", d.config.ServerUrl(), d.config.server.data_dir);
  d.io.run();
  d.recorder->Flush();
  d.log->info("stopped");
  return 0;
}

void Daemon::Stop() {
  boost::asio::post(impl_->io, [this] {
    impl_->StopServers();
    impl_->io.stop();
  });
}

}  // namespace paddock::daemon
