#pragma once

// The DHCP server's decisions, without sockets: given one received packet and where it came
// from, what to answer, where to send it, which leases must be durable first, and which boot
// events to record. dhcp::Server is a thin socket loop around this class.
//
// Full mode (RFC 2131 §4.3): DISCOVER -> OFFER (or nothing when the pool is exhausted);
// REQUEST in SELECTING (option 54 names us), INIT-REBOOT (option 50, no ciaddr), RENEWING /
// REBINDING (ciaddr) -> ACK or NAK; DECLINE -> quarantine; RELEASE -> released; INFORM -> ACK
// without lease. Boot options come from boot::DecideBoot.
// Proxy mode (PXE spec / RFC 4578): only PXE, iPXE and HTTP-boot clients are answered, with
// boot options and no address: DISCOVER on the server port -> OFFER; REQUEST on the proxy port
// (4011, both modes) -> ACK sent back to the request's source address and port.
//
// Destinations: relayed (giaddr != 0) -> giaddr:server_port; ciaddr set on renew/inform ->
// ciaddr:client_port; otherwise broadcast 255.255.255.255:client_port (works for every client
// seen, needs no ARP entry; see notes/pxe-in-qemu.md).
//
// Thread-safety: not thread-safe; the server calls it from its io thread. Never throws.

#include <optional>
#include <string>
#include <vector>

#include "boot/client.h"
#include "common/clock.h"
#include "common/event.h"
#include "dhcp/lease_pool.h"
#include "dhcp/packet.h"
#include "dhcp/server_options.h"

namespace paddock::dhcp {

struct Arrival {
  uint16_t local_port = 67;  // the port it arrived on (server_port or proxy_port)
  Ipv4Address source;        // the sender's address and port
  uint16_t source_port = 68;
};

struct Destination {
  Ipv4Address ip;
  uint16_t port = 0;
  friend bool operator==(const Destination&, const Destination&) = default;
};

struct Response {
  DhcpPacket packet;
  Destination to;
  size_t max_size = kDefaultMaxMessageSize;  // pass to SerializeDhcpPacket
  BootEvent event;                           // record when the packet is sent
};

struct Outcome {
  std::optional<Response> reply;
  // Leases to persist (ACKed, released, declined). When `reply` is an ACK it must be sent only
  // after these are durable.
  std::vector<Lease> leases_to_save;
  // Events for what was received; record right away.
  std::vector<BootEvent> events;
  // Why nothing was sent, for the debug log ("not for us", "pool exhausted", ...).
  std::string note;
  bool pool_exhausted = false;
};

// The JSON detail of a DHCP boot event: {"xid":"0x..","arch":7,"vendor_class":"..",
// "user_class":"..","uuid":"..","ip":"..","file":"..","relayed":false} (absent fields left
// out; "error" on NAK). Strings are escaped; invalid UTF-8 is replaced.
std::string EventDetail(const DhcpPacket& request, Ipv4Address ip, const std::string& file,
                        const std::string& error = "");
// The same, with the request's classification (ClassifyClient) already at hand.
std::string EventDetail(const DhcpPacket& request, const boot::ClientInfo& client, Ipv4Address ip,
                        const std::string& file, const std::string& error = "");

// The lease pool configuration for these server options: one range per subnet, in order
// (Responder relies on that), the server's and routers' addresses excluded.
LeasePoolOptions MakeLeasePoolOptions(const ServerOptions& options);

// Every problem with the options, one per line (kInvalidArgument).
Status ValidateServerOptions(const ServerOptions& options);

class Responder {
 public:
  // `pool` may be null in proxy mode; both must outlive the responder.
  Responder(const ServerOptions& options, LeasePool* pool, const Clock& clock);

  void UpdateOptions(const ServerOptions& options) { options_ = options; }
  const ServerOptions& options() const { return options_; }

  Outcome Handle(const DhcpPacket& request, const Arrival& arrival);

 private:
  Outcome HandleFull(const DhcpPacket& request, const Arrival& arrival);
  Outcome HandleProxy(const DhcpPacket& request, const Arrival& arrival);
  Outcome HandleBootServer(const DhcpPacket& request, const Arrival& arrival);

  ServerOptions options_;
  LeasePool* pool_;
  const Clock& clock_;
};

}  // namespace paddock::dhcp
