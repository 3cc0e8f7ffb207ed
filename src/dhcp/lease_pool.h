#pragma once

// Address allocation for full-mode DHCP: dynamic ranges, static reservations by MAC, leases
// with offer hold, binding, renewal, release, expiry and DECLINE quarantine. Pure logic over a
// Clock: no I/O (the server persists what the pool returns through LeaseStorage).
//
// Identity: a lease belongs to the client id (option 61) when the client sent one, else to its
// MAC. A client id of type 1 carrying the same MAC (what iPXE and udhcpc send) counts as the
// MAC, so a machine keeps one address across its boot stages (firmware without option 61,
// iPXE and the booted OS with it).
//
// Address choice for a DISCOVER, in order: the MAC's reservation (when it lies in the chosen
// subnet), the client's current or previous address, the address it asked for (option 50), a
// never-used address of the range, and finally the released/expired address idle longest.
// So a known client (a rebooted diskless node) gets its previous address back as long as the
// pool is not exhausted. A reserved address is never given to another client; it may lie
// inside or outside the dynamic range but must be inside the range's subnet.
//
// Thread-safety: every method may be called from any thread (an internal mutex guards the
// state); the DHCP server calls the mutators from its io thread only.

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/net.h"
#include "common/result.h"
#include "dhcp/lease.h"

namespace paddock::dhcp {

// A dynamic range inside one subnet. The subnet is (start & netmask)/netmask; start and end
// (inclusive) must lie in it, start <= end.
struct AddressRange {
  Ipv4Address start;
  Ipv4Address end;
  Ipv4Address netmask;

  bool InSubnet(Ipv4Address ip) const {
    return (ip.value() & netmask.value()) == (start.value() & netmask.value());
  }
  bool InRange(Ipv4Address ip) const { return ip >= start && ip <= end; }
};

struct Reservation {
  MacAddress mac;
  Ipv4Address ip;
  std::string hostname;  // sent as option 12 when non-empty
};

struct LeasePoolOptions {
  std::vector<AddressRange> ranges;
  std::vector<Reservation> reservations;
  // Addresses never handed out even when inside a range (the server's own, routers, ...).
  std::vector<Ipv4Address> excluded;
  int64_t offer_hold_seconds = 30;
  int64_t decline_quarantine_seconds = 600;
};

// Checks ranges (start <= end, both in the subnet), reservations (unique MACs and addresses)
// and times. Returns every problem found, one per line, as kInvalidArgument.
Status ValidateLeasePoolOptions(const LeasePoolOptions& options);

class LeasePool {
 public:
  // `clock` must outlive the pool. Options are not validated here (see above).
  LeasePool(const Clock& clock, LeasePoolOptions options);

  LeasePool(const LeasePool&) = delete;
  LeasePool& operator=(const LeasePool&) = delete;

  // Replaces ranges, reservations and times; existing leases are kept (a lease outside the new
  // ranges is NAKed at its next renewal).
  void Reconfigure(LeasePoolOptions options);

  // Adds leases read from storage at start. Expired quarantines are skipped; of two records for
  // one client the newer wins.
  void Load(const std::vector<Lease>& leases);

  // Index of the first range whose subnet contains `ip` (a relay's giaddr, the server's own
  // address, a renewing client's ciaddr); nullopt when none does.
  std::optional<size_t> RangeForAddress(Ipv4Address ip) const;

  // DISCOVER: picks an address in range `range_index` (see the order above) and holds it for
  // offer_hold_seconds. A client that holds a valid bound lease keeps it as is. Returns nullopt
  // when the pool is exhausted (or the index is bad).
  std::optional<Lease> Offer(const Bytes& client_id, const MacAddress& mac, size_t range_index,
                             std::optional<Ipv4Address> requested);

  // REQUEST (selecting, init-reboot, renewing, rebinding): binds `ip` to the client for
  // lease_seconds. Errors (the server answers NAK): kInvalidArgument when `ip` is not in the
  // range's subnet or not allowed for this client (outside the range and not its reservation,
  // reserved for another MAC, excluded, or the client has a different reservation);
  // kAlreadyExists when another client holds it.
  Result<Lease> Bind(const Bytes& client_id, const MacAddress& mac, size_t range_index,
                     Ipv4Address ip, int64_t lease_seconds, const std::string& hostname);

  // RELEASE: the client's lease on `ip` becomes kReleased (the address is remembered for the
  // client). Returns the changed lease, or nullopt when the client holds no lease on `ip`.
  std::optional<Lease> Release(const Bytes& client_id, const MacAddress& mac, Ipv4Address ip);

  // DECLINE (RFC 2131 §4.3.3): `ip` is quarantined for decline_quarantine_seconds and the
  // client loses it. Only an address held by (or offered to) this client can be declined.
  std::optional<Lease> Decline(const Bytes& client_id, const MacAddress& mac, Ipv4Address ip);

  // Withdraws an offer the client did not take (it chose another server). No-op otherwise.
  void CancelOffer(const Bytes& client_id, const MacAddress& mac);

  // Moves bound and offered leases whose time passed to kExpired and drops ended quarantines.
  // Returns the leases that changed (to persist).
  std::vector<Lease> ExpireDue();

  std::optional<Lease> FindByAddress(Ipv4Address ip) const;
  std::optional<Lease> FindByClient(const Bytes& client_id, const MacAddress& mac) const;
  // The MAC that holds (or was offered) `ip`; nullopt otherwise. Cheap.
  std::optional<MacAddress> MacForAddress(Ipv4Address ip) const;
  std::optional<Reservation> ReservationFor(const MacAddress& mac) const;
  std::vector<Lease> All() const;

 private:
  std::string KeyOf(const Bytes& client_id, const MacAddress& mac) const;
  bool Reusable(const Lease& lease, int64_t now) const;
  // True when `ip` may be given to client `key` (with `mac`) now; ignores range membership.
  bool FreeFor(Ipv4Address ip, const std::string& key, const MacAddress& mac, int64_t now) const;
  std::optional<Ipv4Address> PickFree(size_t range_index, const std::string& key,
                                      const MacAddress& mac, int64_t now);
  // Gives `ip` to `key`, dropping any other association of either; returns the record.
  Lease& Assign(const std::string& key, Ipv4Address ip);

  const Clock& clock_;
  mutable std::mutex mu_;
  LeasePoolOptions options_;
  std::unordered_map<MacAddress, Reservation> reservation_by_mac_;
  std::unordered_map<Ipv4Address, MacAddress> reserved_ips_;
  std::unordered_map<std::string, Lease> leases_;           // by client key
  std::unordered_map<Ipv4Address, std::string> key_by_ip_;  // address -> client key
  std::vector<uint32_t> cursors_;                           // next scan start per range
};

}  // namespace paddock::dhcp
