#pragma once

// The user and group databases of a root (/etc/passwd, /etc/shadow, /etc/group, /etc/gshadow),
// edited as files, without useradd or NSS: the agent is a static binary and the root may be a
// scratch tree. Load() reads them (absent files are empty), the caller edits in memory, Save()
// writes back through RootFs (0644 passwd/group, 0640 shadow/gshadow as on Debian).
// Unparseable lines are kept verbatim. Not thread-safe.

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "agent/rootfs.h"

namespace paddock::agent {

struct PasswdEntry {
  std::string name, password = "x";
  uid_t uid = 0;
  gid_t gid = 0;
  std::string gecos, home, shell;
};

struct GroupEntry {
  std::string name, password = "x";
  gid_t gid = 0;
  std::vector<std::string> members;
};

class Accounts {
 public:
  static Accounts Load(const RootFs& fs);
  Status Save(RootFs& fs) const;

  const PasswdEntry* FindUser(const std::string& name) const;
  const GroupEntry* FindGroup(const std::string& name) const;
  std::optional<uid_t> ResolveUid(const std::string& name_or_number) const;
  std::optional<gid_t> ResolveGid(const std::string& name_or_number) const;

  // Picks the next free id: system ids from 100..999, normal ids from 1000..59999 (Debian's
  // login.defs defaults).
  uid_t NextUid(bool system) const;
  gid_t NextGid(bool system) const;

  // Adds a user (and its shadow line with `hash`, "" = no password "*"). Caller ensures unique.
  void AddUser(const PasswdEntry& e, const std::string& hash);
  GroupEntry& AddGroup(const std::string& name, gid_t gid);
  // Adds `user` to `group`'s member list if not already there.
  void AddMember(const std::string& group, const std::string& user);
  // Replaces the shadow hash ("" leaves it), then, when lock, prefixes "!" like `passwd -l`.
  void SetPassword(const std::string& user, const std::string& hash, bool lock);
  std::string ShadowHash(const std::string& user) const;

  bool dirty() const { return dirty_; }

 private:
  struct ShadowLine {
    std::string name;
    std::vector<std::string> fields;  // all 9 fields
  };
  std::vector<PasswdEntry> users_;
  std::vector<GroupEntry> groups_;
  std::vector<ShadowLine> shadow_;
  std::vector<std::string> gshadow_names_;  // group names present in /etc/gshadow
  std::vector<std::string> gshadow_lines_;
  bool has_gshadow_ = false;
  bool dirty_ = false;
};

}  // namespace paddock::agent
