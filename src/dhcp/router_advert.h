#pragma once

// IPv6 Router Advertisements (RFC 4861 §4.2) on the boot network. iPXE waits about 16 s for
// IPv6 autoconfiguration unless it sees an RA (notes/pxe-in-qemu.md, pitfall 5); an RA with
// router lifetime 0 and no M/O flags ends that wait without making us anyone's default router.
// Sent at start, every `interval_seconds` and in answer to Router Solicitations.
//
// BuildRouterAdvertisement is pure; RouterAdvertiser owns a raw ICMPv6 socket (needs
// CAP_NET_RAW) driven by the caller's io_context. Asio stays out of this header.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "common/net.h"
#include "common/result.h"

namespace boost::asio {
class io_context;
}

namespace paddock::dhcp {

struct RouterAdvertOptions {
  std::string interface;  // required
  int interval_seconds = 60;
  uint16_t router_lifetime_seconds = 0;  // 0: not a default router
  // Optional on-link prefix (a ULA /64) with the autonomous flag, for clients that want an
  // address; none by default.
  std::optional<std::array<uint8_t, 16>> prefix;
};

// The ICMPv6 message (type 134) with checksum 0: the kernel fills in the checksum for raw
// ICMPv6 sockets (RFC 3542 §3.1). Includes the source link-layer address option when `mac`
// is given and the prefix information option when configured.
Bytes BuildRouterAdvertisement(const RouterAdvertOptions& options,
                               const std::optional<MacAddress>& mac);

class RouterAdvertiser {
 public:
  RouterAdvertiser(boost::asio::io_context& io, RouterAdvertOptions options);
  ~RouterAdvertiser();

  // Opens the socket on the interface, joins all-routers, sends the first RA. Errors:
  // kPermissionDenied without CAP_NET_RAW, kNotFound for an unknown interface, kIoError else.
  // Call before io.run() or on the io thread.
  Status Start();
  // Closes the socket and cancels the timer. io thread (or after io.run() returned).
  void Stop();
  uint64_t sent() const;
  uint64_t solicitations() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace paddock::dhcp
