#include "daemon/options.h"

#include <stdlib.h>

namespace paddock::daemon {

dhcp::ServerOptions DhcpOptionsFrom(const config::Config& c) {
  dhcp::ServerOptions o;
  o.mode = c.dhcp.mode == config::DhcpMode::kProxy ? dhcp::Mode::kProxy : dhcp::Mode::kFull;
  o.interface = c.server.interface;
  o.server_address = c.server.address;
  if (c.dhcp.range && c.dhcp.netmask) {
    dhcp::SubnetOptions subnet;
    subnet.range = dhcp::AddressRange{c.dhcp.range->start, c.dhcp.range->end, *c.dhcp.netmask};
    subnet.router = c.dhcp.router.value_or(Ipv4Address());
    subnet.dns = c.dhcp.dns;
    subnet.domain = c.dhcp.domain;
    o.subnets.push_back(std::move(subnet));
  }
  for (const auto& r : c.dhcp.reservations) {
    o.reservations.push_back(dhcp::Reservation{r.mac, r.ip, r.hostname});
  }
  o.lease_seconds = c.dhcp.lease_time.count();
  o.decline_quarantine_seconds = c.dhcp.decline_quarantine.count();
  o.server_port = c.dhcp.port;
  o.proxy_port = c.dhcp.proxy_port;
  o.policy.files = c.boot;
  o.policy.server = c.server.address;
  o.policy.http_port = c.http.port;
  o.policy.role = o.mode == dhcp::Mode::kProxy ? boot::DhcpRole::kProxy : boot::DhcpRole::kFull;
  o.router_advertisements = c.dhcp.router_advertisement && !c.server.interface.empty();
  return o;
}

tftp::ServerOptions TftpOptionsFrom(const config::Config& c) {
  tftp::ServerOptions o;
  o.bind_address = "0.0.0.0";
  o.port = c.tftp.port;
  o.root = c.tftp.root;
  o.max_blksize = static_cast<uint16_t>(c.tftp.max_blksize);
  o.max_windowsize = static_cast<uint16_t>(c.tftp.max_windowsize);
  o.timeout_ms = static_cast<int>(c.tftp.timeout.count() * 1000);
  o.retries = static_cast<int>(c.tftp.retries);
  o.pinned_files = PinnedBootFiles(c);
  return o;
}

http::ServerOptions HttpOptionsFrom(const config::Config& c) {
  http::ServerOptions o;
  o.address = c.http.address;
  o.port = c.http.port;
  return o;
}

BootServiceConfig BootServiceConfigFrom(const config::Config& c) {
  BootServiceConfig b;
  b.server_url = c.ServerUrl();
  b.assets_dir = c.http.assets;
  b.tftp_root = c.tftp.root;
  b.pinned_files = PinnedBootFiles(c);
  b.inventory = c.inventory;
  return b;
}

std::map<std::string, std::string> PinnedBootFiles(const config::Config& c) {
  std::map<std::string, std::string> pinned;
  for (const std::string& name : {c.boot.bios, c.boot.efi32, c.boot.efi64, c.boot.arm64}) {
    if (name.empty()) continue;
    std::string path = c.tftp.root + "/" + name;
    char* resolved = realpath(path.c_str(), nullptr);
    if (resolved == nullptr) continue;  // missing: TFTP answers "file not found" and logs it
    pinned[name] = resolved;
    free(resolved);
  }
  return pinned;
}

std::string DatabasePath(const config::Config& c) { return c.server.data_dir + "/paddock.db"; }

std::string RegistryMirrorUrl(const config::Config& c) {
  if (!c.registry.enabled) return "";
  // The daemon registers /v2/ on the boot HTTP server (daemon.cc), so nodes reach the cache at
  // the same address and port as their boot files; containerd appends /v2/... and ?ns=.
  return c.ServerUrl();
}

std::vector<registry::RenderedFile> ContainerdHostsFiles(const config::Config& c) {
  std::string mirror = RegistryMirrorUrl(c);
  if (mirror.empty()) return {};
  registry::HostsTomlOptions options;
  options.mirror_url = mirror;
  options.fallback_to_upstream = c.registry.node_fallback_to_upstream;
  return registry::RenderContainerdHosts(c.registry.node_namespaces, options);
}

}  // namespace paddock::daemon
