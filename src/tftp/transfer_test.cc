#include "tftp/transfer.h"

#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace paddock::tftp {
namespace {

constexpr int64_t kT0 = 5'000'000;

TftpOptions Opts(std::optional<uint16_t> blksize, std::optional<uint64_t> tsize,
                 std::optional<uint16_t> windowsize, std::optional<uint8_t> timeout = {}) {
  TftpOptions o;
  o.blksize = blksize;
  o.tsize = tsize;
  o.windowsize = windowsize;
  o.timeout_s = timeout;
  return o;
}

TftpPacket Ack(uint16_t n) { return TftpAck{n}; }

TEST(ReadTransfer, NoOptionsIsLockstepRfc1350) {
  TransferLimits lim;
  ReadTransfer t(TftpOptions{}, 1000, lim, kT0);
  EXPECT_TRUE(t.accepted_options().empty());
  EXPECT_EQ(t.blksize(), 512);
  EXPECT_EQ(t.total_blocks(), 2u);
  auto a = t.Start(kT0);
  EXPECT_EQ(a.kind, TransferAction::Kind::kSendBlocks);
  EXPECT_EQ(a.first_block, 1u);
  EXPECT_EQ(a.block_count, 1u);
  EXPECT_EQ(t.deadline_us(), kT0 + 1'000'000);
  EXPECT_EQ(t.BlockExtent(1).offset, 0u);
  EXPECT_EQ(t.BlockExtent(1).length, 512u);
  EXPECT_EQ(t.BlockExtent(2).offset, 512u);
  EXPECT_EQ(t.BlockExtent(2).length, 488u);
  a = t.OnPacket(Ack(1), kT0 + 10);
  EXPECT_EQ(a.first_block, 2u);
  EXPECT_EQ(a.retransmitted, 0u);
  a = t.OnPacket(Ack(2), kT0 + 20);
  EXPECT_EQ(a.kind, TransferAction::Kind::kNone);
  EXPECT_TRUE(t.done());
  EXPECT_EQ(t.outcome(), TransferOutcome::kCompleted);
  auto s = t.stats(kT0 + 999);
  EXPECT_EQ(s.bytes, 1000u);
  EXPECT_EQ(s.blocks_sent, 2u);
  EXPECT_EQ(s.retransmits, 0u);
  EXPECT_EQ(s.duration_us, 20);  // frozen at completion
}

TEST(ReadTransfer, OvmfNegotiationClampsToLimits) {
  TransferLimits lim;
  lim.max_blksize = 1432;  // e.g. a 1464-byte MTU
  lim.max_windowsize = 2;
  ReadTransfer t(Opts(1468, 0, 4), 1'031'168, lim, kT0);
  EXPECT_EQ(t.accepted_options().blksize, 1432);
  EXPECT_EQ(t.accepted_options().tsize, 1'031'168u);
  EXPECT_EQ(t.accepted_options().windowsize, 2);
  EXPECT_FALSE(t.accepted_options().timeout_s);
  auto a = t.Start(kT0);
  EXPECT_EQ(a.kind, TransferAction::Kind::kSendOack);
  EXPECT_EQ(t.state(), TransferState::kAwaitingOptionAck);
  // A stale ACK other than 0 does not start the data.
  EXPECT_EQ(t.OnPacket(Ack(1), kT0 + 1).kind, TransferAction::Kind::kNone);
  a = t.OnPacket(Ack(0), kT0 + 2);
  EXPECT_EQ(a.kind, TransferAction::Kind::kSendBlocks);
  EXPECT_EQ(a.first_block, 1u);
  EXPECT_EQ(a.block_count, 2u);
}

TEST(ReadTransfer, BlksizeClampedToSmallFileAndMinimum) {
  TransferLimits lim;
  ReadTransfer small(Opts(1432, {}, {}), 100, lim, kT0);
  EXPECT_EQ(small.blksize(), 101);
  EXPECT_EQ(small.total_blocks(), 1u);
  ReadTransfer empty(Opts(1432, {}, {}), 0, lim, kT0);
  EXPECT_EQ(empty.blksize(), 8);
  EXPECT_EQ(empty.total_blocks(), 1u);
  EXPECT_EQ(empty.BlockExtent(1).length, 0u);
  lim.max_blksize = 3;  // nonsense limit: never below the protocol minimum
  ReadTransfer tiny(Opts(1432, {}, {}), 5000, lim, kT0);
  EXPECT_EQ(tiny.blksize(), 8);
}

TEST(ReadTransfer, TsizeOnlyStillSendsOack) {
  ReadTransfer t(Opts({}, 0, {}), 4096, TransferLimits{}, kT0);
  EXPECT_EQ(t.Start(kT0).kind, TransferAction::Kind::kSendOack);
  EXPECT_EQ(t.accepted_options().tsize, 4096u);
  EXPECT_EQ(t.blksize(), 512);
}

TEST(ReadTransfer, TsizeLeftOutForEmptyFile) {
  ReadTransfer t(Opts({}, 0, {}), 0, TransferLimits{}, kT0);
  EXPECT_TRUE(t.accepted_options().empty());
  EXPECT_EQ(t.Start(kT0).kind, TransferAction::Kind::kSendBlocks);
}

TEST(ReadTransfer, TimeoutOptionSetsRetransmissionTimer) {
  ReadTransfer t(Opts({}, {}, {}, 3), 10, TransferLimits{}, kT0);
  t.Start(kT0);
  EXPECT_EQ(t.deadline_us(), kT0 + 3'000'000);
  EXPECT_EQ(t.OnTimeout(kT0 + 2'999'999).kind, TransferAction::Kind::kNone);  // not yet
  auto a = t.OnTimeout(kT0 + 3'000'000);
  EXPECT_EQ(a.kind, TransferAction::Kind::kSendOack);
  EXPECT_EQ(a.retransmitted, 1u);
  EXPECT_EQ(t.deadline_us(), kT0 + 3'000'000 + 6'000'000);  // doubled
}

TEST(ReadTransfer, ExactMultipleEndsWithZeroLengthBlock) {
  ReadTransfer t(TftpOptions{}, 1024, TransferLimits{}, kT0);
  EXPECT_EQ(t.total_blocks(), 3u);
  EXPECT_EQ(t.BlockExtent(3).offset, 1024u);
  EXPECT_EQ(t.BlockExtent(3).length, 0u);
  t.Start(kT0);
  t.OnPacket(Ack(1), kT0);
  t.OnPacket(Ack(2), kT0);
  EXPECT_FALSE(t.done());  // the zero-length block 3 is still owed
  t.OnPacket(Ack(3), kT0);
  EXPECT_TRUE(t.done());
  EXPECT_EQ(t.stats(kT0).bytes, 1024u);
}

TEST(ReadTransfer, WindowSlidesOnAckInsideWindow) {
  ReadTransfer t(Opts(512, {}, 4), 512 * 20, TransferLimits{}, kT0);
  t.Start(kT0);
  auto a = t.OnPacket(Ack(0), kT0);
  EXPECT_EQ(a.first_block, 1u);
  EXPECT_EQ(a.block_count, 4u);
  // Client got 1 and 2, lost 3: it acknowledges 2 (RFC 7440 §4). The next window starts at 3.
  a = t.OnPacket(Ack(2), kT0 + 100);
  EXPECT_EQ(a.kind, TransferAction::Kind::kSendBlocks);
  EXPECT_EQ(a.first_block, 3u);
  EXPECT_EQ(a.block_count, 4u);
  EXPECT_EQ(a.retransmitted, 2u);  // 3 and 4 went out before
  EXPECT_EQ(t.last_acked(), 2u);
  // Full window acknowledged: 7..10, nothing retransmitted.
  a = t.OnPacket(Ack(6), kT0 + 200);
  EXPECT_EQ(a.first_block, 7u);
  EXPECT_EQ(a.retransmitted, 0u);
  EXPECT_EQ(t.stats(kT0).retransmits, 2u);
}

TEST(ReadTransfer, DuplicateAndOldAcksIgnored) {
  ReadTransfer t(Opts(512, {}, 4), 512 * 20, TransferLimits{}, kT0);
  t.Start(kT0);
  t.OnPacket(Ack(0), kT0);
  t.OnPacket(Ack(4), kT0);                                               // window 5..8 in flight
  EXPECT_EQ(t.OnPacket(Ack(4), kT0).kind, TransferAction::Kind::kNone);  // duplicate
  EXPECT_EQ(t.OnPacket(Ack(2), kT0).kind, TransferAction::Kind::kNone);  // old
  EXPECT_EQ(t.OnPacket(Ack(0), kT0).kind, TransferAction::Kind::kNone);  // OACK's ACK again
  EXPECT_EQ(t.OnPacket(Ack(9), kT0).kind, TransferAction::Kind::kNone);  // never sent
  EXPECT_EQ(t.OnPacket(Ack(60000), kT0).kind, TransferAction::Kind::kNone);
  EXPECT_EQ(t.last_acked(), 4u);
  EXPECT_EQ(t.stats(kT0).blocks_sent, 8u);
}

TEST(ReadTransfer, LostWindowOrLostAckRetransmitsOnTimeout) {
  TransferLimits lim;
  lim.default_timeout_us = 500'000;
  ReadTransfer t(Opts(512, {}, 4), 512 * 20, lim, kT0);
  t.Start(kT0);
  t.OnPacket(Ack(0), kT0);
  // The ACK for block 4 is lost: the server times out and sends 1..4 again.
  auto a = t.OnTimeout(kT0 + 500'000);
  EXPECT_EQ(a.kind, TransferAction::Kind::kSendBlocks);
  EXPECT_EQ(a.first_block, 1u);
  EXPECT_EQ(a.block_count, 4u);
  EXPECT_EQ(a.retransmitted, 4u);
  EXPECT_EQ(t.deadline_us(), kT0 + 500'000 + 1'000'000);  // backoff: 2x after one timeout
  a = t.OnPacket(Ack(4), kT0 + 600'000);
  EXPECT_EQ(a.first_block, 5u);
  EXPECT_EQ(t.deadline_us(), kT0 + 600'000 + 500'000);  // progress resets the backoff
  EXPECT_EQ(t.stats(kT0).retransmits, 4u);
}

TEST(ReadTransfer, RetryExhaustionFails) {
  TransferLimits lim;
  lim.max_retries = 3;
  ReadTransfer t(TftpOptions{}, 5000, lim, kT0);
  t.Start(kT0);
  int64_t now = kT0;
  int resends = 0;
  while (!t.done()) {
    now = t.deadline_us();
    auto a = t.OnTimeout(now);
    if (a.kind == TransferAction::Kind::kSendBlocks) ++resends;
    ASSERT_LT(resends, 10);
  }
  EXPECT_EQ(resends, 3);
  EXPECT_EQ(t.outcome(), TransferOutcome::kTimedOut);
  EXPECT_EQ(t.stats(now).bytes, 0u);
  EXPECT_EQ(t.stats(now).duration_us, 15'000'000);  // 1 + 2 + 4 + 8 s: exponential backoff
  // Progress resets the count: a fresh transfer that gets an ACK between timeouts survives.
  ReadTransfer u(TftpOptions{}, 5000, lim, kT0);
  u.Start(kT0);
  for (uint16_t b = 1; b <= 10 && !u.done(); ++b) {
    for (int i = 0; i < 3; ++i) u.OnTimeout(u.deadline_us());
    ASSERT_FALSE(u.done()) << "block " << b;
    u.OnPacket(Ack(b), u.deadline_us() - 1);
  }
  EXPECT_EQ(u.outcome(), TransferOutcome::kCompleted);
}

TEST(ReadTransfer, OvmfTsizeProbeAbortAfterOack) {
  ReadTransfer t(Opts(1468, 0, 4), 1'000'000, TransferLimits{}, kT0);
  t.Start(kT0);
  t.OnPacket(TftpError{8, "User aborted the transfer"}, kT0 + 50);
  EXPECT_TRUE(t.done());
  EXPECT_EQ(t.outcome(), TransferOutcome::kAbortedAfterOack);
  EXPECT_EQ(t.client_error().code, 8);
  EXPECT_EQ(t.stats(kT0).bytes, 0u);
  EXPECT_EQ(t.stats(kT0).duration_us, 50);
  // Nothing more happens after the end.
  EXPECT_EQ(t.OnPacket(Ack(0), kT0 + 60).kind, TransferAction::Kind::kNone);
  EXPECT_EQ(t.OnTimeout(kT0 + 10'000'000).kind, TransferAction::Kind::kNone);
}

TEST(ReadTransfer, ClientErrorDuringData) {
  ReadTransfer t(Opts(512, {}, {}), 10'000, TransferLimits{}, kT0);
  t.Start(kT0);
  t.OnPacket(Ack(0), kT0);
  t.OnPacket(Ack(1), kT0);
  t.OnPacket(TftpError{8, "late"}, kT0);  // code 8 but not in answer to the OACK
  EXPECT_EQ(t.outcome(), TransferOutcome::kClientError);
  EXPECT_EQ(t.stats(kT0).bytes, 512u);
}

TEST(ReadTransfer, NonAckPacketsIgnored) {
  ReadTransfer t(TftpOptions{}, 10'000, TransferLimits{}, kT0);
  t.Start(kT0);
  Bytes payload(4, 0);
  EXPECT_EQ(t.OnPacket(TftpData{1, payload}, kT0).kind, TransferAction::Kind::kNone);
  EXPECT_EQ(t.OnPacket(TftpOack{}, kT0).kind, TransferAction::Kind::kNone);
  EXPECT_EQ(t.OnPacket(TftpRequest{}, kT0).kind, TransferAction::Kind::kNone);
  EXPECT_FALSE(t.done());
}

TEST(ReadTransfer, RolloverPast65535Blocks) {
  // 70000 full blocks plus a short one at blksize 512: block numbers wrap 65535 -> 0.
  const uint64_t size = 70'000ull * 512 + 100;
  ReadTransfer t(Opts(512, {}, 16), size, TransferLimits{}, kT0);
  EXPECT_EQ(t.total_blocks(), 70'001u);
  EXPECT_EQ(ReadTransfer::WireBlock(65535), 65535);
  EXPECT_EQ(ReadTransfer::WireBlock(65536), 0);
  EXPECT_EQ(ReadTransfer::WireBlock(65537), 1);
  t.Start(kT0);
  auto a = t.OnPacket(Ack(0), kT0);
  uint64_t expected_first = 1;
  int windows = 0;
  while (!t.done()) {
    ASSERT_EQ(a.kind, TransferAction::Kind::kSendBlocks);
    ASSERT_EQ(a.first_block, expected_first);
    uint64_t last = a.first_block + a.block_count - 1;
    expected_first = last + 1;
    // A stale ACK from before the wrap must not move anything.
    if (last > 65536 + 20) {
      EXPECT_EQ(t.OnPacket(Ack(ReadTransfer::WireBlock(last - 40)), kT0).kind,
                TransferAction::Kind::kNone);
    }
    a = t.OnPacket(Ack(ReadTransfer::WireBlock(last)), kT0);
    ++windows;
  }
  EXPECT_EQ(t.outcome(), TransferOutcome::kCompleted);
  EXPECT_EQ(windows, 4376);  // ceil(70001 / 16)
  EXPECT_EQ(t.stats(kT0).bytes, size);
  EXPECT_EQ(t.BlockExtent(70'001).length, 100u);
}

// A model of an RFC 7440 receiver over a lossy link, driven against the machine with simulated
// time: every byte must arrive once, in order, whatever is lost.
struct LossyRun {
  uint64_t delivered = 0;
  uint64_t retransmits = 0;
  TransferOutcome outcome = TransferOutcome::kInProgress;
};

LossyRun RunLossy(uint64_t size, uint16_t blksize, uint16_t window, double loss, uint32_t seed) {
  std::mt19937 rng(seed);
  std::bernoulli_distribution lost(loss);
  TransferLimits lim;
  lim.max_retries = 50;
  ReadTransfer t(Opts(blksize, 0, window), size, lim, kT0);
  int64_t now = kT0;
  uint64_t expect = 1;  // next in-order block the client wants
  bool client_done = false;
  LossyRun run;
  std::vector<uint16_t> acks;
  auto deliver = [&](const TransferAction& a) {
    if (a.kind == TransferAction::Kind::kSendOack) {
      if (!lost(rng)) acks.push_back(0);
      return;
    }
    if (a.kind != TransferAction::Kind::kSendBlocks) return;
    uint32_t in_window = 0;
    bool gap_reported = false;
    for (uint64_t b = a.first_block; b < a.first_block + a.block_count; ++b) {
      ++in_window;
      if (lost(rng)) continue;
      if (b == expect) {
        run.delivered += t.BlockExtent(b).length;
        ++expect;
        bool last = t.BlockExtent(b).length < t.blksize();
        if (last) client_done = true;
        if (last || in_window == a.block_count) {
          if (!lost(rng)) acks.push_back(ReadTransfer::WireBlock(expect - 1));
        }
      } else if (b > expect && !gap_reported) {
        gap_reported = true;  // RFC 7440 §4: ack the last block received in order
        if (!lost(rng)) acks.push_back(ReadTransfer::WireBlock(expect - 1));
      } else if (b < expect && in_window == a.block_count) {
        if (!lost(rng)) acks.push_back(ReadTransfer::WireBlock(expect - 1));
      }
    }
  };
  deliver(t.Start(now));
  for (int steps = 0; !t.done() && steps < 1'000'000; ++steps) {
    if (!acks.empty()) {
      std::vector<uint16_t> batch;
      batch.swap(acks);
      now += 100;
      for (uint16_t n : batch) deliver(t.OnPacket(TftpAck{n}, now));
    } else {
      now = t.deadline_us();
      deliver(t.OnTimeout(now));
    }
  }
  (void)client_done;
  run.outcome = t.outcome();
  run.retransmits = t.stats(now).retransmits;
  return run;
}

TEST(ReadTransfer, LossyLinkDeliversEverythingInOrder) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    for (uint16_t window : {1, 4, 8}) {
      const uint64_t size = 300'000 + seed * 37;
      auto r = RunLossy(size, 1432, window, 0.1, seed);
      ASSERT_EQ(r.outcome, TransferOutcome::kCompleted) << "seed " << seed << " w " << window;
      EXPECT_EQ(r.delivered, size) << "seed " << seed << " w " << window;
      EXPECT_GT(r.retransmits, 0u) << "seed " << seed << " w " << window;
    }
  }
  auto clean = RunLossy(100'000, 512, 8, 0.0, 1);
  EXPECT_EQ(clean.outcome, TransferOutcome::kCompleted);
  EXPECT_EQ(clean.retransmits, 0u);
}

}  // namespace
}  // namespace paddock::tftp
