#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "store/store.h"

namespace paddock::store {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/paddock-store-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/paddock.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Store> Open() {
    auto s = OpenSqliteStore(path_);
    EXPECT_TRUE(s) << s.error().ToString();
    return std::move(*s);
  }

  std::string dir_;
  std::string path_;
};

const MacAddress kMac = *MacAddress::Parse("52:54:00:e2:e0:01");

BootEvent Event(const std::string& phase, int64_t t) {
  BootEvent e;
  e.mac = kMac;
  e.time_us = t;
  e.phase = phase;
  e.detail = R"({"xid":"0x1"})";
  e.bytes = t * 10;
  e.duration_us = 5;
  e.ok = phase != "dhcp.nak";
  return e;
}

TEST_F(StoreTest, MachinesUpsertAndList) {
  auto store = Open();
  MachineRecord m;
  m.mac = kMac;
  m.arch = "bios";
  m.first_seen_us = 1;
  m.last_seen_us = 2;
  ASSERT_TRUE(store->UpsertMachine(m));
  m.hostname = "node-1";
  m.boot_count = 3;
  ASSERT_TRUE(store->UpsertMachine(m));
  auto got = store->GetMachine(kMac);
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->hostname, "node-1");
  EXPECT_EQ((*got)->boot_count, 3);
  auto missing = store->GetMachine(*MacAddress::Parse("52:54:00:00:00:09"));
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
  auto all = store->ListMachines();
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 1u);
}

TEST_F(StoreTest, TimelineKeepsOrderBootsAndLimit) {
  auto store = Open();
  std::vector<StoredEvent> batch;
  for (int i = 1; i <= 5; ++i) {
    batch.push_back(StoredEvent{0, i <= 3 ? 1 : 2, Event(i == 2 ? "dhcp.nak" : "dhcp.ack", i)});
  }
  ASSERT_TRUE(store->AppendEvents(batch));
  auto all = store->Timeline(kMac, 0, 100);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 5u);
  EXPECT_EQ((*all)[0].event.time_us, 1);
  EXPECT_EQ((*all)[4].event.time_us, 5);
  EXPECT_FALSE((*all)[1].event.ok);
  EXPECT_EQ((*all)[2].event.bytes, 30);
  auto second = store->Timeline(kMac, 2, 100);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->size(), 2u);
  auto last_two = store->Timeline(kMac, 0, 2);
  ASSERT_TRUE(last_two);
  ASSERT_EQ(last_two->size(), 2u);
  EXPECT_EQ((*last_two)[0].event.time_us, 4);
}

TEST_F(StoreTest, LeasesUpsertByIp) {
  auto store = Open();
  LeaseRow a{*Ipv4Address::Parse("198.18.0.100"), kMac, "01525400e2e001", "n1", 100, 1, 50};
  ASSERT_TRUE(store->SaveLeases({a}));
  a.expires_at = 200;
  ASSERT_TRUE(store->SaveLeases({a}));
  auto rows = store->LoadLeases();
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].expires_at, 200);
  EXPECT_EQ((*rows)[0].mac, kMac);
  EXPECT_EQ((*rows)[0].updated_at, 50);
  EXPECT_EQ((*rows)[0].client_id, "01525400e2e001");
}

// Boot tokens are stored only when redeemed: the first redemption of a hash wins, durably.
TEST_F(StoreTest, TokenRedeemsOnce) {
  auto store = Open();
  auto first = store->RedeemToken(BootToken{"abc", kMac, 3, 10, 1000, 0}, 20);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(first->mac, kMac);
  EXPECT_EQ(first->boot, 3);
  EXPECT_EQ(first->redeemed_at, 20);
  auto second = store->RedeemToken(BootToken{"abc", kMac, 3, 10, 1000, 0}, 30);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::kPermissionDenied);
  EXPECT_TRUE(store->RedeemToken(BootToken{"other", kMac, 3, 10, 1000, 0}, 30));
  store.reset();
  store = Open();
  auto reopened = store->RedeemToken(BootToken{"abc", kMac, 3, 10, 1000, 0}, 40);
  ASSERT_FALSE(reopened);
  EXPECT_EQ(reopened.error().code, ErrorCode::kPermissionDenied);
}

// A secret is created once from the first candidate (binary-safe) and kept across reopening.
TEST_F(StoreTest, SecretIsCreatedOnceAndKept) {
  const std::string key1("k\0\xff\x01 first", 11);
  auto store = Open();
  auto got = store->Secret("boot_token_key", key1);
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(*got, key1);
  auto again = store->Secret("boot_token_key", "another candidate");
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, key1);
  auto other = store->Secret("other", "x");
  ASSERT_TRUE(other);
  EXPECT_EQ(*other, "x");
  store.reset();
  store = Open();
  auto reopened = store->Secret("boot_token_key", "third");
  ASSERT_TRUE(reopened);
  EXPECT_EQ(*reopened, key1);
}

// Schema 3 drops the tokens issued under the old scheme and never redeemed, and keeps the
// redeemed ones (still refused).
TEST_F(StoreTest, MigrationThreeKeepsOnlyRedeemedTokens) {
  { Open(); }
  std::string cmd =
      "sqlite3 " + path_ +
      " \"DROP TABLE secrets; PRAGMA user_version=2; "
      "INSERT INTO boot_tokens VALUES('old-open', '52:54:00:e2:e0:01', 1, 1, 9, 0); "
      "INSERT INTO boot_tokens VALUES('old-used', '52:54:00:e2:e0:01', 1, 1, 9, 5);\"";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto store = Open();
  EXPECT_TRUE(store->RedeemToken(BootToken{"old-open", kMac, 1, 1, 9, 0}, 20));
  auto used = store->RedeemToken(BootToken{"old-used", kMac, 1, 1, 9, 0}, 20);
  ASSERT_FALSE(used);
  EXPECT_EQ(used.error().code, ErrorCode::kPermissionDenied);
  EXPECT_TRUE(store->Secret("boot_token_key", "k"));
}

// A committed write survives the process being killed with SIGKILL right after it.
TEST_F(StoreTest, CommittedWritesSurviveKill9) {
  { Open(); }  // create the schema first
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto s = OpenSqliteStore(path_);
    if (!s) _exit(2);
    std::vector<LeaseRow> leases;
    for (uint32_t i = 0; i < 50; ++i) {
      leases.push_back(LeaseRow{Ipv4Address(0xc6120064 + i), kMac, "", "", 1000 + i, 1, 0});
    }
    if (!(*s)->SaveLeases(leases)) _exit(3);
    if (!(*s)->AppendEvents({StoredEvent{0, 1, Event("dhcp.ack", 7)}})) _exit(4);
    kill(getpid(), SIGKILL);
    _exit(5);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  auto store = Open();
  auto rows = store->LoadLeases();
  ASSERT_TRUE(rows);
  EXPECT_EQ(rows->size(), 50u);
  auto events = store->Timeline(kMac, 0, 10);
  ASSERT_TRUE(events);
  EXPECT_EQ(events->size(), 1u);
}

// The recorder's group commit: events and machines in one transaction; an unsynced batch
// (sync = false) still survives kill -9 (it is in the WAL).
TEST_F(StoreTest, RecordBatchUnsyncedSurvivesKill9) {
  { Open(); }
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto s = OpenSqliteStore(path_);
    if (!s) _exit(2);
    Store::Batch batch;
    batch.events = {StoredEvent{0, 1, Event("boot.script", 7)}};
    MachineRecord m;
    m.mac = kMac;
    m.group = "workers";
    batch.machines = {m};
    batch.sync = false;
    if (!(*s)->RecordBatch(batch)) _exit(3);
    kill(getpid(), SIGKILL);
    _exit(5);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  auto store = Open();
  auto events = store->Timeline(kMac, 0, 10);
  ASSERT_TRUE(events);
  EXPECT_EQ(events->size(), 1u);
  auto machine = store->GetMachine(kMac);
  ASSERT_TRUE(machine && machine->has_value());
  EXPECT_EQ((*machine)->group, "workers");
  EXPECT_TRUE(store->Sync());
}

// The database holds the boot token key: it is created owner-only, and an older world-readable
// one (with its WAL) is tightened when opened.
TEST_F(StoreTest, DatabaseIsOwnerOnly) {
  auto mode = [](const std::string& file) {
    struct stat st {};
    EXPECT_EQ(::stat(file.c_str(), &st), 0) << file;
    return st.st_mode & 0777;
  };
  {
    auto store = Open();
    ASSERT_TRUE(store->Secret("boot_token_key", "k"));
    EXPECT_EQ(mode(path_), 0600u);
    EXPECT_EQ(mode(path_ + "-wal"), 0600u);
  }
  ASSERT_EQ(::chmod(path_.c_str(), 0644), 0);
  auto store = Open();
  EXPECT_EQ(mode(path_), 0600u);
}

TEST_F(StoreTest, RefusesNewerSchema) {
  { Open(); }
  {
    auto db = OpenSqliteStore(path_);
    ASSERT_TRUE(db);
  }
  std::string cmd = "sqlite3 " + path_ + " 'PRAGMA user_version=99'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto s = OpenSqliteStore(path_);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("newer"), std::string::npos);
}

}  // namespace
}  // namespace paddock::store
