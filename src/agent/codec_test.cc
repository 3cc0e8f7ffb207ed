#include "agent/codec.h"
#include "common/bytes.h"

#include <gtest/gtest.h>

namespace paddock::agent {
namespace {

// FIPS 180-2 Appendix B test vectors.
TEST(Sha256, KnownVectors) {
  EXPECT_EQ(Sha256::HexDigest(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256::HexDigest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256::HexDigest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256::HexDigest(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, IncrementalEqualsOneShot) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data += static_cast<char>(i * 7);
  Sha256 s;
  for (size_t i = 0; i < data.size(); i += 13) s.Update(std::string_view(data).substr(i, 13));
  auto d = s.Finish();
  EXPECT_EQ(HexEncode(ByteSpan(d.data(), d.size())), Sha256::HexDigest(data));
}

TEST(Base64, DecodesLikePython) {
  EXPECT_EQ(*Base64Decode("aGVsbG8gd29ybGQ="), "hello world");
  // Line breaks and spaces inside are skipped (b64decode validate=False).
  EXPECT_EQ(*Base64Decode("aGVs\nbG8g\n d29y bGQ="), "hello world");
  EXPECT_EQ(*Base64Decode("YQ=="), "a");
  EXPECT_FALSE(Base64Decode("YQ==YQ==").has_value());
  EXPECT_FALSE(Base64Decode("Y").has_value());
}

TEST(Base64, RoundTrip) {
  for (size_t n = 0; n < 40; ++n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += static_cast<char>(i * 37 + 1);
    auto back = Base64Decode(Base64Encode(s));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, s);
  }
}

// The gzip example from cloud-init's write_files documentation.
TEST(Gunzip, CloudInitDocExample) {
  auto raw = Base64Decode("H4sIAIDb/U8C/1NW1E/KzNMvzuBKTc7IV8hIzcnJVyjPL8pJ4QIA6N+MVxsAAAA=");
  ASSERT_TRUE(raw.has_value());
  ASSERT_TRUE(IsGzip(*raw));
  auto out = Gunzip(*raw);
  ASSERT_TRUE(out.has_value()) << out.error().message;
  EXPECT_EQ(*out, "#!/bin/sh\necho hello world\n");
}

TEST(Gunzip, RejectsTruncationAndLimits) {
  auto raw = *Base64Decode("H4sIAIDb/U8C/1NW1E/KzNMvzuBKTc7IV8hIzcnJVyjPL8pJ4QIA6N+MVxsAAAA=");
  for (size_t cut = 0; cut < raw.size(); ++cut) {
    EXPECT_FALSE(Gunzip(raw.substr(0, cut)).has_value()) << "cut at " << cut;
  }
  EXPECT_FALSE(Gunzip(raw, 10).has_value());  // 27 bytes of output > limit
  EXPECT_FALSE(Gunzip("plain text").has_value());
}

}  // namespace
}  // namespace paddock::agent
