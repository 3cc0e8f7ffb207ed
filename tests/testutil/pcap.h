#pragma once

// Reads UDP datagrams out of a classic libpcap file (Ethernet or Linux cooked captures, IPv4),
// so codec tests can use real packets from tests/data/captures/. Test-only code.

#include <cstdint>
#include <string>
#include <vector>

namespace paddock::testing {

struct UdpDatagram {
  uint32_t src_ip = 0;  // host order
  uint32_t dst_ip = 0;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  std::vector<uint8_t> payload;
};

// Every IPv4/UDP datagram in the file, in capture order. Aborts the test binary (with a
// message) if the file cannot be read or is not a pcap file.
std::vector<UdpDatagram> ReadUdpFromPcap(const std::string& path);

}  // namespace paddock::testing
