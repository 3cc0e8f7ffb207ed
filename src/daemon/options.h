#pragma once

// Translates the validated config into each server's own options. Pure functions: the daemon
// calls them at start and on every reload, and tests check the mapping.

#include <map>
#include <string>
#include <vector>

#include "config/config.h"
#include "daemon/boot_service.h"
#include "dhcp/server_options.h"
#include "http/server.h"
#include "registry/containerd.h"
#include "tftp/server.h"

namespace paddock::daemon {

dhcp::ServerOptions DhcpOptionsFrom(const config::Config& config);
tftp::ServerOptions TftpOptionsFrom(const config::Config& config);
http::ServerOptions HttpOptionsFrom(const config::Config& config);
BootServiceConfig BootServiceConfigFrom(const config::Config& config);

// The `boot:` files as served names -> resolved absolute paths, for those that exist under
// tftp.root. They may be symlinks out of the root (Debian's ipxe.efi -> /boot/ipxe.efi): the
// operator named them, so TFTP and /tftp/ serve exactly these names from their targets.
std::map<std::string, std::string> PinnedBootFiles(const config::Config& config);

// The URL nodes reach paddock's registry cache at: it is served by the boot HTTP server under
// /v2/, so this is the server URL ("http://<server.address>:<http.port>"); "" when
// registry.enabled is false.
std::string RegistryMirrorUrl(const config::Config& config);

// The /etc/containerd/certs.d/<ns>/hosts.toml files (registry::RenderContainerdHosts) that point
// a node's containerd at RegistryMirrorUrl(); empty when the registry is disabled.
std::vector<registry::RenderedFile> ContainerdHostsFiles(const config::Config& config);

// <data_dir>/paddock.db
std::string DatabasePath(const config::Config& config);

}  // namespace paddock::daemon
