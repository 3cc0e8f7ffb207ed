#include "agent/yaml.h"

#include <gtest/gtest.h>

namespace paddock::agent {
namespace {

Json Parse(const std::string& s) {
  auto r = ParseYaml(s);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
  return r ? *r : Json();
}

// PyYAML SafeLoader (YAML 1.1) resolution, which is what cloud-init sees.
TEST(Yaml, Yaml11PlainScalars) {
  Json j = Parse(
      "a: yes\nb: off\nc: True\nd: ~\ne:\nf: 0644\ng: 0x1f\nh: 1_000\ni: 1:30\nj: 3.5\n"
      "k: y\nl: '0644'\nm: \"yes\"\nn: -12\no: 08\np: 1e3\n");
  EXPECT_EQ(j["a"], true);
  EXPECT_EQ(j["b"], false);
  EXPECT_EQ(j["c"], true);
  EXPECT_TRUE(j["d"].is_null());
  EXPECT_TRUE(j["e"].is_null());
  EXPECT_EQ(j["f"], 420);  // octal
  EXPECT_EQ(j["g"], 31);
  EXPECT_EQ(j["h"], 1000);
  EXPECT_EQ(j["i"], 90);  // sexagesimal
  EXPECT_DOUBLE_EQ(j["j"].get<double>(), 3.5);
  EXPECT_EQ(j["k"], "y");     // not a bool in PyYAML
  EXPECT_EQ(j["l"], "0644");  // quoted stays a string
  EXPECT_EQ(j["m"], "yes");
  EXPECT_EQ(j["n"], -12);
  EXPECT_EQ(j["o"], "08");   // not valid octal: a string, as in PyYAML
  EXPECT_EQ(j["p"], "1e3");  // YAML 1.1 floats need a dot
}

TEST(Yaml, BlockFlowAnchorsAndBinary) {
  Json j = Parse(
      "#cloud-config\n"
      "runcmd:\n  - [ls, -l, /]\n  - echo hi\n"
      "script: |\n  line1\n  line2\n"
      "folded: >\n  a\n  b\n"
      "base: &b {x: 1, y: [1, 2]}\n"
      "copy: *b\n"
      "bin: !!binary aGVsbG8=\n"
      "forced: !!str 0644\n");
  EXPECT_EQ(j["runcmd"][0], Json::array({"ls", "-l", "/"}));
  EXPECT_EQ(j["runcmd"][1], "echo hi");
  EXPECT_EQ(j["script"], "line1\nline2\n");
  EXPECT_EQ(j["folded"], "a b\n");
  EXPECT_EQ(j["copy"], j["base"]);
  EXPECT_EQ(j["copy"]["y"][1], 2);
  EXPECT_EQ(j["bin"], "hello");
  EXPECT_EQ(j["forced"], "0644");
}

TEST(Yaml, ErrorsNameLineAndColumn) {
  auto r = ParseYaml("a: 1\nb: [1, 2\nc: 3\n");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("line "), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("column "), std::string::npos) << r.error().message;
  auto r2 = ParseYaml("ok: 1\n  bad: 2\n");
  ASSERT_FALSE(r2.has_value());
  EXPECT_EQ(r2.error().message.rfind("line 2, column", 0), 0u) << r2.error().message;
}

TEST(Yaml, LimitsStopAliasBombsAndDeepNesting) {
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'j'; ++c) {
    bomb += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; ++i) bomb += std::string(i ? ", *" : "*") + prev;
    bomb += "]\n";
    prev = c;
  }
  auto r = ParseYaml(bomb);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("too large"), std::string::npos);
  std::string deep(200, '[');
  deep += std::string(200, ']');
  EXPECT_FALSE(ParseYaml(deep).has_value());
}

TEST(Yaml, EmptyIsNull) { EXPECT_TRUE(Parse("").is_null()); }

}  // namespace
}  // namespace paddock::agent
