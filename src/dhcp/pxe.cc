#include "dhcp/pxe.h"

#include <cstdio>

namespace paddock::dhcp {

std::vector<std::string> DecodeUserClass(ByteSpan value) {
  std::vector<std::string> classes;
  if (value.empty()) return classes;
  // Try the RFC 3004 form first: it must consume the value exactly, with no zero lengths.
  ByteReader r(value);
  bool rfc3004 = true;
  while (!r.empty()) {
    uint8_t len = 0;
    ByteSpan data;
    if (!r.ReadU8(&len) || len == 0 || !r.ReadSpan(len, &data)) {
      rfc3004 = false;
      break;
    }
    classes.emplace_back(AsStringView(data));
  }
  if (rfc3004) return classes;
  // iPXE (and some other firmware) sends the bare string ("iPXE"), not length-prefixed.
  classes.clear();
  std::string raw(AsStringView(value));
  while (!raw.empty() && raw.back() == '\0') raw.pop_back();
  classes.push_back(std::move(raw));
  return classes;
}

std::optional<std::string> DecodeClientUuid(ByteSpan value) {
  if (value.size() != 17 || value[0] != 0) return std::nullopt;
  const uint8_t* g = value.data() + 1;
  // SMBIOS 2.6+ / RFC 4578: time_low, time_mid and time_hi_and_version are little-endian.
  char text[37];
  std::snprintf(text, sizeof(text),
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", g[3], g[2],
                g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13], g[14],
                g[15]);
  return std::string(text);
}

boot::ClientInfo ClassifyClient(const DhcpPacket& packet) {
  boot::ClientInfo info;
  info.mac = packet.mac();
  if (const Bytes* arch = packet.Find(opt::kClientArch); arch && arch->size() >= 2) {
    // RFC 4578 §2.1: a list of 16-bit types; the first is the one in use.
    info.arch = static_cast<uint16_t>(((*arch)[0] << 8) | (*arch)[1]);
  }
  if (auto vc = packet.GetString(opt::kVendorClass)) info.vendor_class = *vc;
  info.is_pxe = info.vendor_class.starts_with("PXEClient");
  info.is_http_boot = info.vendor_class.starts_with("HTTPClient");
  bool user_class_ipxe = false;
  if (const Bytes* uc = packet.Find(opt::kUserClass)) {
    std::vector<std::string> classes = DecodeUserClass(*uc);
    for (size_t i = 0; i < classes.size(); ++i) {
      if (i > 0) info.user_class += ',';
      info.user_class += classes[i];
      if (classes[i] == "iPXE") user_class_ipxe = true;
    }
  }
  if (const Bytes* uuid = packet.Find(opt::kClientUuid)) info.uuid = DecodeClientUuid(*uuid);
  info.is_ipxe = packet.Has(opt::kIpxeEncapsulated) || user_class_ipxe;
  info.max_message_size = packet.GetU16(opt::kMaxMessageSize);
  if (auto host = packet.GetString(opt::kHostname)) info.hostname = *host;
  return info;
}

std::string ClientLabel(const DhcpPacket& packet) {
  char xid[16];
  std::snprintf(xid, sizeof(xid), "0x%08x", packet.xid);
  return "mac=" + packet.mac().ToString() + " xid=" + xid;
}

}  // namespace paddock::dhcp
