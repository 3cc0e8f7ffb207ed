#include "render/template.h"

#include <gtest/gtest.h>

namespace paddock::render {
namespace {

TEST(RenderTemplate, NoHtmlEscapingAndJsonTypes) {
  nlohmann::json v = {{"s", "<a&b>"}, {"n", 2.5},           {"t", true},          {"f", false},
                      {"z", nullptr}, {"list", {"x", "y"}}, {"obj", {{"k", "v"}}}};
  auto out = RenderTemplate(
      "{{s}}|{{{s}}}|{{n}}|{{t}}{{#t}}T{{/t}}|{{#f}}F{{/f}}{{^f}}notF{{/f}}|{{z}}{{^z}}noZ{{/z}}|"
      "{{#list}}{{.}},{{/list}}|{{obj.k}}|{{missing}}",
      v);
  ASSERT_TRUE(out) << out.error().ToString();
  EXPECT_EQ(*out, "<a&b>|<a&b>|2.5|T|notF|noZ|x,y,|v|");
}

TEST(RenderTemplate, SyntaxErrors) {
  EXPECT_FALSE(CheckTemplateSyntax("{{#a}}"));
  EXPECT_FALSE(CheckTemplateSyntax("{{/a}}"));
  EXPECT_FALSE(CheckTemplateSyntax("{{#a}}{{/b}}"));
  EXPECT_FALSE(CheckTemplateSyntax("{{a"));
  EXPECT_TRUE(CheckTemplateSyntax("plain {{a}} {{#b}}{{/b}}"));
  EXPECT_FALSE(RenderTemplate("{{#a}}", nlohmann::json::object()));
  EXPECT_FALSE(CheckTemplateSyntax(std::string(kMaxTemplateBytes + 1, 'x')));
}

std::string Nested(int depth, std::string_view open = "{{#a}}", std::string_view close = "{{/a}}") {
  std::string t;
  for (int i = 0; i < depth; ++i) t += open;
  for (int i = 0; i < depth; ++i) t += close;
  return t;
}

TEST(RenderTemplate, DeepNestingRejectedQuickly) {
  EXPECT_TRUE(CheckTemplateSyntax(Nested(kMaxSectionDepth)));
  auto ok = RenderTemplate(Nested(kMaxSectionDepth), {{"a", true}});
  EXPECT_TRUE(ok);
  // 20,000 levels would take minutes and overflow the stack inside the engine.
  auto deep = CheckTemplateSyntax(Nested(20000));
  ASSERT_FALSE(deep);
  EXPECT_EQ(deep.error().message, "template sections nested deeper than 32 levels");
  EXPECT_FALSE(CheckTemplateSyntax(Nested(kMaxSectionDepth + 1, "{{^a}}")));
  // Changing delimiters does not hide nesting.
  EXPECT_FALSE(CheckTemplateSyntax("{{=<% %>=}}" + Nested(100, "<%#a%>", "<%/a%>")));
  EXPECT_FALSE(CheckTemplateSyntax("{{= | | =}}" + Nested(100, "|#a|", "|/a|")));
}

TEST(SanitizeMachineString, ReplacesControlAndNonAscii) {
  EXPECT_EQ(SanitizeMachineString("a b\r\n\t\x7f\xc3\xa9z"), "a b______z");
}

}  // namespace
}  // namespace paddock::render
