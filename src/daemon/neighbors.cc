#include "daemon/neighbors.h"

#include <fstream>
#include <sstream>

namespace paddock::daemon {

std::optional<MacAddress> FindInArpTable(const std::string& table, Ipv4Address ip) {
  // Format: "IP address  HW type  Flags  HW address  Mask  Device", one header line.
  std::istringstream in(table);
  std::string line;
  std::getline(in, line);
  const std::string wanted = ip.ToString();
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string addr, hwtype, flags, hwaddr;
    if (!(fields >> addr >> hwtype >> flags >> hwaddr)) continue;
    if (addr != wanted) continue;
    // Flags 0x2 = ATF_COM: the entry is complete (an incomplete one has a zero address).
    if (std::stoul(flags, nullptr, 16) & 0x2) {
      auto mac = MacAddress::Parse(hwaddr);
      if (mac && !mac->IsZero()) return mac;
    }
  }
  return std::nullopt;
}

std::optional<MacAddress> LookupNeighbor(Ipv4Address ip) {
  std::ifstream f("/proc/net/arp");
  if (!f) return std::nullopt;
  std::stringstream buf;
  buf << f.rdbuf();
  return FindInArpTable(buf.str(), ip);
}

}  // namespace paddock::daemon
