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

TEST(SanitizeMachineString, ReplacesControlAndNonAscii) {
  EXPECT_EQ(SanitizeMachineString("a b\r\n\t\x7f\xc3\xa9z"), "a b______z");
}

}  // namespace
}  // namespace paddock::render
