#pragma once

// TFTP wire codec (pure: bytes in, values out, and back). Covers RFC 1350 (RRQ, WRQ, DATA,
// ACK, ERROR), RFC 2347 option extension (OACK), RFC 2348 blksize, RFC 2349 tsize and timeout
// and RFC 7440 windowsize.
//
// Parsing never throws and never reads past the input: a malformed datagram yields an Error
// (kInvalidArgument) that the caller counts, logs and drops. Parsed values that refer to the
// payload of a DATA packet (TftpData::payload) are views into the caller's buffer and live only
// as long as it does; everything else is copied.
//
// Option handling in requests follows what servers in the field do (tftpd-hpa, dnsmasq):
// option names and the mode are case-insensitive; an option whose value is not a decimal
// number, or is below its minimum, is dropped and its name listed in
// TftpRequest::ignored_options (it is then simply not acknowledged, RFC 2347 §"Negotiation");
// a value above the protocol maximum is clamped to it (the server may offer less, RFC 2348 and
// RFC 7440 §3); unknown options are ignored. In an OACK (sent by servers, parsed by clients and
// tests) any bad value is an error, since RFC 2347 makes the client abort in that case.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"

namespace paddock::tftp {

enum class Opcode : uint16_t {
  kRrq = 1,
  kWrq = 2,
  kData = 3,
  kAck = 4,
  kError = 5,
  kOack = 6,  // RFC 2347
};

enum class TransferMode { kNetascii, kOctet };

// RFC 1350 §"Error Codes" plus RFC 2347's code 8.
enum class TftpErrorCode : uint16_t {
  kNotDefined = 0,
  kFileNotFound = 1,
  kAccessViolation = 2,
  kDiskFull = 3,
  kIllegalOperation = 4,
  kUnknownTid = 5,
  kFileExists = 6,
  kNoSuchUser = 7,
  kOptionRefused = 8,  // RFC 2347: "terminate transfer due to option negotiation"
};

// Protocol limits.
inline constexpr uint16_t kDefaultBlockSize = 512;  // RFC 1350
inline constexpr uint16_t kMinBlockSize = 8;        // RFC 2348 §"Blocksize Option Specification"
inline constexpr uint16_t kMaxBlockSize = 65464;    // RFC 2348
inline constexpr uint8_t kMinTimeoutSeconds = 1;    // RFC 2349 §"Timeout Interval Option"
inline constexpr uint8_t kMaxTimeoutSeconds = 255;
inline constexpr uint16_t kMinWindowSize = 1;  // RFC 7440 §3
inline constexpr uint16_t kMaxWindowSize = 65535;
inline constexpr size_t kDataHeaderSize = 4;  // opcode + block number

// The options this codec understands. Absent = not requested / not acknowledged.
struct TftpOptions {
  std::optional<uint16_t> blksize;
  std::optional<uint64_t> tsize;
  std::optional<uint8_t> timeout_s;
  std::optional<uint16_t> windowsize;

  bool empty() const { return !blksize && !tsize && !timeout_s && !windowsize; }
  friend bool operator==(const TftpOptions&, const TftpOptions&) = default;
};

// RRQ or WRQ.
struct TftpRequest {
  Opcode opcode = Opcode::kRrq;  // kRrq or kWrq
  std::string filename;          // as sent, never empty, no NUL
  TransferMode mode = TransferMode::kOctet;
  TftpOptions options;
  // Names (lower-cased) of recognised options whose value was unusable and was dropped.
  std::vector<std::string> ignored_options;
  // Names (lower-cased) of options this codec does not know (ignored, RFC 2347).
  std::vector<std::string> unknown_options;
};

struct TftpData {
  uint16_t block = 0;
  ByteSpan payload;  // view into the parsed buffer
};

struct TftpAck {
  uint16_t block = 0;
};

struct TftpError {
  uint16_t code = 0;  // a TftpErrorCode value, or anything the peer sent
  std::string message;
};

struct TftpOack {
  TftpOptions options;
};

using TftpPacket = std::variant<TftpRequest, TftpData, TftpAck, TftpError, TftpOack>;

// Parses one TFTP datagram. Errors (kInvalidArgument) say what was wrong: too short, unknown
// opcode, a missing NUL terminator, an empty filename, an unknown mode, an option name without
// a value, or a bad OACK value. A trailing empty option name (NUL padding some firmware adds)
// ends the option list and is not an error.
Result<TftpPacket> ParseTftpPacket(ByteSpan datagram);

// Serializers. Each returns the whole datagram. Options are written in the order blksize,
// tsize, timeout, windowsize, lower-case names, decimal values.
Bytes SerializeRequest(const TftpRequest& request);
Bytes SerializeOack(const TftpOptions& options);
Bytes SerializeAck(uint16_t block);
Bytes SerializeError(uint16_t code, std::string_view message);
Bytes SerializeData(uint16_t block, ByteSpan payload);
// Any packet variant (dispatches to the functions above).
Bytes SerializeTftpPacket(const TftpPacket& packet);

// Writes the 4-byte DATA header (opcode 3, block) to out. For servers that place the payload
// after it themselves, without building a vector per block.
void WriteDataHeader(uint16_t block, std::span<uint8_t, kDataHeaderSize> out);

// RFC 1350 / RFC 764 netascii: LF -> CR LF, CR -> CR NUL. Returns the converted text.
Bytes ToNetascii(ByteSpan octets);

const char* OpcodeName(Opcode opcode);
const char* TftpErrorCodeName(uint16_t code);

}  // namespace paddock::tftp
