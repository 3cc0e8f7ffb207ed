#include "agent/state_archive.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "agent/codec.h"

namespace paddock::agent {
namespace {

namespace fs = std::filesystem;

class StateArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char a[] = "/tmp/pd-agent-state-XXXXXX";
    char b[] = "/tmp/pd-agent-state-XXXXXX";
    src_ = mkdtemp(a);
    dst_ = mkdtemp(b);
  }
  void TearDown() override {
    fs::remove_all(src_);
    fs::remove_all(dst_);
  }
  void Put(const std::string& root, const std::string& path, const std::string& content,
           mode_t mode) {
    fs::create_directories(fs::path(root + path).parent_path());
    std::ofstream(root + path, std::ios::binary) << content;
    chmod((root + path).c_str(), mode);
  }
  std::string Get(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  bool DirEmpty(const std::string& d) { return fs::is_empty(d); }

  std::string src_, dst_;
};

// A ustar header for hand-made (hostile) archives.
std::string RawMember(const std::string& name, char type, const std::string& data,
                      const std::string& link = "") {
  char h[512];
  std::memset(h, 0, sizeof(h));
  std::memcpy(h, name.data(), std::min<size_t>(name.size(), 100));
  std::snprintf(h + 100, 8, "%07o", 0644);
  std::snprintf(h + 108, 8, "%07o", 0);
  std::snprintf(h + 116, 8, "%07o", 0);
  std::snprintf(h + 124, 12, "%011o", static_cast<unsigned>(data.size()));
  std::snprintf(h + 136, 12, "%011o", 0);
  h[156] = type;
  std::memcpy(h + 157, link.data(), std::min<size_t>(link.size(), 100));
  std::memcpy(h + 257, "ustar", 6);
  std::memcpy(h + 263, "00", 2);
  unsigned sum = 0;
  std::memset(h + 148, ' ', 8);
  for (unsigned char c : h) sum += c;
  std::snprintf(h + 148, 8, "%06o", sum);
  h[155] = ' ';
  std::string out(h, 512);
  out += data;
  out.append((512 - data.size() % 512) % 512, '\0');
  return out;
}

std::string Seal(std::string body) {
  std::string sum = Sha256::HexDigest(body) + "\n";
  body += RawMember(kStateChecksumMember, '0', sum);
  body.append(1024, '\0');
  return body;
}

TEST_F(StateArchiveTest, RoundTripKeepsContentModesOwnersAndSymlinks) {
  Put(src_, "/etc/ssh/ssh_host_ed25519_key", "PRIVATE", 0600);
  Put(src_, "/etc/ssh/ssh_host_ed25519_key.pub", "PUBLIC", 0644);
  Put(src_, "/etc/ssh/sshd_config", "not persisted", 0644);
  Put(src_, "/etc/machine-id", "0123456789abcdef\n", 0444);
  Put(src_, "/var/lib/kubelet/pki/kubelet-client.pem", std::string(3000, 'k'), 0600);
  fs::create_symlink("kubelet-client.pem", src_ + "/var/lib/kubelet/pki/current.pem");
  std::string deep = "/var/lib/" + std::string(60, 'd') + "/" + std::string(60, 'e') + "/f";
  Put(src_, deep, "long name", 0640);
  if (geteuid() == 0) chown((src_ + "/etc/machine-id").c_str(), 123, 456);

  RootFs src(src_, false);
  std::vector<std::string> warnings;
  auto archive = BuildStateArchive(
      src, {"/etc/ssh/ssh_host_*", "/etc/machine-id", "/var/lib/kubelet", deep, "/nothing/*"},
      &warnings);
  ASSERT_TRUE(archive.has_value()) << archive.error().message;
  ASSERT_EQ(warnings.size(), 1u);  // "/nothing/*" matched nothing

  RootFs dst(dst_, false);
  auto n = RestoreStateArchive(dst, *archive);
  ASSERT_TRUE(n.has_value()) << n.error().message;
  EXPECT_EQ(*n, 8u);  // 2 keys, machine-id, kubelet dir, pki dir, pem, symlink, deep file
  EXPECT_EQ(Get(dst_ + "/etc/ssh/ssh_host_ed25519_key"), "PRIVATE");
  EXPECT_FALSE(fs::exists(dst_ + "/etc/ssh/sshd_config"));
  struct stat st;
  ASSERT_EQ(stat((dst_ + "/etc/ssh/ssh_host_ed25519_key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(stat((dst_ + "/etc/machine-id").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0444u);
  if (geteuid() == 0) {
    EXPECT_EQ(st.st_uid, 123u);
    EXPECT_EQ(st.st_gid, 456u);
  }
  EXPECT_EQ(fs::read_symlink(dst_ + "/var/lib/kubelet/pki/current.pem"), "kubelet-client.pem");
  EXPECT_EQ(Get(dst_ + "/var/lib/kubelet/pki/current.pem"), std::string(3000, 'k'));
  EXPECT_EQ(Get(dst_ + deep), "long name");
}

TEST_F(StateArchiveTest, EveryTruncationAndBitFlipIsRejectedAndNothingWritten) {
  std::vector<StateEntry> entries(2);
  entries[0].path = "etc/a";
  entries[0].data = "alpha";
  entries[1].path = "etc/b";
  entries[1].data = std::string(700, 'b');
  auto archive = WriteStateArchive(entries);
  ASSERT_TRUE(archive.has_value());
  ASSERT_TRUE(ParseStateArchive(*archive).has_value());
  for (size_t cut = 0; cut < archive->size(); ++cut) {
    ASSERT_FALSE(ParseStateArchive(archive->substr(0, cut)).has_value()) << "cut at " << cut;
  }
  // Ids that do not fit an 8-byte octal field are refused, not truncated.
  std::vector<StateEntry> big(1);
  big[0].path = "etc/big-uid";
  big[0].uid = 1u << 21;
  EXPECT_FALSE(WriteStateArchive(big).has_value());
  for (size_t i = 0; i < archive->size() - 1024; i += 7) {
    std::string bad = *archive;
    bad[i] ^= 0x20;
    ASSERT_FALSE(ParseStateArchive(bad).has_value()) << "flip at " << i;
  }
  RootFs dst(dst_, false);
  std::string corrupt = *archive;
  corrupt[512 + 2] ^= 1;  // inside etc/a's data
  EXPECT_FALSE(RestoreStateArchive(dst, corrupt).has_value());
  EXPECT_TRUE(DirEmpty(dst_));
  EXPECT_FALSE(RestoreStateArchive(dst, archive->substr(0, archive->size() - 512)).has_value());
  EXPECT_TRUE(DirEmpty(dst_));
}

TEST_F(StateArchiveTest, PathEscapesAreRefused) {
  RootFs dst(dst_, false);
  for (const char* name : {"../evil", "etc/../../evil", "/etc/evil", "a//b"}) {
    std::string a = Seal(RawMember("etc/ok", '0', "fine") + RawMember(name, '0', "x"));
    auto r = RestoreStateArchive(dst, a);
    ASSERT_FALSE(r.has_value()) << name;
    EXPECT_NE(r.error().message.find("unsafe member name"), std::string::npos) << name;
    EXPECT_TRUE(DirEmpty(dst_)) << name;  // not even the good member was written
  }
  // A symlink pointing out of the root, then a file "through" it: lands inside the root.
  std::string outside = dst_ + "-outside";
  fs::create_directories(outside);
  std::string a = Seal(RawMember("etc/link", '2', "", outside) + RawMember("etc/link/f", '0', "x"));
  auto r = RestoreStateArchive(dst, a);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_FALSE(fs::exists(outside + "/f"));
  EXPECT_EQ(Get(dst_ + outside + "/f"), "x");
  fs::remove_all(outside);
  // No checksum member, unsupported types, garbage: rejected.
  EXPECT_FALSE(ParseStateArchive(RawMember("etc/a", '0', "x") + std::string(1024, '\0')));
  EXPECT_FALSE(ParseStateArchive(Seal(RawMember("dev/sda", '3', ""))));
  EXPECT_FALSE(ParseStateArchive(std::string(2048, 'x')));
  EXPECT_FALSE(ParseStateArchive(""));
}

TEST_F(StateArchiveTest, PatternsResolveSymlinkedDirectoriesInsideTheRoot) {
  // /etc/kubernetes -> /data/k8s (absolute, as on an image): matched inside the root.
  Put(src_, "/data/k8s/admin.conf", "conf", 0600);
  fs::create_directories(src_ + "/etc");
  fs::create_symlink("/data/k8s", src_ + "/etc/kubernetes");
  RootFs src(src_, false);
  std::vector<std::string> warnings;
  auto archive = BuildStateArchive(src, {"/etc/kubernetes/*.conf"}, &warnings);
  ASSERT_TRUE(archive.has_value());
  EXPECT_TRUE(warnings.empty());
  auto entries = ParseStateArchive(*archive);
  ASSERT_TRUE(entries.has_value());
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].path, "etc/kubernetes/admin.conf");
  EXPECT_EQ((*entries)[0].data, "conf");
}

TEST_F(StateArchiveTest, TarCanListIt) {
  if (system("command -v tar >/dev/null") != 0) GTEST_SKIP();
  std::vector<StateEntry> entries(1);
  entries[0].path = "etc/machine-id";
  entries[0].data = "abc\n";
  auto archive = WriteStateArchive(entries);
  ASSERT_TRUE(archive.has_value());
  std::string file = src_ + "/state.tar";
  std::ofstream(file, std::ios::binary) << *archive;
  std::string cmd = "tar -tf " + file + " > " + src_ + "/list";
  ASSERT_EQ(system(cmd.c_str()), 0);
  EXPECT_EQ(Get(src_ + "/list"), "etc/machine-id\n.paddock-sha256\n");
}

}  // namespace
}  // namespace paddock::agent
