#include "tftp/transfer.h"

#include <algorithm>
#include <type_traits>

namespace paddock::tftp {

const char* TransferOutcomeName(TransferOutcome outcome) {
  switch (outcome) {
    case TransferOutcome::kInProgress:
      return "in_progress";
    case TransferOutcome::kCompleted:
      return "completed";
    case TransferOutcome::kAbortedAfterOack:
      return "aborted_after_oack";
    case TransferOutcome::kClientError:
      return "client_error";
    case TransferOutcome::kTimedOut:
      return "timed_out";
  }
  return "?";
}

ReadTransfer::ReadTransfer(const TftpOptions& requested, uint64_t file_size,
                           const TransferLimits& limits, int64_t now_us)
    : file_size_(file_size),
      timeout_us_(std::max<int64_t>(limits.default_timeout_us, 1000)),
      max_retries_(std::max(limits.max_retries, 0)),
      start_us_(now_us) {
  if (requested.blksize) {
    // RFC 2348: the server may answer with a smaller blksize than asked. Never above what fits
    // in one datagram on the interface, and never much above the file: size + 1 still lets a
    // small file go in one (short) block.
    uint64_t b = *requested.blksize;
    b = std::min<uint64_t>(b, std::max<uint16_t>(limits.max_blksize, kMinBlockSize));
    b = std::min<uint64_t>(b, std::max<uint64_t>(file_size + 1, kMinBlockSize));
    b = std::clamp<uint64_t>(b, kMinBlockSize, kMaxBlockSize);
    blksize_ = static_cast<uint16_t>(b);
    accepted_.blksize = blksize_;
  }
  // RFC 2349: answer with the size. Not for an empty file: curl (7.88) rejects "tsize 0" in an
  // OACK as invalid, and leaving an option out of the OACK is always allowed (RFC 2347).
  if (requested.tsize && file_size > 0) accepted_.tsize = file_size;
  if (requested.timeout_s) {
    // RFC 2349: the client asks for the retransmission timeout; the server echoes it.
    accepted_.timeout_s = requested.timeout_s;
    timeout_us_ = int64_t{*requested.timeout_s} * 1'000'000;
  }
  if (requested.windowsize) {
    // RFC 7440 §3: the server may answer with a smaller window.
    windowsize_ = std::max<uint16_t>(
        1, std::min(*requested.windowsize, std::max<uint16_t>(limits.max_windowsize, 1)));
    accepted_.windowsize = windowsize_;
  }
  total_blocks_ = file_size_ / blksize_ + 1;
  state_ = accepted_.empty() ? TransferState::kSending : TransferState::kAwaitingOptionAck;
}

TransferAction ReadTransfer::Start(int64_t now_us) {
  if (state_ == TransferState::kAwaitingOptionAck) {
    deadline_us_ = now_us + CurrentTimeoutUs();
    return TransferAction{TransferAction::Kind::kSendOack, 0, 0, 0};
  }
  // RFC 2347: with no accepted option the server answers as in RFC 1350, with DATA 1.
  return SendWindowFrom(1, now_us);
}

ReadTransfer::Extent ReadTransfer::BlockExtent(uint64_t block) const {
  if (block == 0 || block > total_blocks_) return {file_size_, 0};
  uint64_t offset = (block - 1) * blksize_;
  uint64_t len = std::min<uint64_t>(blksize_, file_size_ - offset);
  return {offset, static_cast<uint32_t>(len)};
}

TransferAction ReadTransfer::SendWindowFrom(uint64_t first, int64_t now_us) {
  uint64_t last = std::min<uint64_t>(first + windowsize_ - 1, total_blocks_);
  TransferAction a;
  a.kind = TransferAction::Kind::kSendBlocks;
  a.first_block = first;
  a.block_count = static_cast<uint32_t>(last - first + 1);
  if (first <= highest_sent_) {
    a.retransmitted = static_cast<uint32_t>(std::min(last, highest_sent_) - first + 1);
  }
  highest_sent_ = std::max(highest_sent_, last);
  last_sent_ = last;
  blocks_sent_ += a.block_count;
  retransmits_ += a.retransmitted;
  deadline_us_ = now_us + CurrentTimeoutUs();
  return a;
}

int64_t ReadTransfer::CurrentTimeoutUs() const {
  // Exponential backoff while no progress is made (RFC 1123 §4.2.3.2 asks for an adaptive
  // timer): after a few doublings a client whose own timer is longer than ours gets a quiet gap
  // to re-ACK. atftp, for one, drops duplicate blocks without answering and only re-ACKs on its
  // own timeout, which our retransmissions would otherwise keep resetting until we give up.
  return timeout_us_ << std::min(retries_, kMaxBackoffShift);
}

TransferAction ReadTransfer::OnAck(uint16_t wire_block, int64_t now_us) {
  if (state_ == TransferState::kAwaitingOptionAck) {
    // RFC 2347: the client acknowledges the OACK with ACK 0. Anything else is stale.
    if (wire_block != 0) return {};
    state_ = TransferState::kSending;
    retries_ = 0;
    return SendWindowFrom(1, now_us);
  }
  // Map the 16-bit number onto the absolute block after last_acked_: the window is at most
  // 65535 blocks, so every in-window block has a distinct wire number.
  uint16_t delta = static_cast<uint16_t>(wire_block - WireBlock(last_acked_));
  if (delta == 0) return {};  // duplicate ACK: ignored, the timer recovers a lost window
  uint64_t acked = last_acked_ + delta;
  if (acked > last_sent_) return {};  // old ACK (from before a wrap) or never sent: ignored
  last_acked_ = acked;
  retries_ = 0;
  if (acked == total_blocks_) {
    Finish(TransferOutcome::kCompleted, now_us);
    return {};
  }
  // RFC 7440 §4: the next window starts right after the acknowledged block, also when the ACK
  // is inside the window (the client lost a block and said so).
  return SendWindowFrom(acked + 1, now_us);
}

TransferAction ReadTransfer::OnPacket(const TftpPacket& packet, int64_t now_us) {
  if (state_ == TransferState::kDone) return {};
  if (const auto* ack = std::get_if<TftpAck>(&packet)) return OnAck(ack->block, now_us);
  if (const auto* err = std::get_if<TftpError>(&packet)) {
    client_error_ = *err;
    bool after_oack = state_ == TransferState::kAwaitingOptionAck &&
                      err->code == static_cast<uint16_t>(TftpErrorCode::kOptionRefused);
    Finish(after_oack ? TransferOutcome::kAbortedAfterOack : TransferOutcome::kClientError, now_us);
    return {};
  }
  // DATA, OACK or a request on the transfer's TID: not part of a read; ignored.
  return {};
}

TransferAction ReadTransfer::OnTimeout(int64_t now_us) {
  if (state_ == TransferState::kDone || now_us < deadline_us_) return {};
  if (retries_ >= max_retries_) {
    Finish(TransferOutcome::kTimedOut, now_us);
    return {};
  }
  ++retries_;
  if (state_ == TransferState::kAwaitingOptionAck) {
    ++retransmits_;
    deadline_us_ = now_us + CurrentTimeoutUs();
    return TransferAction{TransferAction::Kind::kSendOack, 0, 0, 1};
  }
  return SendWindowFrom(last_acked_ + 1, now_us);
}

void ReadTransfer::Finish(TransferOutcome outcome, int64_t now_us) {
  state_ = TransferState::kDone;
  outcome_ = outcome;
  end_us_ = now_us;
}

TransferStats ReadTransfer::stats(int64_t now_us) const {
  TransferStats s;
  // Acknowledged bytes: every block up to last_acked_ is complete.
  s.bytes = last_acked_ == 0 ? 0 : std::min<uint64_t>(last_acked_ * blksize_, file_size_);
  s.blocks_sent = blocks_sent_;
  s.retransmits = retransmits_;
  s.duration_us = (state_ == TransferState::kDone ? end_us_ : now_us) - start_us_;
  return s;
}

}  // namespace paddock::tftp
