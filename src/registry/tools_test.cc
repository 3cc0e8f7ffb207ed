#include "registry/tools.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "registry/fake_upstream.h"
#include "registry/manifest.h"

namespace paddock::registry {
namespace {
namespace fs = std::filesystem;

TEST(ImageReferenceTest, ParsesLikeDocker) {
  struct Case {
    const char* in;
    const char* ns;
    const char* repo;
    const char* ref;
  } cases[] = {
      {"busybox", "docker.io", "library/busybox", "latest"},
      {"busybox:1.36", "docker.io", "library/busybox", "1.36"},
      {"myorg/app:v2", "docker.io", "myorg/app", "v2"},
      {"ghcr.io/org/app:v2", "ghcr.io", "org/app", "v2"},
      {"localhost/app", "localhost", "app", "latest"},
      {"127.0.0.1:5000/a/b:c", "127.0.0.1:5000", "a/b", "c"},
      {"quay.io/x/y@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       "quay.io", "x/y", "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
  };
  for (const auto& c : cases) {
    auto r = ParseImageReference(c.in);
    ASSERT_TRUE(r) << c.in;
    EXPECT_EQ(r->ns, c.ns) << c.in;
    EXPECT_EQ(r->repo, c.repo) << c.in;
    EXPECT_EQ(r->reference, c.ref) << c.in;
  }
  EXPECT_FALSE(ParseImageReference("Busybox"));
  EXPECT_FALSE(ParseImageReference("x@sha256:short"));
  EXPECT_FALSE(ParseImageReference("x:-bad"));
  EXPECT_FALSE(ParseImageReference("ghcr.io/"));
}

class ToolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pd-registry-tools-XXXXXX";
    dir_ = mkdtemp(tmpl);
    store_ = std::move(*BlobStore::Open({dir_ / "cache", 0, nullptr}));
    fs::create_directories(dir_ / "layout/blobs/sha256");
  }
  void TearDown() override { fs::remove_all(dir_); }
  Digest Put(const std::string& bytes) {
    Digest d = Sha256Of(bytes);
    std::ofstream(dir_ / "layout/blobs/sha256" / d.hex(), std::ios::binary) << bytes;
    return d;
  }
  // A layout with one image; returns the manifest digest.
  Digest MakeLayout(const std::string& tag_annotation) {
    layer_ = "pretend this is a gzip'd tar";
    config_ = "{\"os\":\"linux\"}";
    Digest l = Put(layer_), c = Put(config_);
    manifest_ = "{\"schemaVersion\":2,\"mediaType\":\"" + std::string(kOciManifestType) +
                "\",\"config\":{\"digest\":\"" + c.ToString() +
                "\",\"size\":" + std::to_string(config_.size()) + "},\"layers\":[{\"digest\":\"" +
                l.ToString() + "\",\"size\":" + std::to_string(layer_.size()) + "}]}";
    Digest m = Put(manifest_);
    std::string ann =
        tag_annotation.empty()
            ? ""
            : ",\"annotations\":{\"org.opencontainers.image.ref.name\":\"" + tag_annotation + "\"}";
    std::ofstream(dir_ / "layout/index.json")
        << "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" << kOciManifestType
        << "\",\"digest\":\"" << m.ToString() << "\",\"size\":" << manifest_.size() << ann << "}]}";
    std::ofstream(dir_ / "layout/oci-layout") << "{\"imageLayoutVersion\":\"1.0.0\"}";
    return m;
  }

  fs::path dir_;
  std::unique_ptr<BlobStore> store_;
  std::string layer_, config_, manifest_;
};

TEST_F(ToolsTest, ImportsLayoutDirectoryWithTag) {
  Digest m = MakeLayout("v7");
  auto r = ImportOciLayout(*store_, dir_ / "layout", *ParseImageReference("airgap.local/a/b"));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->manifests, 1u);
  EXPECT_EQ(r->blobs, 2u);
  ASSERT_EQ(r->tags.size(), 1u);
  EXPECT_EQ(r->tags[0], "airgap.local/a/b:v7");
  EXPECT_EQ(store_->GetTag({"airgap.local", "a/b", "v7"})->digest, m);
  auto stored = store_->GetManifest(m);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->bytes, manifest_);
  EXPECT_EQ(stored->media_type, kOciManifestType);
  EXPECT_TRUE(store_->Has(Sha256Of(layer_)));
}

TEST_F(ToolsTest, UsesTargetTagWithoutAnnotation) {
  Digest m = MakeLayout("");
  ASSERT_TRUE(ImportOciLayout(*store_, dir_ / "layout", *ParseImageReference("x.io/a:t9")));
  EXPECT_EQ(store_->GetTag({"x.io", "a", "t9"})->digest, m);
}

TEST_F(ToolsTest, CorruptLayerFailsAndIsNotPublished) {
  Digest m = MakeLayout("v1");
  std::ofstream(dir_ / "layout/blobs/sha256" / Sha256Of(layer_).hex(), std::ios::binary)
      << "tampered";
  auto r = ImportOciLayout(*store_, dir_ / "layout", *ParseImageReference("x.io/a:v1"));
  ASSERT_FALSE(r);
  EXPECT_FALSE(store_->Has(Sha256Of(layer_)));
  EXPECT_FALSE(store_->GetManifest(m));  // manifests go in only after their blobs
  EXPECT_FALSE(store_->GetTag({"x.io", "a", "v1"}));
}

TEST_F(ToolsTest, MissingIndexIsAnError) {
  EXPECT_FALSE(ImportOciLayout(*store_, dir_ / "nope", *ParseImageReference("x.io/a")));
  std::ofstream(dir_ / "garbage.tar") << "not an archive at all";
  EXPECT_FALSE(ImportOciLayout(*store_, dir_ / "garbage.tar", *ParseImageReference("x.io/a")));
}

TEST_F(ToolsTest, WarmCacheFetchesEverythingOnce) {
  MakeLayout("");
  testing::FakeUpstream upstream;
  upstream.AddBlob(layer_);
  upstream.AddBlob(config_);
  upstream.AddManifest("a/b", "v1", std::string(kOciManifestType), manifest_);
  PullThroughCache cache(*store_, upstream, UpstreamRouter({}, "docker.io", true), {});
  auto r = WarmCache(cache, *ParseImageReference("x.io/a/b:v1"));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->manifests, 1u);
  EXPECT_EQ(r->blobs, 2u);
  EXPECT_EQ(r->blob_bytes, layer_.size() + config_.size());
  EXPECT_TRUE(store_->Has(Sha256Of(layer_)));
  upstream.unreachable = true;
  auto again = WarmCache(cache, *ParseImageReference("x.io/a/b:v1"));
  ASSERT_TRUE(again);  // everything (tag included) now comes from the cache
  EXPECT_EQ(upstream.blob_fetches, 2);
}

}  // namespace
}  // namespace paddock::registry
