#include "dhcp/packet.h"

#include <algorithm>

namespace paddock::dhcp {
namespace {

// Appends the value of one option instance to the packet, concatenating it to an earlier
// instance of the same code (RFC 3396 §7).
void AppendOption(std::vector<DhcpOption>* options, uint8_t code, ByteSpan data) {
  for (DhcpOption& o : *options) {
    if (o.code == code) {
      o.data.insert(o.data.end(), data.begin(), data.end());
      return;
    }
  }
  options->push_back(DhcpOption{code, Bytes(data.begin(), data.end())});
}

// Parses one option area (options field, or an overloaded file/sname field). RFC 2132 §2:
// pad (0) has no length byte; end (255) terminates the area.
Status ParseOptionArea(ByteSpan area, const char* where, std::vector<DhcpOption>* options) {
  ByteReader r(area);
  while (!r.empty()) {
    uint8_t code = 0;
    r.ReadU8(&code);
    if (code == opt::kPad) continue;
    if (code == opt::kEnd) return Ok();
    uint8_t len = 0;
    if (!r.ReadU8(&len)) {
      return InvalidArgument(std::string("option ") + std::to_string(code) + " in " + where +
                             " has no length byte");
    }
    ByteSpan value;
    if (!r.ReadSpan(len, &value)) {
      return InvalidArgument(std::string("option ") + std::to_string(code) + " in " + where +
                             " runs past the field (len " + std::to_string(len) + ")");
    }
    AppendOption(options, code, value);
  }
  return Ok();  // no end option: tolerated, the field's end terminates the list
}

std::string TextField(ByteSpan field) {
  auto nul = std::find(field.begin(), field.end(), uint8_t{0});
  return std::string(field.begin(), nul);
}

Ipv4Address ReadIp(ByteReader* r) {
  uint32_t v = 0;
  r->ReadU32(&v);
  return Ipv4Address(v);
}

// One encoded option instance (code, len, value), at most 257 bytes.
using Chunk = Bytes;

std::vector<Chunk> EncodeOptions(const std::vector<DhcpOption>& options) {
  std::vector<Chunk> chunks;
  for (const DhcpOption& o : options) {
    if (o.code == opt::kPad || o.code == opt::kEnd || o.code == opt::kOverload) continue;
    // RFC 3396 §6: a value longer than 255 bytes is split into consecutive instances.
    size_t pos = 0;
    do {
      size_t n = std::min<size_t>(255, o.data.size() - pos);
      Chunk c;
      c.reserve(n + 2);
      c.push_back(o.code);
      c.push_back(static_cast<uint8_t>(n));
      c.insert(c.end(), o.data.begin() + pos, o.data.begin() + pos + n);
      chunks.push_back(std::move(c));
      pos += n;
    } while (pos < o.data.size());
  }
  return chunks;
}

void WriteFixedText(ByteWriter* w, const std::string& text, size_t field_size) {
  // Keep room for the terminating NUL.
  size_t n = std::min(text.size(), field_size - 1);
  w->WriteBytes(AsBytes(std::string_view(text).substr(0, n)));
  w->WriteZeros(field_size - n);
}

}  // namespace

const char* MessageTypeName(MessageType type) {
  switch (type) {
    case MessageType::kDiscover:
      return "DISCOVER";
    case MessageType::kOffer:
      return "OFFER";
    case MessageType::kRequest:
      return "REQUEST";
    case MessageType::kDecline:
      return "DECLINE";
    case MessageType::kAck:
      return "ACK";
    case MessageType::kNak:
      return "NAK";
    case MessageType::kRelease:
      return "RELEASE";
    case MessageType::kInform:
      return "INFORM";
  }
  return "UNKNOWN";
}

void DhcpPacket::set_mac(const MacAddress& mac) {
  chaddr.fill(0);
  std::copy(mac.bytes().begin(), mac.bytes().end(), chaddr.begin());
  htype = 1;
  hlen = 6;
}

std::optional<MessageType> DhcpPacket::message_type() const {
  auto v = GetU8(opt::kMessageType);
  if (!v || *v < 1 || *v > 8) return std::nullopt;
  return static_cast<MessageType>(*v);
}

const Bytes* DhcpPacket::Find(uint8_t code) const {
  for (const DhcpOption& o : options) {
    if (o.code == code) return &o.data;
  }
  return nullptr;
}

std::optional<uint8_t> DhcpPacket::GetU8(uint8_t code) const {
  const Bytes* b = Find(code);
  if (b == nullptr || b->size() != 1) return std::nullopt;
  return (*b)[0];
}

std::optional<uint16_t> DhcpPacket::GetU16(uint8_t code) const {
  const Bytes* b = Find(code);
  if (b == nullptr || b->size() != 2) return std::nullopt;
  return static_cast<uint16_t>(((*b)[0] << 8) | (*b)[1]);
}

std::optional<uint32_t> DhcpPacket::GetU32(uint8_t code) const {
  const Bytes* b = Find(code);
  if (b == nullptr || b->size() != 4) return std::nullopt;
  uint32_t v = 0;
  ByteReader(*b).ReadU32(&v);
  return v;
}

std::optional<Ipv4Address> DhcpPacket::GetIp(uint8_t code) const {
  auto v = GetU32(code);
  if (!v) return std::nullopt;
  return Ipv4Address(*v);
}

std::optional<std::vector<Ipv4Address>> DhcpPacket::GetIpList(uint8_t code) const {
  const Bytes* b = Find(code);
  if (b == nullptr || b->empty() || b->size() % 4 != 0) return std::nullopt;
  std::vector<Ipv4Address> ips;
  ByteReader r(*b);
  while (!r.empty()) ips.push_back(ReadIp(&r));
  return ips;
}

std::optional<std::string> DhcpPacket::GetString(uint8_t code) const {
  const Bytes* b = Find(code);
  if (b == nullptr) return std::nullopt;
  std::string s(b->begin(), b->end());
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

void DhcpPacket::Set(uint8_t code, Bytes data) {
  for (DhcpOption& o : options) {
    if (o.code == code) {
      o.data = std::move(data);
      return;
    }
  }
  options.push_back(DhcpOption{code, std::move(data)});
}

void DhcpPacket::SetU8(uint8_t code, uint8_t v) { Set(code, Bytes{v}); }

void DhcpPacket::SetU16(uint8_t code, uint16_t v) {
  ByteWriter w;
  w.WriteU16(v);
  Set(code, w.Take());
}

void DhcpPacket::SetU32(uint8_t code, uint32_t v) {
  ByteWriter w;
  w.WriteU32(v);
  Set(code, w.Take());
}

void DhcpPacket::SetIp(uint8_t code, Ipv4Address ip) { SetU32(code, ip.value()); }

void DhcpPacket::SetIpList(uint8_t code, const std::vector<Ipv4Address>& ips) {
  ByteWriter w;
  for (Ipv4Address ip : ips) w.WriteU32(ip.value());
  Set(code, w.Take());
}

void DhcpPacket::SetString(uint8_t code, std::string_view s) {
  Set(code, Bytes(s.begin(), s.end()));
}

void DhcpPacket::Remove(uint8_t code) {
  std::erase_if(options, [code](const DhcpOption& o) { return o.code == code; });
}

Result<DhcpPacket> ParseDhcpPacket(ByteSpan data) {
  if (data.size() < kFixedHeaderSize + 4) {
    return InvalidArgument("datagram of " + std::to_string(data.size()) +
                           " bytes is shorter than a DHCP header");
  }
  DhcpPacket p;
  ByteReader r(data);
  r.ReadU8(&p.op);
  r.ReadU8(&p.htype);
  r.ReadU8(&p.hlen);
  r.ReadU8(&p.hops);
  r.ReadU32(&p.xid);
  r.ReadU16(&p.secs);
  r.ReadU16(&p.flags);
  p.ciaddr = ReadIp(&r);
  p.yiaddr = ReadIp(&r);
  p.siaddr = ReadIp(&r);
  p.giaddr = ReadIp(&r);
  if (p.op != kBootRequest && p.op != kBootReply) {
    return InvalidArgument("bad op " + std::to_string(p.op));
  }
  if (p.hlen > 16) return InvalidArgument("hlen " + std::to_string(p.hlen) + " > 16");
  ByteSpan chaddr, sname, file;
  r.ReadSpan(16, &chaddr);
  r.ReadSpan(kSnameSize, &sname);
  r.ReadSpan(kFileSize, &file);
  std::copy(chaddr.begin(), chaddr.end(), p.chaddr.begin());
  uint32_t cookie = 0;
  r.ReadU32(&cookie);
  if (cookie != kMagicCookie) return InvalidArgument("no DHCP magic cookie");

  if (auto s = ParseOptionArea(r.Rest(), "options", &p.options); !s)
    return tl::unexpected(s.error());
  // RFC 2131 §4.1 / RFC 2132 §9.3: option 52 (only valid in the options field) says file
  // and/or sname carry more options; they are read after the options field, file first.
  uint8_t overload = 0;
  if (const Bytes* ov = p.Find(opt::kOverload)) {
    if (ov->size() != 1 || (*ov)[0] < 1 || (*ov)[0] > 3) {
      return InvalidArgument("bad option 52 (overload) value");
    }
    overload = (*ov)[0];
    p.Remove(opt::kOverload);
  }
  if (overload & 1) {
    if (auto s = ParseOptionArea(file, "file", &p.options); !s) return tl::unexpected(s.error());
    p.Remove(opt::kOverload);  // not allowed outside the options field; ignore it there
  } else {
    p.file = TextField(file);
  }
  if (overload & 2) {
    if (auto s = ParseOptionArea(sname, "sname", &p.options); !s) {
      return tl::unexpected(s.error());
    }
    p.Remove(opt::kOverload);
  } else {
    p.sname = TextField(sname);
  }
  return p;
}

Bytes SerializeDhcpPacket(const DhcpPacket& packet, size_t max_size) {
  max_size = std::max(max_size, kDefaultMaxMessageSize);
  std::vector<Chunk> chunks = EncodeOptions(packet.options);

  // Room for options in the options field: everything after the cookie, minus the end option.
  const size_t main_room = max_size - kFixedHeaderSize - 4 - 1;
  size_t total = 0;
  for (const Chunk& c : chunks) total += c.size();

  std::vector<const Chunk*> in_main, in_file, in_sname;
  if (total <= main_room) {
    for (const Chunk& c : chunks) in_main.push_back(&c);
  } else {
    // Fill the areas in RFC 3396 §7 order (options, file, sname) without reordering, so split
    // options concatenate back correctly. The options field loses 3 bytes to option 52.
    struct Area {
      std::vector<const Chunk*>* out;
      size_t room;
      bool usable;
    };
    Area areas[] = {{&in_main, main_room - 3, true},
                    {&in_file, kFileSize - 1, packet.file.empty()},
                    {&in_sname, kSnameSize - 1, packet.sname.empty()}};
    size_t area = 0;
    for (const Chunk& c : chunks) {
      while (area < 3 && (!areas[area].usable || c.size() > areas[area].room)) ++area;
      if (area == 3) break;  // does not fit anywhere: drop it and everything after it
      areas[area].out->push_back(&c);
      areas[area].room -= c.size();
    }
  }
  uint8_t overload = (in_file.empty() ? 0 : 1) | (in_sname.empty() ? 0 : 2);

  ByteWriter w(max_size);
  w.WriteU8(packet.op);
  w.WriteU8(packet.htype);
  w.WriteU8(packet.hlen);
  w.WriteU8(packet.hops);
  w.WriteU32(packet.xid);
  w.WriteU16(packet.secs);
  w.WriteU16(packet.flags);
  w.WriteU32(packet.ciaddr.value());
  w.WriteU32(packet.yiaddr.value());
  w.WriteU32(packet.siaddr.value());
  w.WriteU32(packet.giaddr.value());
  w.WriteBytes(packet.chaddr);
  auto write_area = [&w](const std::vector<const Chunk*>& list, size_t field_size) {
    size_t start = w.size();
    for (const Chunk* c : list) w.WriteBytes(*c);
    w.WriteU8(opt::kEnd);
    w.WriteZeros(field_size - (w.size() - start));
  };
  if (overload & 2) {
    write_area(in_sname, kSnameSize);
  } else {
    WriteFixedText(&w, packet.sname, kSnameSize);
  }
  if (overload & 1) {
    write_area(in_file, kFileSize);
  } else {
    WriteFixedText(&w, packet.file, kFileSize);
  }
  w.WriteU32(kMagicCookie);
  if (overload != 0) {
    w.WriteU8(opt::kOverload);
    w.WriteU8(1);
    w.WriteU8(overload);
  }
  for (const Chunk* c : in_main) w.WriteBytes(*c);
  w.WriteU8(opt::kEnd);
  if (w.size() < kBootpMinimumSize) w.WriteZeros(kBootpMinimumSize - w.size());
  return w.Take();
}

}  // namespace paddock::dhcp
