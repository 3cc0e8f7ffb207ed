#include "registry/containerd.h"

namespace paddock::registry {
namespace {

// TOML basic strings (toml.io v1.0.0 "String"): escape backslash, quote and control bytes.
std::string TomlString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out += "\\u00";
      out.push_back(kHex[(c >> 4) & 0xf]);
      out.push_back(kHex[c & 0xf]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace

std::string UpstreamServerFor(std::string_view ns) {
  if (ns == "_default" || ns.empty()) return "";
  // containerd special-cases docker.io the same way (remotes/docker/config/hosts.go).
  if (ns == "docker.io") return "https://registry-1.docker.io";
  return "https://" + std::string(ns);
}

std::string RenderHostsToml(std::string_view ns, const HostsTomlOptions& options) {
  std::string out = "# Rendered by paddock: pulls go through the room's image cache.\n";
  std::string server = options.fallback_to_upstream ? UpstreamServerFor(ns) : options.mirror_url;
  if (!server.empty()) out += "server = " + TomlString(server) + "\n";
  out += "\n[host." + TomlString(options.mirror_url) + "]\n";
  out += "  capabilities = [\"pull\", \"resolve\"]\n";
  if (options.skip_verify) out += "  skip_verify = true\n";
  return out;
}

std::vector<RenderedFile> RenderContainerdHosts(const std::vector<std::string>& namespaces,
                                                const HostsTomlOptions& options,
                                                std::string_view certs_dir) {
  std::vector<RenderedFile> out;
  bool have_default = false;
  auto add = [&](const std::string& ns) {
    out.push_back(
        {std::string(certs_dir) + "/" + ns + "/hosts.toml", RenderHostsToml(ns, options)});
  };
  for (const auto& ns : namespaces) {
    // A namespace is a host[:port]; anything with a path separator would escape certs_dir.
    if (ns.empty() || ns.find('/') != std::string::npos || ns == "." || ns == "..") continue;
    if (ns == "_default") have_default = true;
    add(ns);
  }
  if (!have_default) add("_default");
  return out;
}

}  // namespace paddock::registry
