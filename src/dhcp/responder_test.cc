#include "dhcp/responder.h"

#include <cstdio>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "dhcp/pxe.h"
#include "testutil/pcap.h"

namespace paddock::dhcp {
namespace {

Ipv4Address Ip(const char* s) { return *Ipv4Address::Parse(s); }

// The first request of `type` (sent to `port`) in a capture.
DhcpPacket Captured(const char* pcap, MessageType type, uint16_t port = 67, int nth = 0) {
  for (const auto& d : testing::ReadUdpFromPcap(std::string(PADDOCK_CAPTURES_DIR) + "/" + pcap)) {
    if (d.dst_port != port) continue;
    auto p = ParseDhcpPacket(d.payload);
    if (p && p->op == kBootRequest && p->message_type() == type && nth-- == 0) return *p;
  }
  ADD_FAILURE() << "no such packet in " << pcap;
  return {};
}

ServerOptions FullOptions() {
  ServerOptions o;
  o.mode = Mode::kFull;
  o.server_address = Ip("198.18.0.1");
  o.policy.server = o.server_address;
  o.policy.http_port = 8080;
  SubnetOptions local;
  local.range = {Ip("198.18.0.100"), Ip("198.18.0.199"), Ip("255.255.255.0")};
  local.router = Ip("198.18.0.1");
  local.dns = {Ip("198.18.0.53")};
  local.domain = "lab.test";
  SubnetOptions remote;
  remote.range = {Ip("198.19.7.10"), Ip("198.19.7.20"), Ip("255.255.255.0")};
  remote.router = Ip("198.19.7.1");
  o.subnets = {local, remote};
  o.lease_seconds = 600;
  return o;
}

class ResponderTest : public ::testing::Test {
 protected:
  void SetUpMode(ServerOptions o) {
    options_ = o;
    pool_ = std::make_unique<LeasePool>(clock_, MakeLeasePoolOptions(o));
    responder_ = std::make_unique<Responder>(o, pool_.get(), clock_);
  }
  // Serializes and parses the reply, as a client would see it.
  DhcpPacket Wire(const Response& r) {
    Bytes b = SerializeDhcpPacket(r.packet, r.max_size);
    EXPECT_LE(b.size(), r.max_size);
    auto p = ParseDhcpPacket(b);
    EXPECT_TRUE(p.has_value());
    return p.value_or(DhcpPacket{});
  }

  FakeClock clock_;
  ServerOptions options_;
  std::unique_ptr<LeasePool> pool_;
  std::unique_ptr<Responder> responder_;
};

TEST_F(ResponderTest, IpxeBiosDoraInFullMode) {
  SetUpMode(FullOptions());
  DhcpPacket discover = Captured("bios-http-dhcp.pcap", MessageType::kDiscover);
  Outcome o = responder_->Handle(discover, {67, Ip("0.0.0.0"), 68});
  ASSERT_TRUE(o.reply.has_value()) << o.note;
  EXPECT_EQ(o.reply->to, (Destination{Ipv4Address::Broadcast(), 68}));
  EXPECT_EQ(o.reply->max_size, 1472u);  // the client's option 57
  DhcpPacket offer = Wire(*o.reply);
  EXPECT_EQ(offer.message_type(), MessageType::kOffer);
  EXPECT_EQ(offer.xid, discover.xid);
  EXPECT_EQ(offer.mac(), discover.mac());
  EXPECT_TRUE(options_.subnets[0].range.InRange(offer.yiaddr));
  EXPECT_EQ(offer.siaddr, Ip("198.18.0.1"));
  EXPECT_EQ(offer.GetIp(opt::kServerId), Ip("198.18.0.1"));
  EXPECT_EQ(offer.file, "http://198.18.0.1:8080/boot.ipxe");
  EXPECT_EQ(offer.GetString(opt::kBootfileName), offer.file);
  EXPECT_EQ(offer.GetString(opt::kVendorClass), "PXEClient");
  EXPECT_EQ(*offer.Find(opt::kIpxeEncapsulated), (Bytes{0xb0, 1, 1}));
  EXPECT_EQ(*offer.Find(opt::kClientUuid), *discover.Find(opt::kClientUuid));
  EXPECT_EQ(*offer.Find(opt::kClientId), *discover.Find(opt::kClientId));
  EXPECT_EQ(offer.GetU32(opt::kLeaseTime), 600u);
  EXPECT_EQ(offer.GetU32(opt::kRenewalTime), 300u);
  EXPECT_EQ(offer.GetU32(opt::kRebindingTime), 525u);
  EXPECT_EQ(offer.GetIp(opt::kSubnetMask), Ip("255.255.255.0"));
  EXPECT_EQ(offer.GetIp(opt::kRouter), Ip("198.18.0.1"));
  EXPECT_EQ(offer.GetIp(opt::kBroadcastAddress), Ip("198.18.0.255"));
  EXPECT_EQ(offer.GetString(opt::kDomainName), "lab.test");
  EXPECT_TRUE(o.leases_to_save.empty());  // offers are not persisted
  ASSERT_EQ(o.events.size(), 1u);
  EXPECT_EQ(o.events[0].phase, "dhcp.discover");
  EXPECT_EQ(o.reply->event.phase, "dhcp.offer");

  // The captured REQUEST (selecting dnsmasq's 198.18.0.1 with the address it had offered).
  DhcpPacket request = Captured("bios-http-dhcp.pcap", MessageType::kRequest);
  o = responder_->Handle(request, {67, Ip("0.0.0.0"), 68});
  ASSERT_TRUE(o.reply.has_value()) << o.note;
  DhcpPacket ack = Wire(*o.reply);
  EXPECT_EQ(ack.message_type(), MessageType::kAck);
  EXPECT_EQ(ack.yiaddr, request.GetIp(opt::kRequestedIp));
  EXPECT_EQ(ack.file, "http://198.18.0.1:8080/boot.ipxe");
  ASSERT_EQ(o.leases_to_save.size(), 1u);
  EXPECT_EQ(o.leases_to_save[0].state, LeaseState::kBound);
  EXPECT_EQ(o.leases_to_save[0].ip, ack.yiaddr);
  auto detail = nlohmann::json::parse(o.reply->event.detail);
  EXPECT_EQ(detail["ip"], ack.yiaddr.ToString());
  EXPECT_EQ(detail["arch"], 0);
  EXPECT_EQ(detail["user_class"], "iPXE");
  EXPECT_EQ(detail["relayed"], false);
  EXPECT_EQ(detail["uuid"], "ddd68a5f-a3e9-4f1f-9285-43d483c1bab2");
}

TEST_F(ResponderTest, OvmfNativeGetsIpxeEfiWithoutIpxeOption) {
  SetUpMode(FullOptions());
  DhcpPacket discover = Captured("uefi-native-dhcp.pcap", MessageType::kDiscover);
  Outcome o = responder_->Handle(discover, {67, Ip("0.0.0.0"), 68});
  ASSERT_TRUE(o.reply.has_value());
  DhcpPacket offer = Wire(*o.reply);
  EXPECT_EQ(offer.file, "ipxe.efi");
  EXPECT_FALSE(offer.Has(opt::kIpxeEncapsulated));
  EXPECT_TRUE(offer.broadcast_flag());
}

TEST_F(ResponderTest, PlainClientGetsNoBootOptions) {
  SetUpMode(FullOptions());
  // The udhcpc DISCOVER of the booted node (second DISCOVER in the BIOS capture).
  DhcpPacket discover = Captured("bios-http-dhcp.pcap", MessageType::kDiscover, 67, 1);
  ASSERT_EQ(discover.GetString(opt::kVendorClass), "e2e-initramfs");
  Outcome o = responder_->Handle(discover, {67, Ip("0.0.0.0"), 68});
  ASSERT_TRUE(o.reply.has_value());
  DhcpPacket offer = Wire(*o.reply);
  EXPECT_EQ(o.reply->max_size, 576u);
  EXPECT_TRUE(offer.siaddr.IsZero());
  EXPECT_FALSE(offer.Has(opt::kBootfileName));
  EXPECT_FALSE(offer.Has(opt::kVendorClass));
  EXPECT_EQ(offer.file, "");
}

TEST_F(ResponderTest, RelayedRequestsUseTheRelaySubnetAndReplyToTheRelay) {
  SetUpMode(FullOptions());
  DhcpPacket discover = Captured("bios-http-dhcp.pcap", MessageType::kDiscover);
  discover.giaddr = Ip("198.19.7.1");
  discover.hops = 1;
  discover.Set(opt::kRelayAgentInfo, Bytes{1, 3, 'p', '1', '0'});
  Outcome o = responder_->Handle(discover, {67, Ip("198.19.7.1"), 67});
  ASSERT_TRUE(o.reply.has_value()) << o.note;
  EXPECT_EQ(o.reply->to, (Destination{Ip("198.19.7.1"), 67}));
  DhcpPacket offer = Wire(*o.reply);
  EXPECT_TRUE(options_.subnets[1].range.InRange(offer.yiaddr));
  EXPECT_EQ(offer.giaddr, Ip("198.19.7.1"));
  EXPECT_EQ(offer.GetIp(opt::kRouter), Ip("198.19.7.1"));
  EXPECT_EQ(*offer.Find(opt::kRelayAgentInfo), (Bytes{1, 3, 'p', '1', '0'}));
  EXPECT_EQ(nlohmann::json::parse(o.reply->event.detail)["relayed"], true);

  DhcpPacket request = Captured("bios-http-dhcp.pcap", MessageType::kRequest);
  request.giaddr = Ip("198.19.7.1");
  request.SetIp(opt::kRequestedIp, offer.yiaddr);
  o = responder_->Handle(request, {67, Ip("198.19.7.1"), 67});
  ASSERT_TRUE(o.reply.has_value());
  EXPECT_EQ(Wire(*o.reply).message_type(), MessageType::kAck);
  EXPECT_EQ(o.reply->to, (Destination{Ip("198.19.7.1"), 67}));

  // A relay from a network we do not serve: silence.
  discover.giaddr = Ip("10.1.2.3");
  EXPECT_FALSE(responder_->Handle(discover, {67, Ip("10.1.2.3"), 67}).reply.has_value());
}

TEST_F(ResponderTest, RenewIsUnicastRebindBroadcastsAndWrongAddressIsNaked) {
  SetUpMode(FullOptions());
  DhcpPacket discover = Captured("bios-http-dhcp.pcap", MessageType::kDiscover, 67, 1);
  Outcome o = responder_->Handle(discover, {67, {}, 68});
  Ipv4Address ip = o.reply->packet.yiaddr;
  DhcpPacket request = Captured("bios-http-dhcp.pcap", MessageType::kRequest, 67, 1);
  request.SetIp(opt::kRequestedIp, ip);
  ASSERT_EQ(Wire(*responder_->Handle(request, {67, {}, 68}).reply).message_type(),
            MessageType::kAck);

  clock_.Advance(300);
  DhcpPacket renew = request;
  renew.Remove(opt::kServerId);
  renew.Remove(opt::kRequestedIp);
  renew.ciaddr = ip;
  o = responder_->Handle(renew, {67, ip, 68});
  ASSERT_TRUE(o.reply.has_value());
  EXPECT_EQ(o.reply->to, (Destination{ip, 68}));
  EXPECT_EQ(Wire(*o.reply).message_type(), MessageType::kAck);
  EXPECT_EQ(o.leases_to_save.at(0).expires_at, clock_.NowSeconds() + 600);

  // INIT-REBOOT with an address from another network: NAK, broadcast.
  DhcpPacket reboot = request;
  reboot.Remove(opt::kServerId);
  reboot.SetIp(opt::kRequestedIp, Ip("10.0.0.5"));
  o = responder_->Handle(reboot, {67, {}, 68});
  ASSERT_TRUE(o.reply.has_value());
  EXPECT_EQ(Wire(*o.reply).message_type(), MessageType::kNak);
  EXPECT_EQ(o.reply->to, (Destination{Ipv4Address::Broadcast(), 68}));
  EXPECT_FALSE(o.reply->event.ok);
  EXPECT_TRUE(o.leases_to_save.empty());
}

TEST_F(ResponderTest, ChoosingAnotherServerCancelsTheOffer) {
  ServerOptions opts = FullOptions();
  opts.subnets[0].range.end = opts.subnets[0].range.start;  // one address
  SetUpMode(opts);
  DhcpPacket d1 = Captured("bios-http-dhcp.pcap", MessageType::kDiscover);
  ASSERT_TRUE(responder_->Handle(d1, {67, {}, 68}).reply.has_value());
  DhcpPacket d2 = Captured("uefi-native-dhcp.pcap", MessageType::kDiscover);
  Outcome exhausted = responder_->Handle(d2, {67, {}, 68});
  EXPECT_FALSE(exhausted.reply.has_value());
  EXPECT_TRUE(exhausted.pool_exhausted);
  DhcpPacket r1 = Captured("bios-http-dhcp.pcap", MessageType::kRequest);
  r1.SetIp(opt::kServerId, Ip("198.18.0.99"));
  EXPECT_FALSE(responder_->Handle(r1, {67, {}, 68}).reply.has_value());
  EXPECT_TRUE(responder_->Handle(d2, {67, {}, 68}).reply.has_value());
}

TEST_F(ResponderTest, DeclineReleaseAndInform) {
  SetUpMode(FullOptions());
  DhcpPacket discover = Captured("bios-http-dhcp.pcap", MessageType::kDiscover, 67, 1);
  Ipv4Address ip = responder_->Handle(discover, {67, {}, 68}).reply->packet.yiaddr;
  DhcpPacket decline = discover;
  decline.SetU8(opt::kMessageType, static_cast<uint8_t>(MessageType::kDecline));
  decline.SetIp(opt::kRequestedIp, ip);
  decline.SetIp(opt::kServerId, Ip("198.18.0.1"));
  Outcome o = responder_->Handle(decline, {67, {}, 68});
  EXPECT_FALSE(o.reply.has_value());
  ASSERT_EQ(o.leases_to_save.size(), 1u);
  EXPECT_EQ(o.leases_to_save[0].state, LeaseState::kDeclined);
  EXPECT_EQ(o.events.at(0).phase, "dhcp.decline");
  EXPECT_NE(responder_->Handle(discover, {67, {}, 68}).reply->packet.yiaddr, ip);

  DhcpPacket inform = discover;
  inform.SetU8(opt::kMessageType, static_cast<uint8_t>(MessageType::kInform));
  inform.ciaddr = Ip("198.18.0.50");
  o = responder_->Handle(inform, {67, inform.ciaddr, 68});
  ASSERT_TRUE(o.reply.has_value());
  DhcpPacket ack = Wire(*o.reply);
  EXPECT_EQ(ack.message_type(), MessageType::kAck);
  EXPECT_TRUE(ack.yiaddr.IsZero());
  EXPECT_FALSE(ack.Has(opt::kLeaseTime));
  EXPECT_EQ(o.reply->to, (Destination{Ip("198.18.0.50"), 68}));
  EXPECT_EQ(o.events.at(0).phase, "dhcp.inform");
}

TEST_F(ResponderTest, ReservationGetsItsAddressAndHostname) {
  ServerOptions opts = FullOptions();
  DhcpPacket discover = Captured("uefi-native-dhcp.pcap", MessageType::kDiscover);
  opts.reservations.push_back({discover.mac(), Ip("198.18.0.20"), "node-20"});
  SetUpMode(opts);
  DhcpPacket offer = Wire(*responder_->Handle(discover, {67, {}, 68}).reply);
  EXPECT_EQ(offer.yiaddr, Ip("198.18.0.20"));
  EXPECT_EQ(offer.GetString(opt::kHostname), "node-20");
}

TEST_F(ResponderTest, ProxyModeAnswersOnlyPxeClientsWithoutAnAddress) {
  ServerOptions opts = FullOptions();
  opts.mode = Mode::kProxy;
  opts.server_address = Ip("198.18.0.2");
  opts.policy.server = opts.server_address;
  options_ = opts;
  responder_ = std::make_unique<Responder>(opts, nullptr, clock_);

  DhcpPacket ovmf = Captured("proxy-uefi-native-dhcp.pcap", MessageType::kDiscover);
  Outcome o = responder_->Handle(ovmf, {67, {}, 68});
  ASSERT_TRUE(o.reply.has_value()) << o.note;
  DhcpPacket offer = Wire(*o.reply);
  EXPECT_EQ(offer.message_type(), MessageType::kOffer);
  EXPECT_TRUE(offer.yiaddr.IsZero());
  EXPECT_EQ(offer.siaddr, Ip("198.18.0.2"));
  EXPECT_EQ(offer.GetIp(opt::kServerId), Ip("198.18.0.2"));
  EXPECT_EQ(offer.GetString(opt::kVendorClass), "PXEClient");
  EXPECT_EQ(*offer.Find(opt::kClientUuid), *ovmf.Find(opt::kClientUuid));
  EXPECT_EQ(offer.file, "ipxe.efi");
  EXPECT_FALSE(offer.Has(opt::kLeaseTime));
  EXPECT_FALSE(offer.Has(opt::kIpxeEncapsulated));
  EXPECT_EQ(o.reply->to, (Destination{Ipv4Address::Broadcast(), 68}));
  EXPECT_EQ(o.reply->event.phase, "proxy.offer");

  // OVMF's REQUEST to 4011 from 4011: ACK back to its address and port 4011.
  DhcpPacket binl = Captured("proxy-uefi-native-dhcp.pcap", MessageType::kRequest, 4011);
  o = responder_->Handle(binl, {4011, binl.ciaddr, 4011});
  ASSERT_TRUE(o.reply.has_value()) << o.note;
  EXPECT_EQ(o.reply->to, (Destination{binl.ciaddr, 4011}));
  DhcpPacket ack = Wire(*o.reply);
  EXPECT_EQ(ack.message_type(), MessageType::kAck);
  EXPECT_EQ(ack.file, "ipxe.efi");
  EXPECT_EQ(ack.siaddr, Ip("198.18.0.2"));
  EXPECT_TRUE(ack.yiaddr.IsZero());
  EXPECT_EQ(o.reply->event.phase, "proxy.ack");

  // iPXE gets the script URL and never 175.176 from a proxy.
  DhcpPacket ipxe = Captured("proxy-bios-dhcp.pcap", MessageType::kDiscover);
  offer = Wire(*responder_->Handle(ipxe, {67, {}, 68}).reply);
  EXPECT_EQ(offer.file, "http://198.18.0.2:8080/boot.ipxe");
  EXPECT_FALSE(offer.Has(opt::kIpxeEncapsulated));

  // A plain DHCP client and non-DISCOVER messages are left to the site's server.
  DhcpPacket plain = Captured("bios-http-dhcp.pcap", MessageType::kDiscover, 67, 1);
  o = responder_->Handle(plain, {67, {}, 68});
  EXPECT_FALSE(o.reply.has_value());
  EXPECT_TRUE(o.events.empty());
  DhcpPacket req = Captured("proxy-bios-dhcp.pcap", MessageType::kRequest);
  EXPECT_FALSE(responder_->Handle(req, {67, {}, 68}).reply.has_value());
}

TEST_F(ResponderTest, BootServerPortAlsoAnswersInFullMode) {
  // OVMF treats a full offer carrying "PXEClient" as a BINL offer and asks port 4011.
  SetUpMode(FullOptions());
  DhcpPacket binl = Captured("proxy-uefi-native-dhcp.pcap", MessageType::kRequest, 4011);
  Outcome o = responder_->Handle(binl, {4011, binl.ciaddr, 4011});
  ASSERT_TRUE(o.reply.has_value());
  EXPECT_EQ(Wire(*o.reply).file, "ipxe.efi");
  // The reply goes where the request came from, even if ciaddr says otherwise.
  o = responder_->Handle(binl, {4011, Ip("198.18.0.77"), 4011});
  EXPECT_EQ(o.reply->to, (Destination{Ip("198.18.0.77"), 4011}));
  // No source address yet: broadcast back to the source port.
  binl.ciaddr = Ipv4Address();
  o = responder_->Handle(binl, {4011, Ipv4Address(), 68});
  EXPECT_EQ(o.reply->to, (Destination{Ipv4Address::Broadcast(), 68}));
}

TEST(EventDetailTest, EscapesHostileStrings) {
  DhcpPacket p;
  p.xid = 0xabc;
  p.SetString(opt::kVendorClass, std::string("PXE\"Client\\\n\xff\xfe", 14));
  std::string text = EventDetail(p, Ip("198.18.0.9"), "a\"b");
  auto j = nlohmann::json::parse(text);
  EXPECT_EQ(j["xid"], "0x00000abc");
  EXPECT_EQ(j["ip"], "198.18.0.9");
  EXPECT_EQ(j["file"], "a\"b");
  EXPECT_EQ(j["relayed"], false);
  EXPECT_TRUE(j["vendor_class"].get<std::string>().starts_with("PXE\"Client\\\n"));
}

// EventDetail is written by hand (no nlohmann object per packet): it must be byte for byte what
// nlohmann::json::dump writes for the same fields (sorted keys, escapes, U+FFFD for bad UTF-8).
TEST(EventDetailTest, SameTextAsNlohmann) {
  const std::vector<std::string> texts = {"", "PXEClient:Arch:00007:UNDI:003016", "a\"b\\c",
                                          std::string("x\x01\ty\xc3\xa9\xff", 7)};
  int checked = 0;
  for (const std::string& vendor : texts) {
    for (const std::string& file : texts) {
      for (int variant = 0; variant < 4; ++variant) {
        DhcpPacket p;
        p.xid = 0x00a1b2c3u + static_cast<uint32_t>(variant);
        if (!vendor.empty()) p.SetString(opt::kVendorClass, vendor);
        if (variant & 1) {
          p.Set(opt::kClientArch, Bytes{0, 7});
          p.SetString(opt::kUserClass, "iPXE");
          p.Set(opt::kClientUuid, Bytes{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
          p.giaddr = Ip("198.18.3.1");
        }
        const Ipv4Address ip = variant & 2 ? Ip("198.18.100.7") : Ipv4Address();
        const std::string error = variant == 3 ? file : "";
        const boot::ClientInfo c = ClassifyClient(p);
        nlohmann::json j;
        char xid[16];
        std::snprintf(xid, sizeof(xid), "0x%08x", p.xid);
        j["xid"] = xid;
        if (c.arch) j["arch"] = *c.arch;
        if (!c.vendor_class.empty()) j["vendor_class"] = c.vendor_class;
        if (!c.user_class.empty()) j["user_class"] = c.user_class;
        if (c.uuid) j["uuid"] = *c.uuid;
        if (!ip.IsZero()) j["ip"] = ip.ToString();
        if (!file.empty()) j["file"] = file;
        j["relayed"] = !p.giaddr.IsZero();
        if (c.is_ipxe) j["ipxe"] = true;
        if (!error.empty()) j["error"] = error;
        const std::string expected =
            j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        EXPECT_EQ(EventDetail(p, ip, file, error), expected) << "variant " << variant;
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 64);
}

TEST(ServerOptionsTest, ValidationListsProblems) {
  ServerOptions o;
  o.subnets.push_back({});
  o.subnets[0].range = {Ip("198.18.0.9"), Ip("198.18.0.1"), Ip("255.255.255.0")};
  auto s = ValidateServerOptions(o);
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message.find("server address"), std::string::npos);
  EXPECT_NE(s.error().message.find("end is before start"), std::string::npos);
  EXPECT_TRUE(ValidateServerOptions(FullOptions()).has_value());
}

}  // namespace
}  // namespace paddock::dhcp

namespace paddock::dhcp {
namespace {

// testdata/perfdhcp-relayed.pcap: a DISCOVER relayed by perfdhcp (a real relay implementation:
// giaddr set, sent from port 67) and the OFFER our server returned to the relay.
TEST(RelayedCaptureTest, PerfdhcpRelayedDiscoverIsAnsweredToTheRelay) {
  auto datagrams = testing::ReadUdpFromPcap(std::string(PADDOCK_SOURCE_DIR) +
                                            "/src/dhcp/testdata/perfdhcp-relayed.pcap");
  ASSERT_GE(datagrams.size(), 2u);
  auto discover = ParseDhcpPacket(datagrams[0].payload);
  ASSERT_TRUE(discover.has_value());
  EXPECT_EQ(discover->message_type(), MessageType::kDiscover);
  EXPECT_EQ(discover->giaddr, Ip("198.18.16.2"));
  EXPECT_EQ(datagrams[0].src_port, 67);
  auto captured_offer = ParseDhcpPacket(datagrams[1].payload);
  ASSERT_TRUE(captured_offer.has_value());
  EXPECT_EQ(captured_offer->giaddr, discover->giaddr);
  EXPECT_EQ(datagrams[1].dst_ip, Ip("198.18.16.2").value());
  EXPECT_EQ(datagrams[1].dst_port, 67);

  FakeClock clock;
  ServerOptions o;
  o.server_address = Ip("198.18.0.1");
  o.policy.server = o.server_address;
  SubnetOptions local, relayed;
  local.range = {Ip("198.18.0.100"), Ip("198.18.0.199"), Ip("255.255.255.0")};
  relayed.range = {Ip("198.18.17.0"), Ip("198.18.17.200"), Ip("255.255.240.0")};
  o.subnets = {local, relayed};
  LeasePool pool(clock, MakeLeasePoolOptions(o));
  Responder responder(o, &pool, clock);
  Outcome out = responder.Handle(*discover, {67, Ip("198.18.16.2"), 67});
  ASSERT_TRUE(out.reply.has_value()) << out.note;
  EXPECT_EQ(out.reply->to, (Destination{Ip("198.18.16.2"), 67}));
  EXPECT_TRUE(relayed.range.InRange(out.reply->packet.yiaddr));
}

}  // namespace
}  // namespace paddock::dhcp
