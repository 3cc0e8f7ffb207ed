#pragma once

// The agent's side of the paddock agent protocol (docs/agent.md, "Server contract"):
//   POST /agent/v1/redeem {"token","mac"} -> 200 {"credential"} | 403 (token used or unknown)
//   GET  /agent/v1/nocloud/{meta-data,user-data,vendor-data,network-config} -> 200 | 404
//   POST /agent/v1/report {"phase","ok","duration_us","detail","uptime"}
//   POST /agent/v1/log    {"lines":[...]}
//   GET  /agent/v1/state  -> 200 archive (+ X-Paddock-Sha256) | 404
//   PUT  /agent/v1/state  archive, header X-Paddock-Sha256: <hex>
// Every request after redeem carries "Authorization: Bearer <credential>".
//
// Transient failures (connect/read errors, 5xx) are retried `retries` times with exponential
// backoff starting at 250 ms. Not thread-safe.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/apply.h"
#include "agent/cmdline.h"
#include "agent/http_client.h"

namespace paddock::agent {

class ServerApi {
 public:
  ServerApi(ServerUrl url, int timeout_ms = 10000, int retries = 4);

  // Redeems the one-time boot token. 403 -> kPermissionDenied ("token refused").
  Result<std::string> Redeem(std::string_view token, const MacAddress& mac);
  void set_credential(std::string credential) { credential_ = std::move(credential); }
  const std::string& credential() const { return credential_; }

  // One NoCloud document; nullopt when the server answers 404.
  Result<std::optional<std::string>> GetDocument(std::string_view name);
  Status Report(const PhaseReport& report, double uptime_s);
  Status Log(const std::vector<std::string>& lines);
  // The latest saved state; nullopt on 404. When the server sends X-Paddock-Sha256 the body
  // must match it (kInvalidArgument otherwise).
  Result<std::optional<std::string>> GetState();
  Status PutState(std::string_view archive);

 private:
  Result<HttpResponse> Call(std::string_view method, std::string_view path,
                            std::vector<std::pair<std::string, std::string>> headers,
                            std::string_view body);
  ServerUrl url_;
  HttpClient http_;
  int retries_;
  std::string credential_;
};

// Seconds since boot from /proc/uptime (CLOCK_BOOTTIME when unreadable).
double KernelUptime();

}  // namespace paddock::agent
