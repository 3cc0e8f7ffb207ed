#include "registry/containerd.h"

#include <gtest/gtest.h>

namespace paddock::registry {
namespace {

TEST(ContainerdTest, DockerHubPointsAtMirrorWithUpstreamFallback) {
  std::string t = RenderHostsToml("docker.io", {"http://198.18.0.1:5000", true, false});
  EXPECT_NE(t.find("server = \"https://registry-1.docker.io\"\n"), std::string::npos) << t;
  EXPECT_NE(t.find("[host.\"http://198.18.0.1:5000\"]\n  capabilities = [\"pull\", \"resolve\"]"),
            std::string::npos)
      << t;
  EXPECT_EQ(t.find("skip_verify"), std::string::npos);
}

TEST(ContainerdTest, AirGappedUsesMirrorAsServer) {
  std::string t = RenderHostsToml("ghcr.io", {"http://198.18.0.1:5000", false, true});
  EXPECT_NE(t.find("server = \"http://198.18.0.1:5000\""), std::string::npos) << t;
  EXPECT_EQ(t.find("ghcr.io"), std::string::npos);
  EXPECT_NE(t.find("skip_verify = true"), std::string::npos);
}

TEST(ContainerdTest, RendersDefaultAndSkipsBadNamespaces) {
  auto files = RenderContainerdHosts({"docker.io", "quay.io:8443", "../etc", ""},
                                     {"http://m:5000", true, false});
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0].path, "/etc/containerd/certs.d/docker.io/hosts.toml");
  EXPECT_EQ(files[1].path, "/etc/containerd/certs.d/quay.io:8443/hosts.toml");
  EXPECT_NE(files[1].content.find("https://quay.io:8443"), std::string::npos);
  EXPECT_EQ(files[2].path, "/etc/containerd/certs.d/_default/hosts.toml");
  EXPECT_EQ(files[2].content.find("server ="), std::string::npos);
}

TEST(ContainerdTest, TomlStringsAreEscaped) {
  std::string t = RenderHostsToml("_default", {"http://a\"b\\c", true, false});
  EXPECT_NE(t.find("[host.\"http://a\\\"b\\\\c\"]"), std::string::npos) << t;
}

}  // namespace
}  // namespace paddock::registry
