#include "tftp/files.h"

#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace paddock::tftp {
namespace {

namespace fs = std::filesystem;

class TempTree : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pd-tftp-files-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    fs::create_directories(base_ / "root" / "sub");
    Write(base_ / "root" / "ipxe.efi", "IPXE");
    Write(base_ / "root" / "sub" / "a.txt", "A");
    Write(base_ / "secret.txt", "SECRET");  // outside the root
    fs::create_symlink(base_ / "secret.txt", base_ / "root" / "escape");
    fs::create_symlink("../..", base_ / "root" / "sub" / "up");
    fs::create_symlink("sub/a.txt", base_ / "root" / "inside-link");
    fs::create_symlink(base_ / "missing", base_ / "root" / "dangling");
    auto r = CanonicalRoot((base_ / "root").string());
    ASSERT_TRUE(r) << r.error().ToString();
    root_ = *r;
  }
  void TearDown() override { fs::remove_all(base_); }
  static void Write(const fs::path& p, const std::string& s) { std::ofstream(p) << s; }

  fs::path base_;
  std::string root_;
};

TEST_F(TempTree, ResolvesFilesInsideTheRoot) {
  auto a = ResolveUnderRoot(root_, "ipxe.efi");
  ASSERT_TRUE(a) << a.error().ToString();
  EXPECT_EQ(*a, root_ + "/ipxe.efi");
  auto b = ResolveUnderRoot(root_, "sub/a.txt");
  ASSERT_TRUE(b);
  EXPECT_EQ(*b, root_ + "/sub/a.txt");
  auto c = ResolveUnderRoot(root_, "sub//./a.txt");
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, root_ + "/sub/a.txt");
  // A symlink that stays inside the root is followed.
  auto l = ResolveUnderRoot(root_, "inside-link");
  ASSERT_TRUE(l);
  EXPECT_EQ(*l, root_ + "/sub/a.txt");
}

TEST_F(TempTree, RefusesEscapes) {
  for (const char* name :
       {"../secret.txt", "/etc/passwd", "\\etc\\passwd", "sub/../ipxe.efi",
        "sub\\..\\..\\secret.txt", "..", "escape", "sub/up/secret.txt", "sub", "."}) {
    auto r = ResolveUnderRoot(root_, name);
    ASSERT_FALSE(r) << name << " resolved to " << *r;
    EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied) << name << ": " << r.error().message;
  }
}

TEST_F(TempTree, MissingIsNotFound) {
  for (const char* name : {"nope", "sub/nope", "ipxe.efi/x", "dangling", ""}) {
    auto r = ResolveUnderRoot(root_, name);
    ASSERT_FALSE(r) << name;
    EXPECT_EQ(r.error().code, ErrorCode::kNotFound) << name;
  }
}

TEST_F(TempTree, CanonicalRootErrors) {
  EXPECT_EQ(CanonicalRoot((base_ / "nope").string()).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(CanonicalRoot((base_ / "secret.txt").string()).error().code,
            ErrorCode::kInvalidArgument);
}

TEST_F(TempTree, OpenRefusesNonRegularAndReadsAt) {
  EXPECT_FALSE(OpenRegularFile(root_ + "/sub"));
  auto f = OpenRegularFile(root_ + "/ipxe.efi");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->size(), 4u);
  uint8_t buf[2];
  ASSERT_TRUE(f->ReadAt(2, buf, 2));
  EXPECT_EQ(buf[0], 'X');
  EXPECT_EQ(buf[1], 'E');
  EXPECT_FALSE(f->ReadAt(3, buf, 2));  // past the end
}

TEST_F(TempTree, CacheHitsUntilTheFileChanges) {
  FileCache cache(1024, 4096);
  const std::string path = root_ + "/ipxe.efi";
  {
    auto f = OpenRegularFile(path);
    auto d = cache.Get(path, *f);
    ASSERT_TRUE(d);
    EXPECT_EQ(std::string((*d)->begin(), (*d)->end()), "IPXE");
  }
  {
    auto f = OpenRegularFile(path);
    auto d = cache.Get(path, *f);
    ASSERT_TRUE(d);
  }
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 1u);
  // Same size, new mtime: read again.
  Write(path, "ipxe");
  timeval times[2] = {{1000, 0}, {1000, 0}};
  ASSERT_EQ(::utimes(path.c_str(), times), 0);
  auto f = OpenRegularFile(path);
  auto d = cache.Get(path, *f);
  ASSERT_TRUE(d);
  EXPECT_EQ(std::string((*d)->begin(), (*d)->end()), "ipxe");
  EXPECT_EQ(cache.misses(), 2u);
  EXPECT_EQ(cache.entries(), 1u);
}

TEST_F(TempTree, CacheEvictsLeastRecentlyUsedAndSkipsBigFiles) {
  for (int i = 0; i < 5; ++i)
    Write(base_ / "root" / ("f" + std::to_string(i)), std::string(100, 'x'));
  Write(base_ / "root" / "big", std::string(2000, 'y'));
  FileCache cache(1000, 250);
  for (int i = 0; i < 5; ++i) {
    std::string p = root_ + "/f" + std::to_string(i);
    ASSERT_TRUE(cache.Get(p, *OpenRegularFile(p)));
  }
  EXPECT_EQ(cache.entries(), 2u);
  EXPECT_LE(cache.total_bytes(), 250u);
  std::string big = root_ + "/big";
  EXPECT_FALSE(cache.Cacheable(2000));
  auto d = cache.Get(big, *OpenRegularFile(big));  // read, but not kept
  ASSERT_TRUE(d);
  EXPECT_EQ((*d)->size(), 2000u);
  EXPECT_EQ(cache.entries(), 2u);
}

}  // namespace
}  // namespace paddock::tftp
