#pragma once

// Boot policy: given what a client said in its DHCP request, which file or URL it gets.
// Pure: no sockets, no state. Called by the DHCP server for every PXE/iPXE/HTTP-boot request.
//
//   plain PXE firmware (no iPXE)  -> an iPXE binary over TFTP, chosen by option 93
//                                    (bios: undionly.kpxe, efi64: ipxe.efi or snponly.efi, ...)
//   iPXE (option 175 or user class "iPXE") -> the HTTP URL of /boot.ipxe (no boot loop)
//   UEFI HTTP Boot (vendor class "HTTPClient") -> an HTTP URL of the EFI binary directly
//   anything else (a plain DHCP client, e.g. the booted node's udhcpc) -> no boot file

#include <string>

#include "boot/client.h"
#include "common/net.h"

namespace paddock::boot {

// Which iPXE binary each firmware family gets over TFTP (file names relative to the TFTP
// root). Defaults are the files of Debian's `ipxe` package (/usr/lib/ipxe).
struct BootFiles {
  std::string bios = "undionly.kpxe";
  std::string efi32 = "ipxe.efi";
  std::string efi64 = "ipxe.efi";
  std::string arm64 = "";  // empty: this family is not served
};

enum class DhcpRole { kFull, kProxy };

struct PolicyInput {
  BootFiles files;
  Ipv4Address server;  // our address on the boot network (siaddr, URLs)
  uint16_t http_port = 8080;
  DhcpRole role = DhcpRole::kFull;
};

enum class BootAction {
  kNone,        // not a boot client (or an unserved arch): answer without boot options
  kTftpFile,    // filename is a TFTP path (iPXE binary)
  kIpxeScript,  // filename is the http:// URL of the iPXE chain script
  kHttpBoot,    // filename is an http:// URL for UEFI HTTP Boot
};

struct BootDecision {
  BootAction action = BootAction::kNone;
  std::string filename;     // goes in option 67 and the BOOTP file field
  Ipv4Address next_server;  // siaddr; never zero when action != kNone (iPXE needs it)
  // Option 60 in the reply: "PXEClient" for PXE/iPXE, "HTTPClient" for HTTP Boot, else empty.
  std::string vendor_class;
  // Send iPXE option 175.176 (no-pxedhcp = 1) so iPXE skips its 3 s proxyDHCP wait. Only in
  // full DHCP mode, only to iPXE clients.
  bool ipxe_no_pxedhcp = false;
};

BootDecision DecideBoot(const PolicyInput& input, const ClientInfo& client);

// The URL iPXE clients chain to: "http://<server>:<port>/boot.ipxe".
std::string ChainScriptUrl(Ipv4Address server, uint16_t http_port);

}  // namespace paddock::boot
