#include "boot/policy.h"

#include <gtest/gtest.h>

namespace paddock::boot {
namespace {

PolicyInput Input(DhcpRole role = DhcpRole::kFull) {
  PolicyInput in;
  in.server = *Ipv4Address::Parse("198.18.0.1");
  in.http_port = 8080;
  in.role = role;
  return in;
}

ClientInfo Pxe(uint16_t arch) {
  ClientInfo c;
  c.arch = arch;
  c.is_pxe = true;
  c.vendor_class = "PXEClient:Arch:0000" + std::to_string(arch) + ":UNDI:002001";
  return c;
}

TEST(DecideBootTest, BiosPxeGetsUndionly) {
  BootDecision d = DecideBoot(Input(), Pxe(0));
  EXPECT_EQ(d.action, BootAction::kTftpFile);
  EXPECT_EQ(d.filename, "undionly.kpxe");
  EXPECT_EQ(d.vendor_class, "PXEClient");
  EXPECT_FALSE(d.next_server.IsZero());
  EXPECT_FALSE(d.ipxe_no_pxedhcp);
}

TEST(DecideBootTest, UefiX64BothCodesGetEfiBinary) {
  PolicyInput in = Input();
  in.files.efi64 = "snponly.efi";
  EXPECT_EQ(DecideBoot(in, Pxe(7)).filename, "snponly.efi");
  EXPECT_EQ(DecideBoot(in, Pxe(9)).filename, "snponly.efi");
}

TEST(DecideBootTest, IpxeGetsScriptUrlNeverABinary) {
  ClientInfo c = Pxe(0);
  c.is_ipxe = true;
  BootDecision d = DecideBoot(Input(), c);
  EXPECT_EQ(d.action, BootAction::kIpxeScript);
  EXPECT_EQ(d.filename, "http://198.18.0.1:8080/boot.ipxe");
  EXPECT_TRUE(d.ipxe_no_pxedhcp);
}

TEST(DecideBootTest, ProxyModeNeverSendsNoPxedhcp) {
  ClientInfo c = Pxe(7);
  c.is_ipxe = true;
  BootDecision d = DecideBoot(Input(DhcpRole::kProxy), c);
  EXPECT_EQ(d.action, BootAction::kIpxeScript);
  EXPECT_FALSE(d.ipxe_no_pxedhcp);
}

TEST(DecideBootTest, HttpBootGetsUrlAndHttpClientVendor) {
  ClientInfo c;
  c.arch = 16;
  c.is_http_boot = true;
  BootDecision d = DecideBoot(Input(), c);
  EXPECT_EQ(d.action, BootAction::kHttpBoot);
  EXPECT_EQ(d.filename, "http://198.18.0.1:8080/tftp/ipxe.efi");
  EXPECT_EQ(d.vendor_class, "HTTPClient");
}

TEST(DecideBootTest, PlainDhcpClientAndUnservedArchGetNothing) {
  ClientInfo plain;
  EXPECT_EQ(DecideBoot(Input(), plain).action, BootAction::kNone);
  EXPECT_EQ(DecideBoot(Input(), Pxe(11)).action, BootAction::kNone);  // arm64 unset
  EXPECT_EQ(DecideBoot(Input(), Pxe(42)).action, BootAction::kNone);  // unknown arch
}

}  // namespace
}  // namespace paddock::boot
