#include "dhcp/lease_pool.h"

#include <gtest/gtest.h>

#include "dhcp/lease_storage.h"

namespace paddock::dhcp {
namespace {

Ipv4Address Ip(const char* s) { return *Ipv4Address::Parse(s); }
MacAddress Mac(int n) {
  return MacAddress({0x52, 0x54, 0x00, 0x00, 0x00, static_cast<uint8_t>(n)});
}
const Bytes kNoId;

LeasePoolOptions SmallPool() {
  LeasePoolOptions o;
  o.ranges.push_back({Ip("198.18.0.100"), Ip("198.18.0.103"), Ip("255.255.255.0")});
  o.ranges.push_back({Ip("198.19.5.10"), Ip("198.19.5.20"), Ip("255.255.255.0")});
  o.offer_hold_seconds = 30;
  o.decline_quarantine_seconds = 600;
  return o;
}

TEST(LeasePoolTest, OfferBindRenewAndExpire) {
  FakeClock clock;
  LeasePool pool(clock, SmallPool());
  auto offer = pool.Offer(kNoId, Mac(1), 0, std::nullopt);
  ASSERT_TRUE(offer.has_value());
  EXPECT_EQ(offer->state, LeaseState::kOffered);
  EXPECT_TRUE(SmallPool().ranges[0].InRange(offer->ip));
  EXPECT_EQ(pool.MacForAddress(offer->ip), Mac(1));

  auto bound = pool.Bind(kNoId, Mac(1), 0, offer->ip, 600, "n1");
  ASSERT_TRUE(bound.has_value());
  EXPECT_EQ(bound->state, LeaseState::kBound);
  EXPECT_EQ(bound->expires_at, clock.NowSeconds() + 600);
  EXPECT_EQ(bound->hostname, "n1");

  clock.Advance(300);  // renew at T1
  auto renewed = pool.Bind(kNoId, Mac(1), 0, offer->ip, 600, "n1");
  ASSERT_TRUE(renewed.has_value());
  EXPECT_EQ(renewed->expires_at, clock.NowSeconds() + 600);

  clock.Advance(599);
  EXPECT_TRUE(pool.ExpireDue().empty());
  clock.Advance(1);
  auto expired = pool.ExpireDue();
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].state, LeaseState::kExpired);
  EXPECT_FALSE(pool.MacForAddress(offer->ip).has_value());
}

TEST(LeasePoolTest, SameClientGetsSameAddressBackAfterReleaseAndRestart) {
  FakeClock clock;
  InMemoryLeaseStorage storage;
  Ipv4Address first;
  {
    LeasePool pool(clock, SmallPool());
    // Another client takes an address first, so "lowest free" would not hide a bug.
    ASSERT_TRUE(pool.Offer(kNoId, Mac(9), 0, std::nullopt).has_value());
    auto o = pool.Offer(kNoId, Mac(1), 0, std::nullopt);
    first = o->ip;
    auto b = pool.Bind(kNoId, Mac(1), 0, first, 600, "");
    ASSERT_TRUE(b.has_value());
    ASSERT_TRUE(storage.SaveBatch({*b}).has_value());
    auto r = pool.Release(kNoId, Mac(1), first);
    ASSERT_TRUE(r.has_value());
    ASSERT_TRUE(storage.SaveBatch({*r}).has_value());
    // Released, yet still its own: a new DISCOVER gets it back.
    EXPECT_EQ(pool.Offer(kNoId, Mac(1), 0, std::nullopt)->ip, first);
  }
  // "Restart": a fresh pool loaded from storage, a day later (the lease long expired).
  clock.Advance(86400);
  LeasePool pool(clock, SmallPool());
  pool.Load(*storage.LoadAll());
  ASSERT_TRUE(pool.Offer(kNoId, Mac(7), 0, std::nullopt).has_value());
  EXPECT_EQ(pool.Offer(kNoId, Mac(1), 0, std::nullopt)->ip, first);
}

TEST(LeasePoolTest, ClientIdOfTypeOneMatchesTheMac) {
  FakeClock clock;
  LeasePool pool(clock, SmallPool());
  auto fw = pool.Offer(kNoId, Mac(1), 0, std::nullopt);     // OVMF: no option 61
  Bytes ipxe_id = {1, 0x52, 0x54, 0x00, 0x00, 0x00, 0x01};  // iPXE: type 1 + MAC
  EXPECT_EQ(pool.Offer(ipxe_id, Mac(1), 0, std::nullopt)->ip, fw->ip);
  // A different client id on the same NIC is a different client.
  Bytes duid = {0xff, 1, 2, 3, 4};
  EXPECT_NE(pool.Offer(duid, Mac(1), 0, std::nullopt)->ip, fw->ip);
}

TEST(LeasePoolTest, ExhaustionGivesNoOfferUntilAnOfferLapses) {
  FakeClock clock;
  LeasePool pool(clock, SmallPool());
  for (int i = 1; i <= 4; ++i) ASSERT_TRUE(pool.Offer(kNoId, Mac(i), 0, std::nullopt));
  EXPECT_FALSE(pool.Offer(kNoId, Mac(5), 0, std::nullopt).has_value());
  clock.Advance(31);  // offer hold over: the unrequested offers lapse
  auto o = pool.Offer(kNoId, Mac(5), 0, std::nullopt);
  ASSERT_TRUE(o.has_value());
  // Bound leases are not taken.
  LeasePool full(clock, SmallPool());
  for (int i = 1; i <= 4; ++i) {
    auto off = full.Offer(kNoId, Mac(i), 0, std::nullopt);
    ASSERT_TRUE(full.Bind(kNoId, Mac(i), 0, off->ip, 600, "").has_value());
  }
  clock.Advance(31);
  EXPECT_FALSE(full.Offer(kNoId, Mac(5), 0, std::nullopt).has_value());
}

TEST(LeasePoolTest, ReservationsInsideAndOutsideTheRange) {
  FakeClock clock;
  LeasePoolOptions o = SmallPool();
  o.reservations.push_back({Mac(1), Ip("198.18.0.101"), "inside"});
  o.reservations.push_back({Mac(2), Ip("198.18.0.50"), "outside"});
  ASSERT_TRUE(ValidateLeasePoolOptions(o).has_value());
  LeasePool pool(clock, o);
  // Others never get 198.18.0.101, even when the pool runs dry.
  std::vector<Ipv4Address> given;
  for (int i = 10; i < 14; ++i) {
    if (auto l = pool.Offer(kNoId, Mac(i), 0, Ip("198.18.0.101"))) given.push_back(l->ip);
  }
  EXPECT_EQ(given.size(), 3u);
  for (Ipv4Address ip : given) EXPECT_NE(ip, Ip("198.18.0.101"));
  EXPECT_FALSE(pool.Bind(kNoId, Mac(20), 0, Ip("198.18.0.101"), 600, "").has_value());

  auto in = pool.Offer(kNoId, Mac(1), 0, std::nullopt);
  EXPECT_EQ(in->ip, Ip("198.18.0.101"));
  EXPECT_EQ(in->hostname, "inside");
  auto out = pool.Offer(kNoId, Mac(2), 0, std::nullopt);
  EXPECT_EQ(out->ip, Ip("198.18.0.50"));
  EXPECT_TRUE(pool.Bind(kNoId, Mac(2), 0, Ip("198.18.0.50"), 600, "").has_value());
  // A reserved client asking for another address is refused (NAK), so it comes back for its own.
  EXPECT_FALSE(pool.Bind(kNoId, Mac(1), 0, given[0], 600, "").has_value());
  // Outside the range and not reserved: refused.
  EXPECT_FALSE(pool.Bind(kNoId, Mac(30), 0, Ip("198.18.0.60"), 600, "").has_value());
}

TEST(LeasePoolTest, DeclinedAddressIsQuarantined) {
  FakeClock clock;
  LeasePool pool(clock, SmallPool());
  auto o = pool.Offer(kNoId, Mac(1), 0, std::nullopt);
  ASSERT_TRUE(pool.Bind(kNoId, Mac(1), 0, o->ip, 600, "").has_value());
  // Someone else cannot decline it for the owner.
  EXPECT_FALSE(pool.Decline(kNoId, Mac(2), o->ip).has_value());
  auto d = pool.Decline(kNoId, Mac(1), o->ip);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->state, LeaseState::kDeclined);
  EXPECT_EQ(d->expires_at, clock.NowSeconds() + 600);
  // The decliner gets a different address; nobody gets the declined one while quarantined.
  EXPECT_NE(pool.Offer(kNoId, Mac(1), 0, std::nullopt)->ip, o->ip);
  for (int i = 2; i < 6; ++i) {
    auto l = pool.Offer(kNoId, Mac(i), 0, o->ip);
    if (l) {
      EXPECT_NE(l->ip, o->ip);
    }
  }
  EXPECT_FALSE(pool.Bind(kNoId, Mac(7), 0, o->ip, 600, "").has_value());
  clock.Advance(601);
  pool.ExpireDue();
  EXPECT_TRUE(pool.Bind(kNoId, Mac(7), 0, o->ip, 600, "").has_value());
}

TEST(LeasePoolTest, QuarantineSurvivesRestart) {
  FakeClock clock;
  LeasePool pool(clock, SmallPool());
  auto o = pool.Offer(kNoId, Mac(1), 0, std::nullopt);
  auto d = pool.Decline(kNoId, Mac(1), o->ip);
  ASSERT_TRUE(d.has_value());
  LeasePool restarted(clock, SmallPool());
  restarted.Load({*d});
  EXPECT_FALSE(restarted.Bind(kNoId, Mac(2), 0, o->ip, 600, "").has_value());
}

TEST(LeasePoolTest, RelaySubnetSelection) {
  FakeClock clock;
  LeasePool pool(clock, SmallPool());
  EXPECT_EQ(pool.RangeForAddress(Ip("198.19.5.1")), 1u);
  EXPECT_EQ(pool.RangeForAddress(Ip("198.18.0.1")), 0u);
  EXPECT_FALSE(pool.RangeForAddress(Ip("10.0.0.1")).has_value());
  auto o = pool.Offer(kNoId, Mac(1), 1, std::nullopt);
  EXPECT_TRUE(SmallPool().ranges[1].InRange(o->ip));
  // An address from the other subnet is "wrong network" for this range.
  EXPECT_FALSE(pool.Bind(kNoId, Mac(1), 1, Ip("198.18.0.100"), 600, "").has_value());
}

TEST(LeasePoolTest, AnotherClientsBoundAddressIsRefused) {
  FakeClock clock;
  LeasePool pool(clock, SmallPool());
  auto o = pool.Offer(kNoId, Mac(1), 0, std::nullopt);
  ASSERT_TRUE(pool.Bind(kNoId, Mac(1), 0, o->ip, 600, "").has_value());
  auto r = pool.Bind(kNoId, Mac(2), 0, o->ip, 600, "");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kAlreadyExists);
  // Requested address held by another: the offer picks a different one.
  EXPECT_NE(pool.Offer(kNoId, Mac(2), 0, o->ip)->ip, o->ip);
}

TEST(LeasePoolTest, ValidationListsEveryProblem) {
  LeasePoolOptions o = SmallPool();
  o.ranges.push_back({Ip("10.0.0.9"), Ip("10.0.0.1"), Ip("255.255.255.0")});
  o.reservations.push_back({Mac(1), Ip("10.9.9.9"), ""});
  auto s = ValidateLeasePoolOptions(o);
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message.find("end is before start"), std::string::npos);
  EXPECT_NE(s.error().message.find("not in any range's subnet"), std::string::npos);
}

}  // namespace
}  // namespace paddock::dhcp
