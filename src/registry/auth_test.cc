#include "registry/auth.h"

#include <gtest/gtest.h>

#include <vector>

namespace paddock::registry {
namespace {

TEST(AuthTest, ParsesDockerHubChallenge) {
  auto c = ParseWwwAuthenticate(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",)"
      R"(scope="repository:samalba/my-app:pull,push")");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0].scheme, "bearer");
  EXPECT_EQ((*c)[0].params.at("realm"), "https://auth.docker.io/token");
  EXPECT_EQ((*c)[0].params.at("service"), "registry.docker.io");
  EXPECT_EQ((*c)[0].params.at("scope"), "repository:samalba/my-app:pull,push");
}

TEST(AuthTest, ParsesSeveralChallengesAndCaseAndSpaces) {
  auto c = ParseWwwAuthenticate(
      R"(Basic realm="Registry Realm" , BEARER  Realm = "https://a/t?x=1" ,, service=svc)");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->size(), 2u);
  EXPECT_EQ((*c)[0].scheme, "basic");
  EXPECT_EQ((*c)[0].params.at("realm"), "Registry Realm");
  const Challenge* b = FindChallenge(*c, "bearer");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->params.at("realm"), "https://a/t?x=1");
  EXPECT_EQ(b->params.at("service"), "svc");
  EXPECT_EQ(FindChallenge(*c, "negotiate"), nullptr);
}

TEST(AuthTest, QuotedStringEscapesAndSpecials) {
  auto c = ParseWwwAuthenticate(R"(Bearer realm="a\"b\\c,d=e", scope="x")");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0].params.at("realm"), "a\"b\\c,d=e");
  EXPECT_EQ((*c)[0].params.at("scope"), "x");
}

TEST(AuthTest, Token68AndBareSchemes) {
  auto c = ParseWwwAuthenticate("Negotiate abc+/def==, Basic");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->size(), 2u);
  EXPECT_EQ((*c)[0].token68, "abc+/def==");
  EXPECT_EQ((*c)[1].scheme, "basic");
}

TEST(AuthTest, NastyInputsNeverCrash) {
  for (const std::string& h : std::vector<std::string>{
           std::string(""), std::string(","), std::string("   "), std::string("\"unterminated"),
           std::string("Bearer realm=\"x"), std::string("Bearer realm="),
           std::string("Bearer =,=,="), std::string("Bearer realm=\"\\"), std::string(5000, '"'),
           std::string("\0Bearer", 7), std::string("Bearer realm=x y=z ,\t,")}) {
    auto c = ParseWwwAuthenticate(h);  // only must not crash or hang
    if (c) EXPECT_FALSE(c->empty());
  }
  EXPECT_FALSE(ParseWwwAuthenticate(""));
  EXPECT_FALSE(ParseWwwAuthenticate(" , ,"));
  auto u = ParseWwwAuthenticate("Bearer realm=\"https://x/y");
  ASSERT_TRUE(u);
  EXPECT_EQ((*u)[0].params.at("realm"), "https://x/y");
}

TEST(AuthTest, TokenResponse) {
  auto t = ParseTokenResponse(R"({"token":"abc","expires_in":300,"issued_at":"x"})", 1000);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->token, "abc");
  EXPECT_EQ(t->expires_at, 1300);
  auto a = ParseTokenResponse(R"({"access_token":"zz"})", 1000);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->token, "zz");
  EXPECT_EQ(a->expires_at, 1060);  // default 60 s
  auto s = ParseTokenResponse(R"({"token":"q","expires_in":5})", 0);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->expires_at, 60);  // token.md: never less than 60 s
  EXPECT_FALSE(ParseTokenResponse("{}", 0));
  EXPECT_FALSE(ParseTokenResponse("not json", 0));
  EXPECT_FALSE(ParseTokenResponse(R"({"token":"a\nb"})", 0));  // header injection
}

TEST(AuthTest, BasicAuthorizationIsRfc7617) {
  // RFC 7617 §2 example.
  EXPECT_EQ(BasicAuthorization("Aladdin", "open sesame"), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  EXPECT_EQ(BasicAuthorization("a", "b"), "Basic YTpi");
  EXPECT_EQ(BasicAuthorization("ab", "c"), "Basic YWI6Yw==");
}

TEST(AuthTest, UrlEncode) {
  EXPECT_EQ(UrlEncode("repository:a/b:pull"), "repository%3Aa%2Fb%3Apull");
  EXPECT_EQ(UrlEncode("a-b_c.d~"), "a-b_c.d~");
}

TEST(AuthTest, TokenCacheExpires) {
  FakeClock clock(1000);
  TokenCache cache(clock);
  cache.Put("docker.io", "repository:x:pull", {"t1", 1100});
  EXPECT_EQ(cache.Get("docker.io", "repository:x:pull").value_or(""), "t1");
  EXPECT_FALSE(cache.Get("docker.io", "repository:y:pull"));
  EXPECT_FALSE(cache.Get("ghcr.io", "repository:x:pull"));
  clock.Advance(96);  // 4 s left, under the 5 s margin
  EXPECT_FALSE(cache.Get("docker.io", "repository:x:pull"));
}

}  // namespace
}  // namespace paddock::registry
