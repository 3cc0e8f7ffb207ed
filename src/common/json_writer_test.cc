#include "common/json_writer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace paddock {
namespace {

std::string Dumped(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

TEST(FlatJsonWriterTest, WritesWhatNlohmannWrites) {
  FlatJsonWriter w;
  std::string text = w.String("a", "plain")
                         .Int("b", -42)
                         .Bool("c", true)
                         .Bool("d", false)
                         .Ip("e", Ipv4Address(0xc6120a01))
                         .Raw("f", R"({"x":1})")
                         .Finish();
  EXPECT_EQ(text, R"({"a":"plain","b":-42,"c":true,"d":false,"e":"198.18.10.1","f":{"x":1}})");
  EXPECT_EQ(nlohmann::json::parse(text)["e"], "198.18.10.1");
  EXPECT_EQ(w.Finish(), "{}");  // reusable, empty again
  EXPECT_EQ(w.Merge(R"({"g":"x","h":2})").Int("i", 3).Merge("{}").Finish(),
            R"({"g":"x","h":2,"i":3})");
  EXPECT_EQ(w.Int("i", 3).Merge(R"({"g":"x"})").Finish(), R"({"i":3,"g":"x"})");
}

// Strings from the network: quotes, backslashes, control characters, UTF-8 and invalid bytes
// come out exactly as nlohmann escapes them, and always parse.
TEST(FlatJsonWriterTest, EscapesLikeNlohmann) {
  const std::string cases[] = {
      "",
      "say \"hi\"",
      "back\\slash",
      "tab\tnew\nline",
      std::string("nul\0x", 5),
      "caf\xc3\xa9",
      "bad \xff\xfe utf8",
      "\x7f del",
      "/ipxe?mac=52-54-00",
  };
  for (const std::string& v : cases) {
    std::string out;
    AppendJsonString(out, v);
    EXPECT_EQ(out, Dumped(nlohmann::json(v))) << v;
    EXPECT_NO_THROW(nlohmann::json::parse(FlatJsonWriter().String("k", v).Finish())) << v;
  }
}

TEST(FlatJsonWriterTest, AddressesFormatWithoutPrintf) {
  EXPECT_EQ(Ipv4Address(0).ToString(), "0.0.0.0");
  EXPECT_EQ(Ipv4Address(0xffffffff).ToString(), "255.255.255.255");
  EXPECT_EQ(Ipv4Address(0x0a00640b).ToString(), "10.0.100.11");
  auto mac = MacAddress::Parse("0A:1b:00:ff:09:a0");
  ASSERT_TRUE(mac);
  EXPECT_EQ(mac->ToString(), "0a:1b:00:ff:09:a0");
  EXPECT_EQ(mac->ToHyphenString(), "0a-1b-00-ff-09-a0");
}

}  // namespace
}  // namespace paddock
