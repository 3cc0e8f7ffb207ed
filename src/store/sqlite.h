#pragma once

// A thin RAII wrapper over the SQLite C API that returns Result instead of throwing. Internal to
// store/ (and registry/ may reuse it); not thread-safe: callers serialize access to one SqliteDb.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace paddock::store {

class SqliteDb;

class SqliteStatement {
 public:
  // An owned statement is finalized on destruction; a cached one (owner != nullptr) is reset
  // and handed back to its SqliteDb's cache.
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt, SqliteDb* owner = nullptr)
      : db_(db), stmt_(stmt), owner_(owner) {}
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  ~SqliteStatement();

  // Parameters are 1-based, as in SQLite. Text is copied (SQLITE_TRANSIENT).
  void Bind(int index, const std::string& value);
  void Bind(int index, int64_t value);
  void BindBlob(int index, const std::string& bytes);
  // Returns true when a row is available, false when done.
  Result<bool> Step();
  // Steps until done (for INSERT/UPDATE).
  Status RunToCompletion();
  // Makes the statement runnable again, keeping nothing bound.
  void Reset();

  int64_t ColumnInt(int column) const;
  std::string ColumnText(int column) const;
  std::string ColumnBlob(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  SqliteDb* owner_;
};

class SqliteDb {
 public:
  // Opens or creates the database with WAL journaling, synchronous=FULL (a committed
  // transaction survives power loss), foreign keys on and a busy timeout, so readers in other
  // processes (`paddock timeline`) never block the daemon for long.
  static Result<std::unique_ptr<SqliteDb>> Open(const std::string& path, bool read_only = false);
  ~SqliteDb();

  Status Exec(const std::string& sql);
  // Rows changed by the last INSERT, UPDATE or DELETE on this connection.
  int64_t Changes() const;
  // Prepared statements are cached by SQL text and reused (preparing costs more than running
  // the small statements the store issues). A statement already in use is prepared afresh.
  Result<SqliteStatement> Prepare(const std::string& sql);
  // Runs body inside BEGIN IMMEDIATE / COMMIT; rolls back if body fails. sync = false commits
  // with synchronous=NORMAL (written to the WAL, not fsynced: survives a crash of the process,
  // and a power loss once a later synced commit has fsynced the WAL); the connection is back
  // to synchronous=FULL afterwards.
  Status Transaction(const std::function<Status()>& body, bool sync = true);
  // Applies migrations[user_version..count) in one transaction each, bumping user_version.
  Status Migrate(const char* const* migrations, size_t count);

 private:
  friend class SqliteStatement;
  struct Cached {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  Status Error(const std::string& what) const;
  void Release(sqlite3_stmt* stmt);
  sqlite3* db_;
  std::unordered_map<std::string, Cached> cache_;
};

}  // namespace paddock::store
