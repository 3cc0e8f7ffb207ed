#pragma once

// dhcp::Server: the DHCPv4 server (full or proxy mode) on the daemon's io_context. A thin
// socket loop around Responder (the decisions), LeasePool (addresses) and LeaseWriter (durable
// leases before ACKs), plus the optional RouterAdvertiser.
//
// Sockets: UDP server_port (67) and proxy_port (4011) on 0.0.0.0, SO_BINDTODEVICE to
// `interface` when set, SO_BROADCAST, SO_REUSEADDR. Replies leave from the socket the request
// came in on (OVMF expects 4011 -> 4011).
//
// Every datagram: parse; malformed -> dropped, counted (dropped_malformed), logged at debug
// with the label "mac=.. xid=.."; never a crash. Every step -> a BootEvent to `events`.
// ACKs that bind a lease are sent only after LeaseStorage::SaveBatch returned Ok for it (done
// on the persistence worker thread, group-committed); if it fails the ACK is not sent (the
// client retries) and persist_errors counts it.
//
// Threading: construct, Start and Stop on one thread (the io thread, or before io.run());
// UpdateOptions, GetStats, MacForAddress and Leases may be called from any thread.
// Ownership: `events` and `storage` are borrowed and must outlive the server; both may be
// null (no events; no persistence — then leases live in memory only). `storage` is required
// for durable leases in full mode; it is unused in proxy mode.

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "common/clock.h"
#include "common/event.h"
#include "common/result.h"
#include "dhcp/lease.h"
#include "dhcp/lease_storage.h"
#include "dhcp/server_options.h"

namespace boost::asio {
class io_context;
}

namespace paddock::dhcp {

// Counters since Start, as plain numbers (for /metrics).
struct Stats {
  uint64_t received = 0;
  uint64_t dropped_malformed = 0;
  uint64_t ignored = 0;  // well-formed but not answered (not for us, not PXE in proxy mode)
  uint64_t discovers = 0;
  uint64_t requests = 0;
  uint64_t releases = 0;
  uint64_t declines = 0;
  uint64_t informs = 0;
  uint64_t offers = 0;
  uint64_t acks = 0;
  uint64_t naks = 0;
  uint64_t proxy_offers = 0;
  uint64_t proxy_acks = 0;
  uint64_t pool_exhausted = 0;
  uint64_t send_errors = 0;
  uint64_t persist_batches = 0;
  uint64_t persist_errors = 0;
  uint64_t leases_loaded = 0;
  uint64_t router_advertisements = 0;
};

class Server {
 public:
  // `clock` (default: the system clock) must outlive the server.
  Server(boost::asio::io_context& io, ServerOptions options, EventSink* events,
         LeaseStorage* storage, const Clock* clock = nullptr);
  ~Server();

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Validates the options, loads leases (full mode), binds the sockets and starts receiving.
  // Errors name the cause: kInvalidArgument (options, every problem listed), kIoError /
  // kPermissionDenied ("bind 0.0.0.0:67 on br0: Address already in use").
  Status Start();
  // Closes the sockets, stops timers, finishes pending lease writes (their ACKs are dropped).
  void Stop();

  // Config reload: validates, then swaps the options in on the io thread; leases are kept.
  // Ports, interface and mode changes take effect only after a restart.
  Status UpdateOptions(ServerOptions options);

  Stats GetStats() const;
  // The MAC holding (or offered) `address`, from the leases (a MacResolver for TFTP/HTTP).
  std::optional<MacAddress> MacForAddress(Ipv4Address address) const;
  MacResolver Resolver() const;
  std::vector<Lease> Leases() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace paddock::dhcp
