#pragma once

// Node-side containerd configuration that points image pulls at paddock's cache
// (containerd docs/hosts.md, containerd >= 1.5; needs `config_path = "/etc/containerd/certs.d"`
// under the CRI registry plugin, which Debian's containerd 1.6 honours; ctr takes --hosts-dir).
//
// For each registry namespace ("docker.io", "ghcr.io", "_default") a node gets
// /etc/containerd/certs.d/<namespace>/hosts.toml:
//
//   server = "https://registry-1.docker.io"        # the upstream, tried when the mirror fails
//   [host."http://198.18.0.1:5000"]
//     capabilities = ["pull", "resolve"]
//
// containerd tries the hosts in order and then `server`. When it sends a request to a mirror
// host it appends `?ns=<namespace>` (e.g. `?ns=docker.io`), which is how paddock's cache picks
// the upstream. With `fallback_to_upstream = false` the server line names the mirror itself,
// so nodes never reach the internet directly (air-gapped rooms).
//
// Pure functions; thread-safe.

#include <string>
#include <string_view>
#include <vector>

namespace paddock::registry {

struct HostsTomlOptions {
  std::string mirror_url;  // "http://198.18.0.1:5000" (scheme, host, port; no path)
  bool fallback_to_upstream = true;
  bool skip_verify = false;  // for an https mirror with a self-signed certificate
};

// The upstream server URL containerd uses for a namespace: docker.io -> registry-1.docker.io,
// "host:port" -> https://host:port, "_default" -> "" (no server line).
std::string UpstreamServerFor(std::string_view ns);

// The text of hosts.toml for one namespace.
std::string RenderHostsToml(std::string_view ns, const HostsTomlOptions& options);

struct RenderedFile {
  std::string path;  // absolute path on the node
  std::string content;
};

// hosts.toml files for every namespace given plus "_default" (so images from registries not
// listed also go through the cache), under certs_dir (default /etc/containerd/certs.d).
// containerd's directory name for "host:port" is "host:port" (it also accepts
// "host_port_"); we use the former.
std::vector<RenderedFile> RenderContainerdHosts(
    const std::vector<std::string>& namespaces, const HostsTomlOptions& options,
    std::string_view certs_dir = "/etc/containerd/certs.d");

}  // namespace paddock::registry
