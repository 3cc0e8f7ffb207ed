#include "dhcp/lease_pool.h"

#include <algorithm>
#include <set>

namespace paddock::dhcp {
namespace {

std::string QuarantineKey(Ipv4Address ip) { return "q" + std::to_string(ip.value()); }
bool IsQuarantineKey(const std::string& key) { return !key.empty() && key[0] == 'q'; }

}  // namespace

Status ValidateLeasePoolOptions(const LeasePoolOptions& options) {
  std::string errors;
  auto add = [&errors](const std::string& e) {
    if (!errors.empty()) errors += '\n';
    errors += e;
  };
  for (size_t i = 0; i < options.ranges.size(); ++i) {
    const AddressRange& r = options.ranges[i];
    std::string name = "range " + r.start.ToString() + "-" + r.end.ToString();
    if (r.end < r.start) add(name + ": end is before start");
    if (!r.InSubnet(r.end)) add(name + ": start and end are not in one subnet");
    uint32_t mask = r.netmask.value();
    if (mask == 0 || (~mask & (~mask + 1)) != 0) add(name + ": netmask is not contiguous");
  }
  std::set<MacAddress> macs;
  std::set<Ipv4Address> ips;
  for (const Reservation& res : options.reservations) {
    if (!macs.insert(res.mac).second) add("reservation " + res.mac.ToString() + ": MAC twice");
    if (!ips.insert(res.ip).second) add("reservation " + res.ip.ToString() + ": address twice");
    bool in_subnet = std::any_of(options.ranges.begin(), options.ranges.end(),
                                 [&](const AddressRange& r) { return r.InSubnet(res.ip); });
    if (!in_subnet) add("reservation " + res.ip.ToString() + ": not in any range's subnet");
  }
  if (options.offer_hold_seconds <= 0) add("offer hold must be positive");
  if (options.decline_quarantine_seconds < 0) add("decline quarantine must not be negative");
  if (!errors.empty()) return InvalidArgument(errors);
  return Ok();
}

LeasePool::LeasePool(const Clock& clock, LeasePoolOptions options) : clock_(clock) {
  Reconfigure(std::move(options));
}

void LeasePool::Reconfigure(LeasePoolOptions options) {
  std::lock_guard lock(mu_);
  options_ = std::move(options);
  reservation_by_mac_.clear();
  reserved_ips_.clear();
  for (const Reservation& r : options_.reservations) {
    reservation_by_mac_[r.mac] = r;
    reserved_ips_[r.ip] = r.mac;
  }
  cursors_.assign(options_.ranges.size(), 0);
  for (size_t i = 0; i < options_.ranges.size(); ++i) {
    cursors_[i] = options_.ranges[i].start.value();
  }
}

std::string LeasePool::KeyOf(const Bytes& client_id, const MacAddress& mac) const {
  // RFC 2132 §9.14: type 1 + hardware address is the usual client id; treat it as the MAC so
  // firmware that sends none and iPXE/udhcpc that send it agree on one lease.
  bool is_mac_id = client_id.size() == 7 && client_id[0] == 1 &&
                   std::equal(mac.bytes().begin(), mac.bytes().end(), client_id.begin() + 1);
  if (client_id.empty() || is_mac_id) {
    return "m" + std::string(mac.bytes().begin(), mac.bytes().end());
  }
  return "c" + std::string(client_id.begin(), client_id.end());
}

void LeasePool::Load(const std::vector<Lease>& leases) {
  std::lock_guard lock(mu_);
  int64_t now = clock_.NowSeconds();
  for (const Lease& l : leases) {
    std::string key;
    if (l.state == LeaseState::kDeclined) {
      if (l.expires_at <= now) continue;
      key = QuarantineKey(l.ip);
    } else {
      key = KeyOf(l.client_id, l.mac);
    }
    auto old = leases_.find(key);
    if (old != leases_.end()) {
      if (old->second.updated_at > l.updated_at) continue;
      key_by_ip_.erase(old->second.ip);
    }
    if (auto by_ip = key_by_ip_.find(l.ip); by_ip != key_by_ip_.end()) {
      const Lease& other = leases_[by_ip->second];
      if (other.updated_at > l.updated_at) continue;
      leases_.erase(by_ip->second);
    }
    leases_[key] = l;
    key_by_ip_[l.ip] = key;
  }
}

std::optional<size_t> LeasePool::RangeForAddress(Ipv4Address ip) const {
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < options_.ranges.size(); ++i) {
    if (options_.ranges[i].InSubnet(ip)) return i;
  }
  return std::nullopt;
}

bool LeasePool::Reusable(const Lease& lease, int64_t now) const {
  switch (lease.state) {
    case LeaseState::kOffered:
    case LeaseState::kBound:
    case LeaseState::kDeclined:
      return lease.expires_at <= now;
    case LeaseState::kReleased:
    case LeaseState::kExpired:
      return true;
  }
  return false;
}

bool LeasePool::FreeFor(Ipv4Address ip, const std::string& key, const MacAddress& mac,
                        int64_t now) const {
  if (auto r = reserved_ips_.find(ip); r != reserved_ips_.end() && r->second != mac) return false;
  if (std::find(options_.excluded.begin(), options_.excluded.end(), ip) !=
      options_.excluded.end()) {
    return false;
  }
  auto owner = key_by_ip_.find(ip);
  if (owner == key_by_ip_.end() || owner->second == key) return true;
  return Reusable(leases_.at(owner->second), now);
}

std::optional<Ipv4Address> LeasePool::PickFree(size_t range_index, const std::string& key,
                                               const MacAddress& mac, int64_t now) {
  const AddressRange& r = options_.ranges[range_index];
  uint32_t first = r.start.value(), last = r.end.value();
  uint64_t count = uint64_t{last} - first + 1;
  uint32_t cursor = std::clamp(cursors_[range_index], first, last);
  // Pass 1: an address nobody has held, scanning on from where the last one was found.
  for (uint64_t i = 0; i < count; ++i) {
    uint32_t v = static_cast<uint32_t>(first + (uint64_t{cursor} - first + i) % count);
    Ipv4Address ip(v);
    if (key_by_ip_.count(ip) || reserved_ips_.count(ip)) continue;
    if (std::find(options_.excluded.begin(), options_.excluded.end(), ip) !=
        options_.excluded.end()) {
      continue;
    }
    cursors_[range_index] = v == last ? first : v + 1;
    return ip;
  }
  // Pass 2: the reusable address idle longest, so recent owners can still get theirs back.
  std::optional<Ipv4Address> best;
  int64_t best_time = 0;
  for (const auto& [ip, owner] : key_by_ip_) {
    if (!r.InRange(ip) || !FreeFor(ip, key, mac, now)) continue;
    const Lease& l = leases_.at(owner);
    if (!best || l.updated_at < best_time || (l.updated_at == best_time && ip < *best)) {
      best = ip;
      best_time = l.updated_at;
    }
  }
  return best;
}

Lease& LeasePool::Assign(const std::string& key, Ipv4Address ip) {
  // Drop the previous owner of the address, and the client's previous address.
  if (auto owner = key_by_ip_.find(ip); owner != key_by_ip_.end() && owner->second != key) {
    leases_.erase(owner->second);
    key_by_ip_.erase(owner);
  }
  Lease& l = leases_[key];
  if (l.ip != ip && key_by_ip_.count(l.ip) && key_by_ip_[l.ip] == key) key_by_ip_.erase(l.ip);
  l.ip = ip;
  key_by_ip_[ip] = key;
  return l;
}

std::optional<Lease> LeasePool::Offer(const Bytes& client_id, const MacAddress& mac,
                                      size_t range_index, std::optional<Ipv4Address> requested) {
  std::lock_guard lock(mu_);
  if (range_index >= options_.ranges.size()) return std::nullopt;
  const AddressRange& r = options_.ranges[range_index];
  const int64_t now = clock_.NowSeconds();
  const std::string key = KeyOf(client_id, mac);

  std::optional<Ipv4Address> pick;
  if (auto res = reservation_by_mac_.find(mac);
      res != reservation_by_mac_.end() && r.InSubnet(res->second.ip)) {
    pick = res->second.ip;  // a reservation wins, even over a stale lease of another client
  }
  auto allowed = [&](Ipv4Address ip) { return r.InRange(ip) && FreeFor(ip, key, mac, now); };
  if (!pick) {
    if (auto mine = leases_.find(key); mine != leases_.end() && allowed(mine->second.ip)) {
      pick = mine->second.ip;
    }
  }
  if (!pick && requested && allowed(*requested) && !key_by_ip_.count(*requested)) {
    pick = requested;
  }
  if (!pick) pick = PickFree(range_index, key, mac, now);
  if (!pick) return std::nullopt;

  auto mine = leases_.find(key);
  bool keep_bound = mine != leases_.end() && mine->second.ip == *pick &&
                    mine->second.state == LeaseState::kBound && mine->second.expires_at > now;
  Lease& l = Assign(key, *pick);
  l.mac = mac;
  l.client_id = client_id;
  if (!keep_bound) {
    l.state = LeaseState::kOffered;
    l.expires_at = now + options_.offer_hold_seconds;
  }
  l.updated_at = now;
  if (auto res = reservation_by_mac_.find(mac); res != reservation_by_mac_.end()) {
    if (!res->second.hostname.empty()) l.hostname = res->second.hostname;
  }
  return l;
}

Result<Lease> LeasePool::Bind(const Bytes& client_id, const MacAddress& mac, size_t range_index,
                              Ipv4Address ip, int64_t lease_seconds, const std::string& hostname) {
  std::lock_guard lock(mu_);
  if (range_index >= options_.ranges.size()) return InvalidArgument("no such range");
  const AddressRange& r = options_.ranges[range_index];
  const int64_t now = clock_.NowSeconds();
  const std::string key = KeyOf(client_id, mac);
  if (!r.InSubnet(ip)) return InvalidArgument(ip.ToString() + " is not on this network");
  const Reservation* res = nullptr;
  if (auto it = reservation_by_mac_.find(mac); it != reservation_by_mac_.end()) res = &it->second;
  bool own_reservation = res != nullptr && res->ip == ip;
  if (res != nullptr && r.InSubnet(res->ip) && !own_reservation) {
    return InvalidArgument("client has reservation " + res->ip.ToString());
  }
  if (!own_reservation && !r.InRange(ip)) {
    return InvalidArgument(ip.ToString() + " is outside the range");
  }
  if (auto rip = reserved_ips_.find(ip); rip != reserved_ips_.end() && rip->second != mac) {
    return InvalidArgument(ip.ToString() + " is reserved for another client");
  }
  if (std::find(options_.excluded.begin(), options_.excluded.end(), ip) !=
      options_.excluded.end()) {
    return InvalidArgument(ip.ToString() + " is excluded");
  }
  if (auto owner = key_by_ip_.find(ip); owner != key_by_ip_.end() && owner->second != key) {
    if (!own_reservation && !Reusable(leases_.at(owner->second), now)) {
      return MakeError(ErrorCode::kAlreadyExists, ip.ToString() + " is held by another client");
    }
  }
  Lease& l = Assign(key, ip);
  l.mac = mac;
  l.client_id = client_id;
  l.state = LeaseState::kBound;
  l.expires_at = now + lease_seconds;
  l.updated_at = now;
  l.hostname = res != nullptr && !res->hostname.empty() ? res->hostname : hostname;
  return l;
}

std::optional<Lease> LeasePool::Release(const Bytes& client_id, const MacAddress& mac,
                                        Ipv4Address ip) {
  std::lock_guard lock(mu_);
  auto it = leases_.find(KeyOf(client_id, mac));
  if (it == leases_.end() || it->second.ip != ip) return std::nullopt;
  Lease& l = it->second;
  if (l.state != LeaseState::kBound && l.state != LeaseState::kOffered) return std::nullopt;
  l.state = LeaseState::kReleased;
  l.expires_at = l.updated_at = clock_.NowSeconds();
  return l;
}

std::optional<Lease> LeasePool::Decline(const Bytes& client_id, const MacAddress& mac,
                                        Ipv4Address ip) {
  std::lock_guard lock(mu_);
  const std::string key = KeyOf(client_id, mac);
  auto it = leases_.find(key);
  if (it == leases_.end() || it->second.ip != ip) return std::nullopt;
  Lease q = it->second;
  leases_.erase(it);
  key_by_ip_.erase(ip);
  const int64_t now = clock_.NowSeconds();
  q.state = LeaseState::kDeclined;
  q.expires_at = now + options_.decline_quarantine_seconds;
  q.updated_at = now;
  std::string qkey = QuarantineKey(ip);
  leases_[qkey] = q;
  key_by_ip_[ip] = qkey;
  return q;
}

void LeasePool::CancelOffer(const Bytes& client_id, const MacAddress& mac) {
  std::lock_guard lock(mu_);
  auto it = leases_.find(KeyOf(client_id, mac));
  if (it == leases_.end() || it->second.state != LeaseState::kOffered) return;
  // Keep the association (it may get this address again) but free the address now.
  it->second.state = LeaseState::kExpired;
  it->second.expires_at = it->second.updated_at = clock_.NowSeconds();
}

std::vector<Lease> LeasePool::ExpireDue() {
  std::lock_guard lock(mu_);
  const int64_t now = clock_.NowSeconds();
  std::vector<Lease> changed;
  for (auto it = leases_.begin(); it != leases_.end();) {
    Lease& l = it->second;
    if (l.state == LeaseState::kDeclined && l.expires_at <= now) {
      key_by_ip_.erase(l.ip);
      it = leases_.erase(it);
      continue;
    }
    if ((l.state == LeaseState::kBound || l.state == LeaseState::kOffered) && l.expires_at <= now) {
      bool was_bound = l.state == LeaseState::kBound;
      l.state = LeaseState::kExpired;
      l.updated_at = now;
      // An unanswered offer was never stored as bound; only bound leases need a write.
      if (was_bound) changed.push_back(l);
    }
    ++it;
  }
  return changed;
}

std::optional<Lease> LeasePool::FindByAddress(Ipv4Address ip) const {
  std::lock_guard lock(mu_);
  auto it = key_by_ip_.find(ip);
  if (it == key_by_ip_.end()) return std::nullopt;
  return leases_.at(it->second);
}

std::optional<Lease> LeasePool::FindByClient(const Bytes& client_id, const MacAddress& mac) const {
  std::lock_guard lock(mu_);
  auto it = leases_.find(KeyOf(client_id, mac));
  if (it == leases_.end()) return std::nullopt;
  return it->second;
}

std::optional<MacAddress> LeasePool::MacForAddress(Ipv4Address ip) const {
  std::lock_guard lock(mu_);
  auto it = key_by_ip_.find(ip);
  if (it == key_by_ip_.end() || IsQuarantineKey(it->second)) return std::nullopt;
  const Lease& l = leases_.at(it->second);
  if (l.state != LeaseState::kBound && l.state != LeaseState::kOffered) return std::nullopt;
  return l.mac;
}

std::optional<Reservation> LeasePool::ReservationFor(const MacAddress& mac) const {
  std::lock_guard lock(mu_);
  auto it = reservation_by_mac_.find(mac);
  if (it == reservation_by_mac_.end()) return std::nullopt;
  return it->second;
}

std::vector<Lease> LeasePool::All() const {
  std::lock_guard lock(mu_);
  std::vector<Lease> out;
  for (const auto& [key, l] : leases_) out.push_back(l);
  std::sort(out.begin(), out.end(), [](const Lease& a, const Lease& b) { return a.ip < b.ip; });
  return out;
}

}  // namespace paddock::dhcp
