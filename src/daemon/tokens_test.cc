#include "daemon/tokens.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include <gtest/gtest.h>

#include "store/store.h"

namespace paddock::daemon {
namespace {

const MacAddress kMac = *MacAddress::Parse("52:54:00:aa:bb:01");
const std::array<uint8_t, BootTokenSigner::kKeyBytes> kKey{1, 2, 3, 4};

TEST(BootTokenSignerTest, IssuedTokenVerifiesWithItsClaims) {
  BootTokenSigner signer(kKey);
  std::string token = signer.Issue({kMac, 42, 1'700'000'000, 1'700'003'600});
  EXPECT_EQ(token.size(), BootTokenSigner::kTextLength);
  EXPECT_EQ(token.find_first_not_of("0123456789abcdef"), std::string::npos);
  auto claims = signer.Verify(token);
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->mac, kMac);
  EXPECT_EQ(claims->boot, 42);
  EXPECT_EQ(claims->issued_at, 1'700'000'000);
  EXPECT_EQ(claims->expires_at, 1'700'003'600);
}

TEST(BootTokenSignerTest, EveryTokenIsDifferent) {
  BootTokenSigner signer(kKey);
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(signer.Issue({kMac, 1, 100, 200}));
  EXPECT_EQ(seen.size(), 1000u);
}

// Any changed character, another key, another case, length or alphabet: not a token.
TEST(BootTokenSignerTest, AlteredOrForeignTokensDoNotVerify) {
  BootTokenSigner signer(kKey);
  const std::string token = signer.Issue({kMac, 1, 100, 200});
  for (size_t i = 0; i < token.size(); ++i) {
    std::string t = token;
    t[i] = t[i] == 'a' ? 'b' : 'a';
    EXPECT_FALSE(signer.Verify(t)) << "position " << i;
  }
  std::array<uint8_t, BootTokenSigner::kKeyBytes> other = kKey;
  other[31] ^= 1;
  EXPECT_FALSE(BootTokenSigner(other).Verify(token));
  std::string upper = token;
  for (char& c : upper) c = static_cast<char>(toupper(c));
  EXPECT_FALSE(signer.Verify(upper));
  EXPECT_FALSE(signer.Verify(token.substr(1)));
  EXPECT_FALSE(signer.Verify(token + "0"));
  EXPECT_FALSE(signer.Verify(""));
  EXPECT_FALSE(signer.Verify(std::string(BootTokenSigner::kTextLength, 'g')));
  EXPECT_FALSE(signer.Verify("0123456789abcdef0123456789abcdef"));  // an old 128-bit token
}

// Times beyond 32 bits are clamped, not wrapped (a wrapped expiry would be in the past).
TEST(BootTokenSignerTest, OutOfRangeValuesAreClamped) {
  BootTokenSigner signer(kKey);
  auto claims = signer.Verify(signer.Issue({kMac, -5, -1, int64_t{1} << 40}));
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->boot, 0);
  EXPECT_EQ(claims->issued_at, 0);
  EXPECT_EQ(claims->expires_at, int64_t{UINT32_MAX});
}

// The key lives in the store: a restarted daemon verifies the tokens it issued before.
TEST(BootTokenSignerTest, KeyFromTheStoreSurvivesReopening) {
  const std::string dir =
      std::filesystem::temp_directory_path() / ("tokens_test." + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string token;
  {
    auto store = store::OpenSqliteStore(dir + "/paddock.db");
    ASSERT_TRUE(store);
    auto signer = BootTokenSigner::FromStore(**store);
    ASSERT_TRUE(signer) << signer.error().ToString();
    token = (*signer)->Issue({kMac, 3, 100, 200});
  }
  {
    auto store = store::OpenSqliteStore(dir + "/paddock.db");
    ASSERT_TRUE(store);
    auto signer = BootTokenSigner::FromStore(**store);
    ASSERT_TRUE(signer);
    auto claims = (*signer)->Verify(token);
    ASSERT_TRUE(claims);
    EXPECT_EQ(claims->boot, 3);
  }
  {
    // docs/operations.md's rotation: deleting the key makes every outstanding token unknown.
    const std::string cmd =
        "sqlite3 " + dir + "/paddock.db \"DELETE FROM secrets WHERE name='boot_token_key'\"";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    auto store = store::OpenSqliteStore(dir + "/paddock.db");
    ASSERT_TRUE(store);
    auto signer = BootTokenSigner::FromStore(**store);
    ASSERT_TRUE(signer);
    EXPECT_FALSE((*signer)->Verify(token));
  }
  {
    // Another database, another key.
    auto store = store::OpenSqliteStore(dir + "/other.db");
    ASSERT_TRUE(store);
    auto signer = BootTokenSigner::FromStore(**store);
    ASSERT_TRUE(signer);
    EXPECT_FALSE((*signer)->Verify(token));
  }
  std::filesystem::remove_all(dir);
}

// RFC 4231 test cases 1, 2 and 6 (a key longer than the block).
TEST(BootTokenSignerTest, HmacSha256KnownAnswers) {
  auto hmac = [](const std::string& key, const std::string& msg) {
    uint8_t out[32];
    detail::HmacSha256(AsBytes(key), AsBytes(msg), out);
    return HexEncode(ByteSpan(out, sizeof(out)));
  };
  EXPECT_EQ(hmac(std::string(20, '\x0b'), "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(hmac("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(
      hmac(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First"),
      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(BootTokenSignerTest, SecretTokensAreRandomHex) {
  std::string a = NewSecretToken();
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, NewSecretToken());
  EXPECT_EQ(HashToken("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace paddock::daemon
