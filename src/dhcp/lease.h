#pragma once

// A DHCP lease record: which client holds (or held) which address, in what state, until when.
// Plain data shared by the lease pool, the storage seam and the daemon's store.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/net.h"

namespace paddock::dhcp {

enum class LeaseState : uint8_t {
  kOffered,   // held for a client between OFFER and REQUEST (offer hold, ~30 s)
  kBound,     // ACKed; valid until expires_at
  kReleased,  // the client gave it back (DHCPRELEASE); remembered so it gets it back later
  kExpired,   // expires_at passed without renewal; remembered like kReleased
  kDeclined,  // a client reported it in use (DHCPDECLINE); quarantined until expires_at
};

// "offered", "bound", "released", "expired", "declined".
const char* LeaseStateName(LeaseState state);
std::optional<LeaseState> ParseLeaseState(std::string_view name);

struct Lease {
  Ipv4Address ip;
  MacAddress mac;
  // Option 61 value as sent (RFC 2132 §9.14), empty when the client sent none. A lease belongs
  // to the client id when there is one, else to the MAC.
  Bytes client_id;
  LeaseState state = LeaseState::kOffered;
  // Unix seconds. kOffered: end of the offer hold; kBound: lease end; kDeclined: end of the
  // quarantine; kReleased/kExpired: when that happened.
  int64_t expires_at = 0;
  int64_t updated_at = 0;  // unix seconds of the last change
  std::string hostname;    // option 12 from the client, or the reservation's name

  friend bool operator==(const Lease&, const Lease&) = default;
};

}  // namespace paddock::dhcp
