#pragma once

// BootService: the HTTP side of the boot path, registered on the daemon's http::Router.
//
//   GET /boot.ipxe        the chain script (same for every machine); iPXE gets its URL by DHCP
//   GET /ipxe?mac=&uuid=&arch=&platform=&serial=&asset=
//                         the machine's own script: inventory match -> profile -> rendered
//                         with a fresh one-time boot token (daemon/tokens.h); unknown machines
//                         are recorded (discovery) and get the default group or a script
//                         that says no group matched
//   GET /assets/<path>    kernels and initrds (Range, ETag, sendfile) from http.assets
//   GET /tftp/<path>      the TFTP root over HTTP (UEFI HTTP Boot fetches iPXE from here)
//   GET /node/booted?mac=&token=&uptime=
//                         the test image's "I am up" report: a node.booted timeline event
//   GET /healthz          "ok"
//
// Every finished HTTP response also becomes one timeline event for the machine (by the mac
// query parameter, else by the MacResolver on the peer address): OnAccess. It is an
// "http.request" event, or the phase the handler labelled the response with
// (http::Response::access_label: "boot.script", "boot.unmatched", "node.booted"), carrying the
// handler's facts and the HTTP ones (path, status, bytes, duration).
//
// Threading: handlers run on the io thread; SetConfig may be called from any thread (reload)
// and takes effect for the next request.
//
// Cost per /ipxe request (docs/architecture.md, "Performance notes"): SetConfig parses every
// group's template once and prebuilds the variables shared by the group's machines
// (render::IpxeRenderer); a request builds only the machine's variables. The boot token is
// signed, not stored (daemon/tokens.h), so a script costs one timeline event and a machine
// record update in the event recorder's next batch, and waits for no disk write.

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/event.h"
#include "inventory/inventory.h"

namespace paddock::http {
class Router;
struct AccessRecord;
}  // namespace paddock::http

namespace paddock::daemon {

class BootTokenSigner;
class EventRecorder;

struct BootServiceConfig {
  std::string server_url;                           // "http://198.18.0.1:8080"
  std::string assets_dir;                           // absolute
  std::string tftp_root;                            // absolute
  std::map<std::string, std::string> pinned_files;  // see PinnedBootFiles (options.h)
  int64_t token_lifetime_seconds = 3600;
  inventory::Inventory inventory;
};

class BootService {
 public:
  // `recorder` must outlive the service.
  // `signer` must outlive the service.
  BootService(EventRecorder* recorder, const BootTokenSigner* signer, MacResolver resolver);

  // Prepares the scripts of every group (templates parsed once). A template that does not
  // parse (config validation rejects it first) makes its group's requests fail with 500.
  void SetConfig(std::shared_ptr<const BootServiceConfig> config);
  void Register(http::Router& router);
  void OnAccess(const http::AccessRecord& record);

 public:
  // The config plus what SetConfig derived from it (defined in boot_service.cc; named here so
  // that file's helpers can take it).
  struct Prepared;

 private:
  std::shared_ptr<const Prepared> prepared() const;
  std::shared_ptr<const BootServiceConfig> config() const;

  EventRecorder* recorder_;
  const BootTokenSigner* signer_;
  MacResolver resolver_;
  mutable std::mutex mu_;
  std::shared_ptr<const Prepared> prepared_;
};

}  // namespace paddock::daemon
