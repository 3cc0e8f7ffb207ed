#pragma once

// Daemon: `paddock serve`. Owns the store, the event recorder and the protocol servers, runs
// them on one io_context thread, and handles signals:
//   SIGTERM, SIGINT  stop: close sockets, flush the timeline, exit 0
//   SIGHUP           reload: load the config file again; if it has errors, log every one and
//                    keep running on the old config; else apply it to every server. Changes of
//                    listen addresses/ports, the interface, the DHCP mode or the data dir need a
//                    restart and are logged as such.

#include <memory>
#include <string>

#include "common/result.h"
#include "config/config.h"

namespace paddock::daemon {

class Daemon {
 public:
  // Opens the store (creating data_dir if needed). Sockets are bound by Run().
  static Result<std::unique_ptr<Daemon>> Create(config::Config config);
  ~Daemon();

  // Binds every server and serves until a stop signal (or Stop()). Returns the exit code: 0 on
  // a clean stop, 1 if a server could not start (the reason is logged).
  int Run();
  // Asks Run() to return. Thread-safe.
  void Stop();

 private:
  struct Impl;
  explicit Daemon(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace paddock::daemon
