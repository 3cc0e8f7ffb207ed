#pragma once

// What a booting client told us about itself in its DHCP request, reduced to the facts the boot
// policy needs. dhcp/ fills it from a packet (dhcp/pxe.h); boot/ decides from it. Pure data.

#include <cstdint>
#include <optional>
#include <string>

#include "common/net.h"

namespace paddock::boot {

// RFC 4578 §2.1 client system architecture (DHCP option 93), as registered by IANA.
enum class ClientArch : uint16_t {
  kBios = 0,         // Intel x86PC
  kEfiIa32 = 6,      // EFI IA32
  kEfiX64 = 7,       // EFI BC (x86-64 in practice; what OVMF and iPXE EFI send)
  kEfiX64Alt = 9,    // EFI x86-64 (RFC 4578 errata)
  kEfiArm32 = 10,    // ARM 32-bit UEFI
  kEfiArm64 = 11,    // ARM 64-bit UEFI
  kEfiX64Http = 16,  // x64 UEFI HTTP boot
  kEfiArm64Http = 19,
};

// The firmware families the boot policy maps to binaries ("bios", "efi32", "efi64", "arm64").
enum class Firmware { kBios, kEfi32, kEfi64, kArm64, kUnknown };

Firmware FirmwareOf(uint16_t arch);
// "bios", "efi32", "efi64", "arm64", "unknown": the names used in config and selectors.
const char* FirmwareName(Firmware f);

struct ClientInfo {
  MacAddress mac;
  std::optional<uint16_t> arch;     // option 93, first entry
  std::string vendor_class;         // option 60, e.g. "PXEClient:Arch:00007:UNDI:003010"
  std::string user_class;           // option 77, both raw "iPXE" and RFC 3004 forms decoded
  std::optional<std::string> uuid;  // option 97, canonical text form (SMBIOS byte order fixed)
  bool is_pxe = false;              // vendor class starts with "PXEClient"
  bool is_http_boot = false;        // vendor class starts with "HTTPClient"
  bool is_ipxe = false;             // option 175 present or user class "iPXE"
  std::optional<uint16_t> max_message_size;  // option 57
  std::string hostname;                      // option 12

  Firmware firmware() const { return arch ? FirmwareOf(*arch) : Firmware::kBios; }
};

}  // namespace paddock::boot
