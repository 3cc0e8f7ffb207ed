#include "dhcp/lease_writer.h"

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

namespace paddock::dhcp {
namespace {

Lease LeaseFor(uint32_t n) {
  Lease l;
  l.ip = Ipv4Address(0xc6120000 + n);
  l.state = LeaseState::kBound;
  return l;
}

TEST(LeaseWriterTest, GroupCommitsWhileAWriteIsInProgress) {
  // Each SaveBatch takes 20 ms (an fsync); 50 leases submitted at once need far fewer batches.
  InMemoryLeaseStorage storage(std::chrono::milliseconds(20));
  std::atomic<int> done{0};
  {
    LeaseWriter writer(&storage);
    for (uint32_t i = 0; i < 50; ++i) {
      writer.Submit({LeaseFor(i)}, [&done](const Status& s) {
        EXPECT_TRUE(s.has_value());
        done++;
      });
    }
  }  // destructor drains
  EXPECT_EQ(done.load(), 50);
  EXPECT_EQ(storage.Snapshot().size(), 50u);
  EXPECT_LT(storage.batches(), 10u);
  EXPECT_GE(storage.batches(), 1u);
}

TEST(LeaseWriterTest, ReportsErrorsAndRefusesAfterStop) {
  InMemoryLeaseStorage storage;
  storage.set_fail(true);
  LeaseWriter writer(&storage);
  std::atomic<bool> failed{false};
  writer.Submit({LeaseFor(1)}, [&failed](const Status& s) { failed = !s.has_value(); });
  writer.Stop();
  EXPECT_TRUE(failed.load());
  EXPECT_EQ(writer.errors(), 1u);
  bool refused = false;
  writer.Submit({LeaseFor(2)}, [&refused](const Status& s) { refused = !s.has_value(); });
  EXPECT_TRUE(refused);
}

}  // namespace
}  // namespace paddock::dhcp
