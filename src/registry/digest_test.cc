#include "registry/digest.h"

#include <gtest/gtest.h>

#include <vector>

namespace paddock::registry {
namespace {

const char kEmpty[] = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST(DigestTest, ParsesValidSha256) {
  auto d = Digest::Parse(kEmpty);
  ASSERT_TRUE(d) << d.error().ToString();
  EXPECT_EQ(d->ToString(), kEmpty);
  EXPECT_EQ(d->hex().size(), 64u);
}

TEST(DigestTest, RejectsEverythingElse) {
  std::string good = kEmpty;
  for (const std::string& bad : std::vector<std::string>{
           std::string(""), std::string("sha256:"), good.substr(0, good.size() - 1), good + "0",
           std::string("sha512:") + good.substr(7), std::string("SHA256:") + good.substr(7),
           "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
           "sha256:../../../../etc/passwd0000000000000000000000000000000000000000",
           "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85/", " " + good,
           good + "\n", std::string("sha256:") + std::string(64, 'g'),
           std::string("sha256:e3b0c44298fc1c149afbf4c8996fb924\0"
                       "7ae41e4649b934ca495991b7852b85",
                       71)}) {
    EXPECT_FALSE(Digest::Parse(bad)) << bad;
  }
}

TEST(DigestTest, Sha256MatchesKnownVectors) {
  EXPECT_EQ(Sha256Of("").ToString(), kEmpty);
  // FIPS 180-2 appendix B.1.
  EXPECT_EQ(Sha256Of("abc").hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(DigestTest, IncrementalEqualsOneShot) {
  std::string data;
  for (int i = 0; i < 100000; ++i) data.push_back(static_cast<char>(i * 7));
  Sha256 h;
  for (size_t off = 0; off < data.size(); off += 997) {
    h.Update(std::string_view(data).substr(off, 997));
  }
  EXPECT_EQ(h.Finish(), Sha256Of(data));
}

TEST(DigestTest, LooksLikeDigestSeparatesTagsFromDigests) {
  EXPECT_TRUE(Digest::LooksLikeDigest(kEmpty));
  EXPECT_TRUE(Digest::LooksLikeDigest("sha512:abc"));
  EXPECT_FALSE(Digest::LooksLikeDigest("latest"));
  EXPECT_FALSE(Digest::LooksLikeDigest("1.36.1-musl"));
}

}  // namespace
}  // namespace paddock::registry
