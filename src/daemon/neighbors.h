#pragma once

// Looks up the MAC of a neighbour in the kernel's ARP table (/proc/net/arp). TFTP and HTTP see
// only a client's address; after the client has talked to us the kernel knows its MAC. Used as
// the fallback of the daemon's MacResolver when no lease names the address (proxy mode).

#include <optional>
#include <string>

#include "common/net.h"

namespace paddock::daemon {

// Parses the text of /proc/net/arp and returns the complete entry for `ip`, if any.
std::optional<MacAddress> FindInArpTable(const std::string& table, Ipv4Address ip);

// Reads /proc/net/arp of the current network namespace. Cheap enough per request.
std::optional<MacAddress> LookupNeighbor(Ipv4Address ip);

}  // namespace paddock::daemon
