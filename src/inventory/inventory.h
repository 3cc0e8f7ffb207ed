#pragma once

// Inventory: profiles (what a machine boots), groups (which machines get which profile) and
// machines declared in advance. Pure data plus matching; no YAML, no I/O, no locking. An
// Inventory is built once (by config/) and then only read, so any number of threads may call
// its const methods at the same time.
//
// Matching (the rules matchbox uses, plus an ambiguity check at load time):
//   - A group matches a machine when ALL of its selectors match the machine's facts.
//     Selector keys mac, uuid, arch, hostname, serial and asset compare against those facts
//     (mac as a MAC address in any accepted spelling, uuid and hostname case-insensitively,
//     the others exactly); any other key is a label name and compares exactly against the
//     machine's label of that name (a machine without that label does not match).
//   - Of the matching groups, the one with the MOST selectors wins.
//   - A group without selectors is the default group; it matches every machine, so it wins
//     only when nothing more specific does. No match and no default: no group (nullptr).
//   - Validate() rejects configurations where the winner could be ambiguous: two groups with
//     the same number of selectors that could both match one machine.

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/net.h"

namespace paddock::inventory {

// What a machine boots. Paths in kernel/initrds are relative to the HTTP assets directory
// (served at /assets/...) or absolute http:// / https:// URLs.
struct Profile {
  std::string name;
  std::string kernel;                // required
  std::vector<std::string> initrds;  // in load order
  std::string args;                  // kernel arguments, space-separated
  std::string ipxe_template;         // mustache text of the iPXE script; empty = built-in
  std::string ipxe_template_path;    // where ipxe_template came from ("" = built in)
  // Further documents rendered per machine (e.g. "user-data" -> absolute path of a mustache
  // template), for the node agent's datasource. Paths are absolute after config loading.
  std::map<std::string, std::string> templates;
  // Paths/globs the node agent keeps across reboots (meta-data `persist_paths`), absolute.
  std::vector<std::string> persist;
};

struct Group {
  std::string name;
  std::string profile;                                 // name of a Profile
  std::map<std::string, std::string> selectors;        // empty = the default group
  nlohmann::json metadata = nlohmann::json::object();  // free data for templates
};

// A machine the operator declared in advance (others are discovered when first seen).
struct MachineSpec {
  MacAddress mac;
  std::string hostname;                       // "" = not declared
  std::map<std::string, std::string> labels;  // free labels, matched by group selectors
};

// What is known about a machine at boot: what it reported (iPXE variables on /ipxe) merged
// with what the operator declared (FactsFor). Strings may be empty when unknown.
struct MachineFacts {
  MacAddress mac;
  std::string uuid;
  std::string arch;  // firmware family: "bios", "efi32", "efi64", "arm64" (see ArchFromIpxe)
  std::string hostname;
  std::string serial;
  std::string asset;
  std::map<std::string, std::string> labels;
};

// A problem Validate() found. `path` names the offending key in paddock.yaml's terms
// ("groups[1].profile", "profiles.test-node", "machines[2].mac"); config/ maps it to a line.
struct InventoryError {
  std::string path;
  std::string message;
};

// The selector keys that compare against facts rather than labels.
bool IsFactSelectorKey(std::string_view key);

// Maps iPXE's ${buildarch} ("i386", "x86_64", "arm64", ...) and ${platform} ("pcbios", "efi")
// to the firmware family names used by arch selectors and boot files: "bios", "efi32", "efi64",
// "arm64". Returns the lower-cased buildarch when the pair is not one of those (e.g. "arm32"),
// with any byte other than [a-z0-9_.-] replaced by '_' and cut to 32 bytes, and "" when both
// are empty. Safe on untrusted input.
std::string ArchFromIpxe(std::string_view buildarch, std::string_view platform);

class Inventory {
 public:
  std::vector<Profile> profiles;
  std::vector<Group> groups;  // in declaration order
  std::vector<MachineSpec> machines;

  // The group for a machine under the rules above, or nullptr. The pointer is into `groups`
  // and stays valid while this Inventory lives unchanged. Ties (possible only in an
  // inventory that fails Validate()) go to the group declared first.
  const Group* Match(const MachineFacts& facts) const;

  // True when every selector of `group` matches `facts`.
  static bool Matches(const Group& group, const MachineFacts& facts);

  const Profile* FindProfile(std::string_view name) const;
  const Group* FindGroup(std::string_view name) const;
  const MachineSpec* FindMachine(const MacAddress& mac) const;

  // The facts to match a machine with: `reported` (from the machine's request) merged with
  // the declared MachineSpec for reported.mac, if any. A declared hostname replaces the
  // reported one; declared labels are added, replacing reported labels of the same name.
  MachineFacts FactsFor(MachineFacts reported) const;

  // Every consistency problem, in a stable order; empty when the inventory is usable:
  // missing or unknown profile references, duplicate profile/group names, empty names,
  // duplicate machine MACs, unparseable mac selectors, more than one default group, and
  // ambiguous pairs of groups (same selector count, no key on which they demand different
  // values; the error names both groups).
  std::vector<InventoryError> Validate() const;
};

}  // namespace paddock::inventory
