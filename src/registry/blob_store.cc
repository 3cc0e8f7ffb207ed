#include "registry/blob_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "common/log.h"

namespace paddock::registry {
namespace fs = std::filesystem;

namespace {

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

Status FsyncPath(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError(Errno("open " + dir.string()));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return IoError(Errno("fsync " + dir.string()));
  return Ok();
}

// A prepared statement that finalizes itself.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Stmt() { sqlite3_finalize(stmt_); }
  bool ok() const { return stmt_ != nullptr; }
  Stmt& Bind(int i, std::string_view s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  int Step() { return stmt_ ? sqlite3_step(stmt_) : SQLITE_MISUSE; }
  std::string Text(int col) {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string(p, sqlite3_column_bytes(stmt_, col)) : std::string();
  }
  int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.Release();
  }
  return *this;
}

// ---------------------------------------------------------------------------------------------
// BlobWriter

BlobWriter::BlobWriter(BlobStore* store, Digest expected, int64_t expected_size, fs::path temp_path,
                       UniqueFd fd)
    : store_(store),
      expected_(std::move(expected)),
      expected_size_(expected_size),
      temp_path_(std::move(temp_path)),
      fd_(std::move(fd)) {}

BlobWriter::~BlobWriter() { Abort(); }

Status BlobWriter::Write(ByteSpan data) {
  if (finished_) return MakeError(ErrorCode::kInternal, "blob writer already finished");
  if (expected_size_ >= 0 && written_ + data.size() > static_cast<uint64_t>(expected_size_)) {
    return InvalidArgument("blob longer than its expected size");
  }
  hasher_.Update(data);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd_.get(), data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError(Errno("write " + temp_path_.string()));
    }
    off += static_cast<size_t>(n);
  }
  written_ += data.size();
  return Ok();
}

Status BlobWriter::Commit() {
  if (finished_) return MakeError(ErrorCode::kInternal, "blob writer already finished");
  finished_ = true;
  auto fail = [this](tl::unexpected<Error> e) -> Status {
    ::unlink(temp_path_.c_str());
    return e;
  };
  if (expected_size_ >= 0 && written_ != static_cast<uint64_t>(expected_size_)) {
    return fail(InvalidArgument("blob size " + std::to_string(written_) + " != expected " +
                                std::to_string(expected_size_)));
  }
  Digest got = hasher_.Finish();
  if (!(got == expected_)) {
    return fail(InvalidArgument("digest mismatch: got " + got.ToString() + ", expected " +
                                expected_.ToString()));
  }
  // Durability order: data on disk before the name points at it, then the directory entry.
  if (::fsync(fd_.get()) != 0) return fail(IoError(Errno("fsync " + temp_path_.string())));
  fs::path final_path = store_->PathFor(expected_);
  std::error_code ec;
  fs::create_directories(final_path.parent_path(), ec);
  if (::rename(temp_path_.c_str(), final_path.c_str()) != 0) {
    return fail(IoError(Errno("rename to " + final_path.string())));
  }
  if (auto s = FsyncPath(final_path.parent_path()); !s) return s;
  store_->RecordPublished(expected_, written_);
  store_->EvictToBound();
  return Ok();
}

void BlobWriter::Abort() {
  if (finished_) return;
  finished_ = true;
  ::unlink(temp_path_.c_str());
}

// ---------------------------------------------------------------------------------------------
// BlobStore

BlobStore::BlobStore(BlobStoreOptions options) : options_(std::move(options)) {
  if (options_.clock == nullptr) options_.clock = &SystemClock::Instance();
}

BlobStore::~BlobStore() {
  if (db_ != nullptr) sqlite3_close(db_);
}

Result<std::unique_ptr<BlobStore>> BlobStore::Open(BlobStoreOptions options) {
  std::unique_ptr<BlobStore> store(new BlobStore(std::move(options)));
  if (auto s = store->Init(); !s) return tl::unexpected(s.error());
  if (auto s = store->Recover(); !s) return tl::unexpected(s.error());
  store->EvictToBound();
  return store;
}

int64_t BlobStore::Now() const { return options_.clock->NowSeconds(); }

Status BlobStore::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "?";
    sqlite3_free(err);
    return IoError(std::string("sqlite: ") + msg);
  }
  return Ok();
}

Status BlobStore::Init() {
  std::error_code ec;
  fs::create_directories(options_.root / "blobs" / "sha256", ec);
  if (ec) return IoError("create " + options_.root.string() + ": " + ec.message());
  fs::create_directories(options_.root / "tmp", ec);
  if (ec) return IoError("create tmp: " + ec.message());
  fs::path db_path = options_.root / "index.db";
  if (sqlite3_open(db_path.c_str(), &db_) != SQLITE_OK) {
    return IoError("sqlite open " + db_path.string());
  }
  sqlite3_busy_timeout(db_, 5000);
  // WAL + synchronous=NORMAL: a committed transaction survives a process crash (kill -9); a
  // power loss may lose the last few access-time updates, which Recover() tolerates.
  return Exec(
      "PRAGMA journal_mode=WAL;"
      "PRAGMA synchronous=NORMAL;"
      "CREATE TABLE IF NOT EXISTS blobs(digest TEXT PRIMARY KEY, size INTEGER NOT NULL,"
      "  last_access INTEGER NOT NULL, access_seq INTEGER NOT NULL);"
      "CREATE INDEX IF NOT EXISTS blobs_lru ON blobs(access_seq);"
      "CREATE TABLE IF NOT EXISTS manifests(digest TEXT PRIMARY KEY, media_type TEXT NOT NULL);"
      "CREATE TABLE IF NOT EXISTS tags(registry TEXT NOT NULL, repo TEXT NOT NULL,"
      "  tag TEXT NOT NULL, digest TEXT NOT NULL, fetched_at INTEGER NOT NULL,"
      "  PRIMARY KEY(registry, repo, tag));");
}

Status BlobStore::Recover() {
  auto logger = log::Get("registry");
  std::error_code ec;
  size_t removed_tmp = 0, added = 0, dropped = 0, junk = 0;
  for (const auto& e : fs::directory_iterator(options_.root / "tmp", ec)) {
    fs::remove_all(e.path(), ec);
    ++removed_tmp;
  }
  std::lock_guard lock(mu_);
  Exec("BEGIN");
  // Published files the index does not know (crash between rename and the index insert).
  for (const auto& e : fs::recursive_directory_iterator(options_.root / "blobs" / "sha256", ec)) {
    if (!e.is_regular_file()) continue;
    std::string name = e.path().filename().string();
    auto digest = Digest::Parse("sha256:" + name);
    if (!digest || e.path().parent_path().filename() != name.substr(0, 2)) {
      fs::remove(e.path(), ec);
      ++junk;
      continue;
    }
    Stmt q(db_, "SELECT 1 FROM blobs WHERE digest=?");
    q.Bind(1, name);
    if (q.Step() == SQLITE_ROW) continue;
    struct stat st {};
    if (::stat(e.path().c_str(), &st) != 0) continue;
    Stmt ins(db_,
             "INSERT INTO blobs(digest,size,last_access,access_seq) VALUES(?,?,?,"
             "(SELECT IFNULL(MAX(access_seq),0)+1 FROM blobs))");
    ins.Bind(1, name).Bind(2, static_cast<int64_t>(st.st_size)).Bind(3, int64_t{st.st_mtime});
    ins.Step();
    ++added;
  }
  // Index rows whose file is gone (removed by hand, or a crash mid-eviction).
  std::vector<std::string> gone;
  {
    Stmt q(db_, "SELECT digest FROM blobs");
    while (q.Step() == SQLITE_ROW) {
      std::string hex = q.Text(0);
      auto digest = Digest::Parse("sha256:" + hex);
      if (!digest || !fs::exists(PathFor(*digest), ec)) gone.push_back(hex);
    }
  }
  for (const auto& hex : gone) {
    Stmt d1(db_, "DELETE FROM blobs WHERE digest=?");
    d1.Bind(1, hex).Step();
    Stmt d2(db_, "DELETE FROM manifests WHERE digest=?");
    d2.Bind(1, hex).Step();
    ++dropped;
  }
  Exec("COMMIT");
  logger->info("blob store {}: recovered (tmp removed={} indexed={} dropped={} junk={})",
               options_.root.string(), removed_tmp, added, dropped, junk);
  return Ok();
}

fs::path BlobStore::PathFor(const Digest& digest) const {
  return options_.root / "blobs" / "sha256" / digest.hex().substr(0, 2) / digest.hex();
}

bool BlobStore::Has(const Digest& digest) {
  std::error_code ec;
  return fs::exists(PathFor(digest), ec);
}

void BlobStore::Touch(const Digest& digest) {
  std::lock_guard lock(mu_);
  Stmt u(db_,
         "UPDATE blobs SET last_access=?, access_seq=(SELECT MAX(access_seq)+1 FROM blobs) "
         "WHERE digest=?");
  u.Bind(1, Now()).Bind(2, digest.hex()).Step();
}

void BlobStore::RecordPublished(const Digest& digest, uint64_t size) {
  std::lock_guard lock(mu_);
  Stmt ins(db_,
           "INSERT OR REPLACE INTO blobs(digest,size,last_access,access_seq) VALUES(?,?,?,"
           "(SELECT IFNULL(MAX(access_seq),0)+1 FROM blobs))");
  ins.Bind(1, digest.hex()).Bind(2, static_cast<int64_t>(size)).Bind(3, Now()).Step();
}

Result<OpenedBlob> BlobStore::OpenBlob(const Digest& digest) {
  fs::path p = PathFor(digest);
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NotFound("blob " + digest.ToString());
    return IoError(Errno("open " + p.string()));
  }
  OpenedBlob out{UniqueFd(fd), 0};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return IoError(Errno("fstat " + p.string()));
  out.size = static_cast<uint64_t>(st.st_size);
  Touch(digest);
  return out;
}

Result<std::unique_ptr<BlobWriter>> BlobStore::CreateBlob(const Digest& expected,
                                                          int64_t expected_size) {
  uint64_t n;
  {
    std::lock_guard lock(mu_);
    n = ++temp_counter_;
  }
  fs::path temp = options_.root / "tmp" /
                  (expected.hex() + "." + std::to_string(::getpid()) + "." + std::to_string(n));
  int fd = ::open(temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return IoError(Errno("create " + temp.string()));
  return std::unique_ptr<BlobWriter>(
      new BlobWriter(this, expected, expected_size, std::move(temp), UniqueFd(fd)));
}

Status BlobStore::PutBlob(const Digest& digest, std::string_view bytes) {
  if (Has(digest)) return Ok();
  auto w = CreateBlob(digest, static_cast<int64_t>(bytes.size()));
  if (!w) return tl::unexpected(w.error());
  if (auto s = (*w)->Write(AsBytes(bytes)); !s) return s;
  return (*w)->Commit();
}

Status BlobStore::PutManifest(const Digest& digest, std::string_view media_type,
                              std::string_view bytes) {
  if (auto s = PutBlob(digest, bytes); !s) return s;
  std::lock_guard lock(mu_);
  Stmt ins(db_, "INSERT OR REPLACE INTO manifests(digest, media_type) VALUES(?,?)");
  if (ins.Bind(1, digest.hex()).Bind(2, media_type).Step() != SQLITE_DONE) {
    return IoError("sqlite: insert manifest");
  }
  return Ok();
}

Result<StoredManifest> BlobStore::GetManifest(const Digest& digest) {
  std::string media_type;
  {
    std::lock_guard lock(mu_);
    Stmt q(db_, "SELECT media_type FROM manifests WHERE digest=?");
    q.Bind(1, digest.hex());
    if (q.Step() != SQLITE_ROW) return NotFound("manifest " + digest.ToString());
    media_type = q.Text(0);
  }
  auto blob = OpenBlob(digest);
  if (!blob) return tl::unexpected(blob.error());
  std::string bytes(blob->size, '\0');
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n =
        ::pread(blob->fd.get(), bytes.data() + off, bytes.size() - off, static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return IoError(Errno("read manifest " + digest.ToString()));
    off += static_cast<size_t>(n);
  }
  return StoredManifest{digest, std::move(media_type), std::move(bytes)};
}

Status BlobStore::PutTag(const TagKey& key, const Digest& digest, int64_t fetched_at) {
  std::lock_guard lock(mu_);
  Stmt ins(db_,
           "INSERT OR REPLACE INTO tags(registry, repo, tag, digest, fetched_at) "
           "VALUES(?,?,?,?,?)");
  ins.Bind(1, key.registry).Bind(2, key.repo).Bind(3, key.tag).Bind(4, digest.hex());
  if (ins.Bind(5, fetched_at).Step() != SQLITE_DONE) return IoError("sqlite: insert tag");
  return Ok();
}

Result<TagEntry> BlobStore::GetTag(const TagKey& key) {
  std::lock_guard lock(mu_);
  Stmt q(db_, "SELECT digest, fetched_at FROM tags WHERE registry=? AND repo=? AND tag=?");
  q.Bind(1, key.registry).Bind(2, key.repo).Bind(3, key.tag);
  if (q.Step() != SQLITE_ROW) return NotFound("tag " + key.repo + ":" + key.tag);
  auto digest = Digest::Parse("sha256:" + q.Text(0));
  if (!digest) return NotFound("tag row with a bad digest");
  return TagEntry{*digest, q.Int(1)};
}

std::vector<std::string> BlobStore::ListTags(const std::string& registry, const std::string& repo) {
  std::lock_guard lock(mu_);
  Stmt q(db_, "SELECT tag FROM tags WHERE registry=? AND repo=? ORDER BY tag");
  q.Bind(1, registry).Bind(2, repo);
  std::vector<std::string> out;
  while (q.Step() == SQLITE_ROW) out.push_back(q.Text(0));
  return out;
}

uint64_t BlobStore::TotalBytes() {
  std::lock_guard lock(mu_);
  Stmt q(db_, "SELECT IFNULL(SUM(size),0) FROM blobs");
  return q.Step() == SQLITE_ROW ? static_cast<uint64_t>(q.Int(0)) : 0;
}

size_t BlobStore::EntryCount() {
  std::lock_guard lock(mu_);
  Stmt q(db_, "SELECT COUNT(*) FROM blobs");
  return q.Step() == SQLITE_ROW ? static_cast<size_t>(q.Int(0)) : 0;
}

size_t BlobStore::EvictToBound() {
  if (options_.max_bytes == 0) return 0;
  size_t evicted = 0;
  std::error_code ec;
  std::lock_guard lock(mu_);
  int64_t total = 0;
  {
    Stmt q(db_, "SELECT IFNULL(SUM(size),0) FROM blobs");
    if (q.Step() == SQLITE_ROW) total = q.Int(0);
  }
  while (static_cast<uint64_t>(total) > options_.max_bytes) {
    std::string hex;
    int64_t size = 0;
    {
      Stmt q(db_, "SELECT digest, size FROM blobs ORDER BY access_seq LIMIT 1");
      if (q.Step() != SQLITE_ROW) break;
      hex = q.Text(0);
      size = q.Int(1);
    }
    // File first, then the row: a crash in between leaves a row without a file, which
    // Recover() drops.
    auto digest = Digest::Parse("sha256:" + hex);
    if (digest) fs::remove(PathFor(*digest), ec);
    Stmt d1(db_, "DELETE FROM blobs WHERE digest=?");
    d1.Bind(1, hex).Step();
    Stmt d2(db_, "DELETE FROM manifests WHERE digest=?");
    d2.Bind(1, hex).Step();
    total -= size;
    ++evicted;
    evictions_.fetch_add(1);
  }
  if (evicted > 0) {
    log::Get("registry")->info("blob store: evicted {} entries, {} bytes left", evicted, total);
  }
  return evicted;
}

}  // namespace paddock::registry
