#pragma once

// DHCPv4 message codec (RFC 2131 header, RFC 2132 options, RFC 3396 long options, option 52
// overload). Pure functions over bytes: no sockets, no allocation beyond the returned values,
// safe on untrusted input (a malformed datagram yields an Error, never UB or an exception).
//
// Options are kept as an ordered list of (code, bytes). Parsing merges repeated instances of a
// code into one entry (RFC 3396 §7: concatenate in the order options, file, sname) and folds
// options carried in an overloaded file/sname field into the same list; option 52 itself and
// pad/end never appear in the list. Serializing splits values longer than 255 bytes into
// several instances and, when the options field is full, overloads file and sname if they are
// empty.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/net.h"
#include "common/result.h"
#include "dhcp/options.h"

namespace paddock::dhcp {

struct DhcpOption {
  uint8_t code = 0;
  Bytes data;
};

// One DHCP message. A value type; copy freely. Not thread-safe for concurrent mutation.
struct DhcpPacket {
  uint8_t op = kBootRequest;
  uint8_t htype = 1;  // Ethernet
  uint8_t hlen = 6;
  uint8_t hops = 0;
  uint32_t xid = 0;
  uint16_t secs = 0;
  uint16_t flags = 0;
  Ipv4Address ciaddr;
  Ipv4Address yiaddr;
  Ipv4Address siaddr;
  Ipv4Address giaddr;
  std::array<uint8_t, 16> chaddr{};
  // Text up to the first NUL. Empty when the field carried options (overload) on parse.
  std::string sname;
  std::string file;
  std::vector<DhcpOption> options;

  // chaddr's first six bytes (meaningful when htype == 1, hlen == 6).
  MacAddress mac() const { return MacAddress::FromBytes(chaddr.data()); }
  void set_mac(const MacAddress& mac);
  bool broadcast_flag() const { return (flags & kFlagBroadcast) != 0; }
  std::optional<MessageType> message_type() const;

  // The value of an option, or nullptr when absent. The pointer is valid until the option list
  // is next modified.
  const Bytes* Find(uint8_t code) const;
  bool Has(uint8_t code) const { return Find(code) != nullptr; }

  // Typed getters: nullopt when the option is absent or its length is wrong for the type.
  std::optional<uint8_t> GetU8(uint8_t code) const;
  std::optional<uint16_t> GetU16(uint8_t code) const;
  std::optional<uint32_t> GetU32(uint8_t code) const;
  std::optional<Ipv4Address> GetIp(uint8_t code) const;
  // A non-empty multiple of 4 bytes.
  std::optional<std::vector<Ipv4Address>> GetIpList(uint8_t code) const;
  // Any bytes as text; trailing NULs (some clients send them) are stripped.
  std::optional<std::string> GetString(uint8_t code) const;

  // Setters replace an existing entry in place (keeping its position) or append.
  void Set(uint8_t code, Bytes data);
  void SetU8(uint8_t code, uint8_t v);
  void SetU16(uint8_t code, uint16_t v);
  void SetU32(uint8_t code, uint32_t v);
  void SetIp(uint8_t code, Ipv4Address ip);
  void SetIpList(uint8_t code, const std::vector<Ipv4Address>& ips);
  void SetString(uint8_t code, std::string_view s);
  void Remove(uint8_t code);
};

// Parses one UDP payload. Errors (all kInvalidArgument): shorter than header + cookie, wrong
// cookie, hlen > 16, an option running past its field, a bad option 52 value. A missing end
// option is tolerated (the field's end terminates the list).
Result<DhcpPacket> ParseDhcpPacket(ByteSpan data);

// Encodes a packet. The result is at least 300 bytes (BOOTP minimum, zero padded) and at most
// max(max_size, 576) bytes. Options that cannot fit even with file/sname overloading are
// dropped from the end of the list, so put the essential ones (53, 54) first.
Bytes SerializeDhcpPacket(const DhcpPacket& packet, size_t max_size = kDefaultMaxMessageSize);

}  // namespace paddock::dhcp
