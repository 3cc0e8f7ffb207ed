// users_groups and ssh (host keys, authorized keys), following cloud-init's
// distros/__init__.py (create_user, create_group, write_sudo_rules), ug_util.py and cc_ssh.py.

#include <glob.h>

#include <algorithm>

#include "agent/modules.h"

namespace paddock::agent {
namespace {

struct UserSpec {
  std::string name;
  Json cfg = Json::object();
  bool is_default = false;
};

// The distro's default user (cloud-init system_info.default_user).
Json DefaultUserConfig(const ApplyOptions& opts) {
  return Json{{"name", opts.default_user},
              {"gecos", opts.default_user},
              {"groups", Json::array({"adm", "sudo"})},
              {"sudo", Json::array({"ALL=(ALL) NOPASSWD:ALL"})},
              {"shell", "/bin/bash"},
              {"lock_passwd", true}};
}

// ug_util.normalize_users_groups: `users` absent means ["default"]; "default" (string or
// {name: default}) is the default user, merged with the legacy top-level `user:` key.
std::vector<UserSpec> NormalizeUsers(const ModuleContext& ctx, std::vector<std::string>* warn) {
  Json users = ctx.cfg.contains("users") ? ctx.cfg["users"] : Json::array({"default"});
  if (users.is_string() || users.is_object()) {
    Json tmp = Json::array();
    if (users.is_string()) {
      for (const auto& n : ToStringList(users, true)) tmp.push_back(n);
    } else {
      for (const auto& [k, v] : users.items()) {  // dict form {name: config}
        Json c = v.is_object() ? v : Json::object();
        c["name"] = k;
        tmp.push_back(c);
      }
    }
    users = tmp;
  }
  std::vector<UserSpec> out;
  if (!users.is_array()) return out;
  Json default_cfg = DefaultUserConfig(ctx.opts);
  if (ctx.cfg.contains("user")) {
    const Json& u = ctx.cfg["user"];
    if (u.is_string()) default_cfg["name"] = u.get<std::string>();
    if (u.is_object()) {
      for (const auto& [k, v] : u.items()) default_cfg[k] = v;
    }
  }
  for (const auto& u : users) {
    UserSpec spec;
    if (u.is_string()) {
      if (u.get<std::string>() == "default") {
        spec.is_default = true;
        spec.cfg = default_cfg;
      } else {
        spec.cfg["name"] = u.get<std::string>();
      }
    } else if (u.is_object()) {
      spec.cfg = u;
      if (ToStr(u.value("name", Json(""))) == "default") {
        spec.is_default = true;
        spec.cfg = default_cfg;
      }
    } else {
      warn->push_back("users entry of unexpected type skipped");
      continue;
    }
    spec.name = ToStr(spec.cfg.value("name", Json("")));
    if (spec.name.empty()) {
      warn->push_back("users entry without a name skipped");
      continue;
    }
    if (spec.name.find_first_of(":\n/ ") != std::string::npos) {
      warn->push_back("invalid user name " + spec.name + " skipped");
      continue;
    }
    auto dup = std::find_if(out.begin(), out.end(),
                            [&](const UserSpec& s) { return s.name == spec.name; });
    if (dup == out.end()) out.push_back(std::move(spec));
  }
  return out;
}

gid_t EnsureGroup(Accounts& acc, const std::string& name, bool system) {
  if (const auto* g = acc.FindGroup(name)) return g->gid;
  return acc.AddGroup(name, acc.NextGid(system)).gid;
}

// Copies /etc/skel's top-level regular files (useradd -m) into a new home.
void CopySkel(ModuleContext& ctx, const std::string& home, uid_t uid, gid_t gid) {
  auto skel = ctx.fs.Resolve("/etc/skel");
  if (!skel) return;
  glob_t g{};
  std::string pattern = *skel + "/.*";
  std::string pattern2 = *skel + "/*";
  glob(pattern.c_str(), 0, nullptr, &g);
  glob(pattern2.c_str(), GLOB_APPEND, nullptr, &g);
  for (size_t i = 0; i < g.gl_pathc; ++i) {
    std::string host = g.gl_pathv[i];
    std::string base = host.substr(host.rfind('/') + 1);
    if (base == "." || base == "..") continue;
    auto content = ctx.fs.ReadFile("/etc/skel/" + base);
    if (!content) continue;
    ctx.fs.WriteFile(home + "/" + base, *content, {.mode = 0644, .uid = uid, .gid = gid});
  }
  globfree(&g);
}

}  // namespace

Status SetupUserKeys(ModuleContext& ctx, const std::string& user,
                     const std::vector<std::string>& keys, const std::string& prefix) {
  const auto* pw = ctx.accounts.FindUser(user);
  if (pw == nullptr) return NotFound("user " + user + " does not exist for ssh keys");
  std::string home = pw->home.empty() ? "/" : pw->home;
  std::string dir = (home == "/" ? "" : home) + "/.ssh";
  std::string file = dir + "/authorized_keys";
  uid_t uid = pw->uid;
  gid_t gid = pw->gid;
  if (auto st = ctx.fs.MkdirP(dir, 0700); !st) return st;
  if (auto st = ctx.fs.Chown(dir, uid, gid); !st) return st;
  std::string content = ctx.fs.ReadFile(file).value_or("");
  if (!content.empty() && content.back() != '\n') content += "\n";
  for (const auto& key : keys) {
    std::string line = prefix.empty() ? key : prefix + " " + key;
    if (content.find(line + "\n") == std::string::npos) content += line + "\n";
  }
  return ctx.fs.WriteFile(file, content, {.mode = 0600, .uid = uid, .gid = gid});
}

Status ModuleUsersGroups(ModuleContext& ctx, ModuleOutcome& out) {
  Accounts& acc = ctx.accounts;
  // Top-level groups: ["name", {name: [members]}, {name: "a, b"}].
  if (ctx.cfg.contains("groups")) {
    const Json& groups = ctx.cfg["groups"];
    Json list = groups.is_array() ? groups : Json::array({groups});
    for (const auto& g : list) {
      if (g.is_string()) {
        for (const auto& n : ToStringList(g, true)) EnsureGroup(acc, n, false);
      } else if (g.is_object()) {
        for (const auto& [name, members] : g.items()) {
          EnsureGroup(acc, name, false);
          for (const auto& m : ToStringList(members, true)) {
            if (acc.FindUser(m) == nullptr) {
              out.warnings.push_back("group " + name + ": member " + m + " does not exist");
              continue;
            }
            acc.AddMember(name, m);
          }
        }
      }
    }
  }
  std::vector<std::string> errors;
  std::string sudoers;
  for (const auto& spec : NormalizeUsers(ctx, &out.warnings)) {
    const Json& c = spec.cfg;
    bool system = ToBool(c.value("system", Json(false)), false);
    if (acc.FindUser(spec.name) != nullptr) {
      out.warnings.push_back("user " + spec.name + " already exists; not re-created");
    } else {
      PasswdEntry e;
      e.name = spec.name;
      if (c.contains("uid")) {
        auto uid = acc.ResolveUid(ToStr(c["uid"]));
        if (!uid || acc.FindUser(spec.name)) {
          errors.push_back("user " + spec.name + ": bad uid " + ToStr(c["uid"]));
          continue;
        }
        e.uid = *uid;
      } else {
        e.uid = acc.NextUid(system);
      }
      // useradd: primary_group names an existing (or to-be-created) group; otherwise a
      // group named after the user (USERGROUPS_ENAB yes), or `users` for system users.
      std::string primary = ToStr(c.value("primary_group", Json("")));
      if (primary.empty()) {
        e.gid = system && acc.FindGroup(spec.name) == nullptr ? EnsureGroup(acc, spec.name, true)
                                                              : EnsureGroup(acc, spec.name, system);
      } else {
        e.gid = EnsureGroup(acc, primary, system);
      }
      e.gecos = ToStr(c.value("gecos", Json("")));
      e.home = c.contains("homedir") ? ToStr(c["homedir"]) : "/home/" + spec.name;
      e.shell =
          c.contains("shell") ? ToStr(c["shell"]) : (system ? "/usr/sbin/nologin" : "/bin/sh");
      if (e.gecos.find(':') != std::string::npos || e.home.find(':') != std::string::npos ||
          e.shell.find(':') != std::string::npos) {
        errors.push_back("user " + spec.name + ": ':' in gecos, homedir or shell");
        continue;
      }
      std::string hash = c.contains("hashed_passwd") ? ToStr(c["hashed_passwd"])
                         : c.contains("passwd")      ? ToStr(c["passwd"])
                                                     : "";
      if (c.contains("plain_text_passwd")) {
        out.warnings.push_back("user " + spec.name +
                               ": plain_text_passwd is not supported (no crypt); use passwd");
      }
      acc.AddUser(e, hash.empty() ? "!" : hash);
      // cloud-init: no_create_home and system users get no home directory.
      bool create_home = !ToBool(c.value("no_create_home", Json(false)), false) && !system;
      if (create_home) {
        if (auto st = ctx.fs.MkdirP(e.home, 0755); !st) {
          errors.push_back(st.error().message);
        } else {
          ctx.fs.Chown(e.home, e.uid, e.gid);
          CopySkel(ctx, e.home, e.uid, e.gid);
        }
      }
    }
    // Supplementary groups: created when missing (distros.create_user does).
    for (const auto& g : ToStringList(c.value("groups", Json(nullptr)), true)) {
      EnsureGroup(acc, g, false);
      acc.AddMember(g, spec.name);
    }
    // lock_passwd defaults to true: `passwd -l` prefixes the hash with "!".
    bool lock = ToBool(c.value("lock_passwd", Json(true)), true);
    std::string hash = c.contains("hashed_passwd") ? ToStr(c["hashed_passwd"])
                       : c.contains("passwd")      ? ToStr(c["passwd"])
                                                   : "";
    acc.SetPassword(spec.name, hash, lock);
    // sudo: a rule string, a list of rules, or false/null for none.
    const Json& sudo = c.value("sudo", Json(nullptr));
    if (!sudo.is_null() && !(sudo.is_boolean() && !sudo.get<bool>())) {
      if (sudo.is_boolean()) {
        out.warnings.push_back("user " + spec.name + ": sudo: true is not a rule; ignored");
      } else {
        sudoers += "\n# User rules for " + spec.name + "\n";
        for (const auto& rule : ToStringList(sudo)) sudoers += spec.name + " " + rule + "\n";
      }
    }
    if (c.contains("ssh_authorized_keys")) {
      auto keys = ToStringList(c["ssh_authorized_keys"]);
      if (!ctx.fs.dry_run() || acc.FindUser(spec.name)) {
        if (auto st = SetupUserKeys(ctx, spec.name, keys, ""); !st) {
          errors.push_back(st.error().message);
        }
      }
    }
    if (c.contains("ssh_import_id")) {
      out.warnings.push_back("user " + spec.name + ": ssh_import_id is not supported");
    }
  }
  if (auto st = acc.Save(ctx.fs); !st) return st;
  if (!sudoers.empty()) {
    std::string content = "# Created by paddock-agent (cloud-init users module)\n" + sudoers;
    if (auto st = ctx.fs.WriteFile("/etc/sudoers.d/90-cloud-init-users", content, {.mode = 0440});
        !st) {
      return st;
    }
    // cloud-init ensures /etc/sudoers reads the drop-in directory.
    if (auto main = ctx.fs.ReadFile("/etc/sudoers")) {
      if (main->find("includedir /etc/sudoers.d") == std::string::npos) {
        ctx.fs.WriteFile("/etc/sudoers", *main + "\n@includedir /etc/sudoers.d\n", {.mode = 0440});
      }
    }
  }
  if (!errors.empty()) {
    std::string msg;
    for (const auto& e : errors) msg += (msg.empty() ? "" : "; ") + e;
    return IoError(msg);
  }
  return Ok();
}

Status ModuleSsh(ModuleContext& ctx, ModuleOutcome& out) {
  std::vector<std::string> errors;
  if (ctx.cfg.contains("ssh_keys") && ctx.cfg["ssh_keys"].is_object()) {
    const Json& keys = ctx.cfg["ssh_keys"];
    // ssh_deletekeys (default true): old host keys go before the supplied ones are written.
    if (ToBool(ctx.cfg.value("ssh_deletekeys", Json(true)), true)) {
      if (auto dir = ctx.fs.Resolve("/etc/ssh")) {
        glob_t g{};
        std::string pattern = *dir + "/ssh_host_*key*";
        if (glob(pattern.c_str(), 0, nullptr, &g) == 0) {
          for (size_t i = 0; i < g.gl_pathc; ++i) {
            std::string base = std::string(g.gl_pathv[i]).substr(dir->size());
            ctx.fs.Remove("/etc/ssh" + base);
          }
        }
        globfree(&g);
      }
    }
    static constexpr const char* kTypes[] = {"rsa", "dsa", "ecdsa", "ed25519"};
    for (const auto& [key, value] : keys.items()) {
      std::string type = key.substr(0, key.find('_'));
      std::string kind = key.find('_') == std::string::npos ? "" : key.substr(key.find('_') + 1);
      bool known_type = std::find_if(std::begin(kTypes), std::end(kTypes),
                                     [&](const char* t) { return type == t; }) != std::end(kTypes);
      std::string base = "/etc/ssh/ssh_host_" + type + "_key";
      std::string path;
      mode_t mode = 0644;
      if (known_type && kind == "private") {
        path = base;
        mode = 0600;
      } else if (known_type && kind == "public") {
        path = base + ".pub";
      } else if (known_type && kind == "certificate") {
        path = base + "-cert.pub";
      } else {
        out.warnings.push_back("ssh_keys: unsupported key " + key);
        continue;
      }
      std::string content = ToStr(value);
      if (!content.empty() && content.back() != '\n') content += "\n";
      if (auto st = ctx.fs.WriteFile(path, content, {.mode = mode}); !st) {
        errors.push_back(st.error().message);
      }
    }
  }
  // Authorized keys: meta-data public-keys + top-level ssh_authorized_keys go to the default
  // user; root gets them too, behind disable_root's refusal command (cc_ssh.apply_credentials).
  std::vector<std::string> keys;
  if (ctx.opts.meta_data.is_object() && ctx.opts.meta_data.contains("public-keys")) {
    const Json& pk = ctx.opts.meta_data["public-keys"];
    if (pk.is_object()) {
      for (const auto& [k, v] : pk.items()) {
        for (const auto& s : ToStringList(v)) keys.push_back(s);
      }
    } else {
      for (const auto& s : ToStringList(pk)) keys.push_back(s);
    }
  }
  for (const auto& s : ToStringList(ctx.cfg.value("ssh_authorized_keys", Json(nullptr)))) {
    keys.push_back(s);
  }
  if (!keys.empty()) {
    std::string user;
    Json users = ctx.cfg.contains("users") ? ctx.cfg["users"] : Json::array({"default"});
    bool has_default = false;
    if (users.is_array()) {
      for (const auto& u : users) {
        if ((u.is_string() && u.get<std::string>() == "default") ||
            (u.is_object() && ToStr(u.value("name", Json(""))) == "default")) {
          has_default = true;
        }
      }
    }
    if (has_default) {
      user = ctx.opts.default_user;
      if (ctx.cfg.contains("user") && ctx.cfg["user"].is_string()) user = ToStr(ctx.cfg["user"]);
      if (ctx.cfg.contains("user") && ctx.cfg["user"].is_object() &&
          ctx.cfg["user"].contains("name")) {
        user = ToStr(ctx.cfg["user"]["name"]);
      }
    }
    if (!user.empty() && ctx.accounts.FindUser(user)) {
      if (auto st = SetupUserKeys(ctx, user, keys, ""); !st) errors.push_back(st.error().message);
    }
    bool disable_root = ToBool(ctx.cfg.value("disable_root", Json(true)), true);
    if (user == "root") disable_root = false;
    std::string prefix;
    if (disable_root) {
      std::string opts = ctx.cfg.contains("disable_root_opts")
                             ? ToStr(ctx.cfg["disable_root_opts"])
                             : "no-port-forwarding,no-agent-forwarding,no-X11-forwarding,"
                               "command=\"echo 'Please login as the user \\\"$USER\\\" rather "
                               "than the user \\\"$DISABLE_USER\\\".';echo;sleep 10;exit 142\"";
      auto replace = [&](const std::string& from, const std::string& to) {
        for (size_t p = opts.find(from); p != std::string::npos;
             p = opts.find(from, p + to.size())) {
          opts.replace(p, from.size(), to);
        }
      };
      replace("$USER", user.empty() ? "NONE" : user);
      replace("$DISABLE_USER", "root");
      prefix = opts;
    }
    if (ctx.accounts.FindUser("root")) {
      if (auto st = SetupUserKeys(ctx, "root", keys, prefix); !st) {
        errors.push_back(st.error().message);
      }
    }
  }
  if (!errors.empty()) {
    std::string msg;
    for (const auto& e : errors) msg += (msg.empty() ? "" : "; ") + e;
    return IoError(msg);
  }
  return Ok();
}

}  // namespace paddock::agent
