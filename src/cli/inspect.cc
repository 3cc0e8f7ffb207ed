#include "cli/inspect.h"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "store/store.h"

namespace paddock::cli {
namespace {

std::string FormatTime(int64_t time_us) {
  time_t secs = static_cast<time_t>(time_us / 1000000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>((time_us / 1000) % 1000));
  return buf;
}

std::unique_ptr<store::Store> OpenOrReport(const std::string& db_path) {
  auto store = store::OpenSqliteStore(db_path);
  if (!store) {
    std::fprintf(stderr, "paddock: %s\n", store.error().ToString().c_str());
    return nullptr;
  }
  return std::move(*store);
}

// A short, human-readable summary of an event's detail for the text table.
std::string Summary(const std::string& phase, const nlohmann::json& d) {
  auto s = [&](const char* k) {
    auto it = d.find(k);
    if (it == d.end() || it->is_null()) return std::string();
    return it->is_string() ? it->get<std::string>() : it->dump();
  };
  std::string out;
  auto add = [&](const char* label, const std::string& v) {
    if (v.empty() || v == "\"\"") return;
    if (!out.empty()) out += ' ';
    out += label;
    out += '=';
    out += v;
  };
  if (phase.rfind("dhcp.", 0) == 0 || phase.rfind("proxy.", 0) == 0) {
    add("xid", s("xid"));
    add("ip", s("ip"));
    add("fw", s("firmware"));
    add("uc", s("user_class"));
    add("file", s("file"));
  } else if (phase == "http.request") {
    add("", s("method") + " " + s("path") + " " + s("status"));
    out = out.substr(out.empty() ? 0 : 1);
  } else if (phase == "tftp.transfer") {
    add("file", s("file"));
    add("blksize", s("blksize"));
    add("window", s("windowsize"));
    add("error", s("error"));
  } else {
    for (auto& [k, v] : d.items()) add(k.c_str(), v.is_string() ? v.get<std::string>() : v.dump());
  }
  return out;
}

}  // namespace

int PrintMachines(const std::string& db_path, bool json) {
  auto store = OpenOrReport(db_path);
  if (!store) return 1;
  auto machines = store->ListMachines();
  if (!machines) {
    std::fprintf(stderr, "paddock: %s\n", machines.error().ToString().c_str());
    return 1;
  }
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& m : *machines) {
      out.push_back({{"mac", m.mac.ToString()},
                     {"uuid", m.uuid},
                     {"arch", m.arch},
                     {"hostname", m.hostname},
                     {"serial", m.serial},
                     {"group", m.group},
                     {"profile", m.profile},
                     {"last_ip", m.last_ip},
                     {"boots", m.boot_count},
                     {"first_seen_us", m.first_seen_us},
                     {"last_seen_us", m.last_seen_us}});
    }
    std::printf("%s\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  std::printf("%-17s  %-15s  %-6s  %-14s  %-14s  %5s  %s\n", "MAC", "IP", "ARCH", "HOSTNAME",
              "GROUP", "BOOTS", "LAST SEEN");
  for (const auto& m : *machines) {
    std::printf("%-17s  %-15s  %-6s  %-14s  %-14s  %5lld  %s\n", m.mac.ToString().c_str(),
                m.last_ip.c_str(), m.arch.c_str(), m.hostname.c_str(), m.group.c_str(),
                static_cast<long long>(m.boot_count), FormatTime(m.last_seen_us).c_str());
  }
  return 0;
}

int PrintTimeline(const std::string& db_path, const std::string& mac_text, int64_t boot,
                  bool json) {
  auto mac = MacAddress::Parse(mac_text);
  if (!mac) {
    std::fprintf(stderr, "paddock: not a MAC address: \"%s\"\n", mac_text.c_str());
    return 1;
  }
  auto store = OpenOrReport(db_path);
  if (!store) return 1;
  auto machine = store->GetMachine(*mac);
  if (!machine || !machine->has_value()) {
    std::fprintf(stderr, "paddock: no machine %s in %s\n", mac->ToString().c_str(),
                 db_path.c_str());
    return 1;
  }
  if (boot < 0) boot = (*machine)->boot_count;
  auto events = store->Timeline(*mac, boot, 100000);
  if (!events) {
    std::fprintf(stderr, "paddock: %s\n", events.error().ToString().c_str());
    return 1;
  }
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& e : *events) {
      nlohmann::json detail = nlohmann::json::parse(e.event.detail, nullptr, false);
      if (detail.is_discarded()) detail = e.event.detail;
      out.push_back({{"boot", e.boot},
                     {"time_us", e.event.time_us},
                     {"phase", e.event.phase},
                     {"detail", detail},
                     {"bytes", e.event.bytes},
                     {"duration_us", e.event.duration_us},
                     {"ok", e.event.ok}});
    }
    std::printf("%s\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  int64_t current_boot = -1;
  int64_t boot_start = 0;
  for (const auto& e : *events) {
    if (e.boot != current_boot) {
      current_boot = e.boot;
      boot_start = e.event.time_us;
      std::printf("%sboot %lld of %s, started %s\n", current_boot == (*events)[0].boot ? "" : "\n",
                  static_cast<long long>(e.boot), mac->ToString().c_str(),
                  FormatTime(boot_start).c_str());
      std::printf("  %9s  %-16s  %-2s  %10s  %9s  %s\n", "+SECONDS", "PHASE", "OK", "BYTES", "MS",
                  "DETAIL");
    }
    nlohmann::json detail = nlohmann::json::parse(e.event.detail, nullptr, false);
    if (!detail.is_object()) detail = nlohmann::json::object();
    std::printf("  %9.3f  %-16s  %-2s  %10lld  %9.1f  %s\n", (e.event.time_us - boot_start) / 1e6,
                e.event.phase.c_str(), e.event.ok ? "ok" : "NO",
                static_cast<long long>(e.event.bytes), e.event.duration_us / 1000.0,
                Summary(e.event.phase, detail).c_str());
  }
  return 0;
}

}  // namespace paddock::cli
