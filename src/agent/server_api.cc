#include "agent/server_api.h"

#include <time.h>
#include <unistd.h>

#include <cstdio>

#include "agent/codec.h"

namespace paddock::agent {

double KernelUptime() {
  if (FILE* f = std::fopen("/proc/uptime", "r")) {
    double up = 0;
    int n = std::fscanf(f, "%lf", &up);
    std::fclose(f);
    if (n == 1) return up;
  }
  struct timespec ts;
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

ServerApi::ServerApi(ServerUrl url, int timeout_ms, int retries)
    : url_(std::move(url)), http_(url_.address, url_.port, timeout_ms), retries_(retries) {}

Result<HttpResponse> ServerApi::Call(std::string_view method, std::string_view path,
                                     std::vector<std::pair<std::string, std::string>> headers,
                                     std::string_view body) {
  if (!credential_.empty()) headers.emplace_back("Authorization", "Bearer " + credential_);
  std::string target = url_.base_path + std::string(path);
  int delay_ms = 250;
  for (int attempt = 0;; ++attempt) {
    auto r = http_.Send(method, target, headers, body);
    bool transient = !r ? r.error().code == ErrorCode::kUnavailable : r->status >= 500;
    if (!transient || attempt >= retries_) return r;
    usleep(delay_ms * 1000);
    delay_ms = std::min(delay_ms * 2, 4000);
  }
}

Result<std::string> ServerApi::Redeem(std::string_view token, const MacAddress& mac) {
  Json body = {{"token", std::string(token)}, {"mac", mac.ToString()}};
  auto r = Call("POST", "/agent/v1/redeem", {{"Content-Type", "application/json"}}, body.dump());
  if (!r) return tl::unexpected(r.error());
  if (r->status == 403) {
    return PermissionDenied("boot token refused: HTTP 403 (already used, unknown or expired)");
  }
  if (r->status != 200) return InvalidArgument("redeem: HTTP " + std::to_string(r->status));
  auto j = Json::parse(r->body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("credential") ||
      !j["credential"].is_string() || j["credential"].get<std::string>().empty()) {
    return InvalidArgument("redeem: response has no credential");
  }
  credential_ = j["credential"].get<std::string>();
  return credential_;
}

Result<std::optional<std::string>> ServerApi::GetDocument(std::string_view name) {
  auto r = Call("GET", "/agent/v1/nocloud/" + std::string(name), {}, "");
  if (!r) return tl::unexpected(r.error());
  if (r->status == 404) return std::optional<std::string>();
  if (r->status != 200) {
    return InvalidArgument(std::string(name) + ": HTTP " + std::to_string(r->status));
  }
  return std::optional<std::string>(std::move(r->body));
}

Status ServerApi::Report(const PhaseReport& report, double uptime_s) {
  Json body = {{"phase", report.phase},
               {"ok", report.ok},
               {"duration_us", report.duration_us},
               {"detail", report.detail},
               {"uptime", uptime_s}};
  auto r = Call("POST", "/agent/v1/report", {{"Content-Type", "application/json"}},
                body.dump(-1, ' ', false, Json::error_handler_t::replace));
  if (!r) return tl::unexpected(r.error());
  if (r->status / 100 != 2) return InvalidArgument("report: HTTP " + std::to_string(r->status));
  return Ok();
}

Status ServerApi::Log(const std::vector<std::string>& lines) {
  if (lines.empty()) return Ok();
  Json body = {{"lines", lines}};
  auto r = Call("POST", "/agent/v1/log", {{"Content-Type", "application/json"}},
                body.dump(-1, ' ', false, Json::error_handler_t::replace));
  if (!r) return tl::unexpected(r.error());
  if (r->status / 100 != 2) return InvalidArgument("log: HTTP " + std::to_string(r->status));
  return Ok();
}

Result<std::optional<std::string>> ServerApi::GetState() {
  auto r = Call("GET", "/agent/v1/state", {}, "");
  if (!r) return tl::unexpected(r.error());
  if (r->status == 404) return std::optional<std::string>();
  if (r->status != 200) return InvalidArgument("state: HTTP " + std::to_string(r->status));
  std::string want = r->Header("x-paddock-sha256");
  if (!want.empty() && Sha256::HexDigest(r->body) != want) {
    return InvalidArgument("state: body does not match X-Paddock-Sha256");
  }
  return std::optional<std::string>(std::move(r->body));
}

Status ServerApi::PutState(std::string_view archive) {
  auto r = Call(
      "PUT", "/agent/v1/state",
      {{"Content-Type", "application/x-tar"}, {"X-Paddock-Sha256", Sha256::HexDigest(archive)}},
      archive);
  if (!r) return tl::unexpected(r.error());
  if (r->status / 100 != 2) return InvalidArgument("state put: HTTP " + std::to_string(r->status));
  return Ok();
}

}  // namespace paddock::agent
