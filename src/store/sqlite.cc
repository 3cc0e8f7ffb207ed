#include "store/sqlite.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace paddock::store {

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : db_(other.db_), stmt_(other.stmt_), owner_(other.owner_) {
  other.stmt_ = nullptr;
}

SqliteStatement::~SqliteStatement() {
  if (stmt_ == nullptr) return;
  if (owner_ != nullptr) {
    owner_->Release(stmt_);
  } else {
    sqlite3_finalize(stmt_);
  }
}

void SqliteStatement::Bind(int index, const std::string& value) {
  sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
}

void SqliteStatement::Bind(int index, int64_t value) { sqlite3_bind_int64(stmt_, index, value); }

void SqliteStatement::BindBlob(int index, const std::string& bytes) {
  sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
}

Result<bool> SqliteStatement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return IoError(std::string("sqlite step: ") + sqlite3_errmsg(db_));
}

Status SqliteStatement::RunToCompletion() {
  while (true) {
    auto row = Step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return Ok();
  }
}

void SqliteStatement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t SqliteStatement::ColumnInt(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string SqliteStatement::ColumnText(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text), sqlite3_column_bytes(stmt_, column));
}

std::string SqliteStatement::ColumnBlob(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  if (data == nullptr) return {};
  return std::string(static_cast<const char*>(data), sqlite3_column_bytes(stmt_, column));
}

int64_t SqliteDb::Changes() const { return sqlite3_changes64(db_); }

Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path, bool read_only) {
  // SQLite's memory statistics take a global mutex on every allocation (the recorder makes a
  // few per stored event); nothing reads them. Global, so set once, before SQLite initializes
  // (later calls fail with SQLITE_MISUSE and change nothing).
  static const bool kNoMemStatus = [] {
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)kNoMemStatus;
  if (!read_only) {
    // Owner-only: the database holds the key that signs boot tokens (daemon/tokens.h), so
    // reading it is enough to mint them. A new file is created 0600; an older one, and its WAL
    // and shared-memory files (SQLite gives those the database's mode when it creates them),
    // are tightened.
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      return IoError("cannot open database " + path + ": " + std::strerror(errno));
    }
    ::close(fd);
    for (const std::string& file : {path, path + "-wal", path + "-shm"}) {
      if (::chmod(file.c_str(), 0600) != 0 && errno != ENOENT) {
        return IoError("cannot make " + file + " owner-only: " + std::strerror(errno));
      }
    }
  }
  sqlite3* raw = nullptr;
  int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  flags |= SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    if (raw) sqlite3_close(raw);
    return IoError("cannot open database " + path + ": " + msg);
  }
  std::unique_ptr<SqliteDb> db(new SqliteDb(raw));
  sqlite3_busy_timeout(raw, 5000);
  if (!read_only) {
    // WAL: readers (the CLI) do not block the writer. synchronous=FULL: every COMMIT fsyncs the
    // WAL, so an acknowledged lease or event survives kill -9 and power loss. cache_size: 32 MiB
    // instead of 2 MiB, so that the index pages random keys land on (boot-token hashes, the
    // per-machine event index of 1,000s of machines) stay cached instead of being read back
    // with pread on most inserts.
    for (const char* pragma :
         {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON",
          "PRAGMA cache_size=-32768", "PRAGMA wal_autocheckpoint=8000"}) {
      if (auto s = db->Exec(pragma); !s) return tl::unexpected(s.error());
    }
  }
  return db;
}

SqliteDb::~SqliteDb() {
  for (auto& [sql, cached] : cache_) sqlite3_finalize(cached.stmt);
  sqlite3_close_v2(db_);
}

void SqliteDb::Release(sqlite3_stmt* stmt) {
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  for (auto& [sql, cached] : cache_) {
    if (cached.stmt == stmt) {
      cached.in_use = false;
      return;
    }
  }
  sqlite3_finalize(stmt);  // not ours after all: never leak it
}

Status SqliteDb::Error(const std::string& what) const {
  return IoError(what + ": " + sqlite3_errmsg(db_));
}

Status SqliteDb::Exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return IoError("sqlite: " + msg);
  }
  return Ok();
}

Result<SqliteStatement> SqliteDb::Prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end() && !it->second.in_use) {
    it->second.in_use = true;
    return SqliteStatement(db_, it->second.stmt, this);
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt, nullptr) !=
      SQLITE_OK) {
    return tl::unexpected(Error("sqlite prepare").error());
  }
  if (it == cache_.end()) {
    cache_.emplace(sql, Cached{stmt, true});
    return SqliteStatement(db_, stmt, this);
  }
  return SqliteStatement(db_, stmt);  // the cached one is busy: a private, finalized copy
}

Status SqliteDb::Transaction(const std::function<Status()>& body, bool sync) {
  // synchronous is a connection setting read at COMMIT; it cannot change inside a transaction.
  // In WAL mode a later FULL commit fsyncs the WAL and with it every frame written before.
  if (!sync) {
    if (auto s = Exec("PRAGMA synchronous=NORMAL"); !s) return s;
  }
  auto restore = [&] {
    if (!sync) (void)Exec("PRAGMA synchronous=FULL");
  };
  if (auto s = Exec("BEGIN IMMEDIATE"); !s) {
    restore();
    return s;
  }
  Status result = body();
  if (!result) {
    (void)Exec("ROLLBACK");
    restore();
    return result;
  }
  if (auto s = Exec("COMMIT"); !s) {
    (void)Exec("ROLLBACK");
    restore();
    return s;
  }
  restore();
  return Ok();
}

Status SqliteDb::Migrate(const char* const* migrations, size_t count) {
  auto st = Prepare("PRAGMA user_version");
  if (!st) return tl::unexpected(st.error());
  auto row = st->Step();
  if (!row) return tl::unexpected(row.error());
  int64_t version = st->ColumnInt(0);
  if (version > static_cast<int64_t>(count)) {
    return IoError("database schema version " + std::to_string(version) +
                   " is newer than this paddock understands (" + std::to_string(count) + ")");
  }
  for (size_t i = static_cast<size_t>(version); i < count; ++i) {
    Status s = Transaction([&]() -> Status {
      if (auto e = Exec(migrations[i]); !e) return e;
      return Exec("PRAGMA user_version = " + std::to_string(i + 1));
    });
    if (!s) return s;
  }
  return Ok();
}

}  // namespace paddock::store
