#pragma once

// The I/O seam between the lease pool and durable storage. The daemon implements LeaseStorage
// over its SQLite store (src/store); tests use InMemoryLeaseStorage.
//
// Threading: LoadAll is called once, at server start, on the caller's thread. SaveBatch is
// called only from the DHCP server's persistence worker thread (never the io thread), one call
// at a time; it may block on fsync.

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "common/result.h"
#include "dhcp/lease.h"

namespace paddock::dhcp {

class LeaseStorage {
 public:
  virtual ~LeaseStorage() = default;
  // Every stored lease (any state). An error aborts server start.
  virtual Result<std::vector<Lease>> LoadAll() = 0;
  // Inserts or replaces the given leases, keyed by address (one record per address). When it
  // returns Ok the leases are durable (they survive kill -9 and power loss); the server sends
  // the ACKs that depend on them only then. On error nothing may be assumed saved.
  virtual Status SaveBatch(const std::vector<Lease>& leases) = 0;
};

// Keeps leases in memory: for tests and for the standalone harness. Thread-safe. An optional
// per-batch delay imitates an fsync so group commit can be observed.
class InMemoryLeaseStorage final : public LeaseStorage {
 public:
  explicit InMemoryLeaseStorage(std::chrono::microseconds save_delay = {})
      : save_delay_(save_delay) {}

  Result<std::vector<Lease>> LoadAll() override;
  Status SaveBatch(const std::vector<Lease>& leases) override;

  // Test hooks.
  std::vector<Lease> Snapshot() const;
  uint64_t batches() const;
  uint64_t leases_saved() const;
  // While set, SaveBatch fails with kIoError.
  void set_fail(bool fail);

 private:
  std::chrono::microseconds save_delay_;
  mutable std::mutex mu_;
  std::map<uint32_t, Lease> by_ip_;
  uint64_t batches_ = 0;
  uint64_t leases_saved_ = 0;
  bool fail_ = false;
};

}  // namespace paddock::dhcp
