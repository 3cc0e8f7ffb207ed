#pragma once

// The persistent store: machines, DHCP leases, boot timeline events and boot tokens.
//
// Store is an interface so that a second backend (etcd, for several paddock servers sharing one
// inventory) can stand beside the embedded SQLite one. Callers never see SQL.
//
// Thread-safety: every method may be called from any thread; calls are serialized inside.
// Every method blocks on disk I/O, so the io thread must not call them: the daemon calls them
// from its worker threads. A method that returns successfully has made its writes durable
// (SQLite WAL with synchronous=FULL), so a crash or `kill -9` afterwards loses nothing.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/event.h"
#include "common/net.h"
#include "common/result.h"

namespace paddock::store {

// A machine paddock has seen (discovery) or served. Facts are the latest the machine sent.
struct MachineRecord {
  MacAddress mac;
  std::string uuid;
  std::string arch;  // "bios", "efi64", ...
  std::string hostname;
  std::string serial;
  std::string group;    // group of the last rendered script ("" = none matched)
  std::string profile;  // profile of the last rendered script
  std::string last_ip;
  int64_t first_seen_us = 0;
  int64_t last_seen_us = 0;
  int64_t boot_count = 0;  // boots begun (see StoredEvent::boot)

  friend bool operator==(const MachineRecord&, const MachineRecord&) = default;
};

// A boot event as stored: the event plus its row id and the machine's boot number (1 for the
// first boot paddock saw of that machine, 2 for the next, ...).
struct StoredEvent {
  int64_t id = 0;
  int64_t boot = 0;
  BootEvent event;
};

// A DHCP lease row. The store does not interpret state; dhcp/ does.
struct LeaseRow {
  Ipv4Address ip;
  MacAddress mac;
  std::string client_id;  // hex
  std::string hostname;
  int64_t expires_at = 0;  // unix seconds
  int state = 0;
  int64_t updated_at = 0;  // unix seconds
};

// A redeemed boot token, stored as a hash of the token text.
struct BootToken {
  std::string token_hash;  // hex SHA-256 of the token
  MacAddress mac;
  int64_t boot = 0;
  int64_t created_at = 0;  // unix seconds
  int64_t expires_at = 0;
  int64_t redeemed_at = 0;
};

// A node agent's machine credential (issued when a boot token is redeemed), stored as a hash.
struct AgentCredential {
  std::string credential_hash;  // hex SHA-256 of the credential
  MacAddress mac;
  int64_t boot = 0;
  int64_t created_at = 0;  // unix seconds
};

class Store {
 public:
  virtual ~Store() = default;

  // Machines. UpsertMachine replaces every field of the record with the given one.
  virtual Status UpsertMachine(const MachineRecord& machine) = 0;
  virtual Result<std::optional<MachineRecord>> GetMachine(const MacAddress& mac) = 0;
  virtual Result<std::vector<MachineRecord>> ListMachines() = 0;

  // Timeline. Appends all events in one transaction. `id` fields are ignored and assigned.
  virtual Status AppendEvents(const std::vector<StoredEvent>& events) = 0;
  // Events of one machine in time order (boot by boot); `boot` = 0 means every boot. At most
  // `limit` newest.
  virtual Result<std::vector<StoredEvent>> Timeline(const MacAddress& mac, int64_t boot,
                                                    int64_t limit) = 0;

  // The event recorder's group commit: events and machine records in ONE transaction.
  struct Batch {
    std::vector<StoredEvent> events;
    std::vector<MachineRecord> machines;
    // true: the commit is fsynced (survives power loss) before the call returns, like every
    // other write. false: it is written but not fsynced (WAL, synchronous=NORMAL): it survives
    // a crash or kill -9 of paddock, and a power loss once any later synced commit (a lease, a
    // redeemed token, the recorder's periodic sync) has returned.
    bool sync = true;
  };
  virtual Status RecordBatch(const Batch& batch) = 0;
  // Makes every commit so far survive power loss (after unsynced RecordBatch calls).
  virtual Status Sync() = 0;

  // Leases. SaveLeases upserts all rows (keyed by ip) in one transaction.
  virtual Status SaveLeases(const std::vector<LeaseRow>& leases) = 0;
  virtual Result<std::vector<LeaseRow>> LoadLeases() = 0;

  // Boot tokens are stateless (daemon/tokens.h: signed, nothing stored when issued); the store
  // keeps the redeemed ones so that each is accepted once. RedeemToken records `token` (its
  // hash and facts) as redeemed at `now` and returns it with redeemed_at set, atomically and
  // durably; a token whose hash was redeemed before fails with kPermissionDenied.
  virtual Result<BootToken> RedeemToken(const BootToken& token, int64_t now) = 0;

  // A named secret: the stored value, or `candidate` stored (durably) and returned when the
  // name is new. Concurrent first calls agree on one value.
  virtual Result<std::string> Secret(const std::string& name, const std::string& candidate) = 0;

  // Agent credentials. PutCredential fails if the hash exists; FindCredential returns nullopt
  // for an unknown hash.
  virtual Status PutCredential(const AgentCredential& credential) = 0;
  virtual Result<std::optional<AgentCredential>> FindCredential(const std::string& hash) = 0;
};

// Opens (creating if needed) the SQLite store at `path`, applying schema migrations. The parent
// directory must exist.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path);

}  // namespace paddock::store
