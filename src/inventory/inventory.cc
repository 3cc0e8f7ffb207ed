#include "inventory/inventory.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <unordered_set>

namespace paddock::inventory {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// The value a machine has for a selector key, or nullptr when it has none.
const std::string* FactValue(const MachineFacts& facts, const std::string& key) {
  if (key == "uuid") return &facts.uuid;
  if (key == "arch") return &facts.arch;
  if (key == "hostname") return &facts.hostname;
  if (key == "serial") return &facts.serial;
  if (key == "asset") return &facts.asset;
  auto it = facts.labels.find(key);
  return it == facts.labels.end() ? nullptr : &it->second;
}

bool SelectorMatches(const std::string& key, const std::string& want, const MachineFacts& facts) {
  if (key == "mac") {
    auto mac = MacAddress::Parse(want);
    return mac && *mac == facts.mac;
  }
  const std::string* have = FactValue(facts, key);
  if (have == nullptr) return false;
  if (key == "uuid" || key == "hostname") return EqualsIgnoreCase(*have, want);
  return *have == want;
}

// Whether two selector values for the same key can be satisfied by one machine.
bool SameSelectorValue(const std::string& key, const std::string& a, const std::string& b) {
  if (key == "mac") {
    auto ma = MacAddress::Parse(a);
    auto mb = MacAddress::Parse(b);
    if (ma && mb) return *ma == *mb;
    return false;  // an unparseable mac matches nothing; reported separately
  }
  if (key == "uuid" || key == "hostname") return EqualsIgnoreCase(a, b);
  return a == b;
}

// Two groups can both match one machine unless some key appears in both with values that
// no machine can satisfy at once.
bool CanOverlap(const Group& a, const Group& b) {
  for (const auto& [key, value] : a.selectors) {
    auto it = b.selectors.find(key);
    if (it != b.selectors.end() && !SameSelectorValue(key, value, it->second)) return false;
  }
  return true;
}

std::string GroupPath(size_t index) { return "groups[" + std::to_string(index) + "]"; }

}  // namespace

bool IsFactSelectorKey(std::string_view key) {
  return key == "mac" || key == "uuid" || key == "arch" || key == "hostname" || key == "serial" ||
         key == "asset";
}

std::string ArchFromIpxe(std::string_view buildarch, std::string_view platform) {
  const std::string arch = Lower(buildarch);
  const std::string plat = Lower(platform);
  if (plat == "pcbios") return "bios";
  if (plat == "efi") {
    if (arch == "x86_64") return "efi64";
    if (arch == "i386") return "efi32";
    if (arch == "arm64") return "arm64";
  }
  if (arch.empty() && plat.empty()) return "";
  // A BIOS iPXE always reports platform=pcbios; anything else keeps its own name so an
  // operator can still select on it. The values come from a request: only name characters
  // survive, so the result is safe in logs, JSON and templates.
  std::string out = arch.empty() ? plat : arch;
  if (out.size() > 32) out.resize(32);
  for (char& c : out) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') c = '_';
  }
  return out;
}

bool Inventory::Matches(const Group& group, const MachineFacts& facts) {
  for (const auto& [key, value] : group.selectors) {
    if (!SelectorMatches(key, value, facts)) return false;
  }
  return true;
}

const Group* Inventory::Match(const MachineFacts& facts) const {
  const Group* best = nullptr;
  for (const Group& group : groups) {
    if (best != nullptr && group.selectors.size() <= best->selectors.size()) continue;
    if (Matches(group, facts)) best = &group;
  }
  return best;
}

const Profile* Inventory::FindProfile(std::string_view name) const {
  for (const Profile& p : profiles) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

const Group* Inventory::FindGroup(std::string_view name) const {
  for (const Group& g : groups) {
    if (g.name == name) return &g;
  }
  return nullptr;
}

const MachineSpec* Inventory::FindMachine(const MacAddress& mac) const {
  for (const MachineSpec& m : machines) {
    if (m.mac == mac) return &m;
  }
  return nullptr;
}

MachineFacts Inventory::FactsFor(MachineFacts reported) const {
  const MachineSpec* spec = FindMachine(reported.mac);
  if (spec == nullptr) return reported;
  if (!spec->hostname.empty()) reported.hostname = spec->hostname;
  for (const auto& [key, value] : spec->labels) reported.labels[key] = value;
  return reported;
}

std::vector<InventoryError> Inventory::Validate() const {
  std::vector<InventoryError> errors;

  std::set<std::string> profile_names;
  for (const Profile& p : profiles) {
    const std::string path = "profiles." + p.name;
    if (p.name.empty()) errors.push_back({"profiles", "a profile has an empty name"});
    if (!profile_names.insert(p.name).second) {
      errors.push_back({path, "duplicate profile name \"" + p.name + "\""});
    }
    if (p.kernel.empty()) errors.push_back({path + ".kernel", "kernel is required"});
  }

  std::set<std::string> group_names;
  std::vector<size_t> defaults;
  for (size_t i = 0; i < groups.size(); ++i) {
    const Group& g = groups[i];
    const std::string path = GroupPath(i);
    if (g.name.empty()) {
      errors.push_back({path + ".name", "name is required"});
    } else if (!group_names.insert(g.name).second) {
      errors.push_back({path + ".name", "duplicate group name \"" + g.name + "\""});
    }
    if (g.profile.empty()) {
      errors.push_back({path + ".profile", "profile is required"});
    } else if (profile_names.count(g.profile) == 0) {
      errors.push_back({path + ".profile", "unknown profile \"" + g.profile + "\""});
    }
    for (const auto& [key, value] : g.selectors) {
      if (key.empty()) errors.push_back({path + ".selectors", "empty selector key"});
      if (key == "mac" && !MacAddress::Parse(value)) {
        errors.push_back({path + ".selectors.mac", "not a MAC address: \"" + value + "\""});
      }
    }
    if (g.selectors.empty()) defaults.push_back(i);
  }
  for (size_t k = 1; k < defaults.size(); ++k) {
    errors.push_back({GroupPath(defaults[k]), "more than one default group (no selectors): \"" +
                                                  groups[defaults[0]].name + "\" and \"" +
                                                  groups[defaults[k]].name + "\""});
  }

  // Ambiguity: the winner is the group with most selectors, so only groups of equal size can
  // tie. O(n^2) over groups; inventories have tens to hundreds of groups.
  for (size_t i = 0; i < groups.size(); ++i) {
    if (groups[i].selectors.empty()) continue;
    for (size_t j = i + 1; j < groups.size(); ++j) {
      if (groups[j].selectors.size() != groups[i].selectors.size()) continue;
      if (!CanOverlap(groups[i], groups[j])) continue;
      errors.push_back(
          {GroupPath(j), "ambiguous groups \"" + groups[i].name + "\" and \"" + groups[j].name +
                             "\": both have " + std::to_string(groups[i].selectors.size()) +
                             " selectors and one machine could match both; add a selector "
                             "to one of them or make a shared key differ"});
    }
  }

  std::unordered_set<MacAddress> macs;
  for (size_t i = 0; i < machines.size(); ++i) {
    if (!macs.insert(machines[i].mac).second) {
      errors.push_back({"machines[" + std::to_string(i) + "].mac",
                        "duplicate machine " + machines[i].mac.ToString()});
    }
  }
  return errors;
}

}  // namespace paddock::inventory
