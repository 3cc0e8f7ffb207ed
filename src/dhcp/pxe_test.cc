#include "dhcp/pxe.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "testutil/pcap.h"

namespace paddock::dhcp {
namespace {

// What the decoded text (written by a separate decoder when the captures were made) says about
// one client request.
struct DecodedRequest {
  std::string file;
  uint32_t xid = 0;
  std::string type;
  std::string mac;
  std::optional<uint16_t> arch;
  std::string vendor_class;
  std::string user_class;
  std::optional<std::string> uuid;
  bool has_175 = false;
};

std::vector<DecodedRequest> ReadDecodedRequests() {
  std::vector<DecodedRequest> out;
  const std::regex header(R"(^--- \S+ \S+ -> \S+ request (\w+) xid=0x([0-9a-f]+))");
  const std::regex chaddr(R"(chaddr=([0-9a-f:]+))");
  const std::regex arch(R"(^\s+93 client-arch\s+len=\d+\s+(\d+))");
  const std::regex vc(R"(^\s+60 vendor-class\s+len=\d+\s+'(.*)'$)");
  const std::regex uc(R"(^\s+77 user-class\s+len=\d+\s+.*'(.*)')");
  const std::regex uuid(R"(\$\{uuid\} = ([0-9a-f-]{36}))");
  const std::regex ipxe(R"(^\s+175 ipxe-encap)");
  for (const auto& e : std::filesystem::directory_iterator(PADDOCK_CAPTURES_DIR)) {
    std::string name = e.path().filename().string();
    if (!name.starts_with("dhcp-decoded-")) continue;
    std::ifstream in(e.path());
    std::string line;
    DecodedRequest* cur = nullptr;
    std::smatch m;
    while (std::getline(in, line)) {
      if (line.starts_with("---")) {
        cur = nullptr;
        if (std::regex_search(line, m, header)) {
          out.push_back({});
          cur = &out.back();
          cur->file = name;
          cur->type = m[1];
          cur->xid = static_cast<uint32_t>(std::stoul(m[2], nullptr, 16));
        }
        continue;
      }
      if (cur == nullptr) continue;
      if (std::regex_search(line, m, chaddr) && cur->mac.empty()) cur->mac = m[1];
      if (std::regex_search(line, m, arch)) cur->arch = static_cast<uint16_t>(std::stoi(m[1]));
      if (std::regex_search(line, m, vc)) cur->vendor_class = m[1];
      if (std::regex_search(line, m, uc)) cur->user_class = m[1];
      if (line.find(" 97 client-uuid") != std::string::npos && std::regex_search(line, m, uuid)) {
        cur->uuid = m[1];
      }
      if (std::regex_search(line, m, ipxe)) cur->has_175 = true;
    }
  }
  return out;
}

std::multimap<uint32_t, DhcpPacket> CapturedRequestsByXid() {
  std::multimap<uint32_t, DhcpPacket> out;
  for (const auto& e : std::filesystem::directory_iterator(PADDOCK_CAPTURES_DIR)) {
    if (e.path().extension() != ".pcap") continue;
    for (const auto& d : testing::ReadUdpFromPcap(e.path().string())) {
      if (d.dst_port != 67 && d.dst_port != 4011) continue;
      auto p = ParseDhcpPacket(d.payload);
      if (p && p->op == kBootRequest) out.emplace(p->xid, *p);
    }
  }
  return out;
}

// The classifier's view of each captured request agrees with the independent decode.
TEST(ClassifyClientTest, AgreesWithDecodedCaptures) {
  auto decoded = ReadDecodedRequests();
  auto packets = CapturedRequestsByXid();
  ASSERT_GT(decoded.size(), 20u);
  int compared = 0, with_uuid = 0, ipxe = 0, plain_pxe = 0;
  for (const DecodedRequest& want : decoded) {
    auto range = packets.equal_range(want.xid);
    for (auto it = range.first; it != range.second; ++it) {
      const DhcpPacket& p = it->second;
      if (!p.message_type() || MessageTypeName(*p.message_type()) != want.type) continue;
      if (p.mac().ToString() != want.mac) continue;
      SCOPED_TRACE(want.file + " " + ClientLabel(p));
      boot::ClientInfo info = ClassifyClient(p);
      EXPECT_EQ(info.mac.ToString(), want.mac);
      EXPECT_EQ(info.arch, want.arch);
      EXPECT_EQ(info.vendor_class, want.vendor_class);
      EXPECT_EQ(info.user_class, want.user_class);
      EXPECT_EQ(info.uuid, want.uuid);
      EXPECT_EQ(info.is_pxe, want.vendor_class.starts_with("PXEClient"));
      EXPECT_EQ(info.is_ipxe, want.has_175 || want.user_class == "iPXE");
      ++compared;
      with_uuid += info.uuid.has_value();
      ipxe += info.is_ipxe;
      plain_pxe += info.is_pxe && !info.is_ipxe;
    }
  }
  // Most decoded requests live in a pcap (the loop capture has no pcap of its own).
  EXPECT_GT(compared, 15);
  EXPECT_GT(with_uuid, 5);
  EXPECT_GT(ipxe, 5);
  EXPECT_GT(plain_pxe, 2);
}

TEST(ClassifyClientTest, UserClassBothForms) {
  EXPECT_EQ(DecodeUserClass(AsBytes("iPXE")), std::vector<std::string>{"iPXE"});
  Bytes rfc3004 = {4, 'i', 'P', 'X', 'E', 3, 'f', 'o', 'o'};
  EXPECT_EQ(DecodeUserClass(rfc3004), (std::vector<std::string>{"iPXE", "foo"}));
  // A length byte that overruns means it was not RFC 3004 after all.
  Bytes raw = {5, 'a', 'b'};
  EXPECT_EQ(DecodeUserClass(raw).size(), 1u);

  DhcpPacket p;
  p.Set(opt::kUserClass, rfc3004);
  auto info = ClassifyClient(p);
  EXPECT_TRUE(info.is_ipxe);
  EXPECT_EQ(info.user_class, "iPXE,foo");
  p.Set(opt::kUserClass, Bytes{3, 'f', 'o', 'o'});
  EXPECT_FALSE(ClassifyClient(p).is_ipxe);
}

TEST(ClassifyClientTest, UuidIsSmbiosOrder) {
  // QEMU -uuid 3289aff7-4d07-431f-ba11-ea0a214d7b8e arrives as f7 af 89 32 07 4d 1f 43 ba 11 ..
  Bytes v = {0,    0xf7, 0xaf, 0x89, 0x32, 0x07, 0x4d, 0x1f, 0x43,
             0xba, 0x11, 0xea, 0x0a, 0x21, 0x4d, 0x7b, 0x8e};
  EXPECT_EQ(DecodeClientUuid(v), "3289aff7-4d07-431f-ba11-ea0a214d7b8e");
  v[0] = 1;
  EXPECT_FALSE(DecodeClientUuid(v).has_value());
  EXPECT_FALSE(DecodeClientUuid(ByteSpan(v).subspan(0, 16)).has_value());
}

TEST(ClassifyClientTest, HttpBootAndOtherFields) {
  DhcpPacket p;
  p.set_mac(*MacAddress::Parse("52:54:00:aa:bb:cc"));
  p.xid = 0x1234;
  p.SetString(opt::kVendorClass, "HTTPClient:Arch:00016:UNDI:003001");
  p.Set(opt::kClientArch, Bytes{0, 16, 0, 7});
  p.SetU16(opt::kMaxMessageSize, 1472);
  p.SetString(opt::kHostname, "node1");
  auto info = ClassifyClient(p);
  EXPECT_TRUE(info.is_http_boot);
  EXPECT_FALSE(info.is_pxe);
  EXPECT_EQ(info.arch, 16);
  EXPECT_EQ(info.max_message_size, 1472);
  EXPECT_EQ(info.hostname, "node1");
  EXPECT_FALSE(info.uuid.has_value());
  EXPECT_EQ(ClientLabel(p), "mac=52:54:00:aa:bb:cc xid=0x00001234");
}

}  // namespace
}  // namespace paddock::dhcp
