#include "dhcp/router_advert.h"

#include <gtest/gtest.h>

namespace paddock::dhcp {
namespace {

TEST(RouterAdvertTest, MinimalAdvertisementHasLifetimeZeroAndNoFlags) {
  RouterAdvertOptions o;
  o.interface = "br0";
  Bytes ra = BuildRouterAdvertisement(o, MacAddress::Parse("52:54:00:12:34:56"));
  ASSERT_EQ(ra.size(), 16u + 8u);
  EXPECT_EQ(ra[0], 134);  // Router Advertisement
  EXPECT_EQ(ra[1], 0);
  EXPECT_EQ(ra[5], 0);               // no M/O flags
  EXPECT_EQ(ra[6] << 8 | ra[7], 0);  // router lifetime 0: not a default router
  EXPECT_EQ(ra[16], 1);              // source link-layer address option
  EXPECT_EQ(ra[17], 1);
  EXPECT_EQ(ra[18], 0x52);
  EXPECT_EQ(ra[23], 0x56);
}

TEST(RouterAdvertTest, OptionalPrefix) {
  RouterAdvertOptions o;
  o.prefix = std::array<uint8_t, 16>{0xfd, 0, 0x0e, 0x2e};
  Bytes ra = BuildRouterAdvertisement(o, std::nullopt);
  ASSERT_EQ(ra.size(), 16u + 32u);
  EXPECT_EQ(ra[16], 3);     // prefix information
  EXPECT_EQ(ra[17], 4);     // 32 bytes
  EXPECT_EQ(ra[18], 64);    // /64
  EXPECT_EQ(ra[19], 0xc0);  // on-link + autonomous
  EXPECT_EQ(ra[32], 0xfd);
}

}  // namespace
}  // namespace paddock::dhcp
