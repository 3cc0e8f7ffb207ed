#include "daemon/agent_service.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "agent/state_archive.h"
#include "agent/userdata.h"
#include "common/clock.h"
#include "daemon/event_recorder.h"
#include "daemon/options.h"
#include "daemon/tokens.h"
#include "store/store.h"

namespace paddock::daemon {
namespace {

namespace fs = std::filesystem;

const MacAddress kMac = *MacAddress::Parse("52:54:00:aa:bb:01");

class AgentServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("agent_service_test." + std::to_string(::getpid()) + "." +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    store_ = std::move(*store::OpenSqliteStore((dir_ / "paddock.db").string()));
    recorder_ = std::make_unique<EventRecorder>(store_.get());
    service_ = std::make_unique<AgentService>(store_.get(), recorder_.get(), &signer_,
                                              AgentServiceOptions{(dir_ / "state").string(), 5});

    std::ofstream(dir_ / "user-data.tmpl") << "#cloud-config\nhostname: {{hostname}}\n"
                                              "role: {{metadata.role}}\n";
    auto cfg = std::make_shared<AgentServiceConfig>();
    cfg->server_url = "http://198.18.0.1:8080";
    inventory::Profile profile;
    profile.name = "node";
    profile.kernel = "vmlinuz";
    profile.templates["user-data"] = (dir_ / "user-data.tmpl").string();
    profile.persist = {"/etc/ssh/ssh_host_*", "/etc/machine-id"};
    cfg->inventory.profiles.push_back(profile);
    inventory::Group group;
    group.name = "all";
    group.profile = "node";
    group.metadata = {{"role", "worker"}};
    cfg->inventory.groups.push_back(group);
    inventory::MachineSpec spec;
    spec.mac = kMac;
    spec.hostname = "node-1";
    cfg->inventory.machines.push_back(spec);
    service_->SetConfig(cfg);
    config_ = cfg;
  }

  std::shared_ptr<const AgentServiceConfig> ConfigForTest() const { return config_; }

  void TearDown() override {
    service_.reset();
    recorder_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  std::string IssueToken(int64_t lifetime = 3600, const MacAddress& mac = kMac) {
    int64_t now = WallMicros() / 1000000;
    return signer_.Issue({mac, 1, now, now + lifetime});
  }

  http::Response Call(std::string method, std::string path, std::string body = {},
                      std::string credential = {}) {
    http::Request req;
    req.method = std::move(method);
    req.path = std::move(path);
    req.target = req.path;
    req.body = std::move(body);
    if (!credential.empty()) req.headers.Set("Authorization", "Bearer " + credential);
    return service_->Handle(req);
  }

  http::Response PutState(const std::string& credential, const std::string& archive,
                          std::string digest = {}) {
    http::Request req;
    req.method = "PUT";
    req.path = req.target = "/agent/v1/state";
    req.body = archive;
    req.headers.Set("Authorization", "Bearer " + credential);
    req.headers.Set("X-Paddock-Sha256", digest.empty() ? HashToken(archive) : digest);
    return service_->Handle(req);
  }

  std::string Redeem(const std::string& token) {
    auto r = Call("POST", "/agent/v1/redeem",
                  nlohmann::json{{"token", token}, {"mac", kMac.ToString()}}.dump());
    if (r.status != 200) return {};
    return nlohmann::json::parse(r.body)["credential"].get<std::string>();
  }

  std::vector<std::string> Phases() {
    recorder_->Flush();
    std::vector<std::string> out;
    auto events = store_->Timeline(kMac, 0, 1000);
    EXPECT_TRUE(events);
    if (!events) return out;
    for (const auto& e : *events) out.push_back(e.event.phase);
    return out;
  }

  static std::string Archive(const std::string& content) {
    agent::StateEntry e;
    e.path = "etc/machine-id";
    e.data = content;
    return *agent::WriteStateArchive({e});
  }

  fs::path dir_;
  BootTokenSigner signer_{std::array<uint8_t, BootTokenSigner::kKeyBytes>{7, 7, 7}};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<EventRecorder> recorder_;
  std::unique_ptr<AgentService> service_;
  std::shared_ptr<const AgentServiceConfig> config_;
};

TEST_F(AgentServiceTest, TokenRedeemsOnceThenReuseIsRefusedAndAlerted) {
  std::string token = IssueToken();
  std::string credential = Redeem(token);
  ASSERT_EQ(credential.size(), 32u);
  auto again = Call("POST", "/agent/v1/redeem",
                    nlohmann::json{{"token", token}, {"mac", kMac.ToString()}}.dump());
  EXPECT_EQ(again.status, 403);
  auto unknown = Call("POST", "/agent/v1/redeem",
                      nlohmann::json{{"token", "0123"}, {"mac", kMac.ToString()}}.dump());
  EXPECT_EQ(unknown.status, 403);
  auto phases = Phases();
  EXPECT_NE(std::find(phases.begin(), phases.end(), "agent.credential_issued"), phases.end());
  EXPECT_NE(std::find(phases.begin(), phases.end(), "agent.token_reused"), phases.end());
  EXPECT_NE(std::find(phases.begin(), phases.end(), "agent.token_refused"), phases.end());
  // The credential still works after the refused attempts; the database has only its hash.
  EXPECT_EQ(Call("GET", "/agent/v1/state", {}, credential).status, 404);
  auto stored = store_->FindCredential(HashToken(credential));
  ASSERT_TRUE(stored && *stored);
  EXPECT_EQ((*stored)->mac, kMac);
  EXPECT_FALSE(*store_->FindCredential(credential));
}

TEST_F(AgentServiceTest, ExpiredTokenIsRefused) {
  std::string token = IssueToken(-10);
  EXPECT_EQ(Redeem(token), "");
}

// Tokens are verified by their signature: an altered one, one signed with another key and one
// of another machine are refused (alerted); the last is burnt, so its machine cannot use it.
TEST_F(AgentServiceTest, ForgedAlteredAndStolenTokensAreRefused) {
  std::string altered = IssueToken();
  altered[20] = altered[20] == '0' ? '1' : '0';
  EXPECT_EQ(Redeem(altered), "");
  BootTokenSigner other_key(std::array<uint8_t, BootTokenSigner::kKeyBytes>{8});
  int64_t now = WallMicros() / 1000000;
  EXPECT_EQ(Redeem(other_key.Issue({kMac, 1, now, now + 60})), "");
  const MacAddress other = *MacAddress::Parse("52:54:00:aa:bb:02");
  std::string stolen = IssueToken(60, other);
  EXPECT_EQ(Redeem(stolen), "");  // presented as kMac's
  auto r = Call("POST", "/agent/v1/redeem",
                nlohmann::json{{"token", stolen}, {"mac", other.ToString()}}.dump());
  EXPECT_EQ(r.status, 403);
  auto phases = Phases();
  EXPECT_EQ(std::count(phases.begin(), phases.end(), "agent.token_refused"), 2);
  EXPECT_EQ(std::find(phases.begin(), phases.end(), "agent.credential_issued"), phases.end());
  // The genuine token still works.
  EXPECT_EQ(Redeem(IssueToken()).size(), 32u);
}

TEST_F(AgentServiceTest, EveryRouteButRedeemNeedsACredential) {
  for (const char* path : {"/agent/v1/state", "/agent/v1/nocloud/meta-data"}) {
    EXPECT_EQ(Call("GET", path).status, 401) << path;
    EXPECT_EQ(Call("GET", path, {}, "not-a-credential").status, 403) << path;
  }
  EXPECT_EQ(Call("POST", "/agent/v1/report", R"({"phase":"ready"})").status, 401);
  EXPECT_EQ(Call("POST", "/agent/v1/log", R"({"lines":["x"]})", "bad").status, 403);
  EXPECT_EQ(PutState("bad", Archive("x")).status, 403);
}

TEST_F(AgentServiceTest, DocumentsRenderedPerMachine) {
  std::string credential = Redeem(IssueToken());
  auto meta = Call("GET", "/agent/v1/nocloud/meta-data", {}, credential);
  ASSERT_EQ(meta.status, 200);
  EXPECT_NE(meta.body.find("instance-id: paddock-52-54-00-aa-bb-01\n"), std::string::npos);
  EXPECT_NE(meta.body.find("local-hostname: \"node-1\"\n"), std::string::npos);
  EXPECT_NE(meta.body.find(R"(persist_paths: ["/etc/ssh/ssh_host_*","/etc/machine-id"])"),
            std::string::npos)
      << meta.body;
  auto user = Call("GET", "/agent/v1/nocloud/user-data", {}, credential);
  ASSERT_EQ(user.status, 200);
  EXPECT_EQ(user.body, "#cloud-config\nhostname: node-1\nrole: worker\n");
  EXPECT_EQ(Call("GET", "/agent/v1/nocloud/vendor-data", {}, credential).status, 404);
  EXPECT_EQ(Call("GET", "/agent/v1/nocloud/other", {}, credential).status, 404);
}

TEST_F(AgentServiceTest, NoCloudSeedChecksButDoesNotConsumeTheBootToken) {
  std::string token = IssueToken();
  std::string base = "/nocloud/52-54-00-aa-bb-01/";
  EXPECT_EQ(Call("GET", base + token + "/user-data").status, 200);
  EXPECT_EQ(Call("GET", base + token + "/meta-data").status, 200);
  EXPECT_EQ(Call("GET", base + "ffff/user-data").status, 403);
  EXPECT_EQ(Call("GET", "/nocloud/52-54-00-aa-bb-02/" + token + "/user-data").status, 403);
  EXPECT_EQ(Call("GET", base + token + "/network-config").status, 404);
  EXPECT_NE(Redeem(token), "");  // still redeemable once
  // Each fetch is on the machine's timeline; a refusal is an alert on the MAC it names.
  auto phases = Phases();
  EXPECT_EQ(std::count(phases.begin(), phases.end(), "nocloud.fetch"), 3);
  EXPECT_EQ(std::count(phases.begin(), phases.end(), "nocloud.refused"), 1);
}

TEST_F(AgentServiceTest, ReportsAndLogsLandInTheTimeline) {
  std::string credential = Redeem(IssueToken());
  EXPECT_EQ(Call("POST", "/agent/v1/report",
                 R"({"phase":"module:write_files","ok":false,"duration_us":1234,)"
                 R"("detail":{"error":"boom"},"uptime":2.5})",
                 credential)
                .status,
            204);
  EXPECT_EQ(Call("POST", "/agent/v1/log", R"({"lines":["hello","world"]})", credential).status,
            204);
  EXPECT_EQ(Call("POST", "/agent/v1/report", "not json", credential).status, 400);
  recorder_->Flush();
  auto events = *store_->Timeline(kMac, 0, 100);
  bool saw_report = false, saw_log = false;
  for (const auto& e : events) {
    if (e.event.phase == "agent.module:write_files") {
      saw_report = true;
      EXPECT_FALSE(e.event.ok);
      EXPECT_EQ(e.event.duration_us, 1234);
      EXPECT_EQ(nlohmann::json::parse(e.event.detail)["detail"]["error"], "boom");
    }
    if (e.event.phase == "agent.log") {
      saw_log = true;
      EXPECT_EQ(nlohmann::json::parse(e.event.detail)["lines"][1], "world");
    }
  }
  EXPECT_TRUE(saw_report);
  EXPECT_TRUE(saw_log);
}

TEST_F(AgentServiceTest, CorruptOrTruncatedStateIsRejectedAndPreviousKept) {
  std::string credential = Redeem(IssueToken());
  std::string good = Archive("first\n");
  ASSERT_EQ(PutState(credential, good).status, 200);

  std::string flipped = Archive("second\n");
  flipped[600] ^= 0x01;  // a content byte: the in-archive digest no longer matches
  EXPECT_EQ(PutState(credential, flipped).status, 400);
  std::string cut = Archive("third\n").substr(0, 1000);
  EXPECT_EQ(PutState(credential, cut).status, 400);
  EXPECT_EQ(PutState(credential, Archive("fourth\n"), std::string(64, '0')).status, 400);

  auto versions = ListStateVersions((dir_ / "state").string(), kMac);
  ASSERT_TRUE(versions);
  ASSERT_EQ(versions->size(), 1u);
  auto got = Call("GET", "/agent/v1/state", {}, credential);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.body, good);
  EXPECT_EQ(*got.headers.Get("X-Paddock-Sha256"), HashToken(good));
  auto phases = Phases();
  EXPECT_EQ(std::count(phases.begin(), phases.end(), "agent.state_rejected"), 3);
}

TEST_F(AgentServiceTest, KeepsTheLastFiveVersionsAndServesTheNewest) {
  std::string credential = Redeem(IssueToken());
  std::string last;
  for (int i = 1; i <= 7; ++i) {
    last = Archive("v" + std::to_string(i) + "\n");
    ASSERT_EQ(PutState(credential, last).status, 200);
  }
  auto versions = *ListStateVersions((dir_ / "state").string(), kMac);
  ASSERT_EQ(versions.size(), 5u);
  EXPECT_EQ(versions.front().version, 3);
  EXPECT_EQ(versions.back().version, 7);
  EXPECT_EQ(Call("GET", "/agent/v1/state", {}, credential).body, last);
  // No temp files left behind.
  for (const auto& e : fs::directory_iterator(dir_ / "state" / "52-54-00-aa-bb-01")) {
    EXPECT_EQ(e.path().extension(), ".tar") << e.path();
  }
}

TEST_F(AgentServiceTest, StateIsServedOnlyToItsOwnMachine) {
  std::string credential = Redeem(IssueToken());
  ASSERT_EQ(PutState(credential, Archive("mine\n")).status, 200);
  // A credential of another machine sees its own (empty) state.
  const MacAddress other = *MacAddress::Parse("52:54:00:aa:bb:02");
  std::string token = IssueToken(60, other);
  auto r = Call("POST", "/agent/v1/redeem",
                nlohmann::json{{"token", token}, {"mac", other.ToString()}}.dump());
  ASSERT_EQ(r.status, 200);
  std::string other_credential = nlohmann::json::parse(r.body)["credential"];
  EXPECT_EQ(Call("GET", "/agent/v1/state", {}, other_credential).status, 404);
}

// What the daemon puts into the agent config for a server at 198.18.0.1:8080.
config::Config RegistryConfigFor(bool enabled) {
  config::Config c;
  c.server.address = *Ipv4Address::Parse("198.18.0.1");
  c.http.port = 8080;
  c.registry.enabled = enabled;
  return c;
}

// Sets the registry part of the service's config (as daemon.cc does) and an optional
// vendor-data template.
void UseRegistry(AgentService& service, std::shared_ptr<AgentServiceConfig> cfg,
                 const config::Config& c, const std::string& vendor_template = {}) {
  cfg->registry_mirror_url = RegistryMirrorUrl(c);
  cfg->containerd_hosts = ContainerdHostsFiles(c);
  if (!vendor_template.empty())
    cfg->inventory.profiles[0].templates["vendor-data"] = vendor_template;
  service.SetConfig(cfg);
}

// The write_files entries of a cloud-config as the node agent parses them: path -> content.
std::map<std::string, std::string> WriteFiles(const std::string& doc) {
  agent::UserData ud = agent::ParseUserData(doc);
  EXPECT_TRUE(ud.errors.empty()) << doc;
  std::map<std::string, std::string> out;
  if (!ud.cloud_config.contains("write_files")) return out;
  for (const auto& f : ud.cloud_config["write_files"]) {
    out[f.value("path", "")] = f.value("content", "");
  }
  return out;
}

TEST_F(AgentServiceTest, VendorDataDefaultsToContainerdHostsWhenTheRegistryIsOn) {
  auto cfg = std::make_shared<AgentServiceConfig>(*ConfigForTest());
  UseRegistry(*service_, cfg, RegistryConfigFor(true));
  std::string token = IssueToken();
  std::string credential = Redeem(token);
  auto agent_doc = Call("GET", "/agent/v1/nocloud/vendor-data", {}, credential);
  ASSERT_EQ(agent_doc.status, 200);
  auto seed_doc = Call("GET", "/nocloud/52-54-00-aa-bb-01/" + token + "/vendor-data");
  ASSERT_EQ(seed_doc.status, 200);
  EXPECT_EQ(seed_doc.body, agent_doc.body);
  EXPECT_EQ(agent_doc.body.rfind("#cloud-config\n", 0), 0u) << agent_doc.body;

  auto files = WriteFiles(agent_doc.body);
  ASSERT_EQ(files.size(), 5u) << agent_doc.body;
  const std::string mirror =
      "[host.\"http://198.18.0.1:8080\"]\n  capabilities = [\"pull\", \"resolve\"]";
  for (const char* ns : {"docker.io", "ghcr.io", "quay.io", "registry.k8s.io", "_default"}) {
    std::string path = std::string("/etc/containerd/certs.d/") + ns + "/hosts.toml";
    ASSERT_TRUE(files.count(path)) << path;
    EXPECT_NE(files[path].find(mirror), std::string::npos) << files[path];
  }
  EXPECT_NE(files["/etc/containerd/certs.d/docker.io/hosts.toml"].find(
                "\nserver = \"https://registry-1.docker.io\"\n"),
            std::string::npos);
  EXPECT_NE(
      files["/etc/containerd/certs.d/ghcr.io/hosts.toml"].find("\nserver = \"https://ghcr.io\"\n"),
      std::string::npos);
  EXPECT_EQ(files["/etc/containerd/certs.d/_default/hosts.toml"].find("server ="),
            std::string::npos);
  // Exactly what registry::RenderContainerdHosts renders, byte for byte.
  for (const auto& f : ContainerdHostsFiles(RegistryConfigFor(true))) {
    EXPECT_EQ(files[f.path], f.content) << f.path;
  }
}

TEST_F(AgentServiceTest, VendorDataStaysMissingWhenTheRegistryIsOff) {
  auto cfg = std::make_shared<AgentServiceConfig>(*ConfigForTest());
  UseRegistry(*service_, cfg, RegistryConfigFor(false));
  EXPECT_TRUE(ContainerdHostsFiles(RegistryConfigFor(false)).empty());
  std::string token = IssueToken();
  std::string credential = Redeem(token);
  EXPECT_EQ(Call("GET", "/agent/v1/nocloud/vendor-data", {}, credential).status, 404);
  // The seed route answers an empty document instead: cloud-init retries a 404 ten times.
  auto seed = Call("GET", "/nocloud/52-54-00-aa-bb-01/" + token + "/vendor-data");
  EXPECT_EQ(seed.status, 200);
  EXPECT_EQ(seed.body, "");
}

TEST_F(AgentServiceTest, AProfilesVendorDataTemplateWinsAndCanIncludeTheHostsFiles) {
  std::ofstream(dir_ / "vendor-data.tmpl")
      << "#cloud-config\nwrite_files:\n{{{registry_write_files}}}"
         "- path: /etc/motd\n  content: \"via {{{registry_mirror_url}}}\"\n"
         "runcmd:\n{{#registry_hosts}}\n- [\"test\", \"-s\", "
         "\"{{{path}}}\"]\n{{/registry_hosts}}\n";
  auto cfg = std::make_shared<AgentServiceConfig>(*ConfigForTest());
  UseRegistry(*service_, cfg, RegistryConfigFor(true), (dir_ / "vendor-data.tmpl").string());
  std::string credential = Redeem(IssueToken());
  auto doc = Call("GET", "/agent/v1/nocloud/vendor-data", {}, credential);
  ASSERT_EQ(doc.status, 200);
  auto files = WriteFiles(doc.body);
  EXPECT_EQ(files.size(), 6u) << doc.body;
  EXPECT_EQ(files["/etc/motd"], "via http://198.18.0.1:8080");
  EXPECT_NE(files["/etc/containerd/certs.d/quay.io/hosts.toml"].find("http://198.18.0.1:8080"),
            std::string::npos);
  agent::UserData ud = agent::ParseUserData(doc.body);
  ASSERT_TRUE(ud.cloud_config.contains("runcmd"));
  EXPECT_EQ(ud.cloud_config["runcmd"].size(), 5u) << doc.body;

  // Registry off: the same template renders with no hosts files (variables are empty).
  UseRegistry(*service_, cfg, RegistryConfigFor(false), (dir_ / "vendor-data.tmpl").string());
  auto off = Call("GET", "/agent/v1/nocloud/vendor-data", {}, credential);
  ASSERT_EQ(off.status, 200);
  EXPECT_EQ(WriteFiles(off.body).size(), 1u) << off.body;
}

}  // namespace
}  // namespace paddock::daemon

namespace paddock::daemon {
namespace {

TEST_F(AgentServiceTest, TemplatesGetTheMachinesStableSshHostKeys) {
  auto with_keys = [&] {
    return std::make_unique<AgentService>(
        store_.get(), recorder_.get(), &signer_,
        AgentServiceOptions{(dir_ / "state").string(), 5, (dir_ / "hostkeys").string()});
  };
  service_ = with_keys();
  service_->SetConfig(ConfigForTest());
  std::ofstream(dir_ / "user-data.tmpl", std::ios::trunc)
      << "#cloud-config\nhostname: {{hostname}}\n{{{ssh_host_keys}}}";
  std::string token = IssueToken();
  std::string credential = Redeem(token);
  auto first = Call("GET", "/agent/v1/nocloud/user-data", {}, credential);
  ASSERT_EQ(first.status, 200) << first.body;
  agent::UserData ud = agent::ParseUserData(first.body);
  ASSERT_TRUE(ud.errors.empty()) << first.body;
  const auto& keys = ud.cloud_config["ssh_keys"];
  ASSERT_TRUE(keys.is_object()) << first.body;
  std::string priv = keys["ed25519_private"].get<std::string>();
  std::string pub = keys["ed25519_public"].get<std::string>();
  EXPECT_EQ(priv.rfind("-----BEGIN OPENSSH PRIVATE KEY-----\n", 0), 0u) << priv;
  EXPECT_EQ(pub.rfind("ssh-ed25519 ", 0), 0u) << pub;
  EXPECT_NE(pub.find("paddock-52-54-00-aa-bb-01"), std::string::npos) << pub;
  // The same pair from the NoCloud seed, and after a restart of the service (the next boot).
  auto seed = Call("GET", "/nocloud/52-54-00-aa-bb-01/" + token + "/user-data");
  EXPECT_EQ(seed.body, first.body);
  service_ = with_keys();
  service_->SetConfig(ConfigForTest());
  EXPECT_EQ(Call("GET", "/agent/v1/nocloud/user-data", {}, credential).body, first.body);
}

}  // namespace
}  // namespace paddock::daemon
