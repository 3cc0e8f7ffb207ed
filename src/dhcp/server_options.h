#pragma once

// Configuration of the DHCP server (full or proxy mode). Plain data: the daemon builds it from
// paddock.yaml; the standalone harness from flags. No Asio here.

#include <cstdint>
#include <string>
#include <vector>

#include "boot/policy.h"
#include "common/net.h"
#include "dhcp/lease_pool.h"

namespace paddock::dhcp {

enum class Mode {
  kFull,   // hands out addresses from the subnets' ranges, plus boot options
  kProxy,  // proxyDHCP beside another DHCP server: boot options only, never an address
};

// One IPv4 subnet served in full mode: the local one (containing server_address) and any
// reached through relays (chosen by the relay's giaddr).
struct SubnetOptions {
  AddressRange range;            // dynamic range; range.netmask is option 1
  Ipv4Address router;            // option 3; zero = none
  std::vector<Ipv4Address> dns;  // option 6; empty = none
  std::string domain;            // option 15; empty = none
};

struct ServerOptions {
  Mode mode = Mode::kFull;
  // Interface to bind to (SO_BINDTODEVICE) and to send broadcasts and router advertisements
  // on. Empty: all interfaces (only sensible for tests on one link).
  std::string interface;
  // Our address on the boot network: option 54 (server identifier), siaddr, URLs.
  Ipv4Address server_address;

  // Full mode only.
  std::vector<SubnetOptions> subnets;
  std::vector<Reservation> reservations;
  int64_t lease_seconds = 3600;
  int64_t offer_hold_seconds = 30;
  int64_t decline_quarantine_seconds = 600;

  // UDP ports. server_port is also where relays get their replies (RFC 2131 §4.1). The proxy
  // (PXE boot server) port is served in both modes: OVMF treats a full offer that carries
  // option 60 "PXEClient" and no option 43 as a BINL offer and asks port 4011 for the file.
  uint16_t server_port = 67;
  uint16_t proxy_port = 4011;
  uint16_t client_port = 68;

  // What clients boot (server, HTTP port, iPXE binaries). `role` is set from `mode`.
  boot::PolicyInput policy;

  // Send IPv6 Router Advertisements on `interface` (iPXE otherwise waits 16 s for IPv6).
  bool router_advertisements = false;
};

}  // namespace paddock::dhcp
