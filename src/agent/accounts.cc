#include "agent/accounts.h"

#include <algorithm>
#include <cstdlib>

namespace paddock::agent {
namespace {

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    size_t next = s.find(sep, pos);
    out.push_back(s.substr(pos, next == std::string::npos ? next : next - pos));
    if (next == std::string::npos) break;
    pos = next + 1;
  }
  return out;
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t nl = s.find('\n', pos);
    out.push_back(s.substr(pos, nl == std::string::npos ? nl : nl - pos));
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return out;
}

bool ParseId(const std::string& s, unsigned* out) {
  if (s.empty() || s.size() > 10) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  unsigned long v = std::strtoul(s.c_str(), nullptr, 10);
  if (v > 0xfffffffful) return false;
  *out = static_cast<unsigned>(v);
  return true;
}

std::string Join(const std::vector<std::string>& v, char sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

}  // namespace

Accounts Accounts::Load(const RootFs& fs) {
  Accounts a;
  if (auto text = fs.ReadFile("/etc/passwd")) {
    for (const auto& line : Lines(*text)) {
      auto f = Split(line, ':');
      unsigned uid, gid;
      if (f.size() != 7 || !ParseId(f[2], &uid) || !ParseId(f[3], &gid)) continue;
      a.users_.push_back({f[0], f[1], uid, gid, f[4], f[5], f[6]});
    }
  }
  if (auto text = fs.ReadFile("/etc/group")) {
    for (const auto& line : Lines(*text)) {
      auto f = Split(line, ':');
      unsigned gid;
      if (f.size() != 4 || !ParseId(f[2], &gid)) continue;
      GroupEntry g{f[0], f[1], gid, {}};
      if (!f[3].empty()) g.members = Split(f[3], ',');
      a.groups_.push_back(std::move(g));
    }
  }
  if (auto text = fs.ReadFile("/etc/shadow")) {
    for (const auto& line : Lines(*text)) {
      auto f = Split(line, ':');
      if (f.empty() || f[0].empty()) continue;
      f.resize(9);
      a.shadow_.push_back({f[0], f});
    }
  }
  if (auto text = fs.ReadFile("/etc/gshadow")) {
    a.has_gshadow_ = true;
    for (const auto& line : Lines(*text)) {
      if (line.empty()) continue;
      a.gshadow_names_.push_back(line.substr(0, line.find(':')));
      a.gshadow_lines_.push_back(line);
    }
  }
  return a;
}

Status Accounts::Save(RootFs& fs) const {
  std::string passwd, group, shadow, gshadow;
  for (const auto& u : users_) {
    passwd += u.name + ":" + u.password + ":" + std::to_string(u.uid) + ":" +
              std::to_string(u.gid) + ":" + u.gecos + ":" + u.home + ":" + u.shell + "\n";
  }
  for (const auto& g : groups_) {
    group +=
        g.name + ":" + g.password + ":" + std::to_string(g.gid) + ":" + Join(g.members, ',') + "\n";
  }
  for (const auto& s : shadow_) shadow += Join(s.fields, ':') + "\n";
  // Debian: shadow files are root:shadow 0640 when the group exists, else root-only.
  gid_t shadow_gid = 0;
  if (const auto* g = FindGroup("shadow")) shadow_gid = g->gid;
  WriteOptions pub{.mode = 0644};
  WriteOptions priv{.mode = 0640, .uid = 0, .gid = shadow_gid};
  if (auto st = fs.WriteFile("/etc/passwd", passwd, pub); !st) return st;
  if (auto st = fs.WriteFile("/etc/group", group, pub); !st) return st;
  if (auto st = fs.WriteFile("/etc/shadow", shadow, priv); !st) return st;
  if (has_gshadow_) {
    for (const auto& line : gshadow_lines_) gshadow += line + "\n";
    for (const auto& g : groups_) {
      if (std::find(gshadow_names_.begin(), gshadow_names_.end(), g.name) == gshadow_names_.end()) {
        gshadow += g.name + ":!::" + Join(g.members, ',') + "\n";
      }
    }
    if (auto st = fs.WriteFile("/etc/gshadow", gshadow, priv); !st) return st;
  }
  return Ok();
}

const PasswdEntry* Accounts::FindUser(const std::string& name) const {
  for (const auto& u : users_) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

const GroupEntry* Accounts::FindGroup(const std::string& name) const {
  for (const auto& g : groups_) {
    if (g.name == name) return &g;
  }
  return nullptr;
}

std::optional<uid_t> Accounts::ResolveUid(const std::string& s) const {
  if (const auto* u = FindUser(s)) return u->uid;
  unsigned v;
  if (ParseId(s, &v)) return v;
  return std::nullopt;
}

std::optional<gid_t> Accounts::ResolveGid(const std::string& s) const {
  if (const auto* g = FindGroup(s)) return g->gid;
  unsigned v;
  if (ParseId(s, &v)) return v;
  return std::nullopt;
}

uid_t Accounts::NextUid(bool system) const {
  uid_t lo = system ? 100 : 1000, hi = system ? 999 : 59999;
  uid_t next = lo;
  for (const auto& u : users_) {
    if (u.uid >= lo && u.uid <= hi && u.uid >= next) next = u.uid + 1;
  }
  return next;
}

gid_t Accounts::NextGid(bool system) const {
  gid_t lo = system ? 100 : 1000, hi = system ? 999 : 59999;
  gid_t next = lo;
  for (const auto& g : groups_) {
    if (g.gid >= lo && g.gid <= hi && g.gid >= next) next = g.gid + 1;
  }
  return next;
}

void Accounts::AddUser(const PasswdEntry& e, const std::string& hash) {
  users_.push_back(e);
  std::vector<std::string> f(9);
  f[0] = e.name;
  f[1] = hash.empty() ? "*" : hash;
  f[3] = "0";
  f[4] = "99999";
  f[5] = "7";
  shadow_.erase(std::remove_if(shadow_.begin(), shadow_.end(),
                               [&](const ShadowLine& s) { return s.name == e.name; }),
                shadow_.end());
  shadow_.push_back({e.name, f});
  dirty_ = true;
}

GroupEntry& Accounts::AddGroup(const std::string& name, gid_t gid) {
  groups_.push_back({name, "x", gid, {}});
  dirty_ = true;
  return groups_.back();
}

void Accounts::AddMember(const std::string& group, const std::string& user) {
  for (auto& g : groups_) {
    if (g.name != group) continue;
    if (std::find(g.members.begin(), g.members.end(), user) == g.members.end()) {
      g.members.push_back(user);
      dirty_ = true;
    }
  }
}

void Accounts::SetPassword(const std::string& user, const std::string& hash, bool lock) {
  for (auto& s : shadow_) {
    if (s.name != user) continue;
    if (!hash.empty()) s.fields[1] = hash;
    if (lock && (s.fields[1].empty() || s.fields[1][0] != '!')) s.fields[1] = "!" + s.fields[1];
    dirty_ = true;
    return;
  }
  std::vector<std::string> f(9);
  f[0] = user;
  f[1] = (lock ? "!" : "") + (hash.empty() ? std::string("*") : hash);
  shadow_.push_back({user, f});
  dirty_ = true;
}

std::string Accounts::ShadowHash(const std::string& user) const {
  for (const auto& s : shadow_) {
    if (s.name == user) return s.fields[1];
  }
  return "";
}

}  // namespace paddock::agent
