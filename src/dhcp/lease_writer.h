#pragma once

// The DHCP server's persistence worker: one thread that writes leases through LeaseStorage
// and reports when they are durable, so the server can send ACKs only after that. Work queued
// while a write is in progress is merged into the next SaveBatch (group commit): under load one
// fsync covers many leases.
//
// Threading: Submit may be called from any thread. `done` callbacks run on the worker thread,
// in submission order; they must be quick (post to the io thread and return).

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "common/result.h"
#include "dhcp/lease_storage.h"

namespace paddock::dhcp {

class LeaseWriter {
 public:
  using Done = std::function<void(const Status&)>;

  // `storage` must outlive the writer. Starts the worker thread.
  explicit LeaseWriter(LeaseStorage* storage);
  // Finishes queued writes, then joins.
  ~LeaseWriter();

  LeaseWriter(const LeaseWriter&) = delete;
  LeaseWriter& operator=(const LeaseWriter&) = delete;

  // Queues leases; `done` (may be empty) gets the result of the batch that contained them.
  // After Stop, `done` is called at once with kUnavailable.
  void Submit(std::vector<Lease> leases, Done done);
  // Finishes queued writes and joins the worker. Idempotent.
  void Stop();

  uint64_t batches() const { return batches_.load(); }
  uint64_t errors() const { return errors_.load(); }
  size_t largest_batch() const { return largest_batch_.load(); }

 private:
  struct Item {
    std::vector<Lease> leases;
    Done done;
  };
  void Run();

  LeaseStorage* storage_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Item> queue_;
  bool stopping_ = false;
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> errors_{0};
  std::atomic<size_t> largest_batch_{0};
  std::thread thread_;
};

}  // namespace paddock::dhcp
