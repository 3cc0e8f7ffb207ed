#include "common/net.h"

#include <gtest/gtest.h>

namespace paddock {
namespace {

TEST(MacAddressTest, ParsesColonHyphenAndBareForms) {
  auto a = MacAddress::Parse("52:54:00:E2:e0:01");
  auto b = MacAddress::Parse("52-54-00-e2-e0-01");
  auto c = MacAddress::Parse("525400e2e001");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(*a, *c);
  EXPECT_EQ(a->ToString(), "52:54:00:e2:e0:01");
  EXPECT_EQ(a->ToHyphenString(), "52-54-00-e2-e0-01");
}

TEST(MacAddressTest, RejectsMalformed) {
  EXPECT_FALSE(MacAddress::Parse(""));
  EXPECT_FALSE(MacAddress::Parse("52:54:00:e2:e0"));
  EXPECT_FALSE(MacAddress::Parse("52:54:00:e2:e0:0g"));
  EXPECT_FALSE(MacAddress::Parse("52:54-00:e2:e0:01"));
  EXPECT_FALSE(MacAddress::Parse("52.54.00.e2.e0.01"));
}

TEST(Ipv4AddressTest, RoundTrips) {
  auto a = Ipv4Address::Parse("198.18.0.1");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->value(), 0xc6120001u);
  EXPECT_EQ(a->ToString(), "198.18.0.1");
}

TEST(Ipv4AddressTest, RejectsMalformed) {
  for (const char* s :
       {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1..2.3", "1.2.3.4 ", "a.b.c.d", "1.2.3.0004"}) {
    EXPECT_FALSE(Ipv4Address::Parse(s)) << s;
  }
}

}  // namespace
}  // namespace paddock
