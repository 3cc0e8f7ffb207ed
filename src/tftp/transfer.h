#pragma once

// The state machine of one TFTP read transfer (server side), pure: no sockets, no files, no
// clock. The caller (tftp::Server, tests, the fuzzer) feeds it parsed packets and the current
// time, and it answers with what to send next (TransferAction). The caller owns the bytes of
// the file; the machine only says which blocks (by absolute number, 1-based, never wrapped) to
// send, and BlockExtent() maps a block to a byte range of the file.
//
// Behaviour, with the RFC sections the code follows:
//  * Negotiation (RFC 2347): an OACK is sent only when at least one option was accepted; the
//    first window then waits for ACK 0. blksize (RFC 2348) is clamped to TransferLimits::
//    max_blksize (the server derives it from the interface MTU) and to the file (never more
//    than size + 1, so a small file still fits in one block); windowsize (RFC 7440) to
//    TransferLimits::max_windowsize; timeout (RFC 2349) is accepted as asked and becomes the
//    retransmission timeout; tsize (RFC 2349) is answered with the file size (left out for an
//    empty file, which curl would reject as "tsize 0").
//  * Windows (RFC 7440 §4): the server sends up to windowsize blocks, then waits. An ACK for a
//    block inside the window that was sent slides the window to start right after it (blocks
//    after it are sent again). Duplicate and old ACKs are ignored (no Sorcerer's Apprentice
//    retransmission, RFC 1350 errata / RFC 1123 §4.2.3.1); the timer recovers instead.
//  * Timeout: the current window (or the OACK) is sent again; after max_retries timeouts in a
//    row the transfer fails (kTimedOut). The timer doubles with each timeout in a row (1x, 2x,
//    4x, then 8x the base, which is the negotiated or default timeout); any progress resets the
//    count and the timer.
//  * Block numbers wrap from 65535 to 0 (what tftpd-hpa and iPXE do), so files of more than
//    65535 blocks work.
//  * The last block is shorter than blksize, zero bytes when the size is a multiple of it.
//  * An ERROR from the client ends the transfer. ERROR 8 right after the OACK is what OVMF
//    sends after learning tsize (then it asks again); that outcome is kAbortedAfterOack.
//
// Thread-compatible: one owner calls it; no internal locking.

#include <cstdint>

#include "tftp/packet.h"

namespace paddock::tftp {

struct TransferLimits {
  // Largest blksize the server will accept (the interface MTU minus IP/UDP/TFTP headers).
  uint16_t max_blksize = kMaxBlockSize;
  uint16_t max_windowsize = 64;
  // Retransmission timeout when the client did not negotiate one.
  int64_t default_timeout_us = 1'000'000;
  // Timeouts in a row before giving up.
  int max_retries = 5;
};

enum class TransferState { kAwaitingOptionAck, kSending, kDone };

enum class TransferOutcome {
  kInProgress,
  kCompleted,         // the last block was acknowledged
  kAbortedAfterOack,  // client sent ERROR 8 in answer to the OACK (the OVMF tsize probe)
  kClientError,       // client sent ERROR at any other point
  kTimedOut,          // retries exhausted
};

const char* TransferOutcomeName(TransferOutcome outcome);

// What the caller must send now.
struct TransferAction {
  enum class Kind { kNone, kSendOack, kSendBlocks };
  Kind kind = Kind::kNone;
  // kSendBlocks: blocks [first_block, first_block + block_count), absolute numbers.
  uint64_t first_block = 0;
  uint32_t block_count = 0;
  // Of these, how many had been sent before (also true for an OACK sent again).
  uint32_t retransmitted = 0;
};

struct TransferStats {
  uint64_t bytes = 0;        // payload bytes acknowledged by the client
  uint64_t blocks_sent = 0;  // DATA datagrams sent, retransmissions included
  uint64_t retransmits = 0;  // DATA (and OACK) datagrams sent again
  int64_t duration_us = 0;   // from construction to the end (or to now while in progress)
};

class ReadTransfer {
 public:
  // requested: the options of the RRQ. file_size: the number of bytes that will be served
  // (after netascii conversion, if any). now_us: any monotonic microsecond clock.
  ReadTransfer(const TftpOptions& requested, uint64_t file_size, const TransferLimits& limits,
               int64_t now_us);

  // The first action: an OACK, or the first window when no option was accepted. Call once.
  TransferAction Start(int64_t now_us);
  // A packet from the client's TID. Only ACK and ERROR matter; anything else is ignored.
  TransferAction OnPacket(const TftpPacket& packet, int64_t now_us);
  // Call when now_us >= deadline_us(). Resends, or ends the transfer with kTimedOut.
  TransferAction OnTimeout(int64_t now_us);

  // When the caller should call OnTimeout (meaningless once done()).
  // timeout_us() is the base; the deadline includes the backoff.
  int64_t deadline_us() const { return deadline_us_; }
  bool done() const { return state_ == TransferState::kDone; }
  TransferState state() const { return state_; }
  TransferOutcome outcome() const { return outcome_; }
  // The client's ERROR, when the outcome is kAbortedAfterOack or kClientError.
  const TftpError& client_error() const { return client_error_; }

  // The options to put in the OACK (the accepted ones, with the server's values).
  const TftpOptions& accepted_options() const { return accepted_; }
  uint16_t blksize() const { return blksize_; }
  uint16_t windowsize() const { return windowsize_; }
  int64_t timeout_us() const { return timeout_us_; }
  uint64_t file_size() const { return file_size_; }
  uint64_t total_blocks() const { return total_blocks_; }
  uint64_t last_acked() const { return last_acked_; }

  // Byte range of absolute block n (1..total_blocks()) in the served file.
  struct Extent {
    uint64_t offset;
    uint32_t length;
  };
  Extent BlockExtent(uint64_t block) const;
  // The 16-bit number that goes on the wire for absolute block n (wraps 65535 -> 0).
  static uint16_t WireBlock(uint64_t block) { return static_cast<uint16_t>(block & 0xffff); }

  TransferStats stats(int64_t now_us) const;

 private:
  static constexpr int kMaxBackoffShift = 3;  // at most 8x the base timeout

  TransferAction SendWindowFrom(uint64_t first, int64_t now_us);
  int64_t CurrentTimeoutUs() const;
  TransferAction OnAck(uint16_t wire_block, int64_t now_us);
  void Finish(TransferOutcome outcome, int64_t now_us);

  TftpOptions accepted_;
  uint64_t file_size_;
  uint16_t blksize_ = kDefaultBlockSize;
  uint16_t windowsize_ = 1;
  int64_t timeout_us_;
  int max_retries_;
  uint64_t total_blocks_ = 1;

  TransferState state_ = TransferState::kSending;
  TransferOutcome outcome_ = TransferOutcome::kInProgress;
  TftpError client_error_;
  uint64_t last_acked_ = 0;    // highest block the client acknowledged (0 = none / the OACK)
  uint64_t last_sent_ = 0;     // last block of the window in flight
  uint64_t highest_sent_ = 0;  // highest block ever sent (for counting retransmissions)
  int retries_ = 0;
  int64_t start_us_;
  int64_t end_us_ = 0;
  int64_t deadline_us_ = 0;
  uint64_t blocks_sent_ = 0;
  uint64_t retransmits_ = 0;
};

}  // namespace paddock::tftp
