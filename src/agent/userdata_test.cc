#include "agent/userdata.h"

#include <gtest/gtest.h>

#include "agent/codec.h"

namespace paddock::agent {
namespace {

constexpr const char* kMultipart =
    "Content-Type: multipart/mixed; boundary=\"===============BOUND==\"\r\n"
    "MIME-Version: 1.0\r\n"
    "\r\n"
    "preamble is ignored\r\n"
    "--===============BOUND==\r\n"
    "Content-Type: text/cloud-config; charset=\"us-ascii\"\r\n"
    "Content-Disposition: attachment; filename=\"base.yaml\"\r\n"
    "\r\n"
    "#cloud-config\r\n"
    "hostname: first\r\n"
    "runcmd: [one]\r\n"
    "--===============BOUND==\r\n"
    "Content-Type: text/x-shellscript\r\n"
    "Content-Disposition: attachment; filename=\"setup.sh\"\r\n"
    "\r\n"
    "#!/bin/sh\r\n"
    "echo from script\r\n"
    "--===============BOUND==\r\n"
    "Content-Type: text/cloud-config\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "I2Nsb3VkLWNvbmZpZwpydW5jbWQ6IFt0d29dCnRpbWV6b25lOiBVVEMK\r\n"
    "--===============BOUND==\r\n"
    "Content-Type: text/cloud-boothook\r\n"
    "\r\n"
    "#cloud-boothook\r\n"
    "echo early\r\n"
    "--===============BOUND==--\r\n"
    "epilogue\r\n";

TEST(Mime, SplitsPartsAndDecodesBase64) {
  auto parts = ParseMime(kMultipart, {});
  ASSERT_TRUE(parts.has_value()) << parts.error().message;
  ASSERT_EQ(parts->size(), 4u);
  EXPECT_EQ((*parts)[0].content_type, "text/cloud-config");
  EXPECT_EQ((*parts)[0].filename, "base.yaml");
  EXPECT_EQ((*parts)[0].body, "#cloud-config\r\nhostname: first\r\nruncmd: [one]");
  EXPECT_EQ((*parts)[1].filename, "setup.sh");
  EXPECT_EQ((*parts)[2].body, "#cloud-config\nruncmd: [two]\ntimezone: UTC\n");
  EXPECT_EQ((*parts)[3].content_type, "text/cloud-boothook");
}

TEST(UserData, MultipartMergesWithDefaultSemantics) {
  UserData ud = ParseUserData(kMultipart);
  EXPECT_TRUE(ud.errors.empty());
  EXPECT_EQ(ud.cloud_config_parts, 2);
  EXPECT_EQ(ud.cloud_config["hostname"], "first");
  // Default merge: the second part's runcmd replaces the first's.
  EXPECT_EQ(ud.cloud_config["runcmd"], Json::array({"two"}));
  EXPECT_EQ(ud.cloud_config["timezone"], "UTC");
  ASSERT_EQ(ud.scripts.size(), 1u);
  EXPECT_EQ(ud.scripts[0].name, "setup.sh");
  EXPECT_EQ(ud.scripts[0].content.rfind("#!/bin/sh", 0), 0u);
  ASSERT_EQ(ud.boothooks.size(), 1u);
}

TEST(UserData, MergeTypeHeaderAppends) {
  std::string msg =
      "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=XX\n\n"
      "--XX\nContent-Type: text/cloud-config\n\n#cloud-config\nruncmd: [a]\n"
      "--XX\nContent-Type: text/cloud-config\nMerge-Type: list(append)+dict(recurse_array)+str()\n"
      "\n#cloud-config\nruncmd: [b]\n--XX--\n";
  UserData ud = ParseUserData(msg);
  EXPECT_EQ(ud.cloud_config["runcmd"], Json::array({"a", "b"}));
}

TEST(UserData, InvalidYamlPartIsDroppedWithLineAndColumn) {
  std::string msg =
      "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=XX\n\n"
      "--XX\nContent-Type: text/cloud-config\nContent-Disposition: attachment; filename=bad.yaml\n"
      "\n#cloud-config\nhostname: a\n  broken: [\n"
      "--XX\nContent-Type: text/cloud-config\n\n#cloud-config\ntimezone: UTC\n--XX--\n";
  UserData ud = ParseUserData(msg);
  ASSERT_EQ(ud.errors.size(), 1u);
  EXPECT_NE(ud.errors[0].find("bad.yaml"), std::string::npos);
  EXPECT_NE(ud.errors[0].find("line 3"), std::string::npos) << ud.errors[0];
  EXPECT_FALSE(ud.cloud_config.contains("hostname"));
  EXPECT_EQ(ud.cloud_config["timezone"], "UTC");
}

TEST(UserData, SingleDocumentsByFirstLine) {
  UserData cc = ParseUserData("#cloud-config\nhostname: n1\n");
  EXPECT_EQ(cc.cloud_config["hostname"], "n1");
  UserData sh = ParseUserData("#!/bin/bash\necho hi\n");
  ASSERT_EQ(sh.scripts.size(), 1u);
  EXPECT_EQ(sh.scripts[0].name, "part-001");
  UserData inc = ParseUserData("#include\nhttp://example.invalid/x\n");
  EXPECT_EQ(inc.warnings.size(), 1u);
  UserData list = ParseUserData("#cloud-config\n- a\n- b\n");
  EXPECT_EQ(list.errors.size(), 1u);
  UserData empty = ParseUserData("");
  EXPECT_TRUE(empty.errors.empty());
  EXPECT_TRUE(empty.warnings.empty());
}

TEST(UserData, GzipCompressed) {
  // gzip of "#cloud-config\nhostname: gz\n" (python3 gzip.compress, mtime=0).
  auto gz = Base64Decode("H4sIAAAAAAACA1NOzskvTdFNzs9Ly0znysgvLslLzE21Ukiv4gIAadGHBRsAAAA=");
  ASSERT_TRUE(gz.has_value());
  UserData ud = ParseUserData(*gz);
  EXPECT_TRUE(ud.errors.empty()) << (ud.errors.empty() ? "" : ud.errors[0]);
  EXPECT_EQ(ud.cloud_config["hostname"], "gz");
}

TEST(UserData, MultipartWithoutBoundaryIsAnError) {
  UserData ud = ParseUserData("MIME-Version: 1.0\nContent-Type: multipart/mixed\n\nbody\n");
  EXPECT_EQ(ud.errors.size(), 1u);
}

}  // namespace
}  // namespace paddock::agent
