#pragma once

// RootFs: every file the agent reads or writes goes through here, relative to a root directory
// ("/" on a node, a scratch directory in tests and `paddock-agent apply --root DIR`). Paths are
// resolved the way the kernel would inside `chroot DIR`: ".." stops at the root and absolute
// symlinks restart at the root, so nothing a document or archive says can reach outside DIR.
//
// In dry-run mode every mutation is recorded as a line in plan() ("write /etc/hostname 0644
// 0:0 (5 bytes)") and nothing is changed; reads still see the real tree. Not thread-safe: one
// RootFs per apply run.

#include <sys/stat.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace paddock::agent {

struct WriteOptions {
  mode_t mode = 0644;
  uid_t uid = 0;
  gid_t gid = 0;
  bool append = false;
  bool set_owner = true;
};

class RootFs {
 public:
  RootFs(std::string root, bool dry_run);

  const std::string& root() const { return root_; }
  bool dry_run() const { return dry_run_; }
  bool is_host_root() const { return root_ == "/"; }

  // Host path for `path` (absolute, inside the root). Symlinks are followed except the final
  // component when follow_last is false. Fails on relative paths and symlink loops.
  Result<std::string> Resolve(std::string_view path, bool follow_last = true) const;

  Result<std::string> ReadFile(std::string_view path) const;
  bool Exists(std::string_view path) const;
  // lstat of the resolved path; nullopt when absent.
  std::optional<struct stat> Lstat(std::string_view path) const;

  // Writes atomically (temp file + rename) unless appending; creates parent directories
  // (0755, root-owned). Sets mode and, when set_owner, owner.
  Status WriteFile(std::string_view path, std::string_view content, const WriteOptions& opts);
  Status MkdirP(std::string_view path, mode_t mode = 0755);
  // Creates or replaces `path` as a symlink to `target` (target stored verbatim).
  Status Symlink(std::string_view target, std::string_view path);
  Status Chown(std::string_view path, uid_t uid, gid_t gid);
  Status Chmod(std::string_view path, mode_t mode);
  Status Remove(std::string_view path);

  const std::vector<std::string>& plan() const { return plan_; }
  void Note(std::string line) { plan_.push_back(std::move(line)); }

 private:
  std::string root_;
  bool dry_run_;
  std::vector<std::string> plan_;
};

// Octal mode as text ("0644").
std::string ModeString(mode_t mode);

}  // namespace paddock::agent
