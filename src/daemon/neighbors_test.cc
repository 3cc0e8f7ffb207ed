#include "daemon/neighbors.h"

#include <gtest/gtest.h>

namespace paddock::daemon {
namespace {

constexpr char kTable[] =
    "IP address       HW type     Flags       HW address            Mask     Device\n"
    "198.18.0.100     0x1         0x2         52:54:00:e2:e0:01     *        br0\n"
    "198.18.0.101     0x1         0x0         00:00:00:00:00:00     *        br0\n";

TEST(NeighborsTest, FindsCompleteEntriesOnly) {
  auto mac = FindInArpTable(kTable, *Ipv4Address::Parse("198.18.0.100"));
  ASSERT_TRUE(mac);
  EXPECT_EQ(mac->ToString(), "52:54:00:e2:e0:01");
  EXPECT_FALSE(FindInArpTable(kTable, *Ipv4Address::Parse("198.18.0.101")));
  EXPECT_FALSE(FindInArpTable(kTable, *Ipv4Address::Parse("198.18.0.102")));
  EXPECT_FALSE(FindInArpTable("", *Ipv4Address::Parse("198.18.0.100")));
}

}  // namespace
}  // namespace paddock::daemon
