#include <sqlite3.h>

#include <mutex>

#include "store/sqlite.h"
#include "store/store.h"

namespace paddock::store {
namespace {

// Schema version 1. Migrations append to this list; the index+1 is PRAGMA user_version.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE machines (
  mac TEXT PRIMARY KEY,
  uuid TEXT NOT NULL DEFAULT '',
  arch TEXT NOT NULL DEFAULT '',
  hostname TEXT NOT NULL DEFAULT '',
  serial TEXT NOT NULL DEFAULT '',
  grp TEXT NOT NULL DEFAULT '',
  profile TEXT NOT NULL DEFAULT '',
  last_ip TEXT NOT NULL DEFAULT '',
  first_seen_us INTEGER NOT NULL,
  last_seen_us INTEGER NOT NULL,
  boot_count INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  mac TEXT NOT NULL,
  boot INTEGER NOT NULL,
  time_us INTEGER NOT NULL,
  phase TEXT NOT NULL,
  detail TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  duration_us INTEGER NOT NULL,
  ok INTEGER NOT NULL
);
CREATE INDEX events_by_mac ON events(mac, boot, id);
CREATE TABLE leases (
  ip INTEGER PRIMARY KEY,
  mac TEXT NOT NULL,
  client_id TEXT NOT NULL,
  hostname TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  state INTEGER NOT NULL,
  updated_at INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE boot_tokens (
  token_hash TEXT PRIMARY KEY,
  mac TEXT NOT NULL,
  boot INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  redeemed_at INTEGER NOT NULL DEFAULT 0
);
)sql",
    // 2: node-agent credentials (issue 3). Only a hash of each credential is stored.
    R"sql(
CREATE TABLE agent_credentials (
  credential_hash TEXT PRIMARY KEY,
  mac TEXT NOT NULL,
  boot INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX agent_credentials_by_mac ON agent_credentials(mac);
)sql",
    // 3: stateless boot tokens (daemon/tokens.h): boot_tokens keeps only redeemed ones; the
    // tokens issued and never redeemed under the old scheme are dropped (they cannot be
    // verified). secrets holds the key that signs boot tokens.
    R"sql(
DELETE FROM boot_tokens WHERE redeemed_at = 0;
CREATE TABLE secrets (
  name TEXT PRIMARY KEY,
  value BLOB NOT NULL
);
)sql",
};

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}

  Status UpsertMachine(const MachineRecord& m) override {
    std::lock_guard<std::mutex> lock(mu_);
    return UpsertMachineLocked(m);
  }

  Status RecordBatch(const Batch& batch) override {
    std::lock_guard<std::mutex> lock(mu_);
    return db_->Transaction(
        [&]() -> Status {
          if (auto s = AppendEventsLocked(batch.events); !s) return s;
          for (const MachineRecord& m : batch.machines) {
            if (auto s = UpsertMachineLocked(m); !s) return s;
          }
          return Ok();
        },
        batch.sync);
  }

  Status Sync() override {
    std::lock_guard<std::mutex> lock(mu_);
    // A checkpoint fsyncs the WAL before it copies pages (and the database file after).
    return db_->Exec("PRAGMA wal_checkpoint(PASSIVE)");
  }

  Status UpsertMachineLocked(const MachineRecord& m) {
    auto st = db_->Prepare(
        "INSERT INTO machines(mac, uuid, arch, hostname, serial, grp, profile, last_ip, "
        "first_seen_us, last_seen_us, boot_count) VALUES(?,?,?,?,?,?,?,?,?,?,?) "
        "ON CONFLICT(mac) DO UPDATE SET uuid=excluded.uuid, arch=excluded.arch, "
        "hostname=excluded.hostname, serial=excluded.serial, grp=excluded.grp, "
        "profile=excluded.profile, last_ip=excluded.last_ip, "
        "first_seen_us=excluded.first_seen_us, last_seen_us=excluded.last_seen_us, "
        "boot_count=excluded.boot_count");
    if (!st) return tl::unexpected(st.error());
    st->Bind(1, m.mac.ToString());
    st->Bind(2, m.uuid);
    st->Bind(3, m.arch);
    st->Bind(4, m.hostname);
    st->Bind(5, m.serial);
    st->Bind(6, m.group);
    st->Bind(7, m.profile);
    st->Bind(8, m.last_ip);
    st->Bind(9, m.first_seen_us);
    st->Bind(10, m.last_seen_us);
    st->Bind(11, m.boot_count);
    return st->RunToCompletion();
  }

  Result<std::optional<MachineRecord>> GetMachine(const MacAddress& mac) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto st = db_->Prepare(std::string(kMachineSelect) + " WHERE mac = ?");
    if (!st) return tl::unexpected(st.error());
    st->Bind(1, mac.ToString());
    auto row = st->Step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return std::optional<MachineRecord>();
    return std::optional<MachineRecord>(ReadMachine(*st));
  }

  Result<std::vector<MachineRecord>> ListMachines() override {
    std::lock_guard<std::mutex> lock(mu_);
    auto st = db_->Prepare(std::string(kMachineSelect) + " ORDER BY mac");
    if (!st) return tl::unexpected(st.error());
    std::vector<MachineRecord> out;
    while (true) {
      auto row = st->Step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) break;
      out.push_back(ReadMachine(*st));
    }
    return out;
  }

  Status AppendEvents(const std::vector<StoredEvent>& events) override {
    std::lock_guard<std::mutex> lock(mu_);
    return db_->Transaction([&]() -> Status { return AppendEventsLocked(events); });
  }

  Status AppendEventsLocked(const std::vector<StoredEvent>& events) {
    {
      auto st = db_->Prepare(
          "INSERT INTO events(mac, boot, time_us, phase, detail, bytes, duration_us, ok) "
          "VALUES(?,?,?,?,?,?,?,?)");
      if (!st) return tl::unexpected(st.error());
      for (const StoredEvent& e : events) {
        st->Reset();
        st->Bind(1, e.event.mac.ToString());
        st->Bind(2, e.boot);
        st->Bind(3, e.event.time_us);
        st->Bind(4, e.event.phase);
        st->Bind(5, e.event.detail);
        st->Bind(6, e.event.bytes);
        st->Bind(7, e.event.duration_us);
        st->Bind(8, int64_t{e.event.ok ? 1 : 0});
        if (auto s = st->RunToCompletion(); !s) return s;
      }
    }
    return Ok();
  }

  Result<std::vector<StoredEvent>> Timeline(const MacAddress& mac, int64_t boot,
                                            int64_t limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    // The newest `limit` events (by arrival), returned in time order within each boot: servers
    // report a step when it ends, so arrival order is not quite time order.
    auto st = db_->Prepare(
        "SELECT id, boot, time_us, phase, detail, bytes, duration_us, ok FROM ("
        "SELECT * FROM events WHERE mac = ? AND (? = 0 OR boot = ?) ORDER BY id DESC LIMIT ?) "
        "ORDER BY boot ASC, time_us ASC, id ASC");
    if (!st) return tl::unexpected(st.error());
    st->Bind(1, mac.ToString());
    st->Bind(2, boot);
    st->Bind(3, boot);
    st->Bind(4, limit);
    std::vector<StoredEvent> out;
    while (true) {
      auto row = st->Step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) break;
      StoredEvent e;
      e.id = st->ColumnInt(0);
      e.boot = st->ColumnInt(1);
      e.event.mac = mac;
      e.event.time_us = st->ColumnInt(2);
      e.event.phase = st->ColumnText(3);
      e.event.detail = st->ColumnText(4);
      e.event.bytes = st->ColumnInt(5);
      e.event.duration_us = st->ColumnInt(6);
      e.event.ok = st->ColumnInt(7) != 0;
      out.push_back(std::move(e));
    }
    return out;
  }

  Status SaveLeases(const std::vector<LeaseRow>& leases) override {
    std::lock_guard<std::mutex> lock(mu_);
    return db_->Transaction([&]() -> Status {
      auto st = db_->Prepare(
          "INSERT INTO leases(ip, mac, client_id, hostname, expires_at, state, updated_at) "
          "VALUES(?,?,?,?,?,?,?) ON CONFLICT(ip) DO UPDATE SET mac=excluded.mac, "
          "client_id=excluded.client_id, hostname=excluded.hostname, "
          "expires_at=excluded.expires_at, state=excluded.state, "
          "updated_at=excluded.updated_at");
      if (!st) return tl::unexpected(st.error());
      for (const LeaseRow& l : leases) {
        st->Reset();
        st->Bind(1, int64_t{l.ip.value()});
        st->Bind(2, l.mac.ToString());
        st->Bind(3, l.client_id);
        st->Bind(4, l.hostname);
        st->Bind(5, l.expires_at);
        st->Bind(6, int64_t{l.state});
        st->Bind(7, l.updated_at);
        if (auto s = st->RunToCompletion(); !s) return s;
      }
      return Ok();
    });
  }

  Result<std::vector<LeaseRow>> LoadLeases() override {
    std::lock_guard<std::mutex> lock(mu_);
    auto st = db_->Prepare(
        "SELECT ip, mac, client_id, hostname, expires_at, state, updated_at FROM leases "
        "ORDER BY ip");
    if (!st) return tl::unexpected(st.error());
    std::vector<LeaseRow> out;
    while (true) {
      auto row = st->Step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) break;
      LeaseRow l;
      l.ip = Ipv4Address(static_cast<uint32_t>(st->ColumnInt(0)));
      l.mac = MacAddress::Parse(st->ColumnText(1)).value_or(MacAddress());
      l.client_id = st->ColumnText(2);
      l.hostname = st->ColumnText(3);
      l.expires_at = st->ColumnInt(4);
      l.state = static_cast<int>(st->ColumnInt(5));
      l.updated_at = st->ColumnInt(6);
      out.push_back(std::move(l));
    }
    return out;
  }

  Result<BootToken> RedeemToken(const BootToken& token, int64_t now) override {
    std::lock_guard<std::mutex> lock(mu_);
    bool inserted = false;
    Status tx = db_->Transaction([&]() -> Status {
      auto st = db_->Prepare(
          "INSERT INTO boot_tokens(token_hash, mac, boot, created_at, expires_at, redeemed_at) "
          "VALUES(?,?,?,?,?,?) ON CONFLICT(token_hash) DO NOTHING");
      if (!st) return tl::unexpected(st.error());
      st->Bind(1, token.token_hash);
      st->Bind(2, token.mac.ToString());
      st->Bind(3, token.boot);
      st->Bind(4, token.created_at);
      st->Bind(5, token.expires_at);
      st->Bind(6, now);
      if (auto s = st->RunToCompletion(); !s) return s;
      inserted = db_->Changes() == 1;
      return Ok();
    });
    if (!tx) return tl::unexpected(tx.error());
    if (!inserted) return PermissionDenied("boot token already redeemed");
    BootToken out = token;
    out.redeemed_at = now;
    return out;
  }

  Result<std::string> Secret(const std::string& name, const std::string& candidate) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::string value;
    Status tx = db_->Transaction([&]() -> Status {
      auto put =
          db_->Prepare("INSERT INTO secrets(name, value) VALUES(?,?) ON CONFLICT DO NOTHING");
      if (!put) return tl::unexpected(put.error());
      put->Bind(1, name);
      put->BindBlob(2, candidate);
      if (auto s = put->RunToCompletion(); !s) return s;
      auto get = db_->Prepare("SELECT value FROM secrets WHERE name = ?");
      if (!get) return tl::unexpected(get.error());
      get->Bind(1, name);
      auto row = get->Step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) return IoError("secret " + name + " vanished");
      value = get->ColumnBlob(0);
      return Ok();
    });
    if (!tx) return tl::unexpected(tx.error());
    return value;
  }

  Status PutCredential(const AgentCredential& c) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto st = db_->Prepare(
        "INSERT INTO agent_credentials(credential_hash, mac, boot, created_at) VALUES(?,?,?,?)");
    if (!st) return tl::unexpected(st.error());
    st->Bind(1, c.credential_hash);
    st->Bind(2, c.mac.ToString());
    st->Bind(3, c.boot);
    st->Bind(4, c.created_at);
    return st->RunToCompletion();
  }

  Result<std::optional<AgentCredential>> FindCredential(const std::string& hash) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto st = db_->Prepare(
        "SELECT mac, boot, created_at FROM agent_credentials WHERE credential_hash = ?");
    if (!st) return tl::unexpected(st.error());
    st->Bind(1, hash);
    auto row = st->Step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return std::optional<AgentCredential>();
    AgentCredential c;
    c.credential_hash = hash;
    c.mac = MacAddress::Parse(st->ColumnText(0)).value_or(MacAddress());
    c.boot = st->ColumnInt(1);
    c.created_at = st->ColumnInt(2);
    return std::optional<AgentCredential>(std::move(c));
  }

 private:
  static constexpr const char* kMachineSelect =
      "SELECT mac, uuid, arch, hostname, serial, grp, profile, last_ip, first_seen_us, "
      "last_seen_us, boot_count FROM machines";

  static MachineRecord ReadMachine(SqliteStatement& st) {
    MachineRecord m;
    m.mac = MacAddress::Parse(st.ColumnText(0)).value_or(MacAddress());
    m.uuid = st.ColumnText(1);
    m.arch = st.ColumnText(2);
    m.hostname = st.ColumnText(3);
    m.serial = st.ColumnText(4);
    m.group = st.ColumnText(5);
    m.profile = st.ColumnText(6);
    m.last_ip = st.ColumnText(7);
    m.first_seen_us = st.ColumnInt(8);
    m.last_seen_us = st.ColumnInt(9);
    m.boot_count = st.ColumnInt(10);
    return m;
  }

  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path) {
  auto db = SqliteDb::Open(path);
  if (!db) return tl::unexpected(db.error());
  if (auto s = (*db)->Migrate(kMigrations, std::size(kMigrations)); !s) {
    return tl::unexpected(s.error());
  }
  return std::unique_ptr<Store>(new SqliteStore(std::move(*db)));
}

}  // namespace paddock::store
