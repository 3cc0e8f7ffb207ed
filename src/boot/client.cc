#include "boot/client.h"

namespace paddock::boot {

Firmware FirmwareOf(uint16_t arch) {
  switch (arch) {
    case 0:
      return Firmware::kBios;
    case 6:
      return Firmware::kEfi32;
    case 7:
    case 9:
    case 16:
      return Firmware::kEfi64;
    case 11:
    case 19:
      return Firmware::kArm64;
    default:
      return Firmware::kUnknown;
  }
}

const char* FirmwareName(Firmware f) {
  switch (f) {
    case Firmware::kBios:
      return "bios";
    case Firmware::kEfi32:
      return "efi32";
    case Firmware::kEfi64:
      return "efi64";
    case Firmware::kArm64:
      return "arm64";
    case Firmware::kUnknown:
      return "unknown";
  }
  return "unknown";
}

}  // namespace paddock::boot
