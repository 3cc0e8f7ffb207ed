#include "registry/blob_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <filesystem>
#include <fstream>

namespace paddock::registry {
namespace {
namespace fs = std::filesystem;

class BlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pd-registry-store-XXXXXX";
    root_ = mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(root_); }
  std::unique_ptr<BlobStore> Open(uint64_t max_bytes = 0) {
    auto s = BlobStore::Open({root_, max_bytes, &clock_});
    EXPECT_TRUE(s) << s.error().ToString();
    return s ? std::move(*s) : nullptr;
  }
  std::string ReadAll(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  size_t TmpCount() {
    return std::distance(fs::directory_iterator(root_ / "tmp"), fs::directory_iterator());
  }

  fs::path root_;
  FakeClock clock_;
};

TEST_F(BlobStoreTest, PublishesVerifiedBlobAtContentAddress) {
  auto store = Open();
  std::string data(100000, 'x');
  Digest d = Sha256Of(data);
  auto w = store->CreateBlob(d, static_cast<int64_t>(data.size()));
  ASSERT_TRUE(w);
  ASSERT_TRUE((*w)->Write(AsBytes(std::string_view(data).substr(0, 5000))));
  EXPECT_FALSE(store->Has(d));  // invisible while being written
  EXPECT_EQ(TmpCount(), 1u);
  ASSERT_TRUE((*w)->Write(AsBytes(std::string_view(data).substr(5000))));
  ASSERT_TRUE((*w)->Commit());
  fs::path p = root_ / "blobs/sha256" / d.hex().substr(0, 2) / d.hex();
  EXPECT_EQ(store->PathFor(d), p);
  EXPECT_EQ(ReadAll(p), data);
  EXPECT_EQ(TmpCount(), 0u);
  auto opened = store->OpenBlob(d);
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->size, data.size());
  EXPECT_EQ(store->TotalBytes(), data.size());
}

TEST_F(BlobStoreTest, CorruptOrShortBlobIsNeverPublished) {
  auto store = Open();
  Digest d = Sha256Of("the real content");
  {
    auto w = store->CreateBlob(d);
    ASSERT_TRUE((*w)->Write(AsBytes("the fake content")));
    auto s = (*w)->Commit();
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  }
  {
    auto w = store->CreateBlob(d, 16);
    ASSERT_TRUE((*w)->Write(AsBytes("the real")));
    EXPECT_FALSE((*w)->Commit());
  }
  {
    auto w = store->CreateBlob(d, 4);
    EXPECT_FALSE((*w)->Write(AsBytes("the real content")));  // longer than announced
  }
  {
    auto w = store->CreateBlob(d);
    ASSERT_TRUE((*w)->Write(AsBytes("the real")));
    // dropped without Commit: aborted
  }
  EXPECT_FALSE(store->Has(d));
  EXPECT_FALSE(store->OpenBlob(d));
  EXPECT_EQ(TmpCount(), 0u);
  EXPECT_EQ(store->TotalBytes(), 0u);
}

TEST_F(BlobStoreTest, ManifestsKeepMediaTypeAndBytes) {
  auto store = Open();
  std::string body = "{\"schemaVersion\":2 , \"weird\" : \"spacing\"}";
  Digest d = Sha256Of(body);
  ASSERT_TRUE(store->PutManifest(d, "application/vnd.oci.image.index.v1+json", body));
  auto m = store->GetManifest(d);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->bytes, body);
  EXPECT_EQ(m->media_type, "application/vnd.oci.image.index.v1+json");
  EXPECT_FALSE(store->PutManifest(Sha256Of("other"), "x", body));
  EXPECT_FALSE(store->GetManifest(Sha256Of("other")));
}

TEST_F(BlobStoreTest, TagsPerRegistryAndRepo) {
  auto store = Open();
  Digest a = Sha256Of("a"), b = Sha256Of("b");
  ASSERT_TRUE(store->PutTag({"docker.io", "library/busybox", "latest"}, a, 100));
  ASSERT_TRUE(store->PutTag({"ghcr.io", "library/busybox", "latest"}, b, 200));
  ASSERT_TRUE(store->PutTag({"docker.io", "library/busybox", "1.36"}, b, 300));
  auto t = store->GetTag({"docker.io", "library/busybox", "latest"});
  ASSERT_TRUE(t);
  EXPECT_EQ(t->digest, a);
  EXPECT_EQ(t->fetched_at, 100);
  EXPECT_EQ(store->GetTag({"ghcr.io", "library/busybox", "latest"})->digest, b);
  EXPECT_FALSE(store->GetTag({"quay.io", "library/busybox", "latest"}));
  EXPECT_EQ(store->ListTags("docker.io", "library/busybox"),
            (std::vector<std::string>{"1.36", "latest"}));
  ASSERT_TRUE(store->PutTag({"docker.io", "library/busybox", "latest"}, b, 400));
  EXPECT_EQ(store->GetTag({"docker.io", "library/busybox", "latest"})->digest, b);
}

TEST_F(BlobStoreTest, EvictsLeastRecentlyUsedFirst) {
  auto store = Open(/*max_bytes=*/3000);
  std::string a(1000, 'a'), b(1000, 'b'), c(1000, 'c'), d(1000, 'd');
  ASSERT_TRUE(store->PutBlob(Sha256Of(a), a));
  ASSERT_TRUE(store->PutBlob(Sha256Of(b), b));
  ASSERT_TRUE(store->PutBlob(Sha256Of(c), c));
  ASSERT_TRUE(store->OpenBlob(Sha256Of(a)));  // a is now the most recent
  ASSERT_TRUE(store->PutBlob(Sha256Of(d), d));
  EXPECT_TRUE(store->Has(Sha256Of(a)));
  EXPECT_FALSE(store->Has(Sha256Of(b)));  // least recently used
  EXPECT_TRUE(store->Has(Sha256Of(c)));
  EXPECT_TRUE(store->Has(Sha256Of(d)));
  EXPECT_EQ(store->TotalBytes(), 3000u);
}

TEST_F(BlobStoreTest, LruOrderSurvivesRestart) {
  std::string a(1000, 'a'), b(1000, 'b'), c(1000, 'c');
  {
    auto store = Open();
    ASSERT_TRUE(store->PutBlob(Sha256Of(a), a));
    ASSERT_TRUE(store->PutBlob(Sha256Of(b), b));
    ASSERT_TRUE(store->OpenBlob(Sha256Of(a)));
  }
  auto store = Open(/*max_bytes=*/2000);
  ASSERT_TRUE(store->PutBlob(Sha256Of(c), c));
  EXPECT_TRUE(store->Has(Sha256Of(a)));
  EXPECT_FALSE(store->Has(Sha256Of(b)));
}

TEST_F(BlobStoreTest, RecoversAfterCrash) {
  std::string a = "published before the crash", b = "renamed but not indexed";
  {
    auto store = Open();
    ASSERT_TRUE(store->PutBlob(Sha256Of(a), a));
    ASSERT_TRUE(store->PutTag({"docker.io", "x", "t"}, Sha256Of(a), 1));
  }
  // What kill -9 can leave behind: a half-written temp file, a published file the index never
  // heard of, junk in the blob tree, and an index row whose file was lost.
  { std::ofstream(root_ / "tmp" / "deadbeef.123.1") << "half a layer"; }
  Digest db = Sha256Of(b);
  fs::create_directories(root_ / "blobs/sha256" / db.hex().substr(0, 2));
  { std::ofstream(root_ / "blobs/sha256" / db.hex().substr(0, 2) / db.hex()) << b; }
  { std::ofstream(root_ / "blobs/sha256" / db.hex().substr(0, 2) / "not-a-digest") << "junk"; }
  std::string c = "indexed but file lost";
  {
    auto store = Open();
    ASSERT_TRUE(store->PutBlob(Sha256Of(c), c));
  }
  fs::remove(root_ / "blobs/sha256" / Sha256Of(c).hex().substr(0, 2) / Sha256Of(c).hex());

  auto store = Open();
  EXPECT_EQ(TmpCount(), 0u);
  EXPECT_TRUE(store->OpenBlob(Sha256Of(a)));
  EXPECT_TRUE(store->OpenBlob(db));
  EXPECT_FALSE(fs::exists(root_ / "blobs/sha256" / db.hex().substr(0, 2) / "not-a-digest"));
  EXPECT_EQ(store->EntryCount(), 2u);
  EXPECT_EQ(store->TotalBytes(), a.size() + b.size());
  EXPECT_EQ(store->GetTag({"docker.io", "x", "t"})->digest, Sha256Of(a));
}

TEST_F(BlobStoreTest, SurvivesKillDashNineMidWrite) {
  std::string a(200000, 'k');
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto s = BlobStore::Open({root_, 0, nullptr});
    if (!s) _exit(2);
    (void)(*s)->PutBlob(Sha256Of("first"), "first");
    auto w = (*s)->CreateBlob(Sha256Of(a));
    (void)(*w)->Write(AsBytes(std::string_view(a).substr(0, 100000)));
    kill(getpid(), SIGKILL);
    _exit(3);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  auto store = Open();
  EXPECT_TRUE(store->OpenBlob(Sha256Of("first")));
  EXPECT_FALSE(store->Has(Sha256Of(a)));
  EXPECT_EQ(TmpCount(), 0u);
}

}  // namespace
}  // namespace paddock::registry
