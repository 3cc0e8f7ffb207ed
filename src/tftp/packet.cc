#include "tftp/packet.h"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace paddock::tftp {
namespace {

// Reads one NUL-terminated string starting at *pos. Returns false when no NUL follows.
bool ReadCString(ByteSpan data, size_t* pos, std::string_view* out) {
  if (*pos >= data.size()) return false;
  const uint8_t* start = data.data() + *pos;
  const void* nul = std::memchr(start, 0, data.size() - *pos);
  if (nul == nullptr) return false;
  size_t len = static_cast<const uint8_t*>(nul) - start;
  *out = std::string_view(reinterpret_cast<const char*>(start), len);
  *pos += len + 1;
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Option values are unsigned decimal (RFC 2347 §"Packet Formats": "ASCII string"). Leading
// '+', '-', spaces or hex are not numbers here; std::from_chars rejects them.
std::optional<uint64_t> ParseDecimal(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

enum class OptionContext { kRequest, kOack };

// Applies one name/value pair. Returns an error only in OACK context; in a request, bad values
// are recorded in *ignored and skipped.
Status ApplyOption(std::string_view raw_name, std::string_view raw_value, OptionContext ctx,
                   TftpOptions* opts, std::vector<std::string>* ignored,
                   std::vector<std::string>* unknown) {
  std::string name = Lower(raw_name);
  std::optional<uint64_t> value = ParseDecimal(raw_value);
  auto reject = [&](const char* why) -> Status {
    if (ctx == OptionContext::kOack) {
      return InvalidArgument("OACK option " + name + "=" + std::string(raw_value) + ": " + why);
    }
    if (ignored) ignored->push_back(name);
    return Ok();
  };
  // RFC 2347 does not define repeated options; the first one wins, as in tftpd-hpa.
  if (name == "blksize") {
    if (opts->blksize) return Ok();
    if (!value) return reject("not a number");
    // RFC 2348: "Valid values range between 8 and 65464 octets, inclusive." A client asking for
    // more gets the maximum (the server may answer with a smaller value).
    if (*value < kMinBlockSize) return reject("below 8");
    if (*value > kMaxBlockSize) {
      if (ctx == OptionContext::kOack) return reject("above 65464");
      *value = kMaxBlockSize;
    }
    opts->blksize = static_cast<uint16_t>(*value);
  } else if (name == "tsize") {
    if (opts->tsize) return Ok();
    if (!value) return reject("not a number");
    opts->tsize = *value;  // RFC 2349: 0 in an RRQ asks the server for the size
  } else if (name == "timeout") {
    if (opts->timeout_s) return Ok();
    if (!value) return reject("not a number");
    // RFC 2349: "Valid values range between 1 and 255 seconds, inclusive."
    if (*value < kMinTimeoutSeconds || *value > kMaxTimeoutSeconds) return reject("not 1..255");
    opts->timeout_s = static_cast<uint8_t>(*value);
  } else if (name == "windowsize") {
    if (opts->windowsize) return Ok();
    if (!value) return reject("not a number");
    // RFC 7440 §3: "valid values range between 1 and 65535 blocks, inclusive."
    if (*value < kMinWindowSize) return reject("below 1");
    if (*value > kMaxWindowSize) {
      if (ctx == OptionContext::kOack) return reject("above 65535");
      *value = kMaxWindowSize;
    }
    opts->windowsize = static_cast<uint16_t>(*value);
  } else {
    // RFC 2347: unknown options are ignored by the server (not echoed in the OACK).
    if (ctx == OptionContext::kOack) return InvalidArgument("OACK carries unknown option " + name);
    if (unknown) unknown->push_back(std::move(name));
  }
  return Ok();
}

// Parses the option list (name NUL value NUL)* from pos to the end of data.
Status ParseOptions(ByteSpan data, size_t pos, OptionContext ctx, TftpOptions* opts,
                    std::vector<std::string>* ignored, std::vector<std::string>* unknown) {
  while (pos < data.size()) {
    std::string_view name, value;
    if (!ReadCString(data, &pos, &name)) return InvalidArgument("option name without NUL");
    if (name.empty()) break;  // NUL padding after the last option: tolerated
    if (!ReadCString(data, &pos, &value)) {
      return InvalidArgument("option " + Lower(name) + " has no NUL-terminated value");
    }
    if (auto st = ApplyOption(name, value, ctx, opts, ignored, unknown); !st) {
      return tl::unexpected(st.error());
    }
  }
  return Ok();
}

Result<TftpPacket> ParseRequest(Opcode op, ByteSpan data) {
  TftpRequest req;
  req.opcode = op;
  size_t pos = 2;
  std::string_view filename, mode;
  if (!ReadCString(data, &pos, &filename)) return InvalidArgument("filename without NUL");
  if (filename.empty()) return InvalidArgument("empty filename");
  if (!ReadCString(data, &pos, &mode)) return InvalidArgument("mode without NUL");
  std::string lower_mode = Lower(mode);
  // RFC 1350: "netascii", "octet" or "mail" (obsolete, never meaningful for a boot server).
  if (lower_mode == "octet") {
    req.mode = TransferMode::kOctet;
  } else if (lower_mode == "netascii") {
    req.mode = TransferMode::kNetascii;
  } else {
    return InvalidArgument("unsupported mode '" + std::string(mode) + "'");
  }
  req.filename = std::string(filename);
  if (auto st = ParseOptions(data, pos, OptionContext::kRequest, &req.options, &req.ignored_options,
                             &req.unknown_options);
      !st) {
    return tl::unexpected(st.error());
  }
  return TftpPacket(std::move(req));
}

void WriteOptions(ByteWriter& w, const TftpOptions& o) {
  auto put = [&](std::string_view name, uint64_t v) {
    w.WriteString(name);
    w.WriteU8(0);
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    (void)ec;
    w.WriteString(std::string_view(buf, end - buf));
    w.WriteU8(0);
  };
  if (o.blksize) put("blksize", *o.blksize);
  if (o.tsize) put("tsize", *o.tsize);
  if (o.timeout_s) put("timeout", *o.timeout_s);
  if (o.windowsize) put("windowsize", *o.windowsize);
}

}  // namespace

Result<TftpPacket> ParseTftpPacket(ByteSpan data) {
  if (data.size() < 2) return InvalidArgument("datagram shorter than an opcode");
  uint16_t op = static_cast<uint16_t>(data[0] << 8 | data[1]);
  switch (op) {
    case static_cast<uint16_t>(Opcode::kRrq):
    case static_cast<uint16_t>(Opcode::kWrq):
      return ParseRequest(static_cast<Opcode>(op), data);
    case static_cast<uint16_t>(Opcode::kData): {
      if (data.size() < kDataHeaderSize) return InvalidArgument("DATA shorter than 4 bytes");
      if (data.size() - kDataHeaderSize > kMaxBlockSize) {
        return InvalidArgument("DATA payload above 65464 bytes");
      }
      TftpData d;
      d.block = static_cast<uint16_t>(data[2] << 8 | data[3]);
      d.payload = data.subspan(kDataHeaderSize);
      return TftpPacket(d);
    }
    case static_cast<uint16_t>(Opcode::kAck): {
      // RFC 1350 ACKs are exactly 4 bytes; some stacks pad to the Ethernet minimum, so extra
      // bytes are tolerated.
      if (data.size() < 4) return InvalidArgument("ACK shorter than 4 bytes");
      return TftpPacket(TftpAck{static_cast<uint16_t>(data[2] << 8 | data[3])});
    }
    case static_cast<uint16_t>(Opcode::kError): {
      if (data.size() < 4) return InvalidArgument("ERROR shorter than 4 bytes");
      TftpError e;
      e.code = static_cast<uint16_t>(data[2] << 8 | data[3]);
      size_t pos = 4;
      std::string_view msg;
      if (!ReadCString(data, &pos, &msg)) return InvalidArgument("ERROR message without NUL");
      e.message = std::string(msg);
      return TftpPacket(std::move(e));
    }
    case static_cast<uint16_t>(Opcode::kOack): {
      TftpOack o;
      if (auto st = ParseOptions(data, 2, OptionContext::kOack, &o.options, nullptr, nullptr);
          !st) {
        return tl::unexpected(st.error());
      }
      return TftpPacket(o);
    }
    default:
      return InvalidArgument("unknown opcode " + std::to_string(op));
  }
}

Bytes SerializeRequest(const TftpRequest& r) {
  ByteWriter w(64 + r.filename.size());
  w.WriteU16(static_cast<uint16_t>(r.opcode));
  w.WriteString(r.filename);
  w.WriteU8(0);
  w.WriteString(r.mode == TransferMode::kOctet ? "octet" : "netascii");
  w.WriteU8(0);
  WriteOptions(w, r.options);
  return w.Take();
}

Bytes SerializeOack(const TftpOptions& options) {
  ByteWriter w(64);
  w.WriteU16(static_cast<uint16_t>(Opcode::kOack));
  WriteOptions(w, options);
  return w.Take();
}

Bytes SerializeAck(uint16_t block) {
  ByteWriter w(4);
  w.WriteU16(static_cast<uint16_t>(Opcode::kAck));
  w.WriteU16(block);
  return w.Take();
}

Bytes SerializeError(uint16_t code, std::string_view message) {
  ByteWriter w(5 + message.size());
  w.WriteU16(static_cast<uint16_t>(Opcode::kError));
  w.WriteU16(code);
  // A NUL inside the message would end it early on the wire; cut it there.
  w.WriteString(message.substr(0, message.find('\0')));
  w.WriteU8(0);
  return w.Take();
}

Bytes SerializeData(uint16_t block, ByteSpan payload) {
  ByteWriter w(kDataHeaderSize + payload.size());
  w.WriteU16(static_cast<uint16_t>(Opcode::kData));
  w.WriteU16(block);
  w.WriteBytes(payload);
  return w.Take();
}

Bytes SerializeTftpPacket(const TftpPacket& packet) {
  struct Visitor {
    Bytes operator()(const TftpRequest& r) const { return SerializeRequest(r); }
    Bytes operator()(const TftpData& d) const { return SerializeData(d.block, d.payload); }
    Bytes operator()(const TftpAck& a) const { return SerializeAck(a.block); }
    Bytes operator()(const TftpError& e) const { return SerializeError(e.code, e.message); }
    Bytes operator()(const TftpOack& o) const { return SerializeOack(o.options); }
  };
  return std::visit(Visitor{}, packet);
}

void WriteDataHeader(uint16_t block, std::span<uint8_t, kDataHeaderSize> out) {
  out[0] = 0;
  out[1] = static_cast<uint8_t>(Opcode::kData);
  out[2] = static_cast<uint8_t>(block >> 8);
  out[3] = static_cast<uint8_t>(block & 0xff);
}

Bytes ToNetascii(ByteSpan in) {
  Bytes out;
  out.reserve(in.size() + in.size() / 16 + 1);
  for (uint8_t c : in) {
    if (c == '\n') {
      out.push_back('\r');
      out.push_back('\n');
    } else if (c == '\r') {
      out.push_back('\r');
      out.push_back('\0');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

const char* OpcodeName(Opcode opcode) {
  switch (opcode) {
    case Opcode::kRrq:
      return "RRQ";
    case Opcode::kWrq:
      return "WRQ";
    case Opcode::kData:
      return "DATA";
    case Opcode::kAck:
      return "ACK";
    case Opcode::kError:
      return "ERROR";
    case Opcode::kOack:
      return "OACK";
  }
  return "?";
}

const char* TftpErrorCodeName(uint16_t code) {
  switch (code) {
    case 0:
      return "not defined";
    case 1:
      return "file not found";
    case 2:
      return "access violation";
    case 3:
      return "disk full";
    case 4:
      return "illegal operation";
    case 5:
      return "unknown transfer ID";
    case 6:
      return "file exists";
    case 7:
      return "no such user";
    case 8:
      return "option negotiation refused";
    default:
      return "unknown";
  }
}

}  // namespace paddock::tftp
