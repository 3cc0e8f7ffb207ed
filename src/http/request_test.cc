#include "http/request.h"

#include <gtest/gtest.h>

namespace paddock::http {
namespace {

TEST(HeadersTest, LookupIsCaseInsensitiveAndFirstWins) {
  Headers h;
  h.Add("Content-Type", "text/plain");
  h.Add("X-Thing", "1");
  h.Add("x-thing", "2");
  EXPECT_EQ(h.Get("content-type"), "text/plain");
  EXPECT_EQ(h.Get("X-THING"), "1");
  EXPECT_FALSE(h.Get("Missing").has_value());
  h.Set("X-Thing", "3");
  EXPECT_EQ(h.size(), 2u);
  EXPECT_EQ(h.Get("x-thing"), "3");
  h.Remove("CONTENT-TYPE");
  EXPECT_FALSE(h.Has("Content-Type"));
}

TEST(PercentDecodeTest, DecodesEscapesAndPlus) {
  EXPECT_EQ(PercentDecode("a%20b%2Fc", false).value(), "a b/c");
  EXPECT_EQ(PercentDecode("a+b", false).value(), "a+b");
  EXPECT_EQ(PercentDecode("a+b", true).value(), "a b");
  EXPECT_EQ(PercentDecode("%2e%2E", false).value(), "..");
  EXPECT_EQ(PercentDecode("%00", false).value(), std::string(1, '\0'));
}

TEST(PercentDecodeTest, RejectsBadEscapes) {
  EXPECT_FALSE(PercentDecode("%", false));
  EXPECT_FALSE(PercentDecode("%2", false));
  EXPECT_FALSE(PercentDecode("abc%", false));
  EXPECT_FALSE(PercentDecode("%zz", false));
  EXPECT_FALSE(PercentDecode("%g0", false));
}

TEST(ParseQueryTest, KeepsOrderRepeatsAndEmptyValues) {
  auto q = ParseQuery("mac=52-54-00-12-34-56&uuid=&flag&a=1&a=2&&name=x+y%21");
  ASSERT_TRUE(q);
  ASSERT_EQ(q->size(), 6u);
  EXPECT_EQ((*q)[0], (std::pair<std::string, std::string>{"mac", "52-54-00-12-34-56"}));
  EXPECT_EQ((*q)[1], (std::pair<std::string, std::string>{"uuid", ""}));
  EXPECT_EQ((*q)[2], (std::pair<std::string, std::string>{"flag", ""}));
  EXPECT_EQ((*q)[3].second, "1");
  EXPECT_EQ((*q)[4].second, "2");
  EXPECT_EQ((*q)[5], (std::pair<std::string, std::string>{"name", "x y!"}));
  EXPECT_TRUE(ParseQuery("")->empty());
  EXPECT_FALSE(ParseQuery("a=%ZZ"));
  // '=' inside a value stays in the value.
  EXPECT_EQ(ParseQuery("k=a=b")->at(0).second, "a=b");
}

TEST(ParseTargetTest, SplitsPathAndQuery) {
  auto t = ParseTarget("/ipxe?mac=aa-bb&arch=x86_64#frag");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/ipxe");
  EXPECT_EQ(t->raw_query, "mac=aa-bb&arch=x86_64");
  ASSERT_EQ(t->query.size(), 2u);
  EXPECT_EQ(t->query[1].second, "x86_64");
}

TEST(ParseTargetTest, DecodesPathButKeepsDotSegments) {
  auto t = ParseTarget("/assets/%2e%2e%2fetc/passwd");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/assets/../etc/passwd");
  EXPECT_EQ(ParseTarget("/a/../b")->path, "/a/../b");
  // '+' is literal in a path (only queries use form encoding).
  EXPECT_EQ(ParseTarget("/a+b")->path, "/a+b");
}

TEST(ParseTargetTest, AcceptsAbsoluteForm) {
  auto t = ParseTarget("http://198.18.0.1:8080/boot.ipxe?x=1");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/boot.ipxe");
  EXPECT_EQ(t->raw_query, "x=1");
  EXPECT_EQ(ParseTarget("http://host")->path, "/");
}

TEST(ParseTargetTest, RejectsMalformedTargets) {
  EXPECT_FALSE(ParseTarget(""));
  EXPECT_FALSE(ParseTarget("*"));
  EXPECT_FALSE(ParseTarget("assets/x"));
  EXPECT_FALSE(ParseTarget("/a%00b"));
  EXPECT_FALSE(ParseTarget("/a%"));
  EXPECT_FALSE(ParseTarget("/a?b=%x1"));
  EXPECT_FALSE(ParseTarget("http://host?x"));
}

TEST(BuildRequestTest, FillsEveryField) {
  Headers h;
  h.Add("Host", "x");
  auto r = BuildRequest("GET", "/ipxe?mac=52-54-00-00-00-01", 10, h, "body");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->method, "GET");
  EXPECT_EQ(r->target, "/ipxe?mac=52-54-00-00-00-01");
  EXPECT_EQ(r->path, "/ipxe");
  EXPECT_EQ(r->Query("mac"), "52-54-00-00-00-01");
  EXPECT_FALSE(r->Query("MAC").has_value());
  EXPECT_EQ(r->version, 10);
  EXPECT_EQ(r->headers.Get("host"), "x");
  EXPECT_EQ(r->body, "body");
  EXPECT_FALSE(r->IsHead());
  EXPECT_FALSE(BuildRequest("", "/", 11, {}, ""));
  EXPECT_FALSE(BuildRequest("GET", "nope", 11, {}, ""));
}

}  // namespace
}  // namespace paddock::http
