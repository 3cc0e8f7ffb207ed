#include "agent/merge.h"

#include <gtest/gtest.h>

namespace paddock::agent {
namespace {

// Expected values below were produced by cloud-init 22.4.2's own mergers
// (cloudinit.mergers.construct(...).merge(a, b)) on the same inputs.

TEST(Merge, DefaultReplacesTopLevelKeys) {
  Json a = {{"runcmd", {"a"}}, {"x", {{"k", 1}}}};
  Json b = {{"runcmd", {"b"}}, {"x", {{"j", 2}}}};
  Json want = {{"runcmd", {"b"}}, {"x", {{"j", 2}}}};
  EXPECT_EQ(MergeCloudConfigPart(a, b, ""), want);
}

TEST(Merge, ListAppendWithRecursiveDicts) {
  Json a = {{"runcmd", {"a"}}, {"x", {{"k", 1}, {"l", {1}}}}};
  Json b = {{"runcmd", {"b"}}, {"x", {{"j", 2}, {"l", {2}}}}};
  Json got = MergeValues(a, b, ParseMergerString("list(append)+dict(recurse_array)+str()"));
  Json want = {{"runcmd", {"a", "b"}}, {"x", {{"k", 1}, {"l", {1, 2}}, {"j", 2}}}};
  EXPECT_EQ(got, want);
}

TEST(Merge, NoReplaceKeepsOldButListReplacesByIndex) {
  Json a = {{"a", "x"}, {"b", {1, 2, 3}}};
  Json b = {{"a", "y"}, {"b", {9}}};
  Json got = MergeValues(
      a, b, ParseMergerString("dict(no_replace,recurse_list)+list(replace)+str(append)"));
  Json want = {{"a", "x"}, {"b", {9, 2, 3}}};
  EXPECT_EQ(got, want);
}

TEST(Merge, AllowDeleteAndStrAppend) {
  EXPECT_EQ(MergeValues({{"a", "x"}, {"b", "s"}}, {{"a", "y"}, {"b", nullptr}},
                        ParseMergerString("dict(replace,allow_delete)")),
            Json({{"a", "y"}}));
  EXPECT_EQ(MergeValues({{"a", "x"}, {"n", 1}}, {{"a", "y"}, {"n", 2}},
                        ParseMergerString("dict(no_replace,recurse_str)+str(append)")),
            Json({{"a", "xy"}, {"n", 1}}));
  EXPECT_EQ(MergeValues({{"a", "x"}, {"n", 1}}, {{"a", "y"}, {"n", 2}, {"z", 3}},
                        ParseMergerString("dict()")),
            Json({{"a", "x"}, {"n", 1}, {"z", 3}}));
}

TEST(Merge, MergeHowInPartAndHeader) {
  Json base = {{"runcmd", {"one"}}};
  Json part = {{"runcmd", {"two"}},
               {"merge_how",
                Json::array({{{"name", "list"}, {"settings", {"append"}}},
                             {{"name", "dict"}, {"settings", {"no_replace", "recurse_list"}}}})}};
  Json got = MergeCloudConfigPart(base, part, "");
  EXPECT_EQ(got["runcmd"], Json::array({"one", "two"}));
  Json got2 = MergeCloudConfigPart(base, {{"runcmd", {"two"}}},
                                   "list(append)+dict(no_replace,recurse_list)+str()");
  EXPECT_EQ(got2["runcmd"], Json::array({"one", "two"}));
}

TEST(Merge, ParsesStringForm) {
  auto stack = ParseMergerString(" list(append) + dict(no_replace, recurse_list)+str() ");
  ASSERT_EQ(stack.size(), 3u);
  EXPECT_EQ(stack[0].name, "list");
  EXPECT_EQ(stack[0].options, std::vector<std::string>{"append"});
  EXPECT_EQ(stack[1].options, (std::vector<std::string>{"no_replace", "recurse_list"}));
  EXPECT_TRUE(stack[2].options.empty());
  EXPECT_TRUE(ParseMergerString("garbage").empty());
}

}  // namespace
}  // namespace paddock::agent
