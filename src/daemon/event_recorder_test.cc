#include "daemon/event_recorder.h"

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>

#include <gtest/gtest.h>

namespace paddock::daemon {
namespace {

const MacAddress kMac = *MacAddress::Parse("52:54:00:e2:e0:01");

class EventRecorderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/paddock-rec-XXXXXX";
    dir_ = mkdtemp(tmpl);
    store_ = std::move(*store::OpenSqliteStore(dir_ + "/db"));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  BootEvent Ev(std::string phase, int64_t t_s, std::string detail = "{}") {
    BootEvent e;
    e.mac = kMac;
    e.phase = std::move(phase);
    e.time_us = t_s * 1000000;
    e.detail = std::move(detail);
    return e;
  }

  std::string dir_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(EventRecorderTest, NumbersBootsByFirmwareDiscoverAfterProgress) {
  EventRecorder rec(store_.get());
  const std::string pxe = R"({"vendor_class":"PXEClient:Arch:00000:UNDI:002001","uuid":"u1",
                              "firmware":"bios"})";
  const std::string os = R"({"vendor_class":"udhcp 1.35.0"})";
  rec.Record(Ev("dhcp.discover", 100, pxe));
  rec.Record(Ev("dhcp.ack", 100, R"({"ip":"198.18.0.100"})"));
  rec.Record(Ev("dhcp.discover", 101, pxe));  // iPXE's own DHCP: same boot
  rec.Record(Ev("boot.script", 102, R"({"group":"g","path":"/ipxe"})"));
  rec.Record(Ev("dhcp.discover", 110, os));  // node OS DHCP: same boot
  rec.Record(Ev("node.booted", 111));
  rec.Record(Ev("dhcp.discover", 150, pxe));  // reboot: boot 2
  rec.Record(Ev("dhcp.discover", 5000, os));  // long silence: boot 3
  rec.Flush();
  auto events = store_->Timeline(kMac, 0, 100);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 8u);
  std::vector<int64_t> boots;
  for (const auto& e : *events) boots.push_back(e.boot);
  EXPECT_EQ(boots, (std::vector<int64_t>{1, 1, 1, 1, 1, 1, 2, 3}));
  auto m = store_->GetMachine(kMac);
  ASSERT_TRUE(m && m->has_value());
  EXPECT_EQ((*m)->boot_count, 3);
  EXPECT_EQ((*m)->uuid, "u1");
  EXPECT_EQ((*m)->arch, "bios");
  EXPECT_EQ((*m)->last_ip, "198.18.0.100");
  EXPECT_EQ((*m)->first_seen_us, 100 * 1000000);
  EXPECT_EQ(rec.CurrentBoot(kMac), 3);
}

// Flat details are scanned in place; escapes and nested values fall back to a full parse. Both
// must read the same facts.
TEST_F(EventRecorderTest, ReadsFactsFromScannedAndParsedDetails) {
  EventRecorder rec(store_.get());
  rec.Record(Ev("dhcp.discover", 100, R"({"arch":7,"ipxe":true,"relayed":false,"xid":"0x1"})"));
  rec.Record(Ev("boot.script", 101, R"({"path":"/ipxe","status":200})"));
  // ipxe:true marks boot firmware: a new boot after the script was fetched.
  rec.Record(Ev("dhcp.discover", 102, R"({"ipxe":true,"uuid":"u1","firmware":"efi64"})"));
  // An escape in a value and a nested object: parsed, not scanned.
  rec.Record(Ev("dhcp.ack", 103, R"({"ip":"198.18.0.7","uuid":"u\"2","more":{"a":[1,2]}})"));
  // Malformed: no facts, but still stored.
  rec.Record(Ev("dhcp.ack", 104, R"({"ip":"198.18.0.8",)"));
  rec.Flush();
  auto events = store_->Timeline(kMac, 0, 100);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 5u);
  std::vector<int64_t> boots;
  for (const auto& e : *events) boots.push_back(e.boot);
  EXPECT_EQ(boots, (std::vector<int64_t>{1, 1, 2, 2, 2}));
  auto m = store_->GetMachine(kMac);
  ASSERT_TRUE(m && m->has_value());
  EXPECT_EQ((*m)->uuid, "u\"2");
  EXPECT_EQ((*m)->arch, "efi64");
  EXPECT_EQ((*m)->last_ip, "198.18.0.7");
}

TEST_F(EventRecorderTest, BootNumbersContinueAfterRestart) {
  {
    EventRecorder rec(store_.get());
    rec.Record(Ev("dhcp.discover", 100, R"({"user_class":"iPXE"})"));
    rec.Record(Ev("node.booted", 101));
    rec.Flush();
  }
  EventRecorder rec(store_.get());
  rec.Record(Ev("dhcp.discover", 200, R"({"user_class":"iPXE"})"));
  rec.UpdateMachine(kMac, [](store::MachineRecord& m) { m.group = "workers"; });
  rec.Flush();
  auto events = store_->Timeline(kMac, 0, 100);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 3u);
  // Boot numbers continue from the store: the firmware DISCOVER after the restart is boot 2.
  EXPECT_EQ((*events)[1].boot, 1);
  EXPECT_EQ((*events)[2].boot, 2);
  auto m = store_->GetMachine(kMac);
  ASSERT_TRUE(m && m->has_value());
  EXPECT_EQ((*m)->group, "workers");
}

// A token is stored with the batch it was queued with; its callback runs after it is in the
// store (so the script that carries it can be sent), and the machine update queued before it
// is stored in the same batch.
// A machine heard from many times a second is not rewritten per batch: its stored last_seen_us
// may lag by less than kLastSeenWriteMicros, other fields are written at once, and Flush()
// stores the exact record.
TEST_F(EventRecorderTest, LastSeenIsWrittenAtMostOncePerIntervalUntilFlush) {
  auto stored = [&] {
    auto m = store_->GetMachine(kMac);
    EXPECT_TRUE(m && m->has_value());
    return m && m->has_value() ? **m : store::MachineRecord{};
  };
  auto at = [&](std::string phase, int64_t us, std::string detail = "{}") {
    BootEvent e = Ev(std::move(phase), 0, std::move(detail));
    e.time_us = us;
    return e;
  };
  // Post() runs after the batch holding what was queued before it: a barrier without the
  // Flush() that would store the exact record.
  auto rec_barrier = [](EventRecorder& rec) {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    rec.Post([&](store::Store&) {
      std::lock_guard<std::mutex> lock(mu);
      done = true;
      cv.notify_all();
    });
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done; });
  };
  const int64_t t0 = 1000 * int64_t{1000000};
  const int64_t step = EventRecorder::kLastSeenWriteMicros / 4;
  {
    EventRecorder rec(store_.get());
    rec.Record(at("dhcp.discover", t0));
    rec.Flush();
    EXPECT_EQ(stored().last_seen_us, t0);
    // Batches apart (the recorder commits one batch per kMinBatchMicros at most): no Flush(),
    // so the lag rule decides. A store read sees only what was committed.
    rec.Record(at("dhcp.request", t0 + step));
    rec.UpdateMachine(kMac, [](store::MachineRecord& m) { m.hostname = "node-7"; });
    // The hostname changed: the row is written at once, with the newest last_seen_us.
    for (int i = 0; i < 1000 && stored().hostname != "node-7"; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_EQ(stored().hostname, "node-7");
    EXPECT_EQ(stored().last_seen_us, t0 + step);
    // Only last_seen_us moves, by less than the interval: the row keeps the older time.
    rec.Record(at("http.request", t0 + 2 * step, R"({"path":"/assets/vmlinuz"})"));
    rec.Record(at("boot.script", t0 + 2 * step));  // a second event, same batch or the next
    rec_barrier(rec);
    EXPECT_EQ(stored().last_seen_us, t0 + step);
    // Flush() stores the exact record.
    rec.Flush();
    EXPECT_EQ(stored().last_seen_us, t0 + 2 * step);
    // Past the interval: written without a Flush().
    rec.Record(at("http.request", t0 + 7 * step, R"({"path":"/assets/initrd"})"));
    rec_barrier(rec);
    EXPECT_EQ(stored().last_seen_us, t0 + 7 * step);
    rec.Record(at("node.booted", t0 + 8 * step));
  }  // shutdown stores the lagging record too
  EXPECT_EQ(stored().last_seen_us, t0 + 8 * step);
}

}  // namespace
}  // namespace paddock::daemon
