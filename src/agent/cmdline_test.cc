#include "agent/cmdline.h"

#include <gtest/gtest.h>

namespace paddock::agent {
namespace {

TEST(Cmdline, ParsesBootParams) {
  auto p = ParseBootParams(
      "BOOT_IMAGE=/vmlinuz initrd=initrd.img console=ttyS0 paddock.server=http://198.18.0.1:8080 "
      "paddock.token=abc123 paddock.mac=52-54-00-12-34-56 quiet\n");
  ASSERT_TRUE(p.has_value()) << p.error().message;
  EXPECT_EQ(p->server.address.ToString(), "198.18.0.1");
  EXPECT_EQ(p->server.port, 8080);
  EXPECT_EQ(p->token, "abc123");
  EXPECT_EQ(p->mac.ToString(), "52:54:00:12:34:56");
}

TEST(Cmdline, QuotedValuesAndDefaults) {
  auto w = ParseCmdlineWords("a=\"x y\" b c=1=2 \"d=e f\"");
  EXPECT_EQ(w["a"], "x y");
  EXPECT_EQ(w["b"], "");
  EXPECT_EQ(w["c"], "1=2");
  EXPECT_EQ(w["d"], "e f");
  auto u = ParseServerUrl("http://198.18.0.1/base/");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->base_path, "/base");
}

TEST(Cmdline, RefusesHostnamesHttpsAndMissingKeys) {
  EXPECT_FALSE(ParseServerUrl("http://paddock.local:8080").has_value());
  EXPECT_FALSE(ParseServerUrl("https://198.18.0.1").has_value());
  EXPECT_FALSE(ParseServerUrl("http://198.18.0.1:0").has_value());
  EXPECT_FALSE(ParseServerUrl("http://198.18.0.1:65536").has_value());
  EXPECT_FALSE(ParseBootParams("paddock.server=http://198.18.0.1 paddock.mac=52:54:00:00:00:01")
                   .has_value());
  EXPECT_FALSE(ParseBootParams("paddock.server=http://198.18.0.1 paddock.token=t paddock.mac=zz")
                   .has_value());
}

}  // namespace
}  // namespace paddock::agent
