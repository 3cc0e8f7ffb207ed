#include "config/sections.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace paddock::config::detail {
namespace {

namespace fs = std::filesystem;

bool IsContiguousNetmask(Ipv4Address mask) {
  const uint32_t inverted = ~mask.value();
  return (inverted & (inverted + 1)) == 0;
}

bool InSubnet(Ipv4Address ip, Ipv4Address network_member, Ipv4Address mask) {
  return (ip.value() & mask.value()) == (network_member.value() & mask.value());
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Sections.

void ParseServer(Parser& p, const MapView::Entry& section, Config& config, bool& has_address) {
  MapView m(p, section.value, "server",
            {"address", "interface", "data_dir", "log_level", "log_format"});
  p.Remember("server", section.key_node);
  if (!m.ok()) return;
  for (const auto& e : m.entries()) {
    const std::string path = m.Path(e.key);
    if (e.key == "address") {
      has_address = true;
      if (auto v = p.Ipv4(e, path)) {
        if (v->IsZero() || *v == Ipv4Address::Broadcast()) {
          p.Error(e.value, path, "must be a unicast address of this host, not " + v->ToString());
        } else {
          config.server.address = *v;
        }
      }
    } else if (e.key == "interface") {
      if (auto v = p.String(e, path)) config.server.interface = *v;
    } else if (e.key == "data_dir") {
      if (auto v = p.String(e, path)) {
        if (v->empty()) {
          p.Error(e.value, path, "must not be empty", &e.key_node);
        } else {
          config.server.data_dir = *v;
        }
      }
    } else if (e.key == "log_level") {
      if (auto v = p.String(e, path)) {
        static const std::vector<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
        if (std::find(kLevels.begin(), kLevels.end(), *v) == kLevels.end()) {
          p.Error(e.value, path,
                  "unknown log level " + Quote(*v) + " (trace, debug, info, warn, error)",
                  &e.key_node);
        } else {
          config.server.log_level = *v;
        }
      }
    } else if (e.key == "log_format") {
      if (auto v = p.String(e, path)) {
        if (*v == "text") {
          config.server.log_format = LogFormat::kText;
        } else if (*v == "json") {
          config.server.log_format = LogFormat::kJson;
        } else {
          p.Error(e.value, path, "unknown log format " + Quote(*v) + " (text or json)",
                  &e.key_node);
        }
      }
    }
  }
}

void ParseDhcp(Parser& p, const MapView::Entry& section, Config& config) {
  DhcpConfig& d = config.dhcp;
  p.Remember("dhcp", section.key_node);
  MapView m(p, section.value, "dhcp",
            {"mode", "range", "netmask", "router", "dns", "domain", "lease_time",
             "decline_quarantine", "router_advertisement", "reservations", "port", "proxy_port"});
  if (!m.ok()) return;
  for (const auto& e : m.entries()) {
    const std::string path = m.Path(e.key);
    if (e.key == "mode") {
      if (auto v = p.String(e, path)) {
        if (*v == "full") {
          d.mode = DhcpMode::kFull;
        } else if (*v == "proxy") {
          d.mode = DhcpMode::kProxy;
        } else if (*v == "off") {
          d.mode = DhcpMode::kOff;
        } else {
          p.Error(e.value, path, "unknown mode " + Quote(*v) + " (full, proxy or off)",
                  &e.key_node);
          p.dhcp_mode_invalid = true;
        }
      }
    } else if (e.key == "range") {
      p.Remember(path, e.key_node);
      MapView r(p, e.value, path, {"start", "end"});
      if (!r.ok()) continue;
      const MapView::Entry* start = r.Find("start");
      const MapView::Entry* end = r.Find("end");
      std::optional<Ipv4Address> s, t;
      if (start) s = p.Ipv4(*start, r.Path("start"));
      if (end) t = p.Ipv4(*end, r.Path("end"));
      if (!start) p.Error(e.value, r.Path("start"), "start is required", &e.key_node);
      if (!end) p.Error(e.value, r.Path("end"), "end is required", &e.key_node);
      if (s && t) d.range = DhcpRange{*s, *t};
    } else if (e.key == "netmask") {
      if (auto v = p.Ipv4(e, path)) {
        if (!IsContiguousNetmask(*v) || v->IsZero()) {
          p.Error(e.value, path, "not a netmask (contiguous one bits): " + v->ToString());
        } else {
          d.netmask = *v;
        }
      }
    } else if (e.key == "router") {
      if (auto v = p.Ipv4(e, path)) d.router = *v;
    } else if (e.key == "dns") {
      if (auto list = p.StringList(e, path)) {
        d.dns.clear();
        for (size_t i = 0; i < list->size(); ++i) {
          auto ip = Ipv4Address::Parse((*list)[i]);
          if (!ip) {
            p.Error(e.value.IsSequence() ? e.value[i] : e.value, IndexPath(path, i),
                    "not an IPv4 address: " + Quote((*list)[i]));
          } else {
            d.dns.push_back(*ip);
          }
        }
      }
    } else if (e.key == "domain") {
      if (auto v = p.String(e, path)) {
        if (!v->empty() && !IsHostname(*v)) {
          p.Error(e.value, path, "not a domain name: " + Quote(*v));
        } else {
          d.domain = *v;
        }
      }
    } else if (e.key == "lease_time") {
      if (auto v = p.Duration(e, path)) {
        // RFC 2131 §3.3: lease times are 32-bit seconds; 0xffffffff means infinite, which a
        // boot server has no business handing out.
        if (v->count() < 60 || v->count() >= 0xffffffffLL) {
          p.Error(e.value, path,
                  "lease_time must be between 60s and 136y, got " + Quote(e.value.Scalar()));
        } else {
          d.lease_time = *v;
        }
      }
    } else if (e.key == "decline_quarantine") {
      if (auto v = p.Duration(e, path)) d.decline_quarantine = *v;
    } else if (e.key == "router_advertisement") {
      if (auto v = p.Bool(e, path)) d.router_advertisement = *v;
    } else if (e.key == "port") {
      if (auto v = p.Port(e, path)) d.port = *v;
    } else if (e.key == "proxy_port") {
      if (auto v = p.Port(e, path)) d.proxy_port = *v;
    } else if (e.key == "reservations") {
      p.Remember(path, e.key_node);
      if (e.value.IsNull()) continue;
      if (!e.value.IsSequence()) {
        p.Error(e.value, path, "expected a list of reservations");
        continue;
      }
      for (size_t i = 0; i < e.value.size(); ++i) {
        const std::string item_path = IndexPath(path, i);
        const YAML::Node item = e.value[i];
        p.Remember(item_path, item);
        MapView r(p, item, item_path, {"mac", "ip", "hostname"});
        if (!r.ok()) continue;
        Reservation res;
        bool ok = true;
        if (const auto* mac = r.Find("mac")) {
          auto v = p.Mac(*mac, r.Path("mac"));
          ok &= v.has_value();
          if (v) res.mac = *v;
        } else {
          p.Error(item, r.Path("mac"), "mac is required");
          ok = false;
        }
        if (const auto* ip = r.Find("ip")) {
          auto v = p.Ipv4(*ip, r.Path("ip"));
          ok &= v.has_value();
          if (v) res.ip = *v;
        } else {
          p.Error(item, r.Path("ip"), "ip is required");
          ok = false;
        }
        if (const auto* host = r.Find("hostname")) {
          auto v = p.String(*host, r.Path("hostname"));
          if (v && !v->empty() && !IsHostname(*v)) {
            p.Error(host->value, r.Path("hostname"), "not a host name: " + Quote(*v));
            ok = false;
          } else if (v) {
            res.hostname = *v;
          }
        }
        // Keep the index aligned with the YAML list even for bad entries (cross checks below
        // report by index); a bad entry is never used because the whole load fails.
        d.reservations.push_back(res);
        (void)ok;
      }
    }
  }
}

void ParseTftp(Parser& p, const MapView::Entry& section, Config& config) {
  TftpConfig& t = config.tftp;
  p.Remember("tftp", section.key_node);
  MapView m(p, section.value, "tftp",
            {"enabled", "root", "port", "max_blksize", "max_windowsize", "timeout", "retries"});
  if (!m.ok()) return;
  for (const auto& e : m.entries()) {
    const std::string path = m.Path(e.key);
    if (e.key == "enabled") {
      if (auto v = p.Bool(e, path)) t.enabled = *v;
    } else if (e.key == "root") {
      if (auto v = p.String(e, path)) {
        if (v->empty()) {
          p.Error(e.value, path, "must not be empty", &e.key_node);
        } else {
          t.root = *v;
        }
      }
    } else if (e.key == "port") {
      if (auto v = p.Port(e, path)) t.port = *v;
    } else if (e.key == "max_blksize") {
      // RFC 2348 §2: blksize is 8..65464; 0 here means "from the interface MTU".
      if (auto v = p.Unsigned(e, path, 0, 65464, "a block size")) {
        if (*v != 0 && *v < 8) {
          p.Error(e.value, path, "block size must be 0 (from the MTU) or 8..65464");
        } else {
          t.max_blksize = static_cast<uint32_t>(*v);
        }
      }
    } else if (e.key == "max_windowsize") {
      // RFC 7440 §3: windowsize is 1..65535.
      if (auto v = p.Unsigned(e, path, 1, 65535, "a window size")) {
        t.max_windowsize = static_cast<uint32_t>(*v);
      }
    } else if (e.key == "timeout") {
      // RFC 2349 §2: the timeout option is 1..255 seconds.
      if (auto v = p.Duration(e, path)) {
        if (v->count() < 1 || v->count() > 255) {
          p.Error(e.value, path, "timeout must be 1s..255s (RFC 2349)");
        } else {
          t.timeout = *v;
        }
      }
    } else if (e.key == "retries") {
      if (auto v = p.Unsigned(e, path, 1, 100, "a retry count")) {
        t.retries = static_cast<uint32_t>(*v);
      }
    }
  }
}

void ParseHttp(Parser& p, const MapView::Entry& section, Config& config) {
  p.Remember("http", section.key_node);
  MapView m(p, section.value, "http", {"address", "port", "assets"});
  if (!m.ok()) return;
  for (const auto& e : m.entries()) {
    const std::string path = m.Path(e.key);
    if (e.key == "address") {
      if (auto v = p.Ipv4(e, path)) config.http.address = *v;
    } else if (e.key == "port") {
      if (auto v = p.Port(e, path)) config.http.port = *v;
    } else if (e.key == "assets") {
      if (auto v = p.String(e, path)) config.http.assets = *v;
    }
  }
}

void ParseBoot(Parser& p, const MapView::Entry& section, Config& config) {
  p.Remember("boot", section.key_node);
  MapView m(p, section.value, "boot", {"bios", "efi32", "efi64", "arm64"});
  if (!m.ok()) return;
  for (const auto& e : m.entries()) {
    const std::string path = m.Path(e.key);
    auto v = p.String(e, path);
    if (!v) continue;
    // A file under tftp.root: never absolute, never climbing out.
    if (!v->empty() && (fs::path(*v).is_absolute() || v->find("..") != std::string::npos)) {
      p.Error(e.value, path, "must be a file name relative to tftp.root: " + Quote(*v));
      continue;
    }
    if (e.key == "bios") config.boot.bios = *v;
    if (e.key == "efi32") config.boot.efi32 = *v;
    if (e.key == "efi64") config.boot.efi64 = *v;
    if (e.key == "arm64") config.boot.arm64 = *v;
  }
}

// ---------------------------------------------------------------------------------------
// Checks across fields, once every section is read.

void CheckDhcp(Parser& p, Config& config, bool has_address) {
  DhcpConfig& d = config.dhcp;
  // Proxy and off hand out no addresses: no pool, nothing to check.
  if (d.mode != DhcpMode::kFull || p.dhcp_mode_invalid) return;
  // A key that is present but invalid was reported where it was read.
  if (!p.Has("dhcp.range")) p.ErrorAtPath("dhcp.range", "dhcp.range is required in full mode");
  if (!p.Has("dhcp.netmask")) {
    p.ErrorAtPath("dhcp.netmask", "dhcp.netmask is required in full mode");
  }
  if (d.range && d.range->start > d.range->end) {
    p.ErrorAtPath("dhcp.range.start", "range start " + d.range->start.ToString() +
                                          " is after range end " + d.range->end.ToString());
  }
  if (!d.netmask || !has_address || config.server.address.IsZero()) return;
  const Ipv4Address server = config.server.address;
  const Ipv4Address mask = *d.netmask;
  const std::string subnet =
      Ipv4Address(server.value() & mask.value()).ToString() + "/" + mask.ToString();
  if (d.range) {
    for (const auto& [name, ip] : {std::pair{"start", d.range->start}, {"end", d.range->end}}) {
      if (!InSubnet(ip, server, mask)) {
        p.ErrorAtPath(std::string("dhcp.range.") + name,
                      ip.ToString() + " is outside server.address's subnet " + subnet);
      }
    }
    if (d.range->start <= server && server <= d.range->end) {
      p.ErrorAtPath("dhcp.range", "the range contains server.address " + server.ToString());
    }
  }
  std::map<MacAddress, size_t> macs;
  std::map<Ipv4Address, size_t> ips;
  for (size_t i = 0; i < d.reservations.size(); ++i) {
    const Reservation& r = d.reservations[i];
    const std::string path = IndexPath("dhcp.reservations", i);
    if (!r.mac.IsZero()) {
      auto [it, inserted] = macs.emplace(r.mac, i);
      if (!inserted) {
        p.ErrorAtPath(path + ".mac", "MAC " + r.mac.ToString() +
                                         " is already reserved by dhcp.reservations[" +
                                         std::to_string(it->second) + "]");
      }
    }
    if (r.ip.IsZero()) continue;
    auto [it, inserted] = ips.emplace(r.ip, i);
    if (!inserted) {
      p.ErrorAtPath(path + ".ip", "IP " + r.ip.ToString() +
                                      " is already reserved by dhcp.reservations[" +
                                      std::to_string(it->second) + "]");
    }
    if (!InSubnet(r.ip, server, mask)) {
      p.ErrorAtPath(path + ".ip",
                    r.ip.ToString() + " is outside server.address's subnet " + subnet);
    } else if (r.ip == server) {
      p.ErrorAtPath(path + ".ip", "reserves server.address " + server.ToString());
    }
  }
}

}  // namespace paddock::config::detail
