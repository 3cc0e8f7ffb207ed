#include "http/conditional.h"

#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

namespace paddock::http {
namespace {

using Kind = ByteRange::Kind;

void ExpectRange(std::string_view header, uint64_t size, uint64_t offset, uint64_t length) {
  ByteRange r = ParseRange(header, size);
  EXPECT_EQ(r.kind, Kind::kSatisfiable) << header;
  EXPECT_EQ(r.offset, offset) << header;
  EXPECT_EQ(r.length, length) << header;
}

TEST(ParseRangeTest, SingleRanges) {
  ExpectRange("bytes=0-99", 1000, 0, 100);
  ExpectRange("bytes=100-", 1000, 100, 900);
  ExpectRange("bytes=-500", 1000, 500, 500);
  ExpectRange("bytes=999-999", 1000, 999, 1);
  ExpectRange("bytes=0-0", 1, 0, 1);
  // Clamping and whole-representation suffixes (RFC 9110 §14.1.2).
  ExpectRange("bytes=500-5000", 1000, 500, 500);
  ExpectRange("bytes=-5000", 1000, 0, 1000);
  ExpectRange("bytes=0-99999999999999999999999999", 1000, 0, 1000);
  // Case-insensitive unit, optional whitespace, empty list elements.
  ExpectRange("Bytes=10-19", 100, 10, 10);
  ExpectRange(" bytes = 10-19 ", 100, 10, 10);
  ExpectRange("bytes=, 10-19 ,", 100, 10, 10);
}

TEST(ParseRangeTest, Unsatisfiable) {
  EXPECT_EQ(ParseRange("bytes=1000-", 1000).kind, Kind::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=1000-2000", 1000).kind, Kind::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=-0", 1000).kind, Kind::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=0-0", 0).kind, Kind::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=99999999999999999999999-", 1000).kind, Kind::kUnsatisfiable);
}

TEST(ParseRangeTest, IgnoredHeaders) {
  for (const char* h :
       {"", "bytes", "bytes=", "bytes=,", "items=0-1", "bytes=a-b", "bytes=5-1", "bytes=1-2-3",
        "bytes=--1", "bytes=-", "bytes=0x10-", "bytes=1 -2", "bytes=0-1,junk"}) {
    EXPECT_EQ(ParseRange(h, 1000).kind, Kind::kNone) << h;
  }
  // A suffix of an empty file: nothing to send but nothing wrong either.
  EXPECT_EQ(ParseRange("bytes=-10", 0).kind, Kind::kNone);
}

TEST(ParseRangeTest, MultipleRanges) {
  EXPECT_EQ(ParseRange("bytes=0-1,5-6", 1000).kind, Kind::kMultiple);
  EXPECT_EQ(ParseRange("bytes=0-1, -5", 1000).kind, Kind::kMultiple);
}

TEST(ContentRangeTest, Formats) {
  EXPECT_EQ(ContentRange(0, 100, 1234), "bytes 0-99/1234");
  EXPECT_EQ(ContentRange(1233, 1, 1234), "bytes 1233-1233/1234");
  EXPECT_EQ(UnsatisfiedContentRange(1234), "bytes */1234");
}

TEST(EtagTest, IfNoneMatchUsesWeakComparison) {
  const std::string etag = "\"abc-1\"";
  EXPECT_TRUE(IfNoneMatchMatches("\"abc-1\"", etag));
  EXPECT_TRUE(IfNoneMatchMatches("W/\"abc-1\"", etag));
  EXPECT_TRUE(IfNoneMatchMatches("\"x\", \"abc-1\"", etag));
  EXPECT_TRUE(IfNoneMatchMatches(" * ", etag));
  EXPECT_FALSE(IfNoneMatchMatches("\"abc-2\"", etag));
  EXPECT_FALSE(IfNoneMatchMatches("abc-1", etag));
  EXPECT_FALSE(IfNoneMatchMatches("", etag));
  EXPECT_FALSE(IfNoneMatchMatches("\"abc-1", etag));
}

TEST(EtagTest, StrongComparison) {
  EXPECT_TRUE(StrongEtagEquals("\"a\"", "\"a\""));
  EXPECT_FALSE(StrongEtagEquals("W/\"a\"", "\"a\""));
  EXPECT_FALSE(StrongEtagEquals("\"a\"", "\"b\""));
  EXPECT_FALSE(StrongEtagEquals("a", "a"));
}

TEST(HttpDateTest, FormatsImfFixdate) {
  EXPECT_EQ(FormatHttpDate(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(FormatHttpDate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
}

TEST(HttpDateTest, ParsesAllThreeForms) {
  // RFC 9110 §5.6.7's own examples.
  EXPECT_EQ(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
  EXPECT_EQ(ParseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
  EXPECT_EQ(ParseHttpDate("Sun Nov  6 08:49:37 1994"), 784111777);
  int64_t now = 1764300000;
  EXPECT_EQ(ParseHttpDate(FormatHttpDate(now)), now);
}

TEST(HttpDateTest, RejectsJunk) {
  for (const char* d : {"", "yesterday", "Sun, 06 Nov 1994 08:49:37 UTC",
                        "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
                        "Sun, 06 Nov 1994 25:49:37 GMT", "Sun, 06 Nov 1994 08:49 GMT",
                        "Caturday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 19x4"}) {
    EXPECT_FALSE(ParseHttpDate(d).has_value()) << d;
  }
}

}  // namespace
}  // namespace paddock::http
