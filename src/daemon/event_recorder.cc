#include "daemon/event_recorder.h"

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/log.h"

namespace paddock::daemon {
namespace {

// Whether a DHCP event came from boot firmware (PXE ROM, UEFI PXE, HTTP Boot or iPXE) rather
// than from the booted OS's own DHCP client.
bool FromBootFirmware(const nlohmann::json& detail) {
  auto str = [&](const char* key) -> std::string {
    auto it = detail.find(key);
    return it != detail.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string vendor = str("vendor_class");
  if (vendor.rfind("PXEClient", 0) == 0 || vendor.rfind("HTTPClient", 0) == 0) return true;
  if (str("user_class") == "iPXE") return true;
  auto ipxe = detail.find("ipxe");
  return ipxe != detail.end() && ipxe->is_boolean() && ipxe->get<bool>();
}

}  // namespace

EventRecorder::EventRecorder(store::Store* store) : store_(store) {
  worker_ = std::thread([this] { Run(); });
}

EventRecorder::~EventRecorder() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void EventRecorder::Record(BootEvent event) {
  if (event.time_us == 0) event.time_us = WallMicros();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (pending_.size() >= kMaxQueued) {
      ++dropped_;
      return;
    }
    pending_.push_back(std::move(event));
    ++enqueued_;
  }
  cv_.notify_one();
}

void EventRecorder::UpdateMachine(const MacAddress& mac,
                                  std::function<void(store::MachineRecord&)> update) {
  Post([this, mac, update = std::move(update)](store::Store& store) {
    MachineState& state = StateFor(mac);
    update(state.record);
    if (auto st = store.UpsertMachine(state.record); !st) {
      log::Get("store")->error("mac={} cannot store machine: {}", mac.ToString(),
                               st.error().ToString());
    }
  });
}

void EventRecorder::Post(std::function<void(store::Store&)> write) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_writes_.push_back(std::move(write));
    ++enqueued_;
  }
  cv_.notify_one();
}

void EventRecorder::AddListener(std::function<void(const store::StoredEvent&)> listener) {
  listeners_.push_back(std::move(listener));
}

void EventRecorder::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  uint64_t target = enqueued_;
  flushed_cv_.wait(lock, [&] { return done_ >= target; });
}

int64_t EventRecorder::CurrentBoot(const MacAddress& mac) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = boots_.find(mac);
  return it == boots_.end() ? 0 : it->second;
}

void EventRecorder::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !pending_.empty() || !pending_writes_.empty(); });
    if (pending_.empty() && pending_writes_.empty() && stopping_) return;
    std::vector<BootEvent> events;
    std::vector<std::function<void(store::Store&)>> writes;
    events.swap(pending_);
    writes.swap(pending_writes_);
    lock.unlock();
    Process(events, writes);
    lock.lock();
    done_ += events.size() + writes.size();
    flushed_cv_.notify_all();
  }
}

EventRecorder::MachineState& EventRecorder::StateFor(const MacAddress& mac) {
  MachineState& state = machines_[mac];
  if (!state.loaded) {
    state.loaded = true;
    state.record.mac = mac;
    auto existing = store_->GetMachine(mac);
    if (existing && existing->has_value()) {
      state.record = **existing;
      // After a restart we cannot tell how far the machine's last boot got; assume it went
      // past its script, so the next firmware DISCOVER begins a new boot.
      state.boot_progressed = true;
    } else if (!existing) {
      log::Get("store")->error("mac={} cannot read machine record: {}", mac.ToString(),
                               existing.error().ToString());
    }
  }
  return state;
}

void EventRecorder::Assign(store::StoredEvent& stored, MachineState& state) {
  const BootEvent& e = stored.event;
  store::MachineRecord& m = state.record;
  nlohmann::json detail = nlohmann::json::parse(e.detail, nullptr, false);
  if (!detail.is_object()) detail = nlohmann::json::object();

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
  if (e.phase == "http.request") {
    auto path = detail.find("path");
    if (path != detail.end() && path->is_string() && path->get<std::string>() == "/ipxe") {
      state.boot_progressed = true;
    }
  }

  // Facts the DHCP exchange tells us.
  auto take = [&](const char* key, std::string& field) {
    auto it = detail.find(key);
    if (it != detail.end() && it->is_string() && !it->get<std::string>().empty()) {
      field = it->get<std::string>();
    }
  };
  if (e.phase.rfind("dhcp.", 0) == 0 || e.phase.rfind("proxy.", 0) == 0) {
    take("uuid", m.uuid);
    take("firmware", m.arch);
    if (e.phase == "dhcp.ack") take("ip", m.last_ip);
  }
  if (m.first_seen_us == 0) m.first_seen_us = e.time_us;
  m.last_seen_us = std::max(m.last_seen_us, e.time_us);
  stored.boot = m.boot_count;
}

void EventRecorder::Process(std::vector<BootEvent>& events,
                            std::vector<std::function<void(store::Store&)>>& writes) {
  auto logger = log::Get("timeline");
  std::vector<store::StoredEvent> stored;
  stored.reserve(events.size());
  std::unordered_map<MacAddress, bool> touched;
  for (BootEvent& e : events) {
    store::StoredEvent s{0, 0, std::move(e)};
    MachineState& state = StateFor(s.event.mac);
    Assign(s, state);
    touched[s.event.mac] = true;
    logger->info("mac={} boot={} {}{} bytes={} dur={:.3f}ms {}", s.event.mac.ToString(), s.boot,
                 s.event.phase, s.event.ok ? "" : " FAILED", s.event.bytes,
                 s.event.duration_us / 1000.0, s.event.detail);
    stored.push_back(std::move(s));
  }
  if (!stored.empty()) {
    // Events and the machine records they changed go to disk in one transaction (one fsync).
    std::vector<store::MachineRecord> records;
    records.reserve(touched.size());
    for (auto& [mac, unused] : touched) records.push_back(machines_[mac].record);
    if (auto st = store_->RecordBatch(stored, records); !st) {
      logger->error("cannot store {} events: {}", stored.size(), st.error().ToString());
    }
  }
  // Writes queued alongside run after the events they followed were stored.
  for (auto& w : writes) w(*store_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [mac, unused] : touched) boots_[mac] = machines_[mac].record.boot_count;
  }
  for (const auto& s : stored) {
    for (const auto& l : listeners_) l(s);
  }
}

}  // namespace paddock::daemon
