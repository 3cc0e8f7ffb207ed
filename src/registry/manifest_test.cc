#include "registry/manifest.h"

#include <gtest/gtest.h>

#include <vector>

namespace paddock::registry {
namespace {

std::string D(char c) { return "sha256:" + std::string(64, c); }

std::string ImageManifest(std::string_view media_type) {
  std::string mt = media_type.empty() ? "" : "\"mediaType\":\"" + std::string(media_type) + "\",";
  return R"({"schemaVersion":2,)" + mt +
         R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" + D('a') +
         R"(","size":1469},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" +
         D('b') +
         R"(","size":2220094},{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" +
         D('c') + R"(","size":12}]})";
}

std::string Index(std::string_view media_type) {
  return R"({"schemaVersion":2,"mediaType":")" + std::string(media_type) +
         R"(","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
         D('d') + R"(","size":528,"platform":{"architecture":"amd64","os":"linux"}},)" +
         R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + D('e') +
         R"(","size":528,"platform":{"architecture":"arm","os":"linux","variant":"v7"}}]})";
}

TEST(ManifestTest, AcceptHeaderListsAllFourTypes) {
  std::string accept = ManifestAcceptHeader();
  for (auto t : {kOciIndexType, kOciManifestType, kDockerListType, kDockerV2Type}) {
    EXPECT_NE(accept.find(t), std::string::npos) << t;
  }
}

TEST(ManifestTest, ParsesOciAndDockerImageManifests) {
  for (auto type : {kOciManifestType, kDockerV2Type}) {
    auto m = ParseManifest(ImageManifest(type), type);
    ASSERT_TRUE(m) << m.error().ToString();
    EXPECT_EQ(m->media_type, type);
    EXPECT_FALSE(m->is_index);
    ASSERT_TRUE(m->config);
    EXPECT_EQ(m->config->digest.ToString(), D('a'));
    ASSERT_EQ(m->layers.size(), 2u);
    EXPECT_EQ(m->layers[0].size, 2220094);
    auto refs = ReferencedDigests(*m);
    ASSERT_EQ(refs.size(), 3u);
    EXPECT_EQ(refs[2].ToString(), D('c'));
  }
}

TEST(ManifestTest, ParsesIndexesWithPlatforms) {
  for (auto type : {kOciIndexType, kDockerListType}) {
    auto m = ParseManifest(Index(type), std::string(type) + "; charset=utf-8");
    ASSERT_TRUE(m) << m.error().ToString();
    EXPECT_TRUE(m->is_index);
    ASSERT_EQ(m->manifests.size(), 2u);
    EXPECT_EQ(m->manifests[0].platform, "linux/amd64");
    EXPECT_EQ(m->manifests[1].platform, "linux/arm/v7");
    EXPECT_EQ(ReferencedDigests(*m).size(), 2u);
  }
}

TEST(ManifestTest, InfersTypeWhenContentTypeIsGeneric) {
  auto m = ParseManifest(ImageManifest(""), "application/json");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->media_type, kOciManifestType);
  auto i = ParseManifest(Index(kDockerListType), "");
  ASSERT_TRUE(i);
  EXPECT_EQ(i->media_type, kDockerListType);
}

TEST(ManifestTest, RejectsBadInputWithoutThrowing) {
  std::string bad_digest = ImageManifest(kOciManifestType);
  bad_digest.replace(bad_digest.find(D('b')), 71, "sha256:../../etc");
  for (const std::string& body : std::vector<std::string>{
           std::string(""), std::string("{"), std::string("[]"), std::string("null"),
           std::string("{\"schemaVersion\":1,\"layers\":[]}"), std::string("{\"schemaVersion\":2}"),
           std::string("{\"schemaVersion\":2,\"config\":{},\"layers\":[]}"),
           std::string("{\"schemaVersion\":2,\"manifests\":{}}"), bad_digest,
           std::string("{\"schemaVersion\":\"2\",\"layers\":[]}"), std::string(100000, '['),
           std::string("\xff\xfe{}", 4)}) {
    EXPECT_FALSE(ParseManifest(body, "")) << body.substr(0, 80);
  }
  // Content-Type and mediaType must agree; schema 1 is refused.
  EXPECT_FALSE(ParseManifest(ImageManifest(kOciManifestType), kDockerV2Type));
  EXPECT_FALSE(ParseManifest(ImageManifest(""),
                             "application/vnd.docker.distribution.manifest.v1+prettyjws"));
  std::string negative = ImageManifest(kOciManifestType);
  negative.replace(negative.find("1469"), 4, "-1");
  EXPECT_FALSE(ParseManifest(negative, kOciManifestType));
}

TEST(ManifestTest, MediaTypePredicates) {
  EXPECT_TRUE(IsManifestMediaType("application/vnd.oci.image.index.v1+json; charset=x"));
  EXPECT_FALSE(IsManifestMediaType("application/json"));
  EXPECT_TRUE(IsIndexMediaType(kDockerListType));
  EXPECT_FALSE(IsIndexMediaType(kDockerV2Type));
}

}  // namespace
}  // namespace paddock::registry
