#include "registry/cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include "registry/fake_upstream.h"
#include "registry/manifest.h"

namespace paddock::registry {
namespace {
namespace fs = std::filesystem;

class CacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pd-registry-cache-XXXXXX";
    root_ = mkdtemp(tmpl);
    store_ = std::move(*BlobStore::Open({root_, 0, &clock_}));
    cache_ = std::make_unique<PullThroughCache>(
        *store_, upstream_, UpstreamRouter({}, "docker.io", true),
        CacheOptions{.tag_ttl_seconds = 300, .clock = &clock_});
    layer_ = "layer bytes";
    config_ = "{\"architecture\":\"amd64\"}";
    upstream_.AddBlob(layer_);
    upstream_.AddBlob(config_);
    // Deliberately odd whitespace: served bytes must be these, not a re-serialisation.
    manifest_ = "{\n  \"schemaVersion\": 2,\n  \"mediaType\": \"" + std::string(kDockerV2Type) +
                "\",\n  \"config\": {\"mediaType\": \"x\", \"digest\": \"" +
                Sha256Of(config_).ToString() +
                "\", \"size\": 25},\n  \"layers\": [{\"digest\": \"" + Sha256Of(layer_).ToString() +
                "\", \"size\": 11}]\n}\n";
    upstream_.AddManifest("library/busybox", "latest", std::string(kDockerV2Type), manifest_);
  }
  void TearDown() override {
    cache_.reset();
    fs::remove_all(root_);
  }

  fs::path root_;
  FakeClock clock_;
  testing::FakeUpstream upstream_;
  std::unique_ptr<BlobStore> store_;
  std::unique_ptr<PullThroughCache> cache_;
  std::string layer_, config_, manifest_;
};

TEST_F(CacheTest, TagIsCachedForItsTtlThenRevalidatedWithHead) {
  auto m = cache_->GetManifest("docker.io", "library/busybox", "latest");
  ASSERT_TRUE(m) << m.error().ToString();
  EXPECT_FALSE(m->from_cache);
  EXPECT_EQ(m->bytes, manifest_);
  EXPECT_EQ(m->media_type, kDockerV2Type);
  EXPECT_EQ(m->digest, Sha256Of(manifest_));
  EXPECT_EQ(upstream_.manifest_gets, 1);

  auto again = cache_->GetManifest("", "library/busybox", "latest");  // "" = docker.io
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->from_cache);
  EXPECT_EQ(again->bytes, manifest_);
  EXPECT_EQ(upstream_.manifest_gets + upstream_.manifest_heads, 2);  // no new upstream call

  clock_.Advance(301);
  auto later = cache_->GetManifest("docker.io", "library/busybox", "latest");
  ASSERT_TRUE(later);
  EXPECT_TRUE(later->from_cache);
  EXPECT_EQ(upstream_.manifest_heads, 2);  // revalidated with HEAD...
  EXPECT_EQ(upstream_.manifest_gets, 1);   // ...without a second GET
}

TEST_F(CacheTest, ConcurrentTagLookupsMakeOneUpstreamResolution) {
  upstream_.hold_manifests = true;
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 10; ++i) {
    clients.emplace_back([&] {
      auto m = cache_->GetManifest("docker.io", "library/busybox", "latest");
      if (m && m->bytes == manifest_) ok++;
    });
  }
  upstream_.WaitHeld();
  while (cache_->coalesced_manifest_waits() < 9) std::this_thread::yield();
  upstream_.Release();
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 10);
  EXPECT_EQ(upstream_.manifest_heads, 1);
  EXPECT_EQ(upstream_.manifest_gets, 1);
  auto s = cache_->Stats()["docker.io/library/busybox"];
  EXPECT_EQ(s.manifest_misses, 1u);
  EXPECT_EQ(s.manifest_hits, 9u);
}

TEST_F(CacheTest, CachedTagIsServedWhenUpstreamIsUnreachable) {
  ASSERT_TRUE(cache_->GetManifest("docker.io", "library/busybox", "latest"));
  clock_.Advance(100000);
  upstream_.unreachable = true;
  auto m = cache_->GetManifest("docker.io", "library/busybox", "latest");
  ASSERT_TRUE(m) << m.error().ToString();
  EXPECT_TRUE(m->stale);
  EXPECT_EQ(m->bytes, manifest_);
  // A tag never seen cannot be served.
  auto other = cache_->GetManifest("docker.io", "library/busybox", "1.36");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(cache_->Stats()["docker.io/library/busybox"].stale_served, 1u);
}

TEST_F(CacheTest, ManifestByDigestIsServedForeverAndVerified) {
  std::string ref = Sha256Of(manifest_).ToString();
  auto m = cache_->GetManifest("docker.io", "library/busybox", ref);
  ASSERT_TRUE(m);
  upstream_.unreachable = true;
  clock_.Advance(10000000);
  auto again = cache_->GetManifest("docker.io", "library/busybox", ref);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->from_cache);
  EXPECT_EQ(again->media_type, kDockerV2Type);
  EXPECT_EQ(again->bytes, manifest_);
}

TEST_F(CacheTest, RejectsBadNamesAndUnknownManifests) {
  EXPECT_FALSE(cache_->GetManifest("docker.io", "Library/Busybox", "latest"));
  EXPECT_FALSE(cache_->GetManifest("docker.io", "../etc", "latest"));
  EXPECT_FALSE(cache_->GetManifest("docker.io", "library/busybox", "-bad"));
  EXPECT_FALSE(cache_->GetManifest("docker.io", "library/busybox", "sha256:abc"));
  EXPECT_FALSE(cache_->GetManifest("evil.host/../x", "library/busybox", "latest"));
  auto nf = cache_->GetManifest("docker.io", "library/busybox", "nope");
  ASSERT_FALSE(nf);
  EXPECT_EQ(nf.error().code, ErrorCode::kNotFound);
}

TEST_F(CacheTest, BlobsAndStatsPerImage) {
  auto r = cache_->OpenBlob("docker.io", "library/busybox", Sha256Of(layer_).ToString());
  ASSERT_TRUE(r);
  EXPECT_FALSE((*r)->from_cache());
  uint8_t buf[64];
  size_t n = 0;
  while (true) {
    auto k = (*r)->ReadAt(n, buf + n, sizeof(buf) - n);
    ASSERT_TRUE(k);
    if (*k == 0) break;
    n += *k;
  }
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), n), layer_);
  cache_->RecordBytesServed("docker.io", "library/busybox", n, false);
  auto hit = cache_->OpenBlob("docker.io", "library/busybox", Sha256Of(layer_).ToString());
  ASSERT_TRUE(hit);
  EXPECT_TRUE((*hit)->from_cache());
  cache_->RecordBytesServed("docker.io", "library/busybox", 11, true);
  auto s = cache_->Stats()["docker.io/library/busybox"];
  EXPECT_EQ(s.blob_misses, 1u);
  EXPECT_EQ(s.blob_hits, 1u);
  EXPECT_EQ(s.bytes_from_upstream, 11u);  // fetched once
  EXPECT_EQ(s.bytes_streamed, 11u);
  EXPECT_EQ(s.bytes_from_cache, 11u);
  EXPECT_FALSE(cache_->OpenBlob("docker.io", "library/busybox", "sha256:zz"));
}

TEST_F(CacheTest, TagListFallsBackToCachedTags) {
  auto live = cache_->ListTags("docker.io", "library/busybox");
  ASSERT_TRUE(live);
  EXPECT_EQ(*live, std::vector<std::string>{"latest"});
  ASSERT_TRUE(cache_->GetManifest("docker.io", "library/busybox", "latest"));
  upstream_.unreachable = true;
  auto cached = cache_->ListTags("docker.io", "library/busybox");
  ASSERT_TRUE(cached);
  EXPECT_EQ(*cached, std::vector<std::string>{"latest"});
}

TEST(UpstreamRouterTest, RoutesNamespaces) {
  UpstreamRouter r({{"local", "http://127.0.0.1:5000", "u", "p"}}, "docker.io", true);
  EXPECT_EQ(r.Route("")->url, "https://registry-1.docker.io");
  EXPECT_EQ(r.Route("docker.io")->url, "https://registry-1.docker.io");
  EXPECT_EQ(r.Route("ghcr.io")->url, "https://ghcr.io");
  EXPECT_EQ(r.Route("reg.example:5000")->url, "https://reg.example:5000");
  EXPECT_EQ(r.Route("local")->url, "http://127.0.0.1:5000");
  EXPECT_EQ(r.Route("local")->username, "u");
  EXPECT_FALSE(r.Route("a/b"));
  EXPECT_FALSE(r.Route("a@b"));
  EXPECT_FALSE(r.Route("host:99999x"));
  UpstreamRouter closed({{"docker.io", "http://127.0.0.1:1", "", ""}}, "docker.io", false);
  EXPECT_TRUE(closed.Route(""));
  EXPECT_FALSE(closed.Route("ghcr.io"));
}

TEST(NameTest, RepositoriesAndTags) {
  for (auto ok :
       {"busybox", "library/busybox", "a/b/c", "my-org/my_app", "a__b", "a.b-c", "x---y"}) {
    EXPECT_TRUE(IsValidRepositoryName(ok)) << ok;
  }
  for (auto bad : {"", "/a", "a/", "a//b", "A", "a..b", ".a", "a_", "a___b", "../x", "a b"}) {
    EXPECT_FALSE(IsValidRepositoryName(bad)) << bad;
  }
  EXPECT_TRUE(IsValidTag("latest"));
  EXPECT_TRUE(IsValidTag("1.36.1-musl_x"));
  EXPECT_FALSE(IsValidTag(".x"));
  EXPECT_FALSE(IsValidTag(std::string(129, 'a')));
  EXPECT_FALSE(IsValidTag("a/b"));
}

}  // namespace
}  // namespace paddock::registry
