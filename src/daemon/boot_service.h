#pragma once

// BootService: the HTTP side of the boot path, registered on the daemon's http::Router.
//
//   GET /boot.ipxe        the chain script (same for every machine); iPXE gets its URL by DHCP
//   GET /ipxe?mac=&uuid=&arch=&platform=&serial=&asset=
//                         the machine's own script: inventory match -> profile -> rendered
//                         with a fresh one-time boot token (stored hashed); unknown machines
//                         are recorded (discovery) and get the default group or a script
//                         that says no group matched
//   GET /assets/<path>    kernels and initrds (Range, ETag, sendfile) from http.assets
//   GET /tftp/<path>      the TFTP root over HTTP (UEFI HTTP Boot fetches iPXE from here)
//   GET /node/booted?mac=&token=&uptime=
//                         the test image's "I am up" report: a node.booted timeline event
//   GET /healthz          "ok"
//
// Every finished HTTP response also becomes an "http.request" timeline event for the machine
// (by the mac query parameter, else by the MacResolver on the peer address): OnAccess.
//
// Threading: handlers run on the io thread; SetConfig may be called from any thread (reload)
// and takes effect for the next request.
//
// Cost per /ipxe request (docs/architecture.md, "Performance notes"): SetConfig parses every
// group's template once and prebuilds the variables shared by the group's machines
// (render::IpxeRenderer); a request builds only the machine's variables. The boot token is
// handed to the store at once (store::Store::QueueToken: the agent can redeem it immediately)
// and written with the machine record and the timeline events in the event recorder's next
// batch (one fsynced transaction for everything queued meanwhile); the script does not wait
// for that fsync. A crash in those few milliseconds loses the token (the machine must boot
// again).

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
  BootService(EventRecorder* recorder, MacResolver resolver);

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
  MacResolver resolver_;
  mutable std::mutex mu_;
  std::shared_ptr<const Prepared> prepared_;
};

}  // namespace paddock::daemon
