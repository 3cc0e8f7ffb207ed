#include "daemon/event_recorder.h"

#include <chrono>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/log.h"
#include "common/thread_name.h"

namespace paddock::daemon {
namespace {

// The top-level fields of an event's detail that the recorder reads. Producers write flat
// objects (dhcp/responder.cc): they are scanned in place instead of parsed into an
// nlohmann tree, which cost a large share of the recorder's CPU per DHCP event.
struct DetailFields {
  std::string vendor_class, user_class, uuid, firmware, ip;
  bool ipxe = false;
};

// Scans a flat JSON object of string, boolean and number values into `f`. Returns false when
// the text is anything else (nested values, escapes, malformed): the caller parses it then.
bool ScanFlatDetail(std::string_view s, DetailFields& f) {
  size_t i = 0;
  auto ws = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r')) ++i;
  };
  // A string without escapes (a backslash makes the scan give up).
  auto str = [&](std::string_view& out) {
    if (i >= s.size() || s[i] != '"') return false;
    size_t end = s.find_first_of("\"\\", i + 1);
    if (end == std::string_view::npos || s[end] != '"') return false;
    out = s.substr(i + 1, end - i - 1);
    i = end + 1;
    return true;
  };
  ws();
  if (i >= s.size() || s[i++] != '{') return false;
  ws();
  if (i < s.size() && s[i] == '}') return ++i, true;
  while (true) {
    std::string_view key;
    ws();
    if (!str(key)) return false;
    ws();
    if (i >= s.size() || s[i++] != ':') return false;
    ws();
    if (i >= s.size()) return false;
    if (s[i] == '"') {
      std::string_view v;
      if (!str(v)) return false;
      if (key == "vendor_class")
        f.vendor_class = v;
      else if (key == "user_class")
        f.user_class = v;
      else if (key == "uuid")
        f.uuid = v;
      else if (key == "firmware")
        f.firmware = v;
      else if (key == "ip")
        f.ip = v;
    } else if (s.compare(i, 4, "true") == 0) {
      i += 4;
      if (key == "ipxe") f.ipxe = true;
    } else if (s.compare(i, 5, "false") == 0) {
      i += 5;
    } else if (s.compare(i, 4, "null") == 0) {
      i += 4;
    } else if (s[i] == '-' || (s[i] >= '0' && s[i] <= '9')) {
      while (i < s.size() && (s[i] == '-' || s[i] == '+' || s[i] == '.' || s[i] == 'e' ||
                              s[i] == 'E' || (s[i] >= '0' && s[i] <= '9'))) {
        ++i;
      }
    } else {
      return false;  // object or array value
    }
    ws();
    if (i >= s.size()) return false;
    if (s[i] == ',') {
      ++i;
      continue;
    }
    if (s[i++] != '}') return false;
    ws();
    return i == s.size();
  }
}

// The same fields through a full JSON parse (details the scan does not handle).
DetailFields ParseDetail(const std::string& text) {
  DetailFields f;
  if (ScanFlatDetail(text, f)) return f;
  f = DetailFields();
  nlohmann::json detail = nlohmann::json::parse(text, nullptr, false);
  if (!detail.is_object()) return f;
  auto take = [&](const char* key, std::string& field) {
    auto it = detail.find(key);
    if (it != detail.end() && it->is_string()) field = it->get<std::string>();
  };
  take("vendor_class", f.vendor_class);
  take("user_class", f.user_class);
  take("uuid", f.uuid);
  take("firmware", f.firmware);
  take("ip", f.ip);
  auto ipxe = detail.find("ipxe");
  f.ipxe = ipxe != detail.end() && ipxe->is_boolean() && ipxe->get<bool>();
  return f;
}

// Whether a DHCP event came from boot firmware (PXE ROM, UEFI PXE, HTTP Boot or iPXE) rather
// than from the booted OS's own DHCP client.
bool FromBootFirmware(const DetailFields& detail) {
  const std::string& vendor = detail.vendor_class;
  if (vendor.rfind("PXEClient", 0) == 0 || vendor.rfind("HTTPClient", 0) == 0) return true;
  if (detail.user_class == "iPXE") return true;
  return detail.ipxe;
}

}  // namespace

EventRecorder::EventRecorder(store::Store* store) : store_(store) {
  worker_ = std::thread([this] {
    NameThisThread("pd-recorder");
    Run();
  });
}

EventRecorder::~EventRecorder() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    QueueSyncedBatchLocked();
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void EventRecorder::Record(BootEvent event) {
  if (event.time_us == 0) event.time_us = WallMicros();
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (pending_.size() >= kMaxQueued) {
      ++dropped_;
      return;
    }
    // The worker takes the whole queue at once: only the first write of a batch wakes it
    // (a wake per write cost a futex call, and often a context switch, per DHCP message or
    // script). Once woken it re-checks the queue before it sleeps again.
    wake = IdleLocked();
    pending_.push_back(std::move(event));
    ++enqueued_;
  }
  if (wake) cv_.notify_one();
}

void EventRecorder::UpdateMachine(const MacAddress& mac,
                                  std::function<void(store::MachineRecord&)> update) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake = IdleLocked();
    pending_other_.updates.emplace_back(mac, std::move(update));
    ++enqueued_;
  }
  if (wake) cv_.notify_one();  // as in Record(): only the first write of a batch wakes it
}

void EventRecorder::Post(std::function<void(store::Store&)> write) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake = IdleLocked();
    pending_other_.writes.push_back(std::move(write));
    ++enqueued_;
  }
  if (wake) cv_.notify_one();
}

void EventRecorder::QueueSyncedBatchLocked() {
  // An empty write: a batch runs even when nothing else is queued, and with stopping_ or a
  // Flush() waiting it is synced and stores the records whose last_seen_us lagged.
  pending_other_.writes.push_back([](store::Store&) {});
  ++enqueued_;
}

void EventRecorder::AddListener(std::function<void(const store::StoredEvent&)> listener) {
  listeners_.push_back(std::move(listener));
}

void EventRecorder::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  QueueSyncedBatchLocked();
  uint64_t target = enqueued_;
  ++sync_requests_;
  cv_.notify_one();
  flushed_cv_.wait(lock, [&] { return done_ >= target && !unsynced_locked_; });
  --sync_requests_;
}

int64_t EventRecorder::CurrentBoot(const MacAddress& mac) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = boots_.find(mac);
  return it == boots_.end() ? 0 : it->second;
}

void EventRecorder::Run() {
  LoadMachines();
  std::vector<BootEvent> spare_events;  // the last batch's emptied vector, reused
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    auto has_work = [&] {
      return stopping_ || !pending_.empty() || pending_other_.size() > 0 ||
             (sync_requests_ > 0 && unsynced_);
    };
    if (unsynced_) {
      // Idle with unsynced commits: sync them after kSyncInterval at the latest.
      cv_.wait_for(lock, std::chrono::microseconds(kSyncIntervalMicros), has_work);
    } else {
      cv_.wait(lock, has_work);
    }
    if (pending_.empty() && pending_other_.size() == 0) {
      if (unsynced_) {
        lock.unlock();
        if (auto st = store_->Sync(); !st) {
          log::Get("timeline")->error("cannot sync the timeline: {}", st.error().ToString());
        }
        last_sync_us_ = SteadyMicros();
        lock.lock();
        unsynced_ = false;
        unsynced_locked_ = false;
        flushed_cv_.notify_all();
      }
      if (stopping_) return;
      continue;
    }
    // A batch waits up to kMinBatchMicros after the last commit so that it holds many writes
    // (each commit has a fixed cost, and rows of one batch share pages); Flush() and shutdown
    // do not wait.
    auto urgent = [&] { return stopping_ || sync_requests_ > 0; };
    const auto gather_until = std::chrono::steady_clock::time_point(
        std::chrono::microseconds(last_commit_us_ + kMinBatchMicros));
    if (!urgent() && std::chrono::steady_clock::now() < gather_until) {
      cv_.wait_until(lock, gather_until, urgent);
    }
    // Group commit: everything queued while the last batch was written goes in this one.
    // The vectors of the last batch come back empty with their capacity (spare_events), so
    // Record() does not regrow one per batch (reallocations, then frees on this thread).
    Batch batch;
    batch.events.swap(spare_events);
    batch.events.swap(pending_);
    std::swap(batch.updates, pending_other_.updates);
    std::swap(batch.writes, pending_other_.writes);
    const bool force_sync = stopping_ || sync_requests_ > 0;
    lock.unlock();
    const size_t n = batch.size();
    Process(batch, force_sync);
    last_commit_us_ = SteadyMicros();
    batch.events.clear();
    lock.lock();
    spare_events.swap(batch.events);
    unsynced_locked_ = unsynced_;
    done_ += n;
    flushed_cv_.notify_all();
  }
}

void EventRecorder::LoadMachines() {
  auto all = store_->ListMachines();
  if (!all) {
    // Not fatal: those machines' next events start from empty records (boot numbers restart).
    log::Get("store")->error("cannot read the machine records: {}", all.error().ToString());
    return;
  }
  machines_.reserve(all->size());
  std::lock_guard<std::mutex> lock(mu_);
  for (store::MachineRecord& m : *all) {
    MachineState& state = machines_[m.mac];
    state.record = std::move(m);
    state.written = state.record;
    // After a restart we cannot tell how far the machine's last boot got; assume it went
    // past its script, so the next firmware DISCOVER begins a new boot.
    state.boot_progressed = true;
    boots_[state.record.mac] = state.record.boot_count;
  }
}

EventRecorder::MachineState& EventRecorder::StateFor(const MacAddress& mac) {
  auto [it, inserted] = machines_.try_emplace(mac);
  if (inserted) it->second.record.mac = mac;  // never stored: a new machine
  return it->second;
}

bool EventRecorder::NeedsWrite(const MachineState& state, bool exact) {
  const store::MachineRecord& r = state.record;
  const store::MachineRecord& w = state.written;
  if (exact || r.last_seen_us - w.last_seen_us >= kLastSeenWriteMicros) return !(r == w);
  // Only a change of another field counts (a never-written record differs in first_seen_us).
  store::MachineRecord same_time = r;
  same_time.last_seen_us = w.last_seen_us;
  return !(same_time == w);
}

void EventRecorder::Assign(store::StoredEvent& stored, MachineState& state) {
  const BootEvent& e = stored.event;
  store::MachineRecord& m = state.record;
  // Only DHCP events carry details that matter here; parsing every event's JSON was
  // a visible share of the recorder's CPU under load.
  const bool dhcp_like = e.phase.rfind("dhcp.", 0) == 0 || e.phase.rfind("proxy.", 0) == 0;
  DetailFields detail;
  if (dhcp_like) detail = ParseDetail(e.detail);

  bool starts_boot = false;
  if (m.boot_count == 0) {
    starts_boot = true;
  } else if (e.time_us - m.last_seen_us > kBootGapSeconds * 1000000) {
    starts_boot = true;
  } else if ((e.phase == "dhcp.discover" || e.phase == "proxy.offer") && state.boot_progressed &&
             FromBootFirmware(detail)) {
    starts_boot = true;
  }
  if (starts_boot) {
    ++m.boot_count;
    state.boot_progressed = false;
  }
  if (e.phase == "node.booted" || e.phase.rfind("agent.", 0) == 0) state.boot_progressed = true;
  if (e.phase == "boot.script" || e.phase == "boot.unmatched") state.boot_progressed = true;

  // Facts the DHCP exchange tells us.
  auto take = [](const std::string& value, std::string& field) {
    if (!value.empty() && field != value) field = value;
  };
  if (dhcp_like) {
    take(detail.uuid, m.uuid);
    take(detail.firmware, m.arch);
    if (e.phase == "dhcp.ack") take(detail.ip, m.last_ip);
  }
  if (m.first_seen_us == 0) m.first_seen_us = e.time_us;
  m.last_seen_us = std::max(m.last_seen_us, e.time_us);
  stored.boot = m.boot_count;
}

void EventRecorder::Process(Batch& batch, bool force_sync) {
  auto logger = log::Get("timeline");
  const bool log_info = logger->should_log(spdlog::level::info);
  const bool log_debug = logger->should_log(spdlog::level::debug);
  std::vector<store::StoredEvent> stored;
  stored.reserve(batch.events.size());
  std::unordered_map<MacAddress, bool> touched;
  for (BootEvent& e : batch.events) {
    store::StoredEvent s{0, 0, std::move(e)};
    MachineState& state = StateFor(s.event.mac);
    Assign(s, state);
    touched[s.event.mac] = true;
    // Successful DHCP steps log at debug: four lines per DORA cost more than storing the
    // events, and `paddock timeline MAC` shows them all. Failures and other phases stay info.
    const bool quiet = s.event.ok && (s.event.phase.rfind("dhcp.", 0) == 0 ||
                                      s.event.phase.rfind("proxy.", 0) == 0);
    if (quiet ? log_debug : log_info) {
      logger->log(quiet ? spdlog::level::debug : spdlog::level::info,
                  "mac={} boot={} {}{} bytes={} dur={:.3f}ms {}", s.event.mac.ToString(), s.boot,
                  s.event.phase, s.event.ok ? "" : " FAILED", s.event.bytes,
                  s.event.duration_us / 1000.0, s.event.detail);
    }
    stored.push_back(std::move(s));
  }
  // Updates apply after the events they followed (as queued), to the cached records.
  for (auto& [mac, update] : batch.updates) {
    update(StateFor(mac).record);
    touched[mac] = true;
  }
  // Flush() and shutdown store every record exactly, including a last_seen_us that lagged
  // (rare: one pass over the cached records).
  if (force_sync) {
    for (const auto& [mac, state] : machines_) {
      if (!(state.record == state.written)) touched[mac] = true;
    }
  }
  if (!stored.empty() || !touched.empty()) {
    // Events and the machine records they changed go to the store in one transaction; it is
    // fsynced when a Flush() needs it, or when the last synced commit is kSyncInterval old.
    store::Store::Batch out;
    out.events = std::move(stored);
    out.machines.reserve(touched.size());
    for (auto& [mac, unused] : touched) {
      const MachineState& state = machines_[mac];
      if (NeedsWrite(state, force_sync)) out.machines.push_back(state.record);
    }
    const int64_t now = SteadyMicros();
    out.sync = force_sync || now - last_sync_us_ >= kSyncIntervalMicros;
    Status st = store_->RecordBatch(out);
    if (!st) {
      logger->error("cannot store {} events: {}", out.events.size(), st.error().ToString());
    } else {
      for (const store::MachineRecord& m : out.machines) machines_[m.mac].written = m;
      if (out.sync) {
        last_sync_us_ = now;
        unsynced_ = false;
      } else {
        unsynced_ = true;
      }
    }
    stored = std::move(out.events);
  }
  // Writes queued alongside run after the events they followed were stored.
  for (auto& w : batch.writes) w(*store_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [mac, unused] : touched) boots_[mac] = machines_[mac].record.boot_count;
  }
  for (const auto& s : stored) {
    for (const auto& l : listeners_) l(s);
  }
}

}  // namespace paddock::daemon
