// libFuzzer target for tftp/packet.h and tftp/transfer.h.
//
// Input layout: the whole input is first parsed as one datagram (and, when it parses, serialized
// and parsed again: the round trip must succeed and keep the value). Then the input drives a
// read transfer: the first 8 bytes pick the file size and limits, the rest is a script of
// records [op][len][bytes...]: op even = deliver the next len bytes as a datagram from the
// client, op odd = let (op * 37) ms pass and fire the timer. Invariants on every action are
// checked with __builtin_trap so libFuzzer reports them.

#include <cstddef>
#include <cstdint>
#include <variant>

#include "tftp/packet.h"
#include "tftp/transfer.h"

using namespace paddock;
using namespace paddock::tftp;

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

void RoundTrip(ByteSpan data) {
  auto p = ParseTftpPacket(data);
  if (!p) {
    Check(!p.error().message.empty());
    return;
  }
  Bytes wire = SerializeTftpPacket(*p);
  auto q = ParseTftpPacket(wire);
  Check(q.has_value());
  Check(p->index() == q->index());
  if (auto* r = std::get_if<TftpRequest>(&*p)) {
    const auto& r2 = std::get<TftpRequest>(*q);
    Check(r->filename == r2.filename && r->mode == r2.mode && r->opcode == r2.opcode);
    Check(r->options == r2.options);
  } else if (auto* o = std::get_if<TftpOack>(&*p)) {
    Check(o->options == std::get<TftpOack>(*q).options);
  } else if (auto* d = std::get_if<TftpData>(&*p)) {
    const auto& d2 = std::get<TftpData>(*q);
    Check(d->block == d2.block && d->payload.size() == d2.payload.size());
  } else if (auto* a = std::get_if<TftpAck>(&*p)) {
    Check(a->block == std::get<TftpAck>(*q).block);
  } else if (auto* e = std::get_if<TftpError>(&*p)) {
    Check(e->code == std::get<TftpError>(*q).code);
  }
}

void CheckAction(const ReadTransfer& t, const TransferAction& a) {
  if (a.kind == TransferAction::Kind::kSendOack) Check(!t.accepted_options().empty());
  if (a.kind != TransferAction::Kind::kSendBlocks) return;
  Check(a.block_count >= 1 && a.block_count <= t.windowsize());
  Check(a.first_block >= 1 && a.first_block + a.block_count - 1 <= t.total_blocks());
  Check(a.first_block == t.last_acked() + 1);
  Check(a.retransmitted <= a.block_count);
  for (uint64_t b = a.first_block; b < a.first_block + a.block_count; ++b) {
    auto e = t.BlockExtent(b);
    Check(e.length <= t.blksize());
    Check(e.offset + e.length <= t.file_size());
    Check(b == t.total_blocks() ? e.length < t.blksize() : e.length == t.blksize());
  }
}

void DriveTransfer(ByteSpan data) {
  if (data.size() < 8) return;
  TftpOptions requested;
  uint8_t flags = data[0];
  if (flags & 1) requested.blksize = static_cast<uint16_t>(8 + ((data[1] << 8 | data[2]) % 2000));
  if (flags & 2) requested.tsize = 0;
  if (flags & 4) requested.windowsize = static_cast<uint16_t>(1 + data[3] % 32);
  if (flags & 8) requested.timeout_s = static_cast<uint8_t>(1 + data[4] % 5);
  // Up to ~70000 blocks at small blksizes, so block-number wrap is reachable.
  uint64_t size = (uint64_t{data[5]} << 16 | uint64_t{data[6]} << 8 | data[7]) * (flags >> 4 | 1);
  TransferLimits limits;
  limits.max_blksize = static_cast<uint16_t>(8 + data[2] * 7);
  limits.max_windowsize = static_cast<uint16_t>(1 + (data[4] % 16));
  limits.max_retries = 1 + data[1] % 6;
  int64_t now = 1'000'000;
  ReadTransfer t(requested, size, limits, now);
  Check(t.blksize() >= kMinBlockSize && t.blksize() <= kMaxBlockSize);
  Check(t.total_blocks() == size / t.blksize() + 1);
  CheckAction(t, t.Start(now));
  ByteReader r(data.subspan(8));
  uint64_t prev_acked = 0;
  while (!r.empty() && !t.done()) {
    uint8_t op = 0, len = 0;
    if (!r.ReadU8(&op) || !r.ReadU8(&len)) break;
    if (op & 1) {
      now += int64_t{op} * 37'000;
      CheckAction(t, t.OnTimeout(now));
    } else {
      ByteSpan pkt;
      if (!r.ReadSpan(std::min<size_t>(len, r.remaining()), &pkt)) break;
      auto p = ParseTftpPacket(pkt);
      now += 100;
      if (p) CheckAction(t, t.OnPacket(*p, now));
    }
    Check(t.last_acked() >= prev_acked && t.last_acked() <= t.total_blocks());
    prev_acked = t.last_acked();
    auto s = t.stats(now);
    Check(s.bytes <= size && s.retransmits <= s.blocks_sent + 1000000);
  }
  if (t.outcome() == TransferOutcome::kCompleted) Check(t.stats(now).bytes == size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteSpan in(data, size);
  RoundTrip(in);
  DriveTransfer(in);
  return 0;
}
