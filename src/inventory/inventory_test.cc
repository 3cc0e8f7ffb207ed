#include "inventory/inventory.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace paddock::inventory {
namespace {

using ::testing::HasSubstr;

MacAddress Mac(const char* text) { return *MacAddress::Parse(text); }

Group MakeGroup(std::string name, std::map<std::string, std::string> selectors) {
  Group g;
  g.name = std::move(name);
  g.profile = "p";
  g.selectors = std::move(selectors);
  return g;
}

Inventory Base() {
  Inventory inv;
  Profile p;
  p.name = "p";
  p.kernel = "vmlinuz";
  inv.profiles.push_back(p);
  return inv;
}

MachineFacts Facts(const char* mac, std::string arch = "bios") {
  MachineFacts f;
  f.mac = Mac(mac);
  f.arch = std::move(arch);
  return f;
}

TEST(InventoryMatch, MostSelectorsWinsRegardlessOfOrder) {
  Inventory inv = Base();
  inv.groups.push_back(MakeGroup("default", {}));
  inv.groups.push_back(MakeGroup("rack-a-bios", {{"arch", "bios"}, {"rack", "a"}}));
  inv.groups.push_back(MakeGroup("bios", {{"arch", "bios"}}));
  ASSERT_TRUE(inv.Validate().empty());

  MachineFacts f = Facts("52:54:00:00:00:01");
  f.labels["rack"] = "a";
  ASSERT_NE(inv.Match(f), nullptr);
  EXPECT_EQ(inv.Match(f)->name, "rack-a-bios");

  f.labels["rack"] = "b";
  EXPECT_EQ(inv.Match(f)->name, "bios");

  f.arch = "efi64";
  EXPECT_EQ(inv.Match(f)->name, "default");
}

TEST(InventoryMatch, NoMatchAndNoDefaultIsNull) {
  Inventory inv = Base();
  inv.groups.push_back(MakeGroup("bios", {{"arch", "bios"}}));
  EXPECT_EQ(inv.Match(Facts("52:54:00:00:00:01", "efi64")), nullptr);
  EXPECT_NE(inv.Match(Facts("52:54:00:00:00:01", "bios")), nullptr);
}

TEST(InventoryMatch, DiscoveredMachineGetsDefaultGroup) {
  Inventory inv = Base();
  inv.groups.push_back(MakeGroup("node-1", {{"mac", "52:54:00:e2:e0:01"}}));
  inv.groups.push_back(MakeGroup("fallback", {}));
  MachineFacts unknown = inv.FactsFor(Facts("52:54:00:99:99:99"));
  EXPECT_EQ(inv.Match(unknown)->name, "fallback");
  EXPECT_EQ(inv.Match(Facts("52:54:00:e2:e0:01"))->name, "node-1");
}

TEST(InventoryMatch, MacSelectorAcceptsAnySpelling) {
  Inventory inv = Base();
  inv.groups.push_back(MakeGroup("m", {{"mac", "52-54-00-AB-CD-EF"}}));
  EXPECT_NE(inv.Match(Facts("52:54:00:ab:cd:ef")), nullptr);
  EXPECT_EQ(inv.Match(Facts("52:54:00:ab:cd:ee")), nullptr);
}

TEST(InventoryMatch, UuidAndHostnameCaseInsensitiveOthersExact) {
  Inventory inv = Base();
  inv.groups.push_back(MakeGroup("u", {{"uuid", "3289AFF7-4D07-431F-BA11-EA0A214D7B8E"}}));
  inv.groups.push_back(MakeGroup("s", {{"serial", "ABC"}}));
  MachineFacts f = Facts("52:54:00:00:00:01");
  f.uuid = "3289aff7-4d07-431f-ba11-ea0a214d7b8e";
  EXPECT_EQ(inv.Match(f)->name, "u");
  MachineFacts g = Facts("52:54:00:00:00:01");
  g.serial = "abc";
  EXPECT_EQ(inv.Match(g), nullptr);
  g.serial = "ABC";
  EXPECT_EQ(inv.Match(g)->name, "s");
}

TEST(InventoryMatch, LabelSelectorNeedsTheLabel) {
  Inventory inv = Base();
  inv.groups.push_back(MakeGroup("gpu", {{"gpu", "true"}}));
  MachineFacts f = Facts("52:54:00:00:00:01");
  EXPECT_EQ(inv.Match(f), nullptr);
  f.labels["gpu"] = "true";
  EXPECT_EQ(inv.Match(f)->name, "gpu");
}

TEST(InventoryFacts, DeclaredMachineAddsHostnameAndLabels) {
  Inventory inv = Base();
  inv.machines.push_back({Mac("52:54:00:e2:e0:01"), "node-1", {{"rack", "a"}}});
  inv.groups.push_back(MakeGroup("rack-a", {{"rack", "a"}, {"arch", "bios"}}));
  MachineFacts reported = Facts("52:54:00:e2:e0:01");
  reported.hostname = "whatever";
  reported.labels["rack"] = "z";
  reported.labels["extra"] = "1";
  MachineFacts merged = inv.FactsFor(reported);
  EXPECT_EQ(merged.hostname, "node-1");
  EXPECT_EQ(merged.labels.at("rack"), "a");
  EXPECT_EQ(merged.labels.at("extra"), "1");
  EXPECT_EQ(inv.Match(merged)->name, "rack-a");
  // Undeclared machine: unchanged.
  MachineFacts other = inv.FactsFor(Facts("52:54:00:e2:e0:02"));
  EXPECT_TRUE(other.labels.empty());
}

TEST(InventoryValidate, AmbiguousGroupsNamedTogether) {
  Inventory inv = Base();
  inv.groups.push_back(MakeGroup("bios", {{"arch", "bios"}}));
  inv.groups.push_back(MakeGroup("rack-a", {{"rack", "a"}}));
  auto errors = inv.Validate();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "groups[1]");
  EXPECT_THAT(errors[0].message, HasSubstr("\"bios\""));
  EXPECT_THAT(errors[0].message, HasSubstr("\"rack-a\""));
}

TEST(InventoryValidate, DisjointOnASharedKeyIsNotAmbiguous) {
  Inventory inv = Base();
  inv.groups.push_back(MakeGroup("a-bios", {{"arch", "bios"}, {"rack", "a"}}));
  inv.groups.push_back(MakeGroup("a-efi", {{"arch", "efi64"}, {"rack", "a"}}));
  inv.groups.push_back(MakeGroup("m1", {{"mac", "52:54:00:00:00:01"}}));
  inv.groups.push_back(MakeGroup("m2", {{"mac", "52-54-00-00-00-02"}}));
  EXPECT_TRUE(inv.Validate().empty());
  // Same MAC spelled differently is the same machine: ambiguous.
  inv.groups.push_back(MakeGroup("m1-again", {{"mac", "52-54-00-00-00-01"}}));
  auto errors = inv.Validate();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0].message, HasSubstr("\"m1\" and \"m1-again\""));
}

TEST(InventoryValidate, DifferentSizesAreNotAmbiguous) {
  Inventory inv = Base();
  inv.groups.push_back(MakeGroup("bios", {{"arch", "bios"}}));
  inv.groups.push_back(MakeGroup("bios-a", {{"arch", "bios"}, {"rack", "a"}}));
  EXPECT_TRUE(inv.Validate().empty());
}

TEST(InventoryValidate, ReferenceAndDuplicateErrors) {
  Inventory inv = Base();
  inv.profiles.push_back(inv.profiles[0]);  // duplicate profile "p"
  inv.profiles.push_back(Profile{.name = "nokernel"});
  inv.groups.push_back(MakeGroup("d1", {}));
  inv.groups.push_back(MakeGroup("d2", {}));
  Group bad = MakeGroup("d1", {{"mac", "zz"}});
  bad.profile = "missing";
  inv.groups.push_back(bad);
  inv.machines.push_back({Mac("52:54:00:00:00:01"), "", {}});
  inv.machines.push_back({Mac("52:54:00:00:00:01"), "", {}});
  auto errors = inv.Validate();
  std::vector<std::string> got;
  for (const auto& e : errors) got.push_back(e.path + ": " + e.message);
  EXPECT_THAT(got, ::testing::UnorderedElementsAre(
                       "profiles.p: duplicate profile name \"p\"",
                       "profiles.nokernel.kernel: kernel is required",
                       "groups[2].name: duplicate group name \"d1\"",
                       "groups[2].profile: unknown profile \"missing\"",
                       "groups[2].selectors.mac: not a MAC address: \"zz\"",
                       "groups[1]: more than one default group (no selectors): \"d1\" and "
                       "\"d2\"",
                       "machines[1].mac: duplicate machine 52:54:00:00:00:01"));
}

TEST(InventoryArch, FromIpxeVariables) {
  EXPECT_EQ(ArchFromIpxe("i386", "pcbios"), "bios");
  EXPECT_EQ(ArchFromIpxe("x86_64", "pcbios"), "bios");
  EXPECT_EQ(ArchFromIpxe("x86_64", "efi"), "efi64");
  EXPECT_EQ(ArchFromIpxe("i386", "efi"), "efi32");
  EXPECT_EQ(ArchFromIpxe("arm64", "efi"), "arm64");
  EXPECT_EQ(ArchFromIpxe("ARM32", "efi"), "arm32");
  EXPECT_EQ(ArchFromIpxe("", ""), "");
  EXPECT_EQ(ArchFromIpxe("x\n\xff\"y", "efi"), "x___y");
  EXPECT_EQ(ArchFromIpxe(std::string(100, 'a'), "").size(), 32u);
}

}  // namespace
}  // namespace paddock::inventory
