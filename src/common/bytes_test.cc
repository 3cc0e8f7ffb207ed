#include "common/bytes.h"

#include <gtest/gtest.h>

namespace paddock {
namespace {

TEST(ByteReaderTest, ReadsBigEndianAndStopsAtEnd) {
  const uint8_t data[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};
  ByteReader r(data);
  uint8_t a;
  uint16_t b;
  uint32_t c;
  ASSERT_TRUE(r.ReadU8(&a));
  ASSERT_TRUE(r.ReadU16(&b));
  ASSERT_TRUE(r.ReadU32(&c));
  EXPECT_EQ(a, 0x01);
  EXPECT_EQ(b, 0x0203);
  EXPECT_EQ(c, 0x04050607u);
  EXPECT_TRUE(r.empty());
  EXPECT_FALSE(r.ReadU8(&a));
  EXPECT_EQ(a, 0x01);  // untouched on failure
}

TEST(ByteReaderTest, SpanPastEndFails) {
  const uint8_t data[] = {1, 2, 3};
  ByteReader r(data);
  ByteSpan s;
  EXPECT_FALSE(r.ReadSpan(4, &s));
  EXPECT_TRUE(r.ReadSpan(3, &s));
  EXPECT_EQ(s.size(), 3u);
}

TEST(ByteWriterTest, WritesAndPatches) {
  ByteWriter w;
  w.WriteU16(0);
  w.WriteU32(0xdeadbeef);
  w.PatchU16(0, 0x1234);
  EXPECT_EQ(HexEncode(w.bytes()), "1234deadbeef");
}

}  // namespace
}  // namespace paddock
