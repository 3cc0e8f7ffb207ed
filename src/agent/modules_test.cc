// Module tests against a scratch root. Semantics follow cloud-init's module documentation
// examples (cc_write_files, cc_users_groups, cc_set_hostname, cc_runcmd, cc_mounts, ...).

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "agent/apply.h"
#include "agent/codec.h"
#include "agent/userdata.h"

namespace paddock::agent {
namespace {

namespace fs = std::filesystem;

class FakeRunner final : public CommandRunner {
 public:
  Result<int> Run(const std::vector<std::string>& argv, const std::vector<std::string>&,
                  const LineSink& output) override {
    calls.push_back(argv);
    output("ran " + argv[0]);
    int rc = 0;
    if (!exit_codes.empty()) {
      rc = exit_codes.front();
      exit_codes.erase(exit_codes.begin());
    }
    return rc;
  }
  std::vector<std::vector<std::string>> calls;
  std::vector<int> exit_codes;
};

class RecordingReporter final : public Reporter {
 public:
  void Phase(const PhaseReport& r) override { phases.push_back(r); }
  void Output(std::string_view line) override { lines.emplace_back(line); }
  const PhaseReport* Find(const std::string& phase) const {
    for (const auto& p : phases) {
      if (p.phase == phase) return &p;
    }
    return nullptr;
  }
  std::vector<PhaseReport> phases;
  std::vector<std::string> lines;
};

class ModulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pd-agent-mod-XXXXXX";
    root_ = mkdtemp(tmpl);
    Put("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnginx:x:101:102::/var/www:/bin/false\n");
    Put("/etc/group", "root:x:0:\nadm:x:4:\nnginx:x:102:\n");
    Put("/etc/shadow", "root:*:19000:0:99999:7:::\nnginx:*:19000:0:99999:7:::\n");
    fs::create_directories(root_ + "/root");
  }
  void TearDown() override { fs::remove_all(root_); }

  void Put(const std::string& path, const std::string& content) {
    fs::create_directories(fs::path(root_ + path).parent_path());
    std::ofstream(root_ + path, std::ios::binary) << content;
  }
  std::string Get(const std::string& path) {
    std::ifstream in(root_ + path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  struct stat Stat(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(lstat((root_ + path).c_str(), &st), 0) << path;
    return st;
  }
  ApplyResult Apply(const std::string& user_data, ApplyOptions opts = {}) {
    opts.root = root_;
    opts.run_mode = RunMode::kChroot;
    UserData ud = ParseUserData(user_data);
    EXPECT_TRUE(ud.errors.empty()) << (ud.errors.empty() ? "" : ud.errors[0]);
    return ApplyUserData(ud, opts, reporter_, runner_);
  }
  const ModuleOutcome* Module(const ApplyResult& r, const std::string& name) {
    for (const auto& m : r.modules) {
      if (m.name == name) return &m;
    }
    return nullptr;
  }

  std::string root_;
  FakeRunner runner_;
  RecordingReporter reporter_;
};

TEST_F(ModulesTest, WriteFilesEveryEncodingPermissionAndOwner) {
  auto r = Apply(R"(#cloud-config
users: []
write_files:
- encoding: b64
  content: aGVsbG8K
  owner: root:root
  path: /etc/b64
  permissions: '0600'
- path: /usr/bin/hello
  encoding: gzip
  permissions: '0755'
  content: !!binary |
      H4sIAIDb/U8C/1NW1E/KzNMvzuBKTc7IV8hIzcnJVyjPL8pJ4QIA6N+MVxsAAAA=
- path: /etc/gzb64
  encoding: gz+b64
  content: H4sIAIDb/U8C/1NW1E/KzNMvzuBKTc7IV8hIzcnJVyjPL8pJ4QIA6N+MVxsAAAA=
- path: /etc/octal-int
  permissions: 0640
  content: x
- path: /etc/nginx/site.conf
  owner: 'nginx:nginx'
  content: server {}
- path: /etc/crontab
  content: "a\n"
- path: /etc/crontab
  content: "15 * * * * root ship_logs\n"
  append: true
- path: /root/CLOUD_INIT_WAS_HERE
)");
  ASSERT_TRUE(Module(r, "write_files")->ok) << Module(r, "write_files")->error;
  EXPECT_EQ(Get("/etc/b64"), "hello\n");
  EXPECT_EQ(Stat("/etc/b64").st_mode & 07777, 0600u);
  EXPECT_EQ(Get("/usr/bin/hello"), "#!/bin/sh\necho hello world\n");
  EXPECT_EQ(Stat("/usr/bin/hello").st_mode & 07777, 0755u);
  EXPECT_EQ(Get("/etc/gzb64"), "#!/bin/sh\necho hello world\n");
  EXPECT_EQ(Stat("/etc/gzb64").st_mode & 07777, 0644u);      // default
  EXPECT_EQ(Stat("/etc/octal-int").st_mode & 07777, 0640u);  // YAML 1.1 octal int
  EXPECT_EQ(Get("/etc/crontab"), "a\n15 * * * * root ship_logs\n");
  EXPECT_EQ(Get("/root/CLOUD_INIT_WAS_HERE"), "");
  if (geteuid() == 0) {
    EXPECT_EQ(Stat("/etc/nginx/site.conf").st_uid, 101u);
    EXPECT_EQ(Stat("/etc/nginx/site.conf").st_gid, 102u);
  }
}

TEST_F(ModulesTest, WriteFilesDeferAndBadEntries) {
  auto r = Apply(R"(#cloud-config
users:
  - name: app
write_files:
- path: /home/app/late
  owner: app:app
  defer: true
  content: late
- path: /etc/unknown-owner
  owner: nobody-here
  content: x
- content: no path
- path: /etc/still-written
  content: ok
)");
  const auto* early = Module(r, "write_files");
  ASSERT_NE(early, nullptr);
  // The unknown owner fails the module, but the other entries are still written.
  EXPECT_FALSE(early->ok);
  EXPECT_NE(early->error.find("unknown owner"), std::string::npos);
  EXPECT_EQ(early->warnings.size(), 1u);  // no path
  EXPECT_EQ(Get("/etc/still-written"), "ok");
  EXPECT_FALSE(fs::exists(root_ + "/etc/unknown-owner"));
  // Deferred entries run after users_groups, so the new user resolves.
  ASSERT_TRUE(Module(r, "write_files_deferred")->ok) << Module(r, "write_files_deferred")->error;
  EXPECT_EQ(Get("/home/app/late"), "late");
  EXPECT_FALSE(r.ok);
}

TEST_F(ModulesTest, HostnameFqdnAndEtcHosts) {
  Apply("#cloud-config\nusers: []\nfqdn: node1.example.com\nmanage_etc_hosts: true\n");
  EXPECT_EQ(Get("/etc/hostname"), "node1\n");
  EXPECT_NE(Get("/etc/hosts").find("127.0.1.1 node1.example.com node1\n"), std::string::npos);
  Put("/etc/hosts", "127.0.0.1 localhost\n127.0.1.1 old\n10.0.0.1 other\n");
  Apply("#cloud-config\nusers: []\nhostname: n2.lab\nmanage_etc_hosts: localhost\n");
  EXPECT_EQ(Get("/etc/hostname"), "n2\n");
  EXPECT_EQ(Get("/etc/hosts"), "127.0.0.1 localhost\n127.0.1.1 n2.lab n2\n10.0.0.1 other\n");
  Apply("#cloud-config\nusers: []\nhostname: n3\npreserve_hostname: true\n");
  EXPECT_EQ(Get("/etc/hostname"), "n2\n");
  ApplyOptions from_meta;
  from_meta.meta_data = {{"instance-id", "i-1"}, {"local-hostname", "meta-host"}};
  Apply("#cloud-config\nusers: []\n", from_meta);
  EXPECT_EQ(Get("/etc/hostname"), "meta-host\n");
}

TEST_F(ModulesTest, UsersGroupsSudoKeysAndLocking) {
  auto r = Apply(R"(#cloud-config
groups:
  - admingroup: [root]
  - cloud-users
users:
  - default
  - name: foobar
    gecos: Foo B. Bar
    primary_group: foobar
    groups: users, adm
    sudo: ["ALL=(ALL) NOPASSWD:/bin/mysql", "ALL=(ALL) ALL"]
    lock_passwd: false
    passwd: $6$j212wezy$7H/1LT4f9/N3wpgNunhsIqtMj62OKiS3nyNwuizouQc3u7MbYCarYeAHWYPYb2FT.lbioDm2RrkJPb9BZMN1O/
    ssh_authorized_keys:
      - ssh-ed25519 AAAAkey1 foo@host
  - name: barfoo
    uid: 1500
    shell: /bin/bash
  - name: svc
    system: true
  - name: nginx
ssh_authorized_keys:
  - ssh-rsa AAAAdefault default@host
)");
  ASSERT_TRUE(Module(r, "users_groups")->ok) << Module(r, "users_groups")->error;
  std::string passwd = Get("/etc/passwd");
  EXPECT_NE(passwd.find("paddock:x:1000:1002:paddock:/home/paddock:/bin/bash\n"), std::string::npos)
      << passwd;
  EXPECT_NE(passwd.find("foobar:x:1001:"), std::string::npos) << passwd;
  EXPECT_NE(passwd.find(":Foo B. Bar:/home/foobar:/bin/sh\n"), std::string::npos);
  EXPECT_NE(passwd.find("barfoo:x:1500:"), std::string::npos);
  // useradd's choices: uid and a same-named group with the next free ids in the normal range
  // (1000 and 1001 went to admingroup and cloud-users), system users in 100..999.
  EXPECT_NE(passwd.find("svc:x:102:"), std::string::npos);  // system range
  EXPECT_NE(passwd.find("nginx:x:101:102::/var/www:/bin/false"), std::string::npos);  // kept
  EXPECT_FALSE(fs::exists(root_ + "/home/svc"));  // system users get no home
  std::string group = Get("/etc/group");
  EXPECT_NE(group.find("admingroup:x:1000:root\n"), std::string::npos) << group;
  EXPECT_NE(group.find("cloud-users:x:"), std::string::npos);
  EXPECT_NE(group.find("adm:x:4:paddock,foobar\n"), std::string::npos) << group;
  EXPECT_NE(group.find("users:x:"), std::string::npos);  // created for foobar
  std::string shadow = Get("/etc/shadow");
  EXPECT_NE(shadow.find("foobar:$6$j212wezy$7H/"), std::string::npos) << shadow;  // unlocked
  EXPECT_NE(shadow.find("paddock:!"), std::string::npos);  // lock_passwd defaults to true
  EXPECT_NE(shadow.find("barfoo:!"), std::string::npos);
  EXPECT_EQ(Stat("/etc/shadow").st_mode & 07777, 0640u);
  std::string sudo = Get("/etc/sudoers.d/90-cloud-init-users");
  EXPECT_NE(sudo.find("foobar ALL=(ALL) NOPASSWD:/bin/mysql\nfoobar ALL=(ALL) ALL\n"),
            std::string::npos)
      << sudo;
  EXPECT_NE(sudo.find("paddock ALL=(ALL) NOPASSWD:ALL\n"), std::string::npos);
  EXPECT_EQ(Stat("/etc/sudoers.d/90-cloud-init-users").st_mode & 07777, 0440u);
  EXPECT_EQ(Get("/home/foobar/.ssh/authorized_keys"), "ssh-ed25519 AAAAkey1 foo@host\n");
  EXPECT_EQ(Stat("/home/foobar/.ssh").st_mode & 07777, 0700u);
  EXPECT_EQ(Stat("/home/foobar/.ssh/authorized_keys").st_mode & 07777, 0600u);
  if (geteuid() == 0) EXPECT_EQ(Stat("/home/foobar/.ssh/authorized_keys").st_uid, 1001u);
  // Top-level keys: default user, and root behind disable_root's refusal.
  EXPECT_EQ(Get("/home/paddock/.ssh/authorized_keys"), "ssh-rsa AAAAdefault default@host\n");
  std::string root_keys = Get("/root/.ssh/authorized_keys");
  EXPECT_NE(root_keys.find("Please login as the user \\\"paddock\\\" rather than the user "
                           "\\\"root\\\""),
            std::string::npos)
      << root_keys;
  EXPECT_NE(root_keys.find("exit 142\" ssh-rsa AAAAdefault"), std::string::npos);
  // "nginx" existed: a warning, not a failure, and not a second passwd line.
  EXPECT_EQ(passwd.find("nginx:x:"), passwd.rfind("nginx:x:"));

  // A second apply is idempotent for keys and users.
  Apply(R"(#cloud-config
users: [{name: foobar, ssh_authorized_keys: [ssh-ed25519 AAAAkey1 foo@host]}]
)");
  EXPECT_EQ(Get("/home/foobar/.ssh/authorized_keys"), "ssh-ed25519 AAAAkey1 foo@host\n");
}

TEST_F(ModulesTest, SshHostKeysReplaceOldOnes) {
  Put("/etc/ssh/ssh_host_dsa_key", "old");
  Put("/etc/ssh/sshd_config", "keep me");
  auto r = Apply(R"(#cloud-config
users: []
ssh_keys:
  ed25519_private: |
    -----BEGIN OPENSSH PRIVATE KEY-----
    blah
    -----END OPENSSH PRIVATE KEY-----
  ed25519_public: ssh-ed25519 AAAAC3Nz host
  rsa_certificate: ssh-rsa-cert-v01@openssh.com AAAA host
  foo_private: nope
)");
  ASSERT_TRUE(Module(r, "ssh")->ok) << Module(r, "ssh")->error;
  EXPECT_FALSE(fs::exists(root_ + "/etc/ssh/ssh_host_dsa_key"));
  EXPECT_EQ(Get("/etc/ssh/sshd_config"), "keep me");
  EXPECT_EQ(Stat("/etc/ssh/ssh_host_ed25519_key").st_mode & 07777, 0600u);
  EXPECT_EQ(Stat("/etc/ssh/ssh_host_ed25519_key.pub").st_mode & 07777, 0644u);
  EXPECT_EQ(Get("/etc/ssh/ssh_host_ed25519_key.pub"), "ssh-ed25519 AAAAC3Nz host\n");
  EXPECT_TRUE(fs::exists(root_ + "/etc/ssh/ssh_host_rsa_key-cert.pub"));
  EXPECT_EQ(Module(r, "ssh")->warnings.size(), 1u);
}

TEST_F(ModulesTest, CaCertsTimezoneMounts) {
  Put("/etc/ssl/certs/ca-certificates.crt",
      "-----BEGIN CERTIFICATE-----\nDISTRO\n"
      "-----END CERTIFICATE-----\n");
  Put("/usr/share/zoneinfo/Europe/Berlin", "TZif");
  Put("/etc/fstab",
      "/dev/sda1 / ext4 defaults 0 1\nold\t/mnt\tauto\tx,comment=cloudconfig\t0\t2\n");
  std::string doc = R"(#cloud-config
users: []
ca_certs:
  trusted:
  - |
    -----BEGIN CERTIFICATE-----
    MINE
    -----END CERTIFICATE-----
timezone: Europe/Berlin
mounts:
 - [ "198.18.0.1:/export", /mnt/nfs, nfs, "ro,vers=4" ]
 - [ tmpfs, /var/lib/kubelet, tmpfs, "size=64m,mode=0755", "0", "0" ]
 - [ sdc, /opt/data ]
)";
  auto r = Apply(doc);
  for (const char* m : {"ca_certs", "timezone", "mounts"}) {
    ASSERT_TRUE(Module(r, m)->ok) << m << ": " << Module(r, m)->error;
  }
  std::string bundle = Get("/etc/ssl/certs/ca-certificates.crt");
  EXPECT_NE(bundle.find("DISTRO"), std::string::npos);
  EXPECT_NE(bundle.find("MINE"), std::string::npos);
  EXPECT_TRUE(fs::exists(root_ + "/usr/local/share/ca-certificates/cloud-init-ca-cert-1.crt"));
  EXPECT_EQ(Get("/etc/timezone"), "Europe/Berlin\n");
  EXPECT_EQ(fs::read_symlink(root_ + "/etc/localtime"), "/usr/share/zoneinfo/Europe/Berlin");
  EXPECT_EQ(Get("/etc/fstab"),
            "/dev/sda1 / ext4 defaults 0 1\n"
            "198.18.0.1:/export\t/mnt/nfs\tnfs\tro,vers=4,comment=cloudconfig\t0\t2\n"
            "tmpfs\t/var/lib/kubelet\ttmpfs\tsize=64m,mode=0755,comment=cloudconfig\t0\t0\n"
            "sdc\t/opt/data\tauto\tdefaults,nofail,x-systemd.after=cloud-init.service,"
            "comment=cloudconfig\t0\t2\n");
  EXPECT_TRUE(fs::is_directory(root_ + "/mnt/nfs"));
  EXPECT_TRUE(runner_.calls.empty());  // no mount -a outside boot mode without --mount
  // Idempotent: a second run neither duplicates the certificate nor the fstab lines.
  ApplyOptions with_mount;
  with_mount.mount = true;
  Apply(doc, with_mount);
  std::string bundle2 = Get("/etc/ssl/certs/ca-certificates.crt");
  EXPECT_EQ(bundle2.find("MINE"), bundle2.rfind("MINE"));
  std::string fstab = Get("/etc/fstab");
  EXPECT_EQ(fstab.find("/mnt/nfs"), fstab.rfind("/mnt/nfs"));
  ASSERT_EQ(runner_.calls.size(), 1u);
  EXPECT_EQ(runner_.calls[0], (std::vector<std::string>{"mount", "-a"}));
  // A timezone the image does not have fails that module only.
  auto bad = Apply("#cloud-config\nusers: []\ntimezone: Mars/Olympus\nhostname: still\n");
  EXPECT_FALSE(Module(bad, "timezone")->ok);
  EXPECT_TRUE(Module(bad, "set_hostname")->ok);
}

TEST_F(ModulesTest, RuncmdScriptAndFailureSemantics) {
  auto r = Apply(R"(#cloud-config
users: []
bootcmd:
  - echo early
runcmd:
  - [ ls, -l, / ]
  - [ sh, -xc, "echo $(date) ': hello world!'" ]
  - ls -l /root
  - [ echo, "it's" ]
)");
  std::string script = Get("/var/lib/cloud/instance/scripts/runcmd");
  EXPECT_EQ(script,
            "#!/bin/sh\n'ls' '-l' '/'\n'sh' '-xc' 'echo $(date) '\\'': hello world!'\\'''\n"
            "ls -l /root\n'echo' 'it'\\''s'\n");
  EXPECT_EQ(Stat("/var/lib/cloud/instance/scripts/runcmd").st_mode & 07777, 0700u);
  ASSERT_EQ(runner_.calls.size(), 2u);
  EXPECT_EQ(runner_.calls[0], (std::vector<std::string>{"/bin/sh", "/run/paddock/bootcmd.sh"}));
  EXPECT_EQ(runner_.calls[1], (std::vector<std::string>{"/var/lib/cloud/instance/scripts/runcmd"}));
  EXPECT_TRUE(r.ok);
  EXPECT_NE(std::find(reporter_.lines.begin(), reporter_.lines.end(),
                      "runcmd: ran /var/lib/cloud/instance/scripts/runcmd"),
            reporter_.lines.end());
}

TEST_F(ModulesTest, ScriptsRunInNameOrderAndAFailureDoesNotStopTheRest) {
  std::string msg =
      "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=XX\n\n"
      "--XX\nContent-Type: text/cloud-config\n\n#cloud-config\nusers: []\nruncmd: [a]\n"
      "--XX\nContent-Type: text/x-shellscript\nContent-Disposition: attachment; filename=zz.sh\n"
      "\n#!/bin/sh\necho z\n"
      "--XX\nContent-Type: text/x-shellscript\n\n#!/bin/sh\necho p\n--XX--\n";
  runner_.exit_codes = {1, 0, 0};  // the first script (part-003) fails
  auto r = Apply(msg);
  ASSERT_EQ(runner_.calls.size(), 3u);
  EXPECT_EQ(runner_.calls[0][0], "/var/lib/cloud/instance/scripts/part-003");
  EXPECT_EQ(runner_.calls[1][0], "/var/lib/cloud/instance/scripts/runcmd");
  EXPECT_EQ(runner_.calls[2][0], "/var/lib/cloud/instance/scripts/zz.sh");
  const auto* m = Module(r, "scripts_user");
  EXPECT_FALSE(m->ok);
  EXPECT_NE(m->error.find("part-003 (exit 1)"), std::string::npos) << m->error;
  EXPECT_TRUE(Module(r, "final_message")->ok);  // later modules still run
}

TEST_F(ModulesTest, NullRuncmdItemFailsWithoutRunning) {
  auto r = Apply("#cloud-config\nusers: []\nruncmd:\n  - echo a\n  -\n");
  EXPECT_FALSE(Module(r, "runcmd")->ok);
  EXPECT_FALSE(fs::exists(root_ + "/var/lib/cloud/instance/scripts/runcmd"));
}

TEST_F(ModulesTest, PowerStateFinalMessageAndUnknownKeys) {
  auto r = Apply(R"(#cloud-config
users: []
power_state:
  delay: "+2"
  mode: poweroff
  message: Bye Bye
  timeout: 30
  condition: true
final_message: "done after $UPTIME s with {{datasource}}"
packages: [nginx]
frobnicate: 1
)");
  ASSERT_TRUE(r.power_action.is_object());
  EXPECT_EQ(r.power_action["mode"], "poweroff");
  EXPECT_EQ(r.power_action["delay_s"], 120);
  EXPECT_EQ(r.power_action["message"], "Bye Bye");
  auto recorded = Json::parse(Get("/run/paddock/power_state.json"));
  EXPECT_EQ(recorded["mode"], "poweroff");
  ASSERT_EQ(r.warnings.size(), 2u);
  EXPECT_NE(r.warnings[0].find("'packages' is not supported"), std::string::npos);
  EXPECT_NE(r.warnings[1].find("unknown key 'frobnicate'"), std::string::npos);
  EXPECT_TRUE(r.ok);  // warnings are not failures
  bool saw = false;
  for (const auto& l : reporter_.lines) {
    if (l.rfind("done after ", 0) == 0 && l.find(" s with NoCloud") != std::string::npos)
      saw = true;
  }
  EXPECT_TRUE(saw);

  auto r2 = Apply("#cloud-config\nusers: []\npower_state: {mode: reboot, condition: false}\n");
  EXPECT_TRUE(r2.power_action.is_null());
  auto r3 = Apply("#cloud-config\nusers: []\npower_state: {mode: explode}\n");
  EXPECT_FALSE(Module(r3, "power_state_change")->ok);
  // A command condition runs through the runner; exit status 1 means "no".
  runner_.exit_codes = {1};
  auto r4 =
      Apply("#cloud-config\nusers: []\npower_state: {mode: reboot, condition: 'test -f /x'}\n");
  EXPECT_TRUE(r4.power_action.is_null());
}

TEST_F(ModulesTest, EveryModuleIsReported) {
  Apply("#cloud-config\nusers: []\nhostname: h\nruncmd: [x]\n");
  for (const char* phase : {"module:set_hostname", "module:users_groups", "module:runcmd",
                            "module:scripts_user", "module:final_message"}) {
    const auto* p = reporter_.Find(phase);
    ASSERT_NE(p, nullptr) << phase;
    EXPECT_TRUE(p->ok);
    EXPECT_GE(p->duration_us, 0);
  }
  EXPECT_EQ(reporter_.Find("module:timezone"), nullptr);  // key absent: not run
}

TEST_F(ModulesTest, DryRunPrintsPlanAndChangesNothing) {
  std::string before = Get("/etc/passwd");
  ApplyOptions opts;
  opts.dry_run = true;
  auto r = Apply(
      "#cloud-config\nhostname: dry\nwrite_files: [{path: /etc/x, content: y}]\n"
      "runcmd: [echo hi]\n",
      opts);
  EXPECT_TRUE(r.ok);
  EXPECT_FALSE(fs::exists(root_ + "/etc/hostname"));
  EXPECT_FALSE(fs::exists(root_ + "/etc/x"));
  EXPECT_EQ(Get("/etc/passwd"), before);
  EXPECT_TRUE(runner_.calls.empty());
  auto has = [&](const std::string& prefix) {
    return std::any_of(r.plan.begin(), r.plan.end(),
                       [&](const std::string& l) { return l.rfind(prefix, 0) == 0; });
  };
  EXPECT_TRUE(has("write /etc/hostname 0644"));
  EXPECT_TRUE(has("write /etc/x 0644"));
  EXPECT_TRUE(has("write /etc/passwd"));  // the default user would be created
  EXPECT_TRUE(has("run /var/lib/cloud/instance/scripts/runcmd"));
}

// The real runner in a chroot holding only a static busybox.
TEST_F(ModulesTest, RealCommandsInBusyboxChroot) {
  if (geteuid() != 0 || !fs::exists("/bin/busybox")) GTEST_SKIP() << "needs root and busybox";
  fs::create_directories(root_ + "/bin");
  fs::copy_file("/bin/busybox", root_ + "/bin/busybox");
  for (const char* applet : {"sh", "echo", "false", "cat", "ls"}) {
    fs::create_symlink("busybox", root_ + "/bin/" + applet);
  }
  fs::create_directories(root_ + "/var/log");
  ApplyOptions opts;
  opts.root = root_;
  opts.run_mode = RunMode::kChroot;
  ProcessRunner runner(root_, RunMode::kChroot);
  UserData ud = ParseUserData(R"(#cloud-config
users: []
bootcmd:
  - echo boot > /var/log/boot.log
runcmd:
  - [sh, -c, 'echo one > /var/log/run.log']
  - 'false'
  - echo two >> /var/log/run.log
  - [cat, /var/log/run.log]
)");
  auto r = ApplyUserData(ud, opts, reporter_, runner);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(Get("/var/log/boot.log"), "boot\n");
  // A failing command does not stop the script; its status is the last command's.
  EXPECT_EQ(Get("/var/log/run.log"), "one\ntwo\n");
  EXPECT_NE(std::find(reporter_.lines.begin(), reporter_.lines.end(), "runcmd: two"),
            reporter_.lines.end());

  UserData failing = ParseUserData("#cloud-config\nusers: []\nbootcmd: ['exit 3']\n");
  auto r2 = ApplyUserData(failing, opts, reporter_, runner);
  EXPECT_FALSE(r2.ok);
  EXPECT_EQ(Module(r2, "bootcmd")->error, "bootcmd exited 3");
  // A program missing in the root is an error, not a crash.
  ProcessRunner none(root_, RunMode::kChroot);
  auto rc = none.Run({"/no/such/program"}, {}, [](std::string_view) {});
  EXPECT_FALSE(rc.has_value());
}

}  // namespace
}  // namespace paddock::agent
