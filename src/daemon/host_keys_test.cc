#include "daemon/host_keys.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace paddock::daemon {
namespace {
namespace fs = std::filesystem;

class HostKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("host_keys_test." + std::to_string(::getpid()) + "." +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

const MacAddress kA = *MacAddress::Parse("52:54:00:00:00:0a");
const MacAddress kB = *MacAddress::Parse("52:54:00:00:00:0b");

TEST_F(HostKeysTest, OnePairPerMachineStableAcrossRestarts) {
  HostKeys keys(dir_.string());
  auto a = keys.Get(kA);
  ASSERT_TRUE(a) << a.error().ToString();
  auto b = keys.Get(kB);
  ASSERT_TRUE(b) << b.error().ToString();
  EXPECT_NE(a->ed25519_public, b->ed25519_public);
  EXPECT_NE(a->ed25519_private, b->ed25519_private);

  // The files are what sshd reads: ssh-keygen derives the same public key from the private one.
  const fs::path priv = dir_ / "52-54-00-00-00-0a" / "ssh_host_ed25519_key";
  struct stat st {};
  ASSERT_EQ(::stat(priv.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string cmd = "ssh-keygen -y -f " + priv.string();
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char line[512] = {};
  ASSERT_NE(std::fgets(line, sizeof(line), p), nullptr);
  ::pclose(p);
  std::string derived(line);
  while (!derived.empty() && derived.back() == '\n') derived.pop_back();
  EXPECT_EQ(a->ed25519_public.substr(0, derived.size()), derived);

  // A new instance on the same directory (paddock restarted) serves the same pairs.
  HostKeys again(dir_.string());
  auto a2 = again.Get(kA);
  ASSERT_TRUE(a2);
  EXPECT_EQ(a2->ed25519_private, a->ed25519_private);
  EXPECT_EQ(a2->ed25519_public, a->ed25519_public);
}

TEST_F(HostKeysTest, LeftoverOfACrashedGenerationIsReplaced) {
  fs::create_directories(dir_ / ".tmp-52-54-00-00-00-0a");
  std::ofstream(dir_ / ".tmp-52-54-00-00-00-0a" / "ssh_host_ed25519_key") << "half";
  HostKeys keys(dir_.string());
  auto a = keys.Get(kA);
  ASSERT_TRUE(a) << a.error().ToString();
  EXPECT_FALSE(fs::exists(dir_ / ".tmp-52-54-00-00-00-0a"));
}

TEST_F(HostKeysTest, MissingSshKeygenIsAClearErrorAndLeavesNothing) {
  HostKeys keys(dir_.string(), "/nonexistent/ssh-keygen");
  auto a = keys.Get(kA);
  ASSERT_FALSE(a);
  EXPECT_NE(a.error().message.find("openssh-client"), std::string::npos) << a.error().message;
  EXPECT_FALSE(fs::exists(dir_ / "52-54-00-00-00-0a"));
  EXPECT_FALSE(fs::exists(dir_ / ".tmp-52-54-00-00-00-0a"));
}

TEST(SshKeysYaml, PrivateKeyAsABlockAndPublicAsAQuotedScalar) {
  HostKeyPair k{"-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n",
                "ssh-ed25519 AAAA paddock-x"};
  EXPECT_EQ(SshKeysYaml(k),
            "ssh_keys:\n  ed25519_private: |\n    -----BEGIN OPENSSH PRIVATE KEY-----\n    abc\n"
            "    -----END OPENSSH PRIVATE KEY-----\n  ed25519_public: \"ssh-ed25519 AAAA "
            "paddock-x\"\n");
}

}  // namespace
}  // namespace paddock::daemon
