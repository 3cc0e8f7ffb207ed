// write_files, set_hostname/update_etc_hosts, ca_certs, timezone, mounts.

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "agent/codec.h"
#include "agent/modules.h"

namespace paddock::agent {

std::string ToStr(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  if (v.is_boolean()) return v.get<bool>() ? "True" : "False";
  return v.dump();
}

bool ToBool(const Json& v, bool def) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number_integer()) return v.get<int64_t>() != 0;
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (s == "true" || s == "1" || s == "on" || s == "yes" || s == "y" || s == "t") return true;
    return false;
  }
  return def;
}

std::vector<std::string> ToStringList(const Json& v, bool split_commas) {
  std::vector<std::string> out;
  auto add = [&](const std::string& s) {
    if (!split_commas) {
      out.push_back(s);
      return;
    }
    size_t pos = 0;
    while (pos <= s.size()) {
      size_t c = s.find(',', pos);
      std::string piece = s.substr(pos, c == std::string::npos ? c : c - pos);
      size_t b = piece.find_first_not_of(" \t");
      size_t e = piece.find_last_not_of(" \t");
      if (b != std::string::npos) out.push_back(piece.substr(b, e - b + 1));
      if (c == std::string::npos) break;
      pos = c + 1;
    }
  };
  if (v.is_array()) {
    for (const auto& item : v) {
      if (!item.is_null() && !item.is_object() && !item.is_array()) add(ToStr(item));
    }
  } else if (!v.is_null() && !v.is_object()) {
    add(ToStr(v));
  }
  return out;
}

namespace {

// cc_write_files.canonicalize_extraction.
Result<std::vector<std::string>> Extractions(const Json& enc, std::vector<std::string>* warn) {
  std::string e = ToStr(enc);
  for (auto& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!e.empty() && std::isspace(static_cast<unsigned char>(e.back()))) e.pop_back();
  while (!e.empty() && std::isspace(static_cast<unsigned char>(e.front()))) e.erase(0, 1);
  if (e == "gz" || e == "gzip") return std::vector<std::string>{"gzip"};
  if (e == "gz+base64" || e == "gzip+base64" || e == "gz+b64" || e == "gzip+b64") {
    return std::vector<std::string>{"base64", "gzip"};
  }
  if (e == "b64" || e == "base64") return std::vector<std::string>{"base64"};
  if (!e.empty() && e != "text/plain" && e != "text") {
    warn->push_back("unknown encoding " + e + ", assuming text/plain");
  }
  return std::vector<std::string>{};
}

// cc_write_files.decode_perms: ints as they are (YAML 1.1 already read 0644 as octal), strings
// as octal; anything else falls back to the default with a warning.
mode_t DecodePerms(const Json& p, mode_t def, std::vector<std::string>* warn) {
  if (p.is_null()) return def;
  if (p.is_number_integer()) return static_cast<mode_t>(p.get<int64_t>() & 07777);
  if (p.is_number_float())
    return static_cast<mode_t>(static_cast<int64_t>(p.get<double>()) & 07777);
  if (p.is_string()) {
    std::string s = p.get<std::string>();
    size_t b = s.find_first_not_of(" \t");
    size_t e = s.find_last_not_of(" \t");
    if (b != std::string::npos) {
      s = s.substr(b, e - b + 1);
      if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) s = s.substr(2);
      bool ok = !s.empty() && s.size() <= 12;
      unsigned long v = 0;
      for (char c : s) {
        if (c < '0' || c > '7') ok = false;
        v = v * 8 + (c - '0');
      }
      if (ok) return static_cast<mode_t>(v & 07777);
    }
  }
  warn->push_back("undecodable permissions " + ToStr(p) + ", using " + ModeString(def));
  return def;
}

}  // namespace

Status ModuleWriteFiles(ModuleContext& ctx, bool deferred, ModuleOutcome& out) {
  const Json& files = ctx.cfg["write_files"];
  if (!files.is_array()) return InvalidArgument("write_files must be a list");
  std::vector<std::string> errors;
  int index = 0;
  for (const auto& f : files) {
    ++index;
    if (!f.is_object()) {
      out.warnings.push_back("entry " + std::to_string(index) + " is not a mapping; skipped");
      continue;
    }
    if (ToBool(f.value("defer", Json(false)), false) != deferred) continue;
    std::string path = f.contains("path") ? ToStr(f["path"]) : "";
    if (path.empty()) {
      out.warnings.push_back("no path provided to write for entry " + std::to_string(index));
      continue;
    }
    if (path[0] != '/') path = "/" + path;  // cloud-init abspath()s relative to "/"
    if (f.contains("source")) {
      out.warnings.push_back(path + ": 'source' (URL download) is not supported; using content");
    }
    auto ex = Extractions(f.value("encoding", Json(nullptr)), &out.warnings);
    std::string content = f.contains("content") ? ToStr(f["content"]) : "";
    bool bad = false;
    for (const auto& step : *ex) {
      auto r = step == "gzip" ? Gunzip(content) : Base64Decode(content);
      if (!r) {
        errors.push_back(path + ": " + r.error().message);
        bad = true;
        break;
      }
      content = std::move(*r);
    }
    if (bad) continue;
    // cloud-init util.extract_usergroup: "user:group"; no group leaves it unchanged.
    std::string owner = f.contains("owner") ? ToStr(f["owner"]) : "root:root";
    std::string user = owner.substr(0, owner.find(':'));
    std::string group =
        owner.find(':') == std::string::npos ? "" : owner.substr(owner.find(':') + 1);
    WriteOptions wo;
    wo.mode = DecodePerms(f.value("permissions", Json(nullptr)), 0644, &out.warnings);
    wo.append = ToBool(f.value("append", Json(false)), false);
    auto uid = ctx.accounts.ResolveUid(user.empty() ? "root" : user);
    auto gid = ctx.accounts.ResolveGid(group.empty() ? "root" : group);
    if (!uid || !gid) {
      errors.push_back(path + ": unknown owner " + owner);
      continue;
    }
    wo.uid = *uid;
    wo.gid = *gid;
    if (auto st = ctx.fs.WriteFile(path, content, wo); !st) {
      errors.push_back(st.error().message);
    }
  }
  if (!errors.empty()) {
    std::string msg;
    for (const auto& e : errors) msg += (msg.empty() ? "" : "; ") + e;
    return IoError(msg);
  }
  return Ok();
}

Status ModuleSetHostname(ModuleContext& ctx, ModuleOutcome& out) {
  const Json& cfg = ctx.cfg;
  if (ToBool(cfg.value("preserve_hostname", Json(false)), false)) {
    out.warnings.push_back("preserve_hostname is set; hostname left alone");
    return Ok();
  }
  // cloudinit/util.py get_hostname_fqdn.
  std::string hostname, fqdn;
  if (cfg.contains("fqdn") && !ToStr(cfg["fqdn"]).empty()) {
    fqdn = ToStr(cfg["fqdn"]);
    hostname = cfg.contains("hostname") && !ToStr(cfg["hostname"]).empty()
                   ? ToStr(cfg["hostname"])
                   : fqdn.substr(0, fqdn.find('.'));
  } else if (cfg.contains("hostname") && !ToStr(cfg["hostname"]).empty()) {
    std::string h = ToStr(cfg["hostname"]);
    if (h.find('.') != std::string::npos) {
      fqdn = h;
      hostname = h.substr(0, h.find('.'));
    } else {
      hostname = h;
      fqdn = h;
    }
  } else if (ctx.opts.meta_data.is_object() && ctx.opts.meta_data.contains("local-hostname")) {
    fqdn = ToStr(ctx.opts.meta_data["local-hostname"]);
    hostname = fqdn.substr(0, fqdn.find('.'));
  }
  if (hostname.empty()) return Ok();
  if (hostname.size() > 64 || hostname.find_first_of("/ \t\n") != std::string::npos) {
    return InvalidArgument("invalid hostname: " + hostname);
  }
  bool prefer_fqdn = ToBool(cfg.value("prefer_fqdn_over_hostname", Json(false)), false);
  std::string name = prefer_fqdn ? fqdn : hostname;
  if (auto st = ctx.fs.WriteFile("/etc/hostname", name + "\n", {.mode = 0644}); !st) return st;
  if (ctx.opts.live && ctx.fs.is_host_root() && !ctx.fs.dry_run()) {
    if (sethostname(name.c_str(), name.size()) != 0) {
      out.warnings.push_back("sethostname failed: " + std::string(std::strerror(errno)));
    }
  } else {
    ctx.fs.Note("hostname " + name + " (kernel hostname set only in boot mode)");
  }

  const Json& manage = cfg.value("manage_etc_hosts", Json(false));
  std::string mode =
      manage.is_string() ? manage.get<std::string>() : (ToBool(manage, false) ? "template" : "");
  if (mode == "template" || mode == "true") {
    // cloud-init templates/hosts.debian.tmpl
    std::string hosts =
        "# Your system has configured 'manage_etc_hosts' as True.\n"
        "# As a result, if you wish for changes to this file to persist\n"
        "# then you will need to either\n"
        "# a.) make changes to the master file in /etc/cloud/templates/hosts.debian.tmpl\n"
        "# b.) change or remove the value of 'manage_etc_hosts' in\n"
        "#     /etc/cloud/cloud.cfg or cloud-config from user-data\n#\n";
    hosts += "127.0.1.1 " + fqdn + (fqdn != hostname ? " " + hostname : "") + "\n";
    hosts +=
        "127.0.0.1 localhost\n\n"
        "# The following lines are desirable for IPv6 capable hosts\n"
        "::1 localhost ip6-localhost ip6-loopback\n"
        "ff02::1 ip6-allnodes\nff02::2 ip6-allrouters\n";
    return ctx.fs.WriteFile("/etc/hosts", hosts, {.mode = 0644});
  }
  if (mode == "localhost") {
    // cc_update_etc_hosts "localhost": keep the file, make 127.0.1.1 name this host.
    std::string old = ctx.fs.ReadFile("/etc/hosts").value_or("");
    std::string line = "127.0.1.1 " + fqdn + (fqdn != hostname ? " " + hostname : "");
    std::string result;
    bool replaced = false;
    size_t pos = 0;
    while (pos < old.size()) {
      size_t nl = old.find('\n', pos);
      std::string l = old.substr(pos, nl == std::string::npos ? nl : nl - pos);
      if (l.rfind("127.0.1.1", 0) == 0) {
        if (!replaced) result += line + "\n";
        replaced = true;
      } else {
        result += l + "\n";
      }
      if (nl == std::string::npos) break;
      pos = nl + 1;
    }
    if (!replaced) result = line + "\n" + result;
    return ctx.fs.WriteFile("/etc/hosts", result, {.mode = 0644});
  }
  if (!mode.empty() && mode != "false") out.warnings.push_back("manage_etc_hosts: unknown " + mode);
  return Ok();
}

Status ModuleCaCerts(ModuleContext& ctx, ModuleOutcome& out) {
  const Json& cc = ctx.cfg.contains("ca_certs") ? ctx.cfg["ca_certs"] : ctx.cfg["ca-certs"];
  if (!ctx.cfg.contains("ca_certs")) out.warnings.push_back("'ca-certs' is deprecated: ca_certs");
  if (!cc.is_object()) return InvalidArgument("ca_certs must be a mapping");
  const char* bundle = "/etc/ssl/certs/ca-certificates.crt";
  std::string current = ctx.fs.ReadFile(bundle).value_or("");
  if (ToBool(cc.value("remove_defaults", Json(false)), false)) {
    // Debian: every distro certificate is deselected; the bundle then holds only ours.
    current.clear();
    if (auto st = ctx.fs.WriteFile("/etc/ca-certificates.conf", "", {.mode = 0644}); !st) {
      return st;
    }
  }
  std::vector<std::string> certs = ToStringList(cc.value("trusted", Json::array()));
  int i = 0;
  for (auto cert : certs) {
    ++i;
    if (cert.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
      out.warnings.push_back("trusted entry " + std::to_string(i) + " is not a PEM certificate");
      continue;
    }
    if (cert.back() != '\n') cert += "\n";
    // cloud-init (Debian): /usr/local/share/ca-certificates/cloud-init-ca-cert-N.crt, then
    // update-ca-certificates. The agent appends to the bundle itself: images need not carry
    // the ca-certificates scripts (or perl/openssl) for this.
    std::string file =
        "/usr/local/share/ca-certificates/cloud-init-ca-cert-" + std::to_string(i) + ".crt";
    if (auto st = ctx.fs.WriteFile(file, cert, {.mode = 0644}); !st) return st;
    if (current.find(cert) == std::string::npos) {
      if (!current.empty() && current.back() != '\n') current += "\n";
      current += cert;
    }
  }
  return ctx.fs.WriteFile(bundle, current, {.mode = 0644});
}

Status ModuleTimezone(ModuleContext& ctx, ModuleOutcome&) {
  std::string tz = ToStr(ctx.cfg["timezone"]);
  if (tz.empty()) return Ok();
  if (tz.find("..") != std::string::npos || tz[0] == '/') {
    return InvalidArgument("invalid timezone " + tz);
  }
  std::string zone = "/usr/share/zoneinfo/" + tz;
  if (!ctx.fs.Exists(zone)) return NotFound("invalid timezone " + tz + ": no " + zone);
  if (auto st = ctx.fs.WriteFile("/etc/timezone", tz + "\n", {.mode = 0644}); !st) return st;
  return ctx.fs.Symlink(zone, "/etc/localtime");
}

Status ModuleMounts(ModuleContext& ctx, ModuleOutcome& out) {
  const Json& mounts = ctx.cfg["mounts"];
  if (!mounts.is_array()) return InvalidArgument("mounts must be a list");
  // cc_mounts defaults: [None, None, "auto", "defaults,nofail,x-systemd.after=cloud-init.service",
  // "0", "2"], overridable with mount_default_fields.
  std::vector<std::string> defaults = {
      "", "", "auto", "defaults,nofail,x-systemd.after=cloud-init.service", "0", "2"};
  if (ctx.cfg.contains("mount_default_fields") && ctx.cfg["mount_default_fields"].is_array()) {
    const Json& d = ctx.cfg["mount_default_fields"];
    for (size_t i = 0; i < d.size() && i < 6; ++i) defaults[i] = ToStr(d[i]);
  }
  std::vector<std::string> lines, removed_specs, mount_points;
  for (const auto& m : mounts) {
    if (!m.is_array() || m.empty()) {
      out.warnings.push_back("mount entry is not a non-empty list; skipped");
      continue;
    }
    std::vector<std::string> f(6);
    for (size_t i = 0; i < 6; ++i) f[i] = i < m.size() ? ToStr(m[i]) : defaults[i];
    if (f[1].empty() || f[1] == "None") {
      removed_specs.push_back(f[0]);  // no mount point: remove entries for this device
      continue;
    }
    if (f[2] == "swap") f[1] = "none";
    for (auto& field : f) {
      if (field.empty()) field = "-";
      if (field.find_first_of(" \t\n") != std::string::npos) {
        out.warnings.push_back("mount field with whitespace: " + field);
      }
    }
    f[3] += ",comment=cloudconfig";
    lines.push_back(f[0] + "\t" + f[1] + "\t" + f[2] + "\t" + f[3] + "\t" + f[4] + "\t" + f[5]);
    if (f[1] != "none") mount_points.push_back(f[1]);
  }
  // Keep the image's own lines, replace every line an earlier cloud-config wrote.
  std::string old = ctx.fs.ReadFile("/etc/fstab").value_or("");
  std::string fstab;
  size_t pos = 0;
  while (pos < old.size()) {
    size_t nl = old.find('\n', pos);
    std::string l = old.substr(pos, nl == std::string::npos ? nl : nl - pos);
    bool drop = l.find("comment=cloudconfig") != std::string::npos;
    for (const auto& spec : removed_specs) {
      if (l.rfind(spec + "\t", 0) == 0 || l.rfind(spec + " ", 0) == 0) drop = true;
    }
    if (!drop) fstab += l + "\n";
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  for (const auto& l : lines) fstab += l + "\n";
  for (const auto& mp : mount_points) {
    if (mp[0] != '/') {
      out.warnings.push_back("mount point is not absolute: " + mp);
      continue;
    }
    if (auto st = ctx.fs.MkdirP(mp); !st) return st;
  }
  if (auto st = ctx.fs.WriteFile("/etc/fstab", fstab, {.mode = 0644}); !st) return st;
  if ((ctx.opts.live || ctx.opts.mount) && !ctx.fs.dry_run() && !mount_points.empty()) {
    auto rc = ctx.runner.Run({"mount", "-a"}, {}, [&](std::string_view l) {
      ctx.reporter.Output("mounts: " + std::string(l));
    });
    if (!rc) return tl::unexpected(rc.error());
    if (*rc != 0) return IoError("mount -a exited " + std::to_string(*rc));
  } else {
    ctx.fs.Note("mount -a (" + std::to_string(mount_points.size()) +
                " entries; run only in boot mode or with --mount)");
  }
  return Ok();
}

}  // namespace paddock::agent
