#include "agent/cmdline.h"

namespace paddock::agent {

std::map<std::string, std::string> ParseCmdlineWords(std::string_view cmdline) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  while (i < cmdline.size()) {
    while (i < cmdline.size() && (cmdline[i] == ' ' || cmdline[i] == '\t' || cmdline[i] == '\n')) {
      ++i;
    }
    if (i >= cmdline.size()) break;
    std::string word;
    bool quoted = false;
    while (i < cmdline.size()) {
      char c = cmdline[i];
      if (c == '"') {
        quoted = !quoted;
      } else if (!quoted && (c == ' ' || c == '\t' || c == '\n')) {
        break;
      } else {
        word += c;
      }
      ++i;
    }
    size_t eq = word.find('=');
    if (eq == std::string::npos) {
      out[word] = "";
    } else {
      out[word.substr(0, eq)] = word.substr(eq + 1);
    }
  }
  return out;
}

Result<ServerUrl> ParseServerUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return InvalidArgument("server URL must start with http://: " + std::string(url));
  }
  std::string_view rest = url.substr(kScheme.size());
  size_t slash = rest.find('/');
  std::string_view hostport = rest.substr(0, slash);
  ServerUrl out;
  if (slash != std::string_view::npos) {
    out.base_path = std::string(rest.substr(slash));
    while (!out.base_path.empty() && out.base_path.back() == '/') out.base_path.pop_back();
  }
  size_t colon = hostport.find(':');
  auto ip = Ipv4Address::Parse(hostport.substr(0, colon));
  if (!ip) return InvalidArgument("server must be an IPv4 address (no DNS): " + std::string(url));
  out.address = *ip;
  if (colon != std::string_view::npos) {
    std::string_view p = hostport.substr(colon + 1);
    if (p.empty() || p.size() > 5) return InvalidArgument("bad port in " + std::string(url));
    uint32_t v = 0;
    for (char c : p) {
      if (c < '0' || c > '9') return InvalidArgument("bad port in " + std::string(url));
      v = v * 10 + (c - '0');
    }
    if (v == 0 || v > 65535) return InvalidArgument("bad port in " + std::string(url));
    out.port = static_cast<uint16_t>(v);
  }
  return out;
}

Result<BootParams> ParseBootParams(std::string_view cmdline) {
  auto words = ParseCmdlineWords(cmdline);
  BootParams p;
  auto server = words.find("paddock.server");
  if (server == words.end()) return InvalidArgument("paddock.server= missing from cmdline");
  auto url = ParseServerUrl(server->second);
  if (!url) return tl::unexpected(url.error());
  p.server = *url;
  auto token = words.find("paddock.token");
  if (token == words.end() || token->second.empty()) {
    return InvalidArgument("paddock.token= missing from cmdline");
  }
  p.token = token->second;
  auto mac = words.find("paddock.mac");
  if (mac == words.end()) return InvalidArgument("paddock.mac= missing from cmdline");
  auto m = MacAddress::Parse(mac->second);
  if (!m) return InvalidArgument("bad paddock.mac: " + mac->second);
  p.mac = *m;
  return p;
}

}  // namespace paddock::agent
