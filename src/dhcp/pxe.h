#pragma once

// PXE / iPXE client classification: reduces a DHCP request to the facts the boot policy needs
// (boot/client.h), and formats the label every log line about a machine carries. Pure.

#include <optional>
#include <string>
#include <vector>

#include "boot/client.h"
#include "common/bytes.h"
#include "dhcp/packet.h"

namespace paddock::dhcp {

// Fills every field of ClientInfo from the request's options:
//   60 vendor class (is_pxe "PXEClient...", is_http_boot "HTTPClient..."), 77 user class in
//   both forms (iPXE's raw "iPXE" and RFC 3004 length-prefixed), 93 arch (first entry),
//   97 UUID (canonical text), 175 present or user class "iPXE" => is_ipxe, 57, 12.
// Malformed individual options are ignored (the field stays empty); never fails.
boot::ClientInfo ClassifyClient(const DhcpPacket& packet);

// "mac=52:54:00:e2:e0:01 xid=0x8f5b713a": the label on every log line about this exchange.
std::string ClientLabel(const DhcpPacket& packet);

// Option 77: RFC 3004 §3 is a sequence of (length, data) instances; iPXE sends the bare string.
// Returns the class names (one for the raw form). Empty input gives an empty list.
std::vector<std::string> DecodeUserClass(ByteSpan value);

// Option 97 (RFC 4578 §2.3): type 0 followed by a 16-byte GUID whose first three fields are
// little-endian (SMBIOS order). Returns the canonical lower-case 8-4-4-4-12 text, the same
// string QEMU's -uuid and iPXE's ${uuid} show; nullopt for any other length or type.
std::optional<std::string> DecodeClientUuid(ByteSpan value);

}  // namespace paddock::dhcp
