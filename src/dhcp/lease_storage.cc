#include "dhcp/lease_storage.h"

#include <thread>

namespace paddock::dhcp {

const char* LeaseStateName(LeaseState state) {
  switch (state) {
    case LeaseState::kOffered:
      return "offered";
    case LeaseState::kBound:
      return "bound";
    case LeaseState::kReleased:
      return "released";
    case LeaseState::kExpired:
      return "expired";
    case LeaseState::kDeclined:
      return "declined";
  }
  return "unknown";
}

std::optional<LeaseState> ParseLeaseState(std::string_view name) {
  for (LeaseState s : {LeaseState::kOffered, LeaseState::kBound, LeaseState::kReleased,
                       LeaseState::kExpired, LeaseState::kDeclined}) {
    if (name == LeaseStateName(s)) return s;
  }
  return std::nullopt;
}

Result<std::vector<Lease>> InMemoryLeaseStorage::LoadAll() {
  std::lock_guard lock(mu_);
  std::vector<Lease> out;
  for (const auto& [ip, lease] : by_ip_) out.push_back(lease);
  return out;
}

Status InMemoryLeaseStorage::SaveBatch(const std::vector<Lease>& leases) {
  if (save_delay_.count() > 0) std::this_thread::sleep_for(save_delay_);
  std::lock_guard lock(mu_);
  if (fail_) return IoError("in-memory lease storage set to fail");
  for (const Lease& l : leases) by_ip_[l.ip.value()] = l;
  ++batches_;
  leases_saved_ += leases.size();
  return Ok();
}

std::vector<Lease> InMemoryLeaseStorage::Snapshot() const {
  std::lock_guard lock(mu_);
  std::vector<Lease> out;
  for (const auto& [ip, lease] : by_ip_) out.push_back(lease);
  return out;
}

uint64_t InMemoryLeaseStorage::batches() const {
  std::lock_guard lock(mu_);
  return batches_;
}

uint64_t InMemoryLeaseStorage::leases_saved() const {
  std::lock_guard lock(mu_);
  return leases_saved_;
}

void InMemoryLeaseStorage::set_fail(bool fail) {
  std::lock_guard lock(mu_);
  fail_ = fail;
}

}  // namespace paddock::dhcp
