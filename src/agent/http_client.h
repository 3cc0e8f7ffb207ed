#pragma once

// A minimal HTTP/1.1 client (RFC 9112) over blocking POSIX sockets, for the agent's few
// requests to the paddock server. One connection per request ("Connection: close"); the
// response body is framed by Content-Length, chunked transfer coding (RFC 9112 §7.1) or the
// end of the connection. IPv4 addresses only (no DNS in a static binary). Timeouts apply to
// connect and to each read/write. Not thread-safe; cheap to construct.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/net.h"
#include "common/result.h"

namespace paddock::agent {

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  // First header with this (lower-case) name, or "".
  std::string Header(std::string_view name) const;
};

// Parses a complete response (status line, headers, body). Fails on malformed framing or a
// body cut short. Pure; exposed for tests and fuzzing.
Result<HttpResponse> ParseHttpResponse(std::string_view data, size_t max_body = 256u << 20);

class HttpClient {
 public:
  HttpClient(Ipv4Address address, uint16_t port, int timeout_ms = 10000)
      : address_(address), port_(port), timeout_ms_(timeout_ms) {}

  // Sends one request and reads the whole response. `target` is the request path
  // ("/agent/v1/redeem"). A non-2xx status is not an error here; transport failures are
  // kUnavailable.
  Result<HttpResponse> Send(std::string_view method, std::string_view target,
                            const std::vector<std::pair<std::string, std::string>>& headers,
                            std::string_view body);

 private:
  Ipv4Address address_;
  uint16_t port_;
  int timeout_ms_;
};

}  // namespace paddock::agent
