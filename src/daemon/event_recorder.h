#pragma once

// EventRecorder: the daemon's EventSink. Protocol servers call Record() from the io thread; a
// worker thread batches the events into the store (one transaction per batch), numbers each
// machine's boots, keeps the machine records current (first/last seen, arch, uuid, IP, boot
// count) and writes one log line per event with the machine's label.
//
// Boot numbering: a machine's boot N+1 begins with a DHCP DISCOVER from PXE firmware or iPXE
// (vendor class "PXEClient"/"HTTPClient" or user class "iPXE") once boot N has fetched its iPXE
// script or reported itself booted, or when nothing was heard from it for kBootGapSeconds.
// The node OS's own DHCP client (no PXE vendor class) never starts a boot.
//
// Durability: a batch is committed without fsync (it survives a crash or kill -9 of paddock
// at once) unless a Flush() waits for it or the last synced commit is kSyncInterval old; an
// idle recorder syncs what is unsynced after kSyncInterval. So a power loss can cost at most
// the last kSyncInterval of timeline events (boot tokens are not stored when issued:
// daemon/tokens.h), and the recorder pays one fsync per kSyncInterval instead of one per
// batch (the DHCP path's leases have their own synced commits: docs/architecture.md,
// "Performance notes").

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/event.h"
#include "store/store.h"

namespace paddock::daemon {

class EventRecorder final : public EventSink {
 public:
  static constexpr int64_t kBootGapSeconds = 600;
  static constexpr int64_t kSyncIntervalMicros = 1000000;
  // Batches are at least this far apart (Flush() and shutdown do not wait).
  static constexpr int64_t kMinBatchMicros = 5000;
  // A machine's row is rewritten when a field other than last_seen_us changed, or when
  // last_seen_us moved this far since the row was written: a machine heard from 20 times a
  // second costs one row write a second, not one per batch. The stored last_seen_us may so lag
  // by less than this (the timeline itself has every event's time).
  static constexpr int64_t kLastSeenWriteMicros = 1000000;

  // `store` must outlive the recorder. Starts the worker thread.
  explicit EventRecorder(store::Store* store);
  // Flushes what is queued, then stops the worker.
  ~EventRecorder() override;

  // Thread-safe, never blocks on I/O.
  void Record(BootEvent event) override;

  // Queues an arbitrary write to run on the worker thread, in order with the events (machine
  // facts learnt outside events). Thread-safe.
  void Post(std::function<void(store::Store&)> write);

  // Queues an update of a machine's record (group, profile, hostname learnt when its script is
  // rendered); runs on the worker thread against the recorder's cached record, which is stored
  // in the next batch's transaction (no fsync of its own). Thread-safe.
  void UpdateMachine(const MacAddress& mac, std::function<void(store::MachineRecord&)> update);

  // Events dropped because the queue was full (the store could not keep up).
  uint64_t dropped() const { return dropped_.load(); }

  // Called on the worker thread after each event is stored (live streams, metrics). Register
  // before events flow; not thread-safe against concurrent Record().
  void AddListener(std::function<void(const store::StoredEvent&)> listener);

  // Blocks until everything queued before the call is stored (tests, shutdown).
  void Flush();

  // The boot number the next event of `mac` would carry now (0 = never seen). Thread-safe.
  int64_t CurrentBoot(const MacAddress& mac);

 private:
  struct MachineState {
    store::MachineRecord record;
    // The record as last written (last_seen_us may lag record's by < kLastSeenWriteMicros).
    store::MachineRecord written;
    bool boot_progressed = false;  // this boot fetched its script or reported booted
  };

  using Update = std::pair<MacAddress, std::function<void(store::MachineRecord&)>>;
  struct Batch {
    std::vector<BootEvent> events;
    std::vector<Update> updates;
    std::vector<std::function<void(store::Store&)>> writes;
    size_t size() const { return events.size() + updates.size() + writes.size(); }
  };

  // Nothing queued (mu_ held): the next write must wake the worker.
  bool IdleLocked() const { return pending_.empty() && pending_other_.size() == 0; }
  void Run();
  void Process(Batch& batch, bool force_sync);
  void LoadMachines();
  MachineState& StateFor(const MacAddress& mac);
  // Whether the record must be written (`exact`: any difference, else as kLastSeenWriteMicros).
  static bool NeedsWrite(const MachineState& state, bool exact);
  void QueueSyncedBatchLocked();  // mu_ held
  void Assign(store::StoredEvent& stored, MachineState& state);

  store::Store* store_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable flushed_cv_;
  std::vector<BootEvent> pending_;  // events apart: only they count against kMaxQueued
  Batch pending_other_;
  static constexpr size_t kMaxQueued = 200000;
  std::atomic<uint64_t> dropped_{0};
  uint64_t enqueued_ = 0;
  uint64_t done_ = 0;
  bool stopping_ = false;
  uint64_t sync_requests_ = 0;    // Flush() callers waiting: their batch is synced
  bool unsynced_locked_ = false;  // unsynced_ as of the last batch, read under mu_
  // Worker thread only.
  int64_t last_sync_us_ = 0;
  int64_t last_commit_us_ = 0;  // SteadyMicros() at the end of the last batch
  bool unsynced_ = false;
  std::vector<std::function<void(const store::StoredEvent&)>> listeners_;
  // Worker-thread state, plus current boot numbers readable under mu_. Every stored machine is
  // loaded once when the worker starts (a DISCOVER from a new MAC then costs no read).
  std::unordered_map<MacAddress, MachineState> machines_;
  std::unordered_map<MacAddress, int64_t> boots_;
  std::thread worker_;
};

}  // namespace paddock::daemon
