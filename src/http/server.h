#pragma once

// http::Server: an HTTP/1.1 server on an io_context (Boost.Beast inside, hidden behind a
// pimpl; this header pulls in no Asio or Beast).
//
// Behaviour:
//   - HTTP/1.1 keep-alive; requests on one connection are handled strictly one after the
//     other, so pipelined requests are answered in order. HTTP/1.0 (and "Connection: close")
//     gets one response and a close.
//   - HEAD gets the same headers as GET (Content-Length included) and no body.
//   - A malformed request (bad syntax, bad target, header or body over the limit) is answered
//     400 (431 / 413 for the limits), counted in Stats::malformed, logged at debug, and the
//     connection is closed. Nothing a client sends can crash the server or throw out of it.
//   - Timeouts (idle_timeout_ms): a request (header and body) must arrive completely within
//     it, counted from the end of the previous response (or the accept), which also bounds
//     keep-alive idleness and defeats slowloris clients; a response write that makes no
//     progress for that long closes the connection. While an asynchronous handler is still
//     working (before it sends or begins), no timeout applies and a client that leaves is only
//     noticed at the first write.
//   - File bodies go out with sendfile(2) straight from the page cache; a slow client makes the
//     socket return EAGAIN and the connection waits for writability, never spins.
//   - At `max_connections` open connections the server stops accepting until one closes
//     (new clients wait in the kernel's listen backlog).
//
// Threading: construct, Start() and Stop() on the thread that runs the io_context (or before
// it runs). Every connection runs on its own strand, so the io_context may be run by several
// threads; handlers then run concurrently for different connections. stats() and port() may be
// called from any thread. The io_context and the Router must outlive the Server, and
// Responders must not be used once the io_context is destroyed.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/net.h"
#include "common/result.h"
#include "http/request.h"
#include "http/router.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace paddock::http {

namespace detail {
class ServerImpl;
}  // namespace detail

struct ServerOptions {
  Ipv4Address address = Ipv4Address::Any();
  uint16_t port = 0;  // 0: an ephemeral port; Server::port() tells which after Start()
  int max_connections = 1024;
  int idle_timeout_ms = 30000;
  uint32_t max_header_bytes = 16 * 1024;
  uint64_t max_body_bytes = 1024 * 1024;
  int listen_backlog = 1024;
};

// A counter snapshot. Every field is cumulative since Start() except active_connections.
struct ServerStats {
  uint64_t connections_accepted = 0;
  uint64_t active_connections = 0;
  uint64_t requests = 0;  // responses started, malformed requests included
  uint64_t status_1xx = 0, status_2xx = 0, status_3xx = 0, status_4xx = 0, status_5xx = 0;
  uint64_t malformed = 0;   // requests answered 400/413/431 by the server itself
  uint64_t timeouts = 0;    // connections closed for idleness
  uint64_t bytes_sent = 0;  // everything written to sockets, headers included
};

// One finished (or abandoned) response, for access logs and the boot timeline.
struct AccessRecord {
  std::string method;
  std::string target;  // raw
  std::string path;    // decoded
  QueryParams query;
  Ipv4Address peer_address;
  uint16_t peer_port = 0;
  int status = 0;
  uint64_t bytes_sent = 0;  // body bytes written (0 for HEAD and 304)
  int64_t duration_us = 0;  // from the request's last header byte to the last body byte
  bool complete = false;    // false when the body was cut short (client gone, Abort, error)
  std::string label;        // Response::access_label / access_detail of an in-memory response
  std::string detail;
};

class Server {
 public:
  Server(boost::asio::io_context& io, ServerOptions options, const Router& router);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens. Fails with a clear message ("bind 198.18.0.1:80: Address already in
  // use") if the socket cannot be set up. Call once.
  Status Start();
  // Stops accepting and closes every connection; in-flight responses are cut. Idempotent.
  // Responders still held by handlers stay valid: their calls do nothing (Write completes
  // with false).
  void Stop();
  // The bound port (the real one when options.port was 0); 0 before Start().
  uint16_t port() const;
  ServerStats stats() const;

  // Called on an I/O thread once per response when it is finished or abandoned. Set it before
  // Start(). It must be quick and must not call back into the server.
  void SetAccessObserver(std::function<void(const AccessRecord&)> observer);

 private:
  std::shared_ptr<detail::ServerImpl> impl_;
};

}  // namespace paddock::http
