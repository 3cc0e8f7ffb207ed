#pragma once

// AgentService: the server side of the node agent's protocol (docs/agent.md, "Server
// contract"), registered on the daemon's http::Router beside BootService.
//
//   POST /agent/v1/redeem            {"token","mac"} -> {"credential"}; the boot token is
//                                    verified (daemon/tokens.h) and consumed
//                                    (store::Store::RedeemToken); a reused, unknown or
//                                    expired token is 403 and an agent.token_reused /
//                                    agent.token_refused alert (ok=false) on the machine
//   GET  /agent/v1/nocloud/<doc>     meta-data, user-data, vendor-data, network-config,
//                                    rendered from the profile's `templates` (404 = no template;
//                                    meta-data has a built-in default, and so has vendor-data
//                                    while the registry cache is on: a #cloud-config whose
//                                    write_files point containerd at the cache)
//   POST /agent/v1/report            timeline event "agent.<phase>"
//   POST /agent/v1/log               one "agent.log" event per batch, the lines in its detail
//   GET  /agent/v1/state             the machine's latest state archive (404 = none)
//   PUT  /agent/v1/state             a new state archive: X-Paddock-Sha256 must match the body
//                                    and agent::ParseStateArchive must accept it, else 400 and
//                                    the previous version stays
//   GET  /nocloud/<mac-hyphen>/<token>/<doc>
//                                    the same documents as a NoCloud seed for the real
//                                    cloud-init (ds=nocloud;s=<server>/nocloud/<mac>/<token>/);
//                                    authenticated by the machine's boot token, which is checked
//                                    (exists, belongs to that MAC, not expired) but not consumed
//
// Every /agent/v1/ route except redeem needs "Authorization: Bearer <credential>"; 401 without
// one, 403 for an unknown one. A credential is 128 random bits; only its SHA-256 is stored
// (table agent_credentials), and known hashes are cached in memory.
//
// Threading: the HTTP handlers run on the io thread and only queue the request; one worker
// thread owned by the service does the blocking work (SQLite, files) and answers through the
// Responder. Handle() is that blocking work, public for tests. SetConfig may be called from any
// thread.
//
// State files: <state_dir>/<mac-hyphen>/<version>.tar, versions 1, 2, ... per machine; each
// written to a temp file, fsync'ed, renamed, and the directory fsync'ed; the newest
// `keep_versions` are kept.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/net.h"
#include "common/result.h"
#include "daemon/host_keys.h"
#include "http/request.h"
#include "http/response.h"
#include "inventory/inventory.h"
#include "registry/containerd.h"

namespace paddock::http {
class Router;
class Responder;
}  // namespace paddock::http

namespace paddock::store {
class Store;
}

namespace paddock::daemon {

class BootTokenSigner;
class EventRecorder;

struct AgentServiceConfig {
  std::string server_url;  // "http://198.18.0.1:8080"
  inventory::Inventory inventory;
  // The registry cache as nodes reach it ("" = registry disabled) and the containerd hosts.toml
  // files that point at it (daemon::ContainerdHostsFiles). Templates see them as
  // registry_mirror_url, registry_hosts ([{path, content}]) and registry_write_files (YAML
  // items for a top-level write_files list); with files and no vendor-data template, vendor-data
  // defaults to a #cloud-config with just those write_files.
  std::string registry_mirror_url;
  std::vector<registry::RenderedFile> containerd_hosts;
};

struct AgentServiceOptions {
  std::string state_dir;  // absolute; <data_dir>/state
  int keep_versions = 5;
  // Per-machine SSH host keys (daemon/host_keys.h), absolute; <data_dir>/hostkeys. "" = none:
  // the ssh_host_keys template variable is then empty.
  std::string host_key_dir;
};

// One saved state version of a machine.
struct StateVersion {
  int64_t version = 0;
  uint64_t size = 0;
  int64_t mtime = 0;  // unix seconds
  std::string path;
};

// Versions of `mac` under `state_dir`, oldest first (empty when none).
Result<std::vector<StateVersion>> ListStateVersions(const std::string& state_dir,
                                                    const MacAddress& mac);
// Validates `archive` (agent::ParseStateArchive) and stores it as the next version, atomically;
// prunes to `keep` versions. Returns the new version number. kInvalidArgument when the archive
// is rejected (nothing is written).
Result<int64_t> SaveStateVersion(const std::string& state_dir, const MacAddress& mac,
                                 const std::string& archive, int keep);

class AgentService {
 public:
  // `store` and `recorder` must outlive the service. Starts the worker thread.
  // `signer` verifies boot tokens (daemon/tokens.h); it and `store` must outlive the service.
  AgentService(store::Store* store, EventRecorder* recorder, const BootTokenSigner* signer,
               AgentServiceOptions options);
  // Answers what is queued (503), then joins the worker.
  ~AgentService();
  AgentService(const AgentService&) = delete;
  AgentService& operator=(const AgentService&) = delete;

  void SetConfig(std::shared_ptr<const AgentServiceConfig> config);
  void Register(http::Router& router);

  // The blocking handling of one request (worker thread; tests call it directly).
  http::Response Handle(const http::Request& request);

 private:
  std::shared_ptr<const AgentServiceConfig> config() const;
  http::Response Redeem(const http::Request& request);
  http::Response Document(const MacAddress& mac, const std::string& name);
  http::Response Report(const MacAddress& mac, const http::Request& request);
  http::Response Log(const MacAddress& mac, const http::Request& request);
  http::Response GetState(const MacAddress& mac);
  http::Response PutState(const MacAddress& mac, const http::Request& request);
  http::Response NoCloudSeed(const http::Request& request);
  // The machine of the request's bearer credential, or the 401/403 response.
  Result<MacAddress> Authenticate(const http::Request& request, http::Response* denied);
  void Enqueue(const http::Request& request, std::shared_ptr<http::Responder> responder);
  void Run();

  store::Store* store_;
  EventRecorder* recorder_;
  const BootTokenSigner* signer_;
  AgentServiceOptions options_;
  std::unique_ptr<HostKeys> host_keys_;  // null when options_.host_key_dir is empty
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<const AgentServiceConfig> config_;
  std::unordered_map<std::string, MacAddress> credentials_;  // hash -> mac (cache)
  std::deque<std::pair<http::Request, std::shared_ptr<http::Responder>>> queue_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace paddock::daemon
