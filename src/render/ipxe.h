#pragma once

// iPXE scripts served over HTTP:
//   /boot.ipxe  RenderChainScript: the same for every machine; chains to /ipxe with the
//               machine's iPXE variables in the query string.
//   /ipxe?...   RenderIpxeScript: the machine's own script, from its profile's template (or the
//               built-in one) and a RenderContext; RenderNoProfileScript when no group matches.
// Pure functions; any thread may call them. Nothing here throws.

#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "inventory/inventory.h"

namespace paddock::render {

// Everything a machine's script may depend on.
struct RenderContext {
  inventory::MachineFacts facts;                       // as matched (after Inventory::FactsFor)
  std::string group;                                   // name of the matched group
  nlohmann::json metadata = nlohmann::json::object();  // the group's metadata
  std::string
      server_url;  // base URL of our HTTP server, no trailing slash: "http://198.18.0.1:8080"
  std::string boot_token;  // one-time token for the node agent ("" = none issued)
};

// The built-in iPXE template (mustache), used when a profile has no ipxe_template.
std::string_view DefaultIpxeTemplate();

// The script served at /boot.ipxe. It chains to
//   <server_url>/ipxe?mac=${mac:hexhyp}&uuid=${uuid:uristring}&arch=${buildarch:uristring}
//   &platform=${platform:uristring}&serial=${serial:uristring}&asset=${asset:uristring}
// (iPXE expands the variables; uristring percent-encodes them). A failed chain (server
// unreachable, script failed) is retried twice after 5 s and 10 s; then the script exits with
// failure so the firmware moves on to its next boot device. A chained script that returns
// success (RenderNoProfileScript) ends the chain script without a retry.
std::string RenderChainScript(std::string_view server_url);

// Where a kernel or initrd path of a profile is fetched from: a URL with a scheme
// ("http://...", "https://...", "tftp://...") is kept as is; anything else is a path under the
// assets directory: <server_url>/assets/<path> (leading '/' dropped, unsafe bytes
// percent-encoded).
std::string AssetUrl(std::string_view server_url, std::string_view path);

// The name iPXE gives an image fetched from `path_or_url`: its last path segment without query
// or fragment ("initrd.cpio.gz"). The kernel command line needs "initrd=<name>" on UEFI.
std::string ImageName(std::string_view path_or_url);

// The variables templates see (documented in docs/configuration.md, "Template variables"):
//   mac, mac_hyphen, uuid, arch, hostname, serial, asset, labels{...}  (machine facts,
//   sanitized), group, metadata{...}, profile, kernel (URL), initrds [{url, name}], args,
//   cmdline (the full kernel command line), server_url, token.
nlohmann::json IpxeTemplateVariables(const inventory::Profile& profile,
                                     const RenderContext& context);

// The machine's iPXE script: the profile's ipxe_template (or DefaultIpxeTemplate()) rendered
// with IpxeTemplateVariables. kInvalidArgument when the template does not parse or the output
// does not start with "#!ipxe" (iPXE would not run it as a script).
Result<std::string> RenderIpxeScript(const inventory::Profile& profile,
                                     const RenderContext& context);

// The machine scripts of one group, prepared once per configuration (load and reload): the
// profile's template parsed, and the variables that are the same for every machine of the group
// (group, metadata, profile, kernel, initrds, args, server_url, the start of cmdline) built.
// Render adds only what belongs to the machine (facts, token). Its output is exactly
// RenderIpxeScript's for the same profile, group, metadata, server URL, facts and token.
// Copies share the prepared state; Render may be called from any thread.
class IpxeRenderer {
 public:
  // kInvalidArgument when the template does not parse.
  static Result<IpxeRenderer> Create(const inventory::Profile& profile, std::string_view group,
                                     const nlohmann::json& metadata, std::string_view server_url);

  // `facts` as matched (after Inventory::FactsFor); they are sanitized here. Errors as
  // RenderIpxeScript's.
  Result<std::string> Render(const inventory::MachineFacts& facts,
                             std::string_view boot_token) const;

 private:
  struct Impl;
  explicit IpxeRenderer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// Validates a profile's iPXE template at config load: renders it with a made-up machine
// (every variable set) and applies the checks of RenderIpxeScript.
Status DryRenderIpxeTemplate(const inventory::Profile& profile);

// For a machine that matches no group when there is no default group: prints why on the
// console, waits 10 s so a person can read it, and exits with success so the chain script
// stops and the firmware moves on to its next boot device.
std::string RenderNoProfileScript(const inventory::MachineFacts& facts);

}  // namespace paddock::render
