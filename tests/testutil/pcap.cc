#include "testutil/pcap.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

namespace paddock::testing {
namespace {

[[noreturn]] void Fail(const std::string& path, const char* what) {
  std::fprintf(stderr, "pcap %s: %s\n", path.c_str(), what);
  std::abort();
}

uint32_t Le32(const uint8_t* p) {
  return p[0] | (p[1] << 8) | (p[2] << 16) | (uint32_t(p[3]) << 24);
}
uint32_t Be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
}
uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

}  // namespace

std::vector<UdpDatagram> ReadUdpFromPcap(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail(path, "cannot open");
  std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() < 24) Fail(path, "too short");
  uint32_t magic = Le32(data.data());
  bool swapped;
  if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d) {
    swapped = false;
  } else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1) {
    swapped = true;
  } else {
    Fail(path, "not a pcap file");
  }
  auto u32 = [&](const uint8_t* p) { return swapped ? Be32(p) : Le32(p); };
  uint32_t linktype = u32(data.data() + 20);
  std::vector<UdpDatagram> out;
  size_t pos = 24;
  while (pos + 16 <= data.size()) {
    uint32_t caplen = u32(data.data() + pos + 8);
    pos += 16;
    if (pos + caplen > data.size()) break;
    const uint8_t* frame = data.data() + pos;
    size_t len = caplen;
    pos += caplen;
    size_t l3;
    uint16_t ethertype;
    if (linktype == 1) {  // Ethernet
      if (len < 14) continue;
      ethertype = Be16(frame + 12);
      l3 = 14;
      if (ethertype == 0x8100 && len >= 18) {
        ethertype = Be16(frame + 16);
        l3 = 18;
      }
    } else if (linktype == 113) {  // Linux cooked (SLL)
      if (len < 16) continue;
      ethertype = Be16(frame + 14);
      l3 = 16;
    } else {
      Fail(path, "unsupported link type");
    }
    if (ethertype != 0x0800 || len < l3 + 20) continue;
    const uint8_t* ip = frame + l3;
    size_t ihl = (ip[0] & 0x0f) * 4;
    if (ip[9] != 17 || len < l3 + ihl + 8) continue;
    const uint8_t* udp = ip + ihl;
    uint16_t udp_len = Be16(udp + 4);
    if (udp_len < 8 || l3 + ihl + udp_len > len) continue;
    UdpDatagram d;
    d.src_ip = Be32(ip + 12);
    d.dst_ip = Be32(ip + 16);
    d.src_port = Be16(udp);
    d.dst_port = Be16(udp + 2);
    d.payload.assign(udp + 8, udp + udp_len);
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace paddock::testing
