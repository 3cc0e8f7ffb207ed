#include "agent/state_archive.h"

#include <dirent.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <set>

#include "agent/codec.h"

namespace paddock::agent {
namespace {

constexpr size_t kBlock = 512;

// width-1 octal digits, zero padded, NUL terminated (POSIX ustar numeric fields). False when
// the value does not fit (uid/gid >= 8^7, size >= 8^11).
bool PutOctal(char* field, size_t width, uint64_t value) {
  if (value >> (3 * (width - 1)) != 0) return false;
  char tmp[24];
  std::snprintf(tmp, sizeof(tmp), "%0*llo", static_cast<int>(width - 1),
                static_cast<unsigned long long>(value));
  std::memcpy(field, tmp, width);  // the last byte copied is the NUL
  return true;
}

bool GetOctal(const char* field, size_t width, uint64_t* out) {
  uint64_t v = 0;
  size_t i = 0;
  while (i < width && field[i] == ' ') ++i;
  bool any = false;
  for (; i < width; ++i) {
    char c = field[i];
    if (c == '\0' || c == ' ') break;
    if (c < '0' || c > '7') return false;
    if (v > (UINT64_MAX >> 3)) return false;
    v = v * 8 + (c - '0');
    any = true;
  }
  for (; i < width; ++i) {
    if (field[i] != '\0' && field[i] != ' ') return false;
  }
  if (!any) return false;
  *out = v;
  return true;
}

uint32_t HeaderChecksum(const char* h) {
  uint32_t sum = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    sum += (i >= 148 && i < 156) ? ' ' : static_cast<uint8_t>(h[i]);
  }
  return sum;
}

std::string Field(const char* p, size_t width) { return std::string(p, strnlen(p, width)); }

bool SafeName(const std::string& name) {
  if (name.empty() || name[0] == '/') return false;
  size_t pos = 0;
  while (pos <= name.size()) {
    size_t slash = name.find('/', pos);
    std::string comp = name.substr(pos, slash == std::string::npos ? slash : slash - pos);
    if (comp == ".." || (comp.empty() && slash != std::string::npos)) return false;
    if (slash == std::string::npos) break;
    pos = slash + 1;
  }
  return name.find('\0') == std::string::npos;
}

Status AppendMember(std::string* out, const StateEntry& e) {
  char h[kBlock];
  std::memset(h, 0, sizeof(h));
  std::string name = e.path;
  std::string prefix;
  if (name.size() > 100) {
    // Split at a '/' so that prefix <= 155 and name <= 100 (POSIX ustar).
    size_t split = name.rfind('/', 155);
    while (split != std::string::npos && name.size() - split - 1 > 100) {
      split = split == 0 ? std::string::npos : name.rfind('/', split - 1);
    }
    if (split == std::string::npos || split > 155) {
      return InvalidArgument("path too long for ustar: " + e.path);
    }
    prefix = name.substr(0, split);
    name = name.substr(split + 1);
  }
  if (e.type == StateEntry::Type::kSymlink && e.target.size() > 100) {
    return InvalidArgument("symlink target too long for ustar: " + e.path);
  }
  std::memcpy(h, name.data(), name.size());
  uint64_t size = e.type == StateEntry::Type::kFile ? e.data.size() : 0;
  uint64_t mtime =
      std::min<uint64_t>(static_cast<uint64_t>(std::max<int64_t>(0, e.mtime)), 077777777777ull);
  if (!PutOctal(h + 100, 8, e.mode & 07777) || !PutOctal(h + 108, 8, e.uid) ||
      !PutOctal(h + 116, 8, e.gid) || !PutOctal(h + 124, 12, size) ||
      !PutOctal(h + 136, 12, mtime)) {
    return InvalidArgument("uid, gid or size too large for ustar: " + e.path);
  }
  h[156] = e.type == StateEntry::Type::kFile        ? '0'
           : e.type == StateEntry::Type::kDirectory ? '5'
                                                    : '2';
  if (e.type == StateEntry::Type::kSymlink) std::memcpy(h + 157, e.target.data(), e.target.size());
  std::memcpy(h + 257, "ustar", 6);  // magic "ustar\0"
  std::memcpy(h + 263, "00", 2);
  std::memcpy(h + 345, prefix.data(), prefix.size());
  std::snprintf(h + 148, 8, "%06o", HeaderChecksum(h));
  h[155] = ' ';
  out->append(h, kBlock);
  if (size > 0) {
    out->append(e.data);
    out->append((kBlock - size % kBlock) % kBlock, '\0');
  }
  return Ok();
}

void Walk(const RootFs& fs, const std::string& path, std::vector<StateEntry>* out,
          std::set<std::string>* seen, int depth) {
  if (depth > 32 || !seen->insert(path).second) return;
  auto st = fs.Lstat(path);
  if (!st) return;
  StateEntry e;
  e.path = path.substr(1);
  e.mode = st->st_mode & 07777;
  e.uid = st->st_uid;
  e.gid = st->st_gid;
  e.mtime = st->st_mtime;
  if (S_ISLNK(st->st_mode)) {
    auto host = fs.Resolve(path, false);
    char buf[4096];
    ssize_t n = host ? readlink(host->c_str(), buf, sizeof(buf)) : -1;
    if (n < 0) return;
    e.type = StateEntry::Type::kSymlink;
    e.target.assign(buf, n);
    out->push_back(std::move(e));
  } else if (S_ISREG(st->st_mode)) {
    auto data = fs.ReadFile(path);
    if (!data) return;
    e.data = std::move(*data);
    out->push_back(std::move(e));
  } else if (S_ISDIR(st->st_mode)) {
    e.type = StateEntry::Type::kDirectory;
    out->push_back(std::move(e));
    auto host = fs.Resolve(path, false);
    if (!host) return;
    DIR* d = opendir(host->c_str());
    if (!d) return;
    std::vector<std::string> names;
    while (auto* ent = readdir(d)) {
      std::string n = ent->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    for (const auto& n : names) Walk(fs, path + "/" + n, out, seen, depth + 1);
  }
}

}  // namespace

Result<std::string> WriteStateArchive(const std::vector<StateEntry>& entries) {
  std::string out;
  for (const auto& e : entries) {
    if (!SafeName(e.path) || e.path == kStateChecksumMember) {
      return InvalidArgument("bad member name: " + e.path);
    }
    if (auto st = AppendMember(&out, e); !st) return tl::unexpected(st.error());
  }
  StateEntry sum;
  sum.path = kStateChecksumMember;
  sum.mode = 0644;
  sum.data = Sha256::HexDigest(out) + "\n";
  if (auto st = AppendMember(&out, sum); !st) return tl::unexpected(st.error());
  out.append(2 * kBlock, '\0');
  return out;
}

Result<std::vector<StateEntry>> ParseStateArchive(std::string_view archive) {
  std::vector<StateEntry> entries;
  size_t pos = 0;
  bool have_sum = false;
  while (true) {
    if (archive.size() - pos < kBlock) return InvalidArgument("truncated archive");
    const char* h = archive.data() + pos;
    bool zero = std::all_of(h, h + kBlock, [](char c) { return c == 0; });
    if (zero) {
      if (!have_sum) return InvalidArgument("archive has no .paddock-sha256 member");
      // End of archive: at least two zero blocks, and nothing but zeros after.
      size_t rest = archive.size() - pos;
      if (rest < 2 * kBlock) return InvalidArgument("truncated archive (end blocks)");
      if (rest % kBlock != 0 ||
          !std::all_of(archive.begin() + pos, archive.end(), [](char c) { return c == 0; })) {
        return InvalidArgument("data after the end of the archive");
      }
      return entries;
    }
    if (have_sum) return InvalidArgument("members after the checksum member");
    uint64_t stored_sum = 0;
    if (!GetOctal(h + 148, 8, &stored_sum) || stored_sum != HeaderChecksum(h)) {
      return InvalidArgument("bad header checksum at offset " + std::to_string(pos));
    }
    if (std::memcmp(h + 257, "ustar", 5) != 0) {
      return InvalidArgument("not a ustar header at offset " + std::to_string(pos));
    }
    uint64_t mode, uid, gid, size, mtime;
    if (!GetOctal(h + 100, 8, &mode) || !GetOctal(h + 108, 8, &uid) ||
        !GetOctal(h + 116, 8, &gid) || !GetOctal(h + 124, 12, &size) ||
        !GetOctal(h + 136, 12, &mtime)) {
      return InvalidArgument("bad numeric field at offset " + std::to_string(pos));
    }
    if (uid > 0xffffffffu || gid > 0xffffffffu) return InvalidArgument("uid/gid out of range");
    std::string name = Field(h, 100);
    std::string prefix = Field(h + 345, 155);
    if (!prefix.empty()) name = prefix + "/" + name;
    while (name.size() > 1 && name.back() == '/') name.pop_back();
    if (name.rfind("./", 0) == 0) name = name.substr(2);
    if (!SafeName(name)) return InvalidArgument("unsafe member name: " + name);
    StateEntry e;
    e.path = name;
    e.mode = static_cast<mode_t>(mode & 07777);
    e.uid = static_cast<uid_t>(uid);
    e.gid = static_cast<gid_t>(gid);
    e.mtime = static_cast<int64_t>(std::min<uint64_t>(mtime, INT64_MAX));
    char type = h[156];
    size_t data_at = pos + kBlock;
    uint64_t padded = size + (kBlock - size % kBlock) % kBlock;
    if (size > archive.size() || padded > archive.size() - data_at) {
      return InvalidArgument("truncated archive (member data of " + name + ")");
    }
    if (type == '0' || type == '\0') {
      e.type = StateEntry::Type::kFile;
      e.data = std::string(archive.substr(data_at, size));
    } else if (type == '5') {
      e.type = StateEntry::Type::kDirectory;
      if (size != 0) return InvalidArgument("directory with data: " + name);
    } else if (type == '2') {
      e.type = StateEntry::Type::kSymlink;
      e.target = Field(h + 157, 100);
      if (e.target.empty() || size != 0) return InvalidArgument("bad symlink: " + name);
    } else {
      return InvalidArgument(std::string("unsupported member type '") + type + "': " + name);
    }
    if (name == kStateChecksumMember) {
      std::string want = Sha256::HexDigest(archive.substr(0, pos)) + "\n";
      if (e.type != StateEntry::Type::kFile || e.data != want) {
        return InvalidArgument("archive checksum mismatch (corrupt archive)");
      }
      // The digest covers everything before this member; its own padding must be zeros.
      std::string_view pad = archive.substr(data_at + size, padded - size);
      if (!std::all_of(pad.begin(), pad.end(), [](char c) { return c == 0; })) {
        return InvalidArgument("corrupt checksum member padding");
      }
      have_sum = true;
    } else {
      entries.push_back(std::move(e));
    }
    pos = data_at + padded;
  }
}

Result<std::string> BuildStateArchive(const RootFs& fs, const std::vector<std::string>& globs,
                                      std::vector<std::string>* warnings) {
  std::vector<StateEntry> entries;
  std::set<std::string> seen;
  for (const auto& pattern : globs) {
    if (pattern.empty() || pattern[0] != '/' || pattern.find("..") != std::string::npos) {
      warnings->push_back("persist pattern must be absolute without '..': " + pattern);
      continue;
    }
    // The directory part before the first wildcard is resolved inside the root (symlinks
    // there may be absolute); only the rest is matched by glob(3).
    size_t wild = pattern.find_first_of("*?[");
    size_t dir_end = pattern.rfind('/', wild == std::string::npos ? pattern.size() : wild);
    std::string dir = pattern.substr(0, dir_end);
    std::string rest = pattern.substr(dir_end);
    auto host_dir = fs.Resolve(dir.empty() ? "/" : dir);
    std::vector<std::string> matches;
    if (host_dir) {
      std::string base = *host_dir == "/" ? "" : *host_dir;
      glob_t g{};
      std::string full = base + rest;
      if (glob(full.c_str(), GLOB_NOSORT, nullptr, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; ++i) {
          matches.push_back(dir + std::string(g.gl_pathv[i] + base.size()));
        }
      }
      globfree(&g);
    }
    if (matches.empty()) {
      warnings->push_back("persist pattern matched nothing: " + pattern);
      continue;
    }
    std::sort(matches.begin(), matches.end());
    for (const auto& m : matches) Walk(fs, m, &entries, &seen, 0);
  }
  return WriteStateArchive(entries);
}

Result<size_t> RestoreStateArchive(RootFs& fs, std::string_view archive) {
  auto entries = ParseStateArchive(archive);
  if (!entries) return tl::unexpected(entries.error());
  for (const auto& e : *entries) {
    std::string path = "/" + e.path;
    Status st;
    switch (e.type) {
      case StateEntry::Type::kDirectory:
        st = fs.MkdirP(path, e.mode);
        if (st) st = fs.Chmod(path, e.mode);
        if (st) st = fs.Chown(path, e.uid, e.gid);
        break;
      case StateEntry::Type::kFile:
        st = fs.WriteFile(path, e.data, {.mode = e.mode, .uid = e.uid, .gid = e.gid});
        break;
      case StateEntry::Type::kSymlink:
        st = fs.Symlink(e.target, path);
        if (st) st = fs.Chown(path, e.uid, e.gid);
        break;
    }
    if (!st) return tl::unexpected(st.error());
  }
  return entries->size();
}

}  // namespace paddock::agent
