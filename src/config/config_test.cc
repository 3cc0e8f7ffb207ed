#include "config/config.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace paddock::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace fs = std::filesystem;

std::vector<std::string> Errors(std::string_view text, std::string_view file = "t.yaml") {
  ConfigResult result = ParseConfig(text, file);
  std::vector<std::string> out;
  if (result) return out;
  for (const ConfigError& e : result.error()) out.push_back(e.ToString());
  return out;
}

Config MustParse(std::string_view text, std::string_view file = "/etc/paddock/t.yaml") {
  ConfigResult result = ParseConfig(text, file);
  EXPECT_TRUE(result) << (result ? "" : FormatErrors(result.error()));
  return result ? *result : Config{};
}

// The smallest valid config: proxy mode needs no address pool.
constexpr std::string_view kMinimal =
    "server:\n"
    "  address: 198.18.0.1\n"
    "dhcp:\n"
    "  mode: proxy\n";

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "paddock-config-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  void Write(const std::string& name, std::string_view text) const {
    fs::create_directories((path_ / name).parent_path());
    std::ofstream(path_ / name, std::ios::binary) << text;
  }

 private:
  fs::path path_;
};

TEST(ConfigExample, ExamplesPaddockYamlLoadsCleanly) {
  const std::string path = std::string(PADDOCK_SOURCE_DIR) + "/examples/paddock.yaml";
  ConfigResult result = LoadConfigFile(path);
  ASSERT_TRUE(result) << FormatErrors(result.error());
  const Config& c = *result;
  EXPECT_EQ(c.server.address.ToString(), "198.18.0.1");
  EXPECT_EQ(c.server.interface, "br0");
  EXPECT_EQ(c.dhcp.mode, DhcpMode::kFull);
  ASSERT_TRUE(c.dhcp.range);
  EXPECT_EQ(c.dhcp.range->start.ToString(), "198.18.0.100");
  EXPECT_EQ(c.dhcp.range->end.ToString(), "198.18.0.199");
  EXPECT_EQ(c.dhcp.lease_time, std::chrono::hours(1));
  EXPECT_EQ(c.dhcp.decline_quarantine, std::chrono::minutes(10));
  ASSERT_EQ(c.dhcp.reservations.size(), 1u);
  EXPECT_EQ(c.dhcp.reservations[0].hostname, "node-1");
  EXPECT_EQ(c.dhcp.dns.size(), 1u);
  EXPECT_EQ(c.tftp.root, "/usr/lib/ipxe");
  EXPECT_EQ(c.boot.efi64, "ipxe.efi");
  EXPECT_EQ(c.boot.arm64, "");
  EXPECT_EQ(c.ServerUrl(), "http://198.18.0.1:8080");
  ASSERT_EQ(c.inventory.profiles.size(), 1u);
  EXPECT_EQ(c.inventory.profiles[0].args, "console=ttyS0 panic=1");
  ASSERT_EQ(c.inventory.groups.size(), 2u);
  EXPECT_EQ(c.inventory.groups[1].metadata["role"], "worker");

  // node-1 is declared with rack=a; as a BIOS machine it lands in rack-a-workers.
  inventory::MachineFacts reported;
  reported.mac = *MacAddress::Parse("52-54-00-e2-e0-01");
  reported.arch = "bios";
  EXPECT_EQ(c.inventory.Match(c.inventory.FactsFor(reported))->name, "rack-a-workers");
  // Discovery: an unknown machine gets the default group.
  reported.mac = *MacAddress::Parse("52:54:00:00:00:99");
  EXPECT_EQ(c.inventory.Match(c.inventory.FactsFor(reported))->name, "default");
}

TEST(ConfigDefaults, AbsentKeysKeepDefaults) {
  Config c = MustParse(kMinimal);
  EXPECT_EQ(c.server.data_dir, "/var/lib/paddock");
  EXPECT_EQ(c.server.log_level, "info");
  EXPECT_EQ(c.server.log_format, LogFormat::kText);
  EXPECT_EQ(c.server.interface, "");
  EXPECT_EQ(c.dhcp.mode, DhcpMode::kProxy);
  EXPECT_FALSE(c.dhcp.range);
  EXPECT_EQ(c.dhcp.lease_time, std::chrono::seconds(3600));
  EXPECT_EQ(c.dhcp.decline_quarantine, std::chrono::seconds(600));
  EXPECT_TRUE(c.dhcp.router_advertisement);
  EXPECT_EQ(c.dhcp.port, 67);
  EXPECT_EQ(c.dhcp.proxy_port, 4011);
  EXPECT_TRUE(c.tftp.enabled);
  EXPECT_EQ(c.tftp.root, "/usr/lib/ipxe");
  EXPECT_EQ(c.tftp.port, 69);
  EXPECT_EQ(c.tftp.max_blksize, 0u);
  EXPECT_EQ(c.tftp.max_windowsize, 64u);
  EXPECT_EQ(c.tftp.timeout, std::chrono::seconds(1));
  EXPECT_EQ(c.tftp.retries, 5u);
  EXPECT_TRUE(c.http.address.IsZero());
  EXPECT_EQ(c.http.port, 8080);
  EXPECT_EQ(c.http.assets, "/var/lib/paddock/assets");
  EXPECT_EQ(c.boot.bios, "undionly.kpxe");
  EXPECT_EQ(c.boot.efi64, "ipxe.efi");
  EXPECT_TRUE(c.inventory.profiles.empty());
  EXPECT_EQ(c.base_dir, "/etc/paddock");
}

TEST(ConfigDefaults, DefaultModeIsFullAndNeedsAPool) {
  EXPECT_THAT(Errors("server:\n  address: 198.18.0.1\n"),
              ElementsAre("t.yaml:1:1: dhcp.range: dhcp.range is required in full mode",
                          "t.yaml:1:1: dhcp.netmask: dhcp.netmask is required in full mode"));
}

TEST(ConfigErrors, BadAddressHasFileLineColumnAndPath) {
  EXPECT_THAT(Errors("server:\n"
                     "  address: 198.18.0.1\n"
                     "dhcp:\n"
                     "  netmask: 255.255.255.0\n"
                     "  range:\n"
                     "    start: 198.18.0.300\n"
                     "    end: 198.18.0.199\n"),
              ElementsAre("t.yaml:6:12: dhcp.range.start: not an IPv4 address: "
                          "\"198.18.0.300\""));
}

TEST(ConfigErrors, AllErrorsReportedTogetherInFileOrder) {
  EXPECT_THAT(
      Errors("server:\n"                  // 1
             "  adress: 198.18.0.1\n"     // 2  typo
             "  log_level: loud\n"        // 3
             "dhcp:\n"                    // 4
             "  mode: proxy\n"            // 5
             "  lease_time: 5 minutes\n"  // 6
             "  port: 0\n"                // 7
             "tftp:\n"                    // 8
             "  max_windowsize: 70000\n"  // 9
             "  enabled: maybe\n"         // 10
             "http:\n"                    // 11
             "  port: 65536\n"            // 12
             "grups: []\n"),              // 13
      ElementsAre("t.yaml:1:1: server.address: server.address is required",
                  "t.yaml:2:3: server.adress: unknown key \"adress\" (did you mean \"address\"?)",
                  "t.yaml:3:14: server.log_level: unknown log level \"loud\" (trace, debug, info, "
                  "warn, error)",
                  "t.yaml:6:15: dhcp.lease_time: not a duration (like 90s, 10m, 1h, 1d or plain "
                  "seconds): \"5 minutes\"",
                  "t.yaml:7:9: dhcp.port: not a port (1..65535): \"0\"",
                  "t.yaml:9:19: tftp.max_windowsize: not a window size (1..65535): \"70000\"",
                  "t.yaml:10:12: tftp.enabled: expected true or false, got \"maybe\"",
                  "t.yaml:12:9: http.port: not a port (1..65535): \"65536\"",
                  "t.yaml:13:1: grups: unknown key \"grups\" (did you mean \"groups\"?)"));
}

TEST(ConfigErrors, UnknownKeyWithoutCloseMatchHasNoSuggestion) {
  EXPECT_THAT(Errors(std::string(kMinimal) + "tftp:\n  zzzzzz: 1\n"),
              ElementsAre("t.yaml:6:3: tftp.zzzzzz: unknown key \"zzzzzz\""));
}

TEST(ConfigErrors, DuplicateKey) {
  EXPECT_THAT(Errors(std::string(kMinimal) + "http:\n  port: 1\n  port: 2\n"),
              ElementsAre("t.yaml:7:3: http.port: duplicate key \"port\""));
}

TEST(ConfigErrors, YamlSyntaxErrorHasPosition) {
  auto errors = Errors("server:\n  address: [198.18.0.1\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], ::testing::StartsWith("t.yaml:3:1: YAML syntax: "));
}

TEST(ConfigErrors, TopLevelMustBeAMapping) {
  EXPECT_THAT(Errors("- a\n- b\n"),
              ElementsAre("t.yaml:1:1: expected a mapping (key: value lines)"));
  EXPECT_THAT(Errors(""), ElementsAre("t.yaml:1:1: server.address: server.address is required",
                                      "t.yaml:1:1: dhcp.range: dhcp.range is required in full "
                                      "mode",
                                      "t.yaml:1:1: dhcp.netmask: dhcp.netmask is required in "
                                      "full mode"));
}

TEST(ConfigDhcp, FullModeCrossChecks) {
  EXPECT_THAT(Errors("server:\n"                   // 1
                     "  address: 198.18.0.1\n"     // 2
                     "dhcp:\n"                     // 3
                     "  range:\n"                  // 4
                     "    start: 198.18.1.10\n"    // 5
                     "    end: 198.18.0.5\n"       // 6
                     "  netmask: 255.0.255.0\n"),  // 7
              ElementsAre("t.yaml:5:12: dhcp.range.start: range start 198.18.1.10 is after "
                          "range end 198.18.0.5",
                          "t.yaml:7:12: dhcp.netmask: not a netmask (contiguous one bits): "
                          "255.0.255.0"));
  EXPECT_THAT(Errors("server:\n"                     // 1
                     "  address: 198.18.0.1\n"       // 2
                     "dhcp:\n"                       // 3
                     "  range:\n"                    // 4
                     "    start: 198.18.0.10\n"      // 5
                     "    end: 198.18.1.5\n"         // 6
                     "  netmask: 255.255.255.0\n"),  // 7
              ElementsAre("t.yaml:6:10: dhcp.range.end: 198.18.1.5 is outside "
                          "server.address's subnet 198.18.0.0/255.255.255.0"));
  EXPECT_THAT(Errors("server:\n"
                     "  address: 198.18.0.50\n"
                     "dhcp:\n"
                     "  range: {start: 198.18.0.10, end: 198.18.0.99}\n"
                     "  netmask: 255.255.255.0\n"),
              ElementsAre("t.yaml:4:3: dhcp.range: the range contains server.address "
                          "198.18.0.50"));
}

TEST(ConfigDhcp, ReservationsUniqueAndValid) {
  EXPECT_THAT(Errors("server:\n"                                            // 1
                     "  address: 198.18.0.1\n"                              // 2
                     "dhcp:\n"                                              // 3
                     "  range: {start: 198.18.0.100, end: 198.18.0.199}\n"  // 4
                     "  netmask: 255.255.255.0\n"                           // 5
                     "  reservations:\n"                                    // 6
                     "    - mac: 52:54:00:00:00:01\n"                       // 7
                     "      ip: 198.18.0.21\n"                              // 8
                     "    - mac: 52-54-00-00-00-01\n"                       // 9
                     "      ip: 198.18.0.21\n"                              // 10
                     "    - mac: nope\n"                                    // 11
                     "      ip: 10.0.0.1\n"                                 // 12
                     "      hostname: bad_name\n"                           // 13
                     "    - ip: 198.18.0.1\n"),                             // 14
              ElementsAre("t.yaml:9:12: dhcp.reservations[1].mac: MAC 52:54:00:00:00:01 is "
                          "already reserved by dhcp.reservations[0]",
                          "t.yaml:10:11: dhcp.reservations[1].ip: IP 198.18.0.21 is already "
                          "reserved by dhcp.reservations[0]",
                          "t.yaml:11:12: dhcp.reservations[2].mac: not a MAC address: \"nope\"",
                          "t.yaml:12:11: dhcp.reservations[2].ip: 10.0.0.1 is outside "
                          "server.address's subnet 198.18.0.0/255.255.255.0",
                          "t.yaml:13:17: dhcp.reservations[2].hostname: not a host name: "
                          "\"bad_name\"",
                          "t.yaml:14:7: dhcp.reservations[3].mac: mac is required",
                          "t.yaml:14:11: dhcp.reservations[3].ip: reserves server.address "
                          "198.18.0.1"));
}

TEST(ConfigDhcp, ProxyModeIgnoresRange) {
  Config c = MustParse(
      "server:\n"
      "  address: 198.18.0.1\n"
      "dhcp:\n"
      "  mode: proxy\n"
      "  range: {start: 10.0.0.9, end: 10.0.0.1}\n");
  EXPECT_EQ(c.dhcp.mode, DhcpMode::kProxy);
  Config off = MustParse("server: {address: 198.18.0.1}\ndhcp: {mode: off}\n");
  EXPECT_EQ(off.dhcp.mode, DhcpMode::kOff);
  EXPECT_THAT(Errors("server: {address: 198.18.0.1}\ndhcp: {mode: half}\n"),
              ElementsAre("t.yaml:2:14: dhcp.mode: unknown mode \"half\" (full, proxy or off)"));
}

TEST(ConfigDhcp, PortsAndOptions) {
  Config c = MustParse(std::string(kMinimal) +
                       "  port: 10067\n  proxy_port: 14011\n  dns: [198.18.0.1, 198.18.0.2]\n"
                       "  router_advertisement: no\n  domain: lab.example\n");
  EXPECT_EQ(c.dhcp.port, 10067);
  EXPECT_EQ(c.dhcp.proxy_port, 14011);
  EXPECT_EQ(c.dhcp.dns.size(), 2u);
  EXPECT_FALSE(c.dhcp.router_advertisement);
  EXPECT_EQ(c.dhcp.domain, "lab.example");
  EXPECT_THAT(Errors(std::string(kMinimal) + "  dns: [198.18.0.1, x]\n"),
              ElementsAre("t.yaml:5:21: dhcp.dns[1]: not an IPv4 address: \"x\""));
}

TEST(ConfigDuration, Forms) {
  EXPECT_EQ(ParseDuration("90s"), std::chrono::seconds(90));
  EXPECT_EQ(ParseDuration("10m"), std::chrono::seconds(600));
  EXPECT_EQ(ParseDuration("1h"), std::chrono::seconds(3600));
  EXPECT_EQ(ParseDuration("1d"), std::chrono::seconds(86400));
  EXPECT_EQ(ParseDuration("3600"), std::chrono::seconds(3600));
  EXPECT_EQ(ParseDuration("0"), std::chrono::seconds(0));
  for (const char* bad :
       {"", "s", "-1s", "1.5h", "1w", "1 h", "1hh", "99999999999999999999d", "4000d"}) {
    EXPECT_FALSE(ParseDuration(bad)) << bad;
  }
  Config c = MustParse(std::string(kMinimal) + "  lease_time: 90s\ntftp:\n  timeout: 3\n");
  EXPECT_EQ(c.dhcp.lease_time, std::chrono::seconds(90));
  EXPECT_EQ(c.tftp.timeout, std::chrono::seconds(3));
  EXPECT_THAT(Errors(std::string(kMinimal) + "tftp:\n  timeout: 5m\n"),
              ElementsAre("t.yaml:6:12: tftp.timeout: timeout must be 1s..255s (RFC 2349)"));
}

TEST(ConfigPaths, RelativePathsResolveAgainstTheConfigDirectory) {
  Config d = MustParse(
      "server:\n"
      "  address: 198.18.0.1\n"
      "  data_dir: ../state\n"
      "dhcp: {mode: off}\n"
      "tftp: {root: tftp}\n"
      "http: {assets: /abs/assets}\n",
      "/srv/pd/conf/paddock.yaml");
  EXPECT_EQ(d.server.data_dir, "/srv/pd/state");
  EXPECT_EQ(d.tftp.root, "/srv/pd/conf/tftp");
  EXPECT_EQ(d.http.assets, "/abs/assets");
  // http.assets defaults to <data_dir>/assets, after data_dir is resolved.
  Config e =
      MustParse("server: {address: 198.18.0.1, data_dir: st}\ndhcp: {mode: off}\n", "/x/p.yaml");
  EXPECT_EQ(e.http.assets, "/x/st/assets");
}

// Profile, group and machine errors, including those Inventory::Validate finds, carry the
// path and line of the offending key.
TEST(ConfigInventory, ValidateErrorsHavePaths) {
  EXPECT_THAT(
      Errors(std::string(kMinimal) +           // 4 lines
             "profiles:\n"                     // 5
             "  a:\n"                          // 6
             "    kernel: vmlinuz\n"           // 7
             "  b:\n"                          // 8
             "    initrds: [x]\n"              // 9
             "groups:\n"                       // 10
             "  - name: d1\n"                  // 11
             "    profile: a\n"                // 12
             "  - name: d2\n"                  // 13
             "    profile: missing\n"          // 14
             "  - name: bios\n"                // 15
             "    profile: a\n"                // 16
             "    selectors: {arch: bios}\n"   // 17
             "  - name: rack-a\n"              // 18
             "    profile: a\n"                // 19
             "    selectors: {rack: a}\n"      // 20
             "  - name: efi\n"                 // 21
             "    profile: a\n"                // 22
             "    selectors: {arch: efi64}\n"  // 23
             "    metadata: [1]\n"             // 24
             "machines:\n"                     // 25
             "  - mac: 52:54:00:00:00:01\n"    // 26
             "  - mac: 52:54:00:00:00:01\n"    // 27
             "    labels: {arch: x}\n"         // 28
             "  - hostname: h\n"),             // 29
      ElementsAre("t.yaml:8:3: profiles.b.kernel: kernel is required",
                  "t.yaml:13:5: groups[1]: more than one default group (no selectors): \"d1\" "
                  "and \"d2\"",
                  "t.yaml:14:14: groups[1].profile: unknown profile \"missing\"",
                  "t.yaml:18:5: groups[3]: ambiguous groups \"bios\" and \"rack-a\": both have "
                  "1 selectors and one machine could match both; add a selector to one of them "
                  "or make a shared key differ",
                  "t.yaml:21:5: groups[4]: ambiguous groups \"rack-a\" and \"efi\": both have "
                  "1 selectors and one machine could match both; add a selector to one of them "
                  "or make a shared key differ",
                  "t.yaml:24:15: groups[4].metadata: expected a mapping",
                  "t.yaml:27:10: machines[1].mac: duplicate machine 52:54:00:00:00:01",
                  "t.yaml:28:20: machines[1].labels.arch: label \"arch\" would shadow the "
                  "machine fact of that name; rename it",
                  "t.yaml:29:5: machines[2].mac: mac is required"));
}

TEST(ConfigInventory, GroupsSelectorsMetadataAndArgsList) {
  Config c = MustParse(std::string(kMinimal) +
                       "profiles:\n"
                       "  p:\n"
                       "    kernel: http://mirror/vmlinuz\n"
                       "    initrds: one.gz\n"
                       "    args: [console=ttyS0, quiet]\n"
                       "groups:\n"
                       "  - name: g\n"
                       "    profile: p\n"
                       "    selectors:\n"
                       "      mac: 52:54:00:00:00:07\n"
                       "    metadata:\n"
                       "      n: 3\n"
                       "      neg: -2\n"
                       "      f: 2.5\n"
                       "      yes_bool: true\n"
                       "      quoted: \"true\"\n"
                       "      octal_like: 017\n"
                       "      nothing: ~\n"
                       "      list: [a, 1]\n"
                       "      nested: {k: v}\n");
  ASSERT_EQ(c.inventory.profiles.size(), 1u);
  EXPECT_EQ(c.inventory.profiles[0].initrds, std::vector<std::string>{"one.gz"});
  EXPECT_EQ(c.inventory.profiles[0].args, "console=ttyS0 quiet");
  const nlohmann::json& m = c.inventory.groups[0].metadata;
  EXPECT_EQ(m.dump(), R"({"f":2.5,"list":["a",1],"n":3,"neg":-2,"nested":{"k":"v"},"nothing":null,)"
                      R"("octal_like":"017","quoted":"true","yes_bool":true})");
  EXPECT_EQ(c.inventory.groups[0].selectors.at("mac"), "52:54:00:00:00:07");
}

TEST(ConfigInventory, BadSelectorValuesAndMacSelector) {
  EXPECT_THAT(Errors(std::string(kMinimal) + "profiles: {p: {kernel: k}}\n"  // 5
                                             "groups:\n"                     // 6
                                             "  - name: g\n"                 // 7
                                             "    profile: p\n"              // 8
                                             "    selectors:\n"              // 9
                                             "      mac: 52:54:00\n"         // 10
                                             "      arch: [bios]\n"),        // 11
              ElementsAre("t.yaml:10:12: groups[0].selectors.mac: not a MAC address: "
                          "\"52:54:00\"",
                          "t.yaml:11:13: groups[0].selectors.arch: expected a string value"));
}

TEST(ConfigTemplates, IpxeTemplateFilesLoadedAndChecked) {
  TempDir dir;
  dir.Write("tpl/good.ipxe", "#!ipxe\nkernel {{kernel}} {{cmdline}}\nboot\n");
  dir.Write("tpl/bad.ipxe", "#!ipxe\n{{#initrds}}\n");
  dir.Write("tpl/noshebang.ipxe", "kernel {{kernel}}\n");
  dir.Write("tpl/user-data", "#cloud-config\nhostname: {{hostname}}\n");
  dir.Write("tpl/broken-user-data", "{{/x}}\n");
  const std::string file = (dir.path() / "paddock.yaml").string();
  const std::string head = std::string(kMinimal) + "profiles:\n";
  Config c = MustParse(head +
                           "  p:\n"
                           "    kernel: k\n"
                           "    ipxe_template: tpl/good.ipxe\n"
                           "    templates: {user-data: tpl/user-data}\n",
                       file);
  ASSERT_EQ(c.inventory.profiles.size(), 1u);
  EXPECT_EQ(c.inventory.profiles[0].ipxe_template, "#!ipxe\nkernel {{kernel}} {{cmdline}}\nboot\n");
  EXPECT_EQ(c.inventory.profiles[0].ipxe_template_path, (dir.path() / "tpl/good.ipxe").string());
  EXPECT_EQ(c.inventory.profiles[0].templates.at("user-data"),
            (dir.path() / "tpl/user-data").string());

  auto errors = Errors(head +                                          // 5
                           "  a:\n"                                    // 6
                           "    kernel: k\n"                           // 7
                           "    ipxe_template: tpl/missing.ipxe\n"     // 8
                           "  b:\n"                                    // 9
                           "    kernel: k\n"                           // 10
                           "    ipxe_template: tpl/bad.ipxe\n"         // 11
                           "  c:\n"                                    // 12
                           "    kernel: k\n"                           // 13
                           "    ipxe_template: tpl/noshebang.ipxe\n"   // 14
                           "    templates:\n"                          // 15
                           "      user-data: tpl/broken-user-data\n",  // 16
                       file);
  ASSERT_EQ(errors.size(), 4u) << ::testing::PrintToString(errors);
  EXPECT_THAT(errors[0], ::testing::StartsWith(file +
                                               ":8:20: profiles.a.ipxe_template: "
                                               "template file \"" +
                                               (dir.path() / "tpl/missing.ipxe").string() +
                                               "\" does not exist"));
  EXPECT_THAT(errors[1], ::testing::StartsWith(file + ":11:20: profiles.b.ipxe_template: "));
  EXPECT_THAT(errors[1], HasSubstr("template syntax"));
  EXPECT_THAT(errors[2], ::testing::StartsWith(file + ":14:20: profiles.c.ipxe_template: "));
  EXPECT_THAT(errors[2], HasSubstr("#!ipxe"));
  EXPECT_THAT(errors[3], ::testing::StartsWith(file + ":16:18: profiles.c.templates.user-data: "));
  EXPECT_THAT(errors[3], HasSubstr("template syntax"));
}

TEST(ConfigFile, LoadErrors) {
  auto r = LoadConfigFile("/nonexistent/paddock.yaml");
  ASSERT_FALSE(r);
  ASSERT_EQ(r.error().size(), 1u);
  EXPECT_EQ(r.error()[0].ToString(),
            "/nonexistent/paddock.yaml: no such file (or not a regular file)");
  TempDir dir;
  dir.Write("p.yaml", "server:\n  address: 1.2.3\ndhcp: {mode: off}\n");
  r = LoadConfigFile((dir.path() / "p.yaml").string());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error()[0].ToString(), (dir.path() / "p.yaml").string() +
                                         ":2:12: server.address: not an IPv4 address: \"1.2.3\"");
}

TEST(ConfigRobustness, HostileInputsBecomeErrors) {
  // Deep nesting: yaml-cpp's recursion guard throws; we turn it into an error.
  EXPECT_FALSE(ParseConfig(std::string(5000, '[') + std::string(5000, ']'), "t.yaml"));
  // Alias bomb in metadata: stopped by the node budget instead of expanding 10^9 nodes.
  std::string bomb = std::string(kMinimal) +
                     "profiles: {p: {kernel: k}}\ngroups:\n  - name: g\n    profile: p\n"
                     "    metadata:\n      a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    bomb += "      a" + std::to_string(i) + ": &a" + std::to_string(i) + " [*a" +
            std::to_string(i - 1) + ", *a" + std::to_string(i - 1) + ", *a" +
            std::to_string(i - 1) + ", *a" + std::to_string(i - 1) + ", *a" +
            std::to_string(i - 1) + ", *a" + std::to_string(i - 1) + ", *a" +
            std::to_string(i - 1) + ", *a" + std::to_string(i - 1) + ", *a" +
            std::to_string(i - 1) + ", *a" + std::to_string(i - 1) + "]\n";
  }
  auto errors = Errors(bomb);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], HasSubstr("metadata too large"));
  // An alias inside the node it names is a cycle in yaml-cpp's tree.
  errors = Errors(std::string(kMinimal) +
                  "profiles: {p: {kernel: k}}\ngroups:\n  - name: g\n    profile: p\n"
                  "    metadata:\n      a1: &a1 [x, *a1]\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], HasSubstr("metadata nested deeper than 32 levels"));
  // Control bytes in values are escaped in messages.
  EXPECT_THAT(Errors("server:\n  address: \"a\\x01b\"\ndhcp: {mode: off}\n"),
              ElementsAre("t.yaml:2:12: server.address: not an IPv4 address: \"a\\x01b\""));
  EXPECT_FALSE(ParseConfig(std::string("\0\xff\xfe:", 4), "t.yaml"));
}

}  // namespace
}  // namespace paddock::config

namespace paddock::config {
namespace {

TEST(ConfigRegistry, DefaultsAndKeys) {
  Config d = MustParse(kMinimal);
  EXPECT_TRUE(d.registry.enabled);
  EXPECT_EQ(d.registry.cache_dir, "/var/lib/paddock/registry");
  EXPECT_EQ(d.registry.max_size, 0u);
  EXPECT_EQ(d.registry.tag_ttl.count(), 300);
  EXPECT_EQ(d.registry.default_namespace, "docker.io");

  Config c = MustParse(std::string(kMinimal) +
                       "registry:\n"
                       "  cache_dir: cache\n"
                       "  max_size: 2GiB\n"
                       "  tag_ttl: 1h\n"
                       "  allow_unlisted: false\n"
                       "  upstreams:\n"
                       "    - {name: docker.io, url: 'https://registry-1.docker.io',\n"
                       "       username: u, password_file: pw}\n");
  EXPECT_EQ(c.registry.cache_dir, "/etc/paddock/cache");
  EXPECT_EQ(c.registry.max_size, 2ull << 30);
  EXPECT_EQ(c.registry.tag_ttl.count(), 3600);
  EXPECT_FALSE(c.registry.allow_unlisted);
  ASSERT_EQ(c.registry.upstreams.size(), 1u);
  EXPECT_EQ(c.registry.upstreams[0].password_file, "/etc/paddock/pw");
  EXPECT_EQ(c.registry.node_namespaces.size(), 4u);
  EXPECT_TRUE(c.registry.node_fallback_to_upstream);

  Config n = MustParse(std::string(kMinimal) +
                       "registry:\n"
                       "  nodes:\n"
                       "    namespaces: [docker.io, 'registry.lab:5000']\n"
                       "    fallback_to_upstream: false\n");
  EXPECT_EQ(n.registry.node_namespaces,
            (std::vector<std::string>{"docker.io", "registry.lab:5000"}));
  EXPECT_FALSE(n.registry.node_fallback_to_upstream);
}

TEST(ConfigRegistry, NodeNamespacesMustBeHostNames) {
  auto errors = Errors(std::string(kMinimal) +
                       "registry:\n"
                       "  nodes:\n"
                       "    namespaces: [docker.io, '../etc']\n"
                       "    fallback: true\n");
  EXPECT_THAT(errors, ElementsAre(HasSubstr("registry.nodes.namespaces: not a registry host name"),
                                  HasSubstr("registry.nodes.fallback: unknown key")));
}

TEST(ConfigRegistry, ErrorsHavePaths) {
  auto errors = Errors(std::string(kMinimal) +
                       "registry:\n"
                       "  max_size: lots\n"
                       "  upstreams:\n"
                       "    - {name: x, url: 'ftp://x'}\n"
                       "  tagttl: 5m\n");
  EXPECT_THAT(errors, ElementsAre(HasSubstr("t.yaml:6:13: registry.max_size: not a size"),
                                  HasSubstr("registry.upstreams[0].url: url must start"),
                                  HasSubstr("registry.tagttl: unknown key")));
}

TEST(ConfigRegistry, ParseSize) {
  EXPECT_EQ(ParseSize("1024"), 1024u);
  EXPECT_EQ(ParseSize("64K"), 64u << 10);
  EXPECT_EQ(ParseSize("500MiB"), 500ull << 20);
  EXPECT_EQ(ParseSize("3T"), 3ull << 40);
  EXPECT_FALSE(ParseSize(""));
  EXPECT_FALSE(ParseSize("G"));
  EXPECT_FALSE(ParseSize("-1"));
  EXPECT_FALSE(ParseSize("1 GiB"));
  EXPECT_FALSE(ParseSize("99999999999999999999"));
  EXPECT_FALSE(ParseSize("17179869184T"));
}

}  // namespace
}  // namespace paddock::config
