#include "agent/rootfs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>

namespace paddock::agent {
namespace {

std::string Errno(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

void SplitInto(std::string_view path, std::deque<std::string>* parts, bool front) {
  std::vector<std::string> comps;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    std::string_view c = path.substr(pos, slash == std::string_view::npos ? slash : slash - pos);
    if (!c.empty()) comps.emplace_back(c);
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  if (front) {
    parts->insert(parts->begin(), comps.begin(), comps.end());
  } else {
    parts->insert(parts->end(), comps.begin(), comps.end());
  }
}

}  // namespace

std::string ModeString(mode_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

RootFs::RootFs(std::string root, bool dry_run) : root_(std::move(root)), dry_run_(dry_run) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  if (root_.empty()) root_ = "/";
}

Result<std::string> RootFs::Resolve(std::string_view path, bool follow_last) const {
  if (path.empty() || path[0] != '/')
    return InvalidArgument("path must be absolute: " + std::string(path));
  std::deque<std::string> todo;
  SplitInto(path, &todo, false);
  std::vector<std::string> done;
  int links = 0;
  auto join = [&](const std::vector<std::string>& comps) {
    std::string out = root_ == "/" ? "" : root_;
    for (const auto& c : comps) out += "/" + c;
    return out.empty() ? std::string("/") : out;
  };
  while (!todo.empty()) {
    std::string comp = std::move(todo.front());
    todo.pop_front();
    if (comp == ".") continue;
    if (comp == "..") {
      if (!done.empty()) done.pop_back();  // ".." at the root stays at the root
      continue;
    }
    done.push_back(comp);
    bool last = todo.empty();
    if (last && !follow_last) break;
    std::string host = join(done);
    struct stat st;
    if (lstat(host.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) continue;
    if (++links > 40) return InvalidArgument("too many symlinks resolving " + std::string(path));
    char target[4096];
    ssize_t n = readlink(host.c_str(), target, sizeof(target) - 1);
    if (n < 0) return IoError(Errno("readlink", host));
    target[n] = '\0';
    done.pop_back();
    if (target[0] == '/') done.clear();  // absolute links restart at the root
    SplitInto(std::string_view(target, n), &todo, true);
  }
  return join(done);
}

Result<std::string> RootFs::ReadFile(std::string_view path) const {
  auto host = Resolve(path);
  if (!host) return tl::unexpected(host.error());
  int fd = open(host->c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NotFound(std::string(path) + " does not exist");
    return IoError(Errno("open", *host));
  }
  std::string out;
  char buf[65536];
  while (true) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      close(fd);
      return IoError(Errno("read", *host));
    }
    if (n == 0) break;
    out.append(buf, n);
  }
  close(fd);
  return out;
}

bool RootFs::Exists(std::string_view path) const { return Lstat(path).has_value(); }

std::optional<struct stat> RootFs::Lstat(std::string_view path) const {
  auto host = Resolve(path, false);
  if (!host) return std::nullopt;
  struct stat st;
  if (lstat(host->c_str(), &st) != 0) return std::nullopt;
  return st;
}

Status RootFs::MkdirP(std::string_view path, mode_t mode) {
  auto host = Resolve(path);
  if (!host) return tl::unexpected(host.error());
  struct stat st;
  if (stat(host->c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Ok();
    return IoError(std::string(path) + " exists and is not a directory");
  }
  if (dry_run_) {
    plan_.push_back("mkdir " + std::string(path) + " " + ModeString(mode));
    return Ok();
  }
  // The resolved path has no symlinks in its existing part, so creating each missing
  // component of it (below the root) stays inside the root.
  size_t base = root_ == "/" ? 0 : root_.size();
  for (size_t pos = host->find('/', base + 1);; pos = host->find('/', pos + 1)) {
    std::string prefix = host->substr(0, pos);
    bool last = pos == std::string::npos;
    if (stat(prefix.c_str(), &st) != 0) {
      mode_t m = last ? mode : 0755;
      if (mkdir(prefix.c_str(), m) != 0 && errno != EEXIST) return IoError(Errno("mkdir", prefix));
      chmod(prefix.c_str(), m);  // not subject to umask
    } else if (!S_ISDIR(st.st_mode)) {
      return IoError(prefix + " exists and is not a directory");
    }
    if (last) break;
  }
  return Ok();
}

Status RootFs::WriteFile(std::string_view path, std::string_view content,
                         const WriteOptions& opts) {
  if (dry_run_) {
    char line[64];
    std::snprintf(line, sizeof(line), " %u:%u (%zu bytes)", static_cast<unsigned>(opts.uid),
                  static_cast<unsigned>(opts.gid), content.size());
    plan_.push_back(std::string(opts.append ? "append " : "write ") + std::string(path) + " " +
                    ModeString(opts.mode) + line);
    return Ok();
  }
  size_t slash = path.rfind('/');
  if (slash != std::string_view::npos && slash > 0) {
    auto st = MkdirP(path.substr(0, slash));
    if (!st) return st;
  }
  auto host = Resolve(path);
  if (!host) return tl::unexpected(host.error());
  std::string target = *host;
  std::string tmp = opts.append ? target : target + ".paddock-tmp";
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (opts.append ? O_APPEND : O_TRUNC);
  int fd = open(tmp.c_str(), flags, opts.mode & 07777);
  if (fd < 0) return IoError(Errno("open", tmp));
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int saved = errno;
      close(fd);
      errno = saved;
      return IoError(Errno("write", tmp));
    }
    off += n;
  }
  if (fchmod(fd, opts.mode & 07777) != 0 ||
      (opts.set_owner && fchown(fd, opts.uid, opts.gid) != 0 && geteuid() == 0)) {
    int saved = errno;
    close(fd);
    errno = saved;
    return IoError(Errno("chmod/chown", tmp));
  }
  if (close(fd) != 0) return IoError(Errno("close", tmp));
  if (!opts.append && rename(tmp.c_str(), target.c_str()) != 0) {
    unlink(tmp.c_str());
    return IoError(Errno("rename", target));
  }
  return Ok();
}

Status RootFs::Symlink(std::string_view target, std::string_view path) {
  if (dry_run_) {
    plan_.push_back("symlink " + std::string(path) + " -> " + std::string(target));
    return Ok();
  }
  size_t slash = path.rfind('/');
  if (slash != std::string_view::npos && slash > 0) {
    auto st = MkdirP(path.substr(0, slash));
    if (!st) return st;
  }
  auto host = Resolve(path, false);
  if (!host) return tl::unexpected(host.error());
  std::string tmp = *host + ".paddock-tmp";
  unlink(tmp.c_str());
  if (symlink(std::string(target).c_str(), tmp.c_str()) != 0) return IoError(Errno("symlink", tmp));
  if (rename(tmp.c_str(), host->c_str()) != 0) {
    unlink(tmp.c_str());
    return IoError(Errno("rename", *host));
  }
  return Ok();
}

Status RootFs::Chown(std::string_view path, uid_t uid, gid_t gid) {
  if (dry_run_) {
    plan_.push_back("chown " + std::to_string(uid) + ":" + std::to_string(gid) + " " +
                    std::string(path));
    return Ok();
  }
  auto host = Resolve(path, false);
  if (!host) return tl::unexpected(host.error());
  if (lchown(host->c_str(), uid, gid) != 0) return IoError(Errno("chown", *host));
  return Ok();
}

Status RootFs::Chmod(std::string_view path, mode_t mode) {
  if (dry_run_) {
    plan_.push_back("chmod " + ModeString(mode) + " " + std::string(path));
    return Ok();
  }
  auto host = Resolve(path);
  if (!host) return tl::unexpected(host.error());
  if (chmod(host->c_str(), mode) != 0) return IoError(Errno("chmod", *host));
  return Ok();
}

Status RootFs::Remove(std::string_view path) {
  if (dry_run_) {
    plan_.push_back("remove " + std::string(path));
    return Ok();
  }
  auto host = Resolve(path, false);
  if (!host) return tl::unexpected(host.error());
  if (unlink(host->c_str()) != 0 && errno != ENOENT) return IoError(Errno("unlink", *host));
  return Ok();
}

}  // namespace paddock::agent
