#include "daemon/lease_store.h"

#include <filesystem>

#include <gtest/gtest.h>

namespace paddock::daemon {
namespace {

TEST(StoreLeaseStorageTest, RoundTripsEveryField) {
  char tmpl[] = "/tmp/paddock-lease-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  {
    auto store = std::move(*store::OpenSqliteStore(dir + "/db"));
    StoreLeaseStorage storage(store.get());
    dhcp::Lease a;
    a.ip = *Ipv4Address::Parse("198.18.0.100");
    a.mac = *MacAddress::Parse("52:54:00:e2:e0:01");
    a.client_id = {0x01, 0x52, 0x54, 0x00, 0xe2, 0xe0, 0x01};
    a.state = dhcp::LeaseState::kBound;
    a.expires_at = 1700003600;
    a.updated_at = 1700000000;
    a.hostname = "node-1";
    dhcp::Lease b = a;
    b.ip = *Ipv4Address::Parse("198.18.0.101");
    b.client_id.clear();
    b.state = dhcp::LeaseState::kDeclined;
    ASSERT_TRUE(storage.SaveBatch({a, b}));
    auto loaded = storage.LoadAll();
    ASSERT_TRUE(loaded);
    ASSERT_EQ(loaded->size(), 2u);
    EXPECT_EQ((*loaded)[0], a);
    EXPECT_EQ((*loaded)[1], b);
  }
  std::filesystem::remove_all(dir);
}

TEST(StoreLeaseStorageTest, RejectsCorruptRows) {
  store::LeaseRow row;
  row.state = 99;
  EXPECT_FALSE(StoreLeaseStorage::FromRow(row));
  row.state = 1;
  row.client_id = "0g";
  EXPECT_FALSE(StoreLeaseStorage::FromRow(row));
}

}  // namespace
}  // namespace paddock::daemon
