#include "boot/policy.h"

namespace paddock::boot {
namespace {

const std::string* FileFor(const BootFiles& files, Firmware fw) {
  switch (fw) {
    case Firmware::kBios:
      return &files.bios;
    case Firmware::kEfi32:
      return &files.efi32;
    case Firmware::kEfi64:
      return &files.efi64;
    case Firmware::kArm64:
      return &files.arm64;
    case Firmware::kUnknown:
      return nullptr;
  }
  return nullptr;
}

}  // namespace

std::string ChainScriptUrl(Ipv4Address server, uint16_t http_port) {
  return "http://" + server.ToString() + ":" + std::to_string(http_port) + "/boot.ipxe";
}

BootDecision DecideBoot(const PolicyInput& input, const ClientInfo& client) {
  BootDecision d;
  d.next_server = input.server;
  if (client.is_ipxe) {
    // Any iPXE, ROM or chainloaded, gets the script URL; handing it an iPXE binary again
    // would loop (captures/dhcp-decoded-undionly-loop.txt).
    d.action = BootAction::kIpxeScript;
    d.filename = ChainScriptUrl(input.server, input.http_port);
    d.vendor_class = "PXEClient";
    d.ipxe_no_pxedhcp = input.role == DhcpRole::kFull;
    return d;
  }
  const std::string* file = FileFor(input.files, client.firmware());
  if (client.is_http_boot) {
    // UEFI HTTP Boot (RFC 4578 arch 16/19): the firmware fetches an EFI binary by URL. It must
    // echo "HTTPClient" in option 60 or the firmware ignores the offer (UEFI spec 2.x §24.7).
    if (file == nullptr || file->empty()) return BootDecision{};
    d.action = BootAction::kHttpBoot;
    d.filename = "http://" + input.server.ToString() + ":" + std::to_string(input.http_port) +
                 "/tftp/" + *file;
    d.vendor_class = "HTTPClient";
    return d;
  }
  if (client.is_pxe) {
    if (file == nullptr || file->empty()) return BootDecision{};
    d.action = BootAction::kTftpFile;
    d.filename = *file;
    d.vendor_class = "PXEClient";
    return d;
  }
  return BootDecision{};
}

}  // namespace paddock::boot
