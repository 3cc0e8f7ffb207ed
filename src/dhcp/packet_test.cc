#include "dhcp/packet.h"

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "testutil/pcap.h"

namespace paddock::dhcp {
namespace {

std::vector<std::string> CapturePcaps() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(PADDOCK_CAPTURES_DIR)) {
    if (e.path().extension() == ".pcap") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool IsDhcpPort(uint16_t port) { return port == 67 || port == 68 || port == 4011; }

// Every DHCP datagram in every capture parses, and serializing the parsed value yields a packet
// that parses back to the same header and options.
TEST(DhcpPacketTest, ParsesEveryCapturedDatagramAndRoundTrips) {
  int parsed = 0;
  for (const std::string& path : CapturePcaps()) {
    for (const auto& d : testing::ReadUdpFromPcap(path)) {
      if (!IsDhcpPort(d.src_port) && !IsDhcpPort(d.dst_port)) continue;
      SCOPED_TRACE(path);
      auto p = ParseDhcpPacket(d.payload);
      ASSERT_TRUE(p.has_value()) << p.error().ToString();
      ASSERT_TRUE(p->message_type().has_value());
      if (d.dst_port == 67) {
        EXPECT_EQ(p->op, kBootRequest);
      }
      if (d.dst_port == 68) {
        EXPECT_EQ(p->op, kBootReply);
      }
      Bytes again = SerializeDhcpPacket(*p, 1500);
      EXPECT_GE(again.size(), kBootpMinimumSize);
      auto q = ParseDhcpPacket(again);
      ASSERT_TRUE(q.has_value()) << q.error().ToString();
      EXPECT_EQ(q->xid, p->xid);
      EXPECT_EQ(q->flags, p->flags);
      EXPECT_EQ(q->ciaddr, p->ciaddr);
      EXPECT_EQ(q->yiaddr, p->yiaddr);
      EXPECT_EQ(q->siaddr, p->siaddr);
      EXPECT_EQ(q->giaddr, p->giaddr);
      EXPECT_EQ(q->chaddr, p->chaddr);
      EXPECT_EQ(q->file, p->file);
      EXPECT_EQ(q->sname, p->sname);
      ASSERT_EQ(q->options.size(), p->options.size());
      for (size_t i = 0; i < p->options.size(); ++i) {
        EXPECT_EQ(q->options[i].code, p->options[i].code);
        EXPECT_EQ(q->options[i].data, p->options[i].data);
      }
      ++parsed;
    }
  }
  // The captures hold dozens of DHCP packets; a broken reader would find none.
  EXPECT_GT(parsed, 40);
}

TEST(DhcpPacketTest, RepliesFromTheCapturedServerDecode) {
  // bios-http-dhcp.pcap: the OFFER dnsmasq sent has yiaddr, siaddr, option 54 and 175.
  auto datagrams =
      testing::ReadUdpFromPcap(std::string(PADDOCK_CAPTURES_DIR) + "/bios-http-dhcp.pcap");
  bool saw_offer = false;
  for (const auto& d : datagrams) {
    auto p = ParseDhcpPacket(d.payload);
    ASSERT_TRUE(p.has_value());
    if (p->message_type() != MessageType::kOffer || !p->Has(opt::kIpxeEncapsulated)) continue;
    saw_offer = true;
    EXPECT_EQ(p->op, kBootReply);
    EXPECT_EQ(p->yiaddr.value() & 0xffffff00u, Ipv4Address::Parse("198.18.0.0")->value());
    EXPECT_EQ(p->GetIp(opt::kServerId), p->siaddr);
    EXPECT_EQ(p->GetString(opt::kBootfileName), "http://198.18.0.1:8080/boot.ipxe");
    // dnsmasq encodes 175 as sub-option 176 = 1 followed by an end byte.
    EXPECT_EQ(*p->Find(opt::kIpxeEncapsulated), (Bytes{ipxe::kNoPxeDhcp, 1, 1, 0xff}));
  }
  EXPECT_TRUE(saw_offer);
}

Bytes MinimalPacket(std::initializer_list<uint8_t> options) {
  DhcpPacket p;
  Bytes b = SerializeDhcpPacket(p);
  b.resize(kFixedHeaderSize + 4);  // header + cookie only
  b.insert(b.end(), options.begin(), options.end());
  return b;
}

TEST(DhcpPacketTest, RejectsMalformed) {
  EXPECT_FALSE(ParseDhcpPacket(Bytes(100, 0)).has_value());
  Bytes no_cookie = MinimalPacket({255});
  no_cookie[kFixedHeaderSize] = 0;
  EXPECT_FALSE(ParseDhcpPacket(no_cookie).has_value());
  // Option length runs past the end.
  EXPECT_FALSE(ParseDhcpPacket(MinimalPacket({53, 5, 1})).has_value());
  // Length byte missing.
  EXPECT_FALSE(ParseDhcpPacket(MinimalPacket({53})).has_value());
  // Bad overload value.
  EXPECT_FALSE(ParseDhcpPacket(MinimalPacket({52, 1, 9, 255})).has_value());
  // hlen > 16.
  Bytes bad_hlen = MinimalPacket({255});
  bad_hlen[2] = 17;
  EXPECT_FALSE(ParseDhcpPacket(bad_hlen).has_value());
}

TEST(DhcpPacketTest, PadAndMissingEndAreTolerated) {
  auto p = ParseDhcpPacket(MinimalPacket({0, 0, 53, 1, 1, 0, 12, 3, 'a', 'b', 'c'}));
  ASSERT_TRUE(p.has_value()) << p.error().ToString();
  EXPECT_EQ(p->message_type(), MessageType::kDiscover);
  EXPECT_EQ(p->GetString(opt::kHostname), "abc");
}

TEST(DhcpPacketTest, RepeatedOptionsConcatenate) {
  // RFC 3396 §7: two instances of option 12 form one value.
  auto p = ParseDhcpPacket(MinimalPacket({12, 2, 'a', 'b', 53, 1, 3, 12, 1, 'c', 255}));
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->GetString(opt::kHostname), "abc");
  ASSERT_EQ(p->options.size(), 2u);
  EXPECT_EQ(p->options[0].code, opt::kHostname);
}

TEST(DhcpPacketTest, OverloadedFileAndSnameCarryOptions) {
  DhcpPacket base;
  Bytes b = SerializeDhcpPacket(base);
  // file field at 108, sname at 44: put option 12 "fi" in file and option 15 "sn" in sname.
  const size_t sname_at = 44, file_at = 108;
  Bytes in_file = {12, 2, 'f', 'i', 255};
  Bytes in_sname = {15, 2, 's', 'n', 255};
  std::copy(in_file.begin(), in_file.end(), b.begin() + file_at);
  std::copy(in_sname.begin(), in_sname.end(), b.begin() + sname_at);
  b.resize(kFixedHeaderSize + 4);
  for (uint8_t v : Bytes{53, 1, 1, 52, 1, 3, 12, 1, 'x', 255}) b.push_back(v);
  auto p = ParseDhcpPacket(b);
  ASSERT_TRUE(p.has_value()) << p.error().ToString();
  // Options field first, then file (RFC 2131 §4.1).
  EXPECT_EQ(p->GetString(opt::kHostname), "xfi");
  EXPECT_EQ(p->GetString(opt::kDomainName), "sn");
  EXPECT_EQ(p->file, "");
  EXPECT_EQ(p->sname, "");
  EXPECT_FALSE(p->Has(opt::kOverload));
}

TEST(DhcpPacketTest, LongOptionsSplitAndRejoin) {
  DhcpPacket p;
  p.SetU8(opt::kMessageType, 2);
  Bytes big(600);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i);
  p.Set(opt::kVendorSpecific, big);
  Bytes wire = SerializeDhcpPacket(p, 1500);
  EXPECT_LE(wire.size(), 1500u);
  auto q = ParseDhcpPacket(wire);
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(*q->Find(opt::kVendorSpecific), big);
}

TEST(DhcpPacketTest, PadsToBootpMinimumAndRespectsMaxSize) {
  DhcpPacket p;
  p.SetU8(opt::kMessageType, 2);
  EXPECT_EQ(SerializeDhcpPacket(p).size(), kBootpMinimumSize);

  // 400 bytes of options cannot fit 576 - 241; the codec overloads file and sname.
  DhcpPacket big;
  big.SetU8(opt::kMessageType, 5);
  big.SetIp(opt::kServerId, Ipv4Address(0xc6120001));
  for (uint8_t code = 200; code < 204; ++code) big.Set(code, Bytes(95, code));
  Bytes wire = SerializeDhcpPacket(big, 576);
  EXPECT_LE(wire.size(), 576u);
  auto q = ParseDhcpPacket(wire);
  ASSERT_TRUE(q.has_value()) << q.error().ToString();
  EXPECT_EQ(q->message_type(), MessageType::kAck);
  EXPECT_EQ(q->GetIp(opt::kServerId), Ipv4Address(0xc6120001));
  for (uint8_t code = 200; code < 204; ++code) {
    ASSERT_TRUE(q->Has(code)) << int(code);
    EXPECT_EQ(*q->Find(code), Bytes(95, code));
  }

  // Far too much: the essentials at the front survive, the rest is dropped, never oversize.
  for (uint8_t code = 210; code < 220; ++code) big.Set(code, Bytes(200, code));
  wire = SerializeDhcpPacket(big, 576);
  EXPECT_LE(wire.size(), 576u);
  q = ParseDhcpPacket(wire);
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->message_type(), MessageType::kAck);
  EXPECT_FALSE(q->Has(219));
}

TEST(DhcpPacketTest, TypedAccessors) {
  DhcpPacket p;
  p.SetIpList(opt::kDnsServers, {Ipv4Address(1), Ipv4Address(2)});
  p.SetU16(opt::kMaxMessageSize, 1472);
  p.SetU32(opt::kLeaseTime, 600);
  EXPECT_EQ(p.GetIpList(opt::kDnsServers)->size(), 2u);
  EXPECT_EQ(p.GetU16(opt::kMaxMessageSize), 1472);
  EXPECT_EQ(p.GetU32(opt::kLeaseTime), 600u);
  EXPECT_FALSE(p.GetU16(opt::kLeaseTime).has_value());  // wrong width
  p.SetU32(opt::kLeaseTime, 700);                       // replaced in place
  EXPECT_EQ(p.options.size(), 3u);
  EXPECT_EQ(p.options[2].code, opt::kLeaseTime);
  p.Remove(opt::kDnsServers);
  EXPECT_FALSE(p.Has(opt::kDnsServers));
}

}  // namespace
}  // namespace paddock::dhcp
