#pragma once

// Kernel command line parsing for boot mode. The server renders, into the iPXE script, a line
// such as
//   ... paddock.server=http://198.18.0.1:8080 paddock.token=T paddock.mac=52:54:00:12:34:56
// Words are separated by spaces; a value may be double-quoted (the kernel's own rule,
// Documentation/admin-guide/kernel-parameters.rst). The server must be an IPv4 address: the
// static agent does no DNS. Pure and thread-safe.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/net.h"
#include "common/result.h"

namespace paddock::agent {

// All key=value words (and bare words with an empty value); later duplicates win.
std::map<std::string, std::string> ParseCmdlineWords(std::string_view cmdline);

struct ServerUrl {
  Ipv4Address address;
  uint16_t port = 80;
  std::string base_path;  // "" or "/prefix" (no trailing slash)
};
// "http://IP[:PORT][/prefix]"; https and host names are refused.
Result<ServerUrl> ParseServerUrl(std::string_view url);

struct BootParams {
  ServerUrl server;
  std::string token;
  MacAddress mac;
};
Result<BootParams> ParseBootParams(std::string_view cmdline);

}  // namespace paddock::agent
