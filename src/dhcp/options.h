#pragma once

// DHCPv4 option codes (RFC 2132 and later RFCs) and message types (RFC 2132 §9.6), as used by
// paddock's DHCP codec, classifier and responder. Constants only.

#include <cstddef>
#include <cstdint>

namespace paddock::dhcp {

// BOOTP header op field (RFC 2131 §2).
inline constexpr uint8_t kBootRequest = 1;
inline constexpr uint8_t kBootReply = 2;

// RFC 2131 §2: the broadcast bit of the flags field.
inline constexpr uint16_t kFlagBroadcast = 0x8000;

// RFC 2131 §3: the magic cookie that starts the options field.
inline constexpr uint32_t kMagicCookie = 0x63825363;

// RFC 2131 §2: fixed header length (op .. file), before the cookie.
inline constexpr size_t kFixedHeaderSize = 236;
inline constexpr size_t kSnameSize = 64;
inline constexpr size_t kFileSize = 128;
// RFC 1542 §3.5 / RFC 951: BOOTP messages are at least 300 bytes; some relays and old clients
// drop shorter ones.
inline constexpr size_t kBootpMinimumSize = 300;
// RFC 2131 §2: every DHCP client must accept 576-byte IP datagrams: 576 - 20 (IP) - 8 (UDP).
inline constexpr size_t kDefaultMaxMessageSize = 576;

namespace opt {
inline constexpr uint8_t kPad = 0;
inline constexpr uint8_t kSubnetMask = 1;
inline constexpr uint8_t kRouter = 3;
inline constexpr uint8_t kDnsServers = 6;
inline constexpr uint8_t kHostname = 12;
inline constexpr uint8_t kDomainName = 15;
inline constexpr uint8_t kBroadcastAddress = 28;
inline constexpr uint8_t kVendorSpecific = 43;
inline constexpr uint8_t kRequestedIp = 50;
inline constexpr uint8_t kLeaseTime = 51;
inline constexpr uint8_t kOverload = 52;
inline constexpr uint8_t kMessageType = 53;
inline constexpr uint8_t kServerId = 54;
inline constexpr uint8_t kParameterRequestList = 55;
inline constexpr uint8_t kMessage = 56;
inline constexpr uint8_t kMaxMessageSize = 57;
inline constexpr uint8_t kRenewalTime = 58;    // T1
inline constexpr uint8_t kRebindingTime = 59;  // T2
inline constexpr uint8_t kVendorClass = 60;
inline constexpr uint8_t kClientId = 61;
inline constexpr uint8_t kTftpServerName = 66;
inline constexpr uint8_t kBootfileName = 67;
inline constexpr uint8_t kUserClass = 77;          // RFC 3004
inline constexpr uint8_t kRelayAgentInfo = 82;     // RFC 3046
inline constexpr uint8_t kClientArch = 93;         // RFC 4578 §2.1
inline constexpr uint8_t kClientNdi = 94;          // RFC 4578 §2.2
inline constexpr uint8_t kClientUuid = 97;         // RFC 4578 §2.3
inline constexpr uint8_t kIpxeEncapsulated = 175;  // iPXE include/ipxe/dhcp.h
inline constexpr uint8_t kEnd = 255;
}  // namespace opt

// iPXE sub-options inside option 175 (iPXE include/ipxe/dhcp.h).
namespace ipxe {
inline constexpr uint8_t kNoPxeDhcp = 0xb0;  // 176: skip waiting for ProxyDHCP offers
inline constexpr uint8_t kBusId = 0xb1;
inline constexpr uint8_t kVersion = 0xeb;
}  // namespace ipxe

// RFC 2132 §9.6 DHCP message types (option 53).
enum class MessageType : uint8_t {
  kDiscover = 1,
  kOffer = 2,
  kRequest = 3,
  kDecline = 4,
  kAck = 5,
  kNak = 6,
  kRelease = 7,
  kInform = 8,
};

// "DISCOVER", "OFFER", ...; "UNKNOWN" for anything else.
const char* MessageTypeName(MessageType type);

}  // namespace paddock::dhcp
