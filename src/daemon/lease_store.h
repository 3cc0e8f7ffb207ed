#pragma once

// dhcp::LeaseStorage over the daemon's store::Store: leases live in the same SQLite database as
// the machines and the timeline, and a saved batch is durable (one fsynced transaction).

#include "dhcp/lease_storage.h"
#include "store/store.h"

namespace paddock::daemon {

class StoreLeaseStorage final : public dhcp::LeaseStorage {
 public:
  // `store` must outlive this object.
  explicit StoreLeaseStorage(store::Store* store) : store_(store) {}

  Result<std::vector<dhcp::Lease>> LoadAll() override;
  Status SaveBatch(const std::vector<dhcp::Lease>& leases) override;

  // Conversions, exposed for tests. A row with an unknown state or a malformed client id
  // is skipped by LoadAll (and logged).
  static store::LeaseRow ToRow(const dhcp::Lease& lease);
  static std::optional<dhcp::Lease> FromRow(const store::LeaseRow& row);

 private:
  store::Store* store_;
};

}  // namespace paddock::daemon
