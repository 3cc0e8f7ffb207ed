#include "agent/rootfs.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace paddock::agent {
namespace {

class RootFsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pd-agent-rootfs-XXXXXX";
    root_ = mkdtemp(tmpl);
    outside_ = root_ + "-outside";
    std::filesystem::create_directories(outside_);
  }
  void TearDown() override {
    std::filesystem::remove_all(root_);
    std::filesystem::remove_all(outside_);
  }
  std::string root_, outside_;
};

TEST_F(RootFsTest, DotDotAndAbsoluteSymlinksStayInsideRoot) {
  RootFs fs(root_, false);
  EXPECT_EQ(*fs.Resolve("/../../etc/passwd"), root_ + "/etc/passwd");
  std::filesystem::create_directories(root_ + "/etc");
  // An absolute symlink pointing at the host's directory resolves inside the root.
  ASSERT_EQ(symlink(outside_.c_str(), (root_ + "/etc/evil").c_str()), 0);
  ASSERT_TRUE(fs.WriteFile("/etc/evil/file", "x", {}).has_value());
  EXPECT_FALSE(std::filesystem::exists(outside_ + "/file"));
  EXPECT_TRUE(std::filesystem::exists(root_ + outside_ + "/file"));
  // Relative ".." chains in a symlink stop at the root as well.
  ASSERT_EQ(symlink("../../../../../../tmp", (root_ + "/etc/up").c_str()), 0);
  EXPECT_EQ(*fs.Resolve("/etc/up/x"), root_ + "/tmp/x");
  EXPECT_FALSE(fs.Resolve("relative/path").has_value());
}

TEST_F(RootFsTest, SymlinkLoopIsAnError) {
  RootFs fs(root_, false);
  ASSERT_EQ(symlink("/b", (root_ + "/a").c_str()), 0);
  ASSERT_EQ(symlink("/a", (root_ + "/b").c_str()), 0);
  EXPECT_FALSE(fs.Resolve("/a/x").has_value());
}

TEST_F(RootFsTest, WriteSetsModeOwnerAndAppends) {
  RootFs fs(root_, false);
  ASSERT_TRUE(fs.WriteFile("/a/b/c.txt", "one\n", {.mode = 0640, .uid = 12, .gid = 34}));
  struct stat st;
  ASSERT_EQ(stat((root_ + "/a/b/c.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  if (geteuid() == 0) {
    EXPECT_EQ(st.st_uid, 12u);
    EXPECT_EQ(st.st_gid, 34u);
  }
  ASSERT_TRUE(fs.WriteFile("/a/b/c.txt", "two\n", {.mode = 0600, .append = true}));
  EXPECT_EQ(*fs.ReadFile("/a/b/c.txt"), "one\ntwo\n");
  ASSERT_EQ(stat((root_ + "/a/b/c.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(RootFsTest, DryRunChangesNothing) {
  RootFs fs(root_, true);
  ASSERT_TRUE(fs.WriteFile("/etc/hostname", "n1\n", {}));
  ASSERT_TRUE(fs.Symlink("/usr/share/zoneinfo/UTC", "/etc/localtime"));
  EXPECT_FALSE(std::filesystem::exists(root_ + "/etc"));
  ASSERT_EQ(fs.plan().size(), 2u);
  EXPECT_EQ(fs.plan()[0], "write /etc/hostname 0644 0:0 (3 bytes)");
}

}  // namespace
}  // namespace paddock::agent
