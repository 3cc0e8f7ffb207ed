#pragma once

// The boot timeline's unit: one step of one machine's boot. Protocol servers (dhcp/, tftp/,
// http/) produce BootEvents; the daemon hands them to the store, the log and (later) the live
// API. Servers only know the EventSink interface below.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "common/net.h"

namespace paddock {

struct BootEvent {
  MacAddress mac;
  int64_t time_us = 0;  // wall clock, microseconds since the epoch (WallMicros())
  // Dotted phase name: "dhcp.discover", "dhcp.offer", "dhcp.request", "dhcp.ack", "dhcp.nak",
  // "dhcp.release", "dhcp.decline", "dhcp.inform", "proxy.offer", "proxy.ack", "tftp.transfer",
  // "http.request", "node.booted", ... New phases may be added; readers must not reject unknown
  // ones.
  std::string phase;
  // A JSON object (as text) with the phase's own fields, e.g. {"xid":"0x1234","arch":7,
  // "vendor_class":"PXEClient:...","file":"undionly.kpxe"}. Never empty: "{}" at least.
  std::string detail = "{}";
  int64_t bytes = 0;        // payload bytes moved in this step, when meaningful
  int64_t duration_us = 0;  // how long the step took, when meaningful
  bool ok = true;           // false for failed steps (TFTP error, HTTP 4xx/5xx, NAK)
};

// Receives boot events. Implementations must be thread-safe and must not block the caller on
// disk or network I/O (queue and return).
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void Record(BootEvent event) = 0;
};

// Maps a client's IPv4 address to its MAC, for protocols that see only addresses (TFTP, HTTP).
// Returns nullopt when the address is not known. Must be cheap and thread-safe.
using MacResolver = std::function<std::optional<MacAddress>(Ipv4Address)>;

}  // namespace paddock
