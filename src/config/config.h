#pragma once

// paddock.yaml as typed, validated structs. The reference for every key, its type, default and
// meaning is docs/configuration.md; examples/paddock.yaml shows them all.
//
// Loading is all-or-nothing: LoadConfigFile/ParseConfig either return a complete Config whose
// cross-field checks all passed, or the list of EVERY error found (each with file, line,
// column and key path), never a partial Config. Reload (SIGHUP) is therefore: build a new
// Config with LoadConfigFile; if it has errors, log them and keep the old one; else swap.
//
// Defaults live in one place: the member initializers below. A key absent from the file keeps
// its default. After loading, every relative path (server.data_dir, tftp.root, http.assets,
// template files) is absolute, resolved against the config file's directory.
//
// The functions are pure apart from reading the config file and the template files it names;
// any thread may call them. This header does not include yaml-cpp: YAML exceptions are caught
// inside config/ and become ConfigErrors.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "boot/policy.h"
#include "common/net.h"
#include "inventory/inventory.h"

namespace paddock::config {

enum class LogFormat { kText, kJson };

struct ServerConfig {
  Ipv4Address address;                        // required: our IPv4 on the boot network
  std::string interface;                      // "" = all interfaces
  std::string data_dir = "/var/lib/paddock";  // SQLite store; absolute after loading
  std::string log_level = "info";             // trace, debug, info, warn, error
  LogFormat log_format = LogFormat::kText;
};

enum class DhcpMode { kFull, kProxy, kOff };

struct DhcpRange {
  Ipv4Address start;  // start <= end, both inside server.address/netmask
  Ipv4Address end;
};

struct Reservation {
  MacAddress mac;
  Ipv4Address ip;
  std::string hostname;  // "" = none (option 12 not sent)
};

struct DhcpConfig {
  DhcpMode mode = DhcpMode::kFull;
  // Required in full mode (and then always set); parsed but not checked in proxy/off mode.
  std::optional<DhcpRange> range;
  std::optional<Ipv4Address> netmask;
  std::optional<Ipv4Address> router;  // option 3
  std::vector<Ipv4Address> dns;       // option 6
  std::string domain;                 // option 15
  std::chrono::seconds lease_time{3600};
  std::chrono::seconds decline_quarantine{600};
  bool router_advertisement = true;       // one IPv6 RA (lifetime 0) so iPXE skips its IPv6 wait
  std::vector<Reservation> reservations;  // unique MACs and IPs
  uint16_t port = 67;                     // DHCP server port (tests use others)
  uint16_t proxy_port = 4011;             // PXE boot server port (proxyDHCP)
};

struct TftpConfig {
  bool enabled = true;
  std::string root = "/usr/lib/ipxe";  // read-only root; absolute after loading
  uint16_t port = 69;
  uint32_t max_blksize = 0;         // 0 = derived from the interface MTU; else 8..65464 (RFC 2348)
  uint32_t max_windowsize = 64;     // 1..65535 (RFC 7440)
  std::chrono::seconds timeout{1};  // retransmission timeout, 1..255 s (RFC 2349)
  uint32_t retries = 5;             // 1..100
};

struct HttpConfig {
  Ipv4Address address;  // 0.0.0.0 = all
  uint16_t port = 8080;
  // Served at /assets/... . "" (the default) means <server.data_dir>/assets; always absolute
  // after loading.
  std::string assets;
};

// The OCI pull-through cache (issue 4), served under /v2/ on the boot HTTP server.
struct RegistryUpstream {
  std::string name;           // namespace containerd sends as ?ns= ("docker.io", "ghcr.io")
  std::string url;            // API root without /v2 ("https://registry-1.docker.io")
  std::string username;       // "" = anonymous
  std::string password_file;  // absolute after loading; read when the daemon starts
};

struct RegistryConfig {
  bool enabled = true;
  std::string cache_dir;  // "" = <server.data_dir>/registry; absolute after loading
  uint64_t max_size = 0;  // bytes; 0 = unbounded (LRU eviction above it)
  std::chrono::seconds tag_ttl{300};
  std::string default_namespace = "docker.io";  // requests without ?ns=
  bool allow_unlisted = true;                   // ?ns=<host> not configured below -> https://<host>
  std::string proxy;                            // HTTP proxy for the upstream side ("" = none)
  std::chrono::seconds connect_timeout{10};
  std::chrono::seconds stall_timeout{30};
  std::vector<RegistryUpstream> upstreams;
  // What the node configs paddock renders point containerd at (docs/registry.md "Nodes"):
  // one /etc/containerd/certs.d/<ns>/hosts.toml per namespace, plus _default.
  std::vector<std::string> node_namespaces = {"docker.io", "ghcr.io", "quay.io", "registry.k8s.io"};
  bool node_fallback_to_upstream = true;  // false: nodes never go past the cache
};

struct Config {
  std::string source;    // the file name as given to LoadConfigFile / ParseConfig
  std::string base_dir;  // absolute directory relative paths were resolved against
  ServerConfig server;
  DhcpConfig dhcp;
  TftpConfig tftp;
  HttpConfig http;
  boot::BootFiles boot;  // iPXE binary per firmware family, relative to tftp.root
  RegistryConfig registry;
  // Profiles (ipxe_template holds the file's text, ipxe_template_path its absolute path;
  // `templates` paths are absolute), groups and machines; Validate() is empty.
  inventory::Inventory inventory;

  // Base URL of our HTTP server as machines reach it: "http://<server.address>:<http.port>".
  std::string ServerUrl() const;
};

struct ConfigError {
  std::string file;      // as given
  int line = 0;          // 1-based; 0 = not tied to a position (e.g. unreadable file)
  int column = 0;        // 1-based
  std::string key_path;  // "dhcp.range.start", "groups[1].selectors.arch"; "" = the document
  std::string message;

  // "paddock.yaml:12:5: dhcp.range.start: not an IPv4 address: \"198.18.0.300\""
  std::string ToString() const;
};

using ConfigResult = tl::expected<Config, std::vector<ConfigError>>;

// Reads and parses `path` (relative paths in it resolve against its directory).
ConfigResult LoadConfigFile(const std::string& path);

// Parses YAML `text` as if read from `filename` (used in messages and to resolve relative
// paths; "" = the current directory). Never throws, whatever the bytes.
ConfigResult ParseConfig(std::string_view text, std::string_view filename);

// One error per line, each ToString(), in order.
std::string FormatErrors(const std::vector<ConfigError>& errors);

// "90s", "10m", "1h", "1d" or plain seconds ("3600"). nullopt for anything else (negative,
// overflow, other units).
std::optional<std::chrono::seconds> ParseDuration(std::string_view text);

const char* DhcpModeName(DhcpMode mode);

// "50GiB", "500MiB", "2G", "10M", "64K" (binary multiples, optional "iB"/"B") or plain bytes.
// nullopt for anything else.
std::optional<uint64_t> ParseSize(std::string_view text);

}  // namespace paddock::config
