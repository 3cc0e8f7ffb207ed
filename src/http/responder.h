#pragma once

// Responder: how an asynchronous handler answers a request later, possibly from another
// thread, possibly as a stream (the registry cache streams a blob to waiting clients while it
// arrives from upstream).
//
// Protocol, per request, in this order:
//   either  Send(response)                                  -- one complete Response
//   or      Begin(status, headers, length?)  Write(...)*  Finish()   -- a streamed body
//   and     Abort() at any point instead of the rest.
// Calls out of this order are ignored (and logged). Every method may be called from any
// thread; the work is posted to the connection's I/O thread. A handler may keep the
// shared_ptr as long as it likes; dropping the last reference before Send/Finish is an Abort.
//
// Backpressure: Write queues `bytes` and calls `done` on the I/O thread once they are written
// to the socket (ok = true) or once they never will be (ok = false: client gone, timeout,
// Abort, protocol misuse). A producer should wait for `done` before writing more. After the
// first `done(false)` every later Write completes with false at once.
//
// Framing: with a content length the body is sent as is and must be exactly that long
// (Finish() after fewer bytes, or writing more, closes the connection: the client sees an
// error, never a truncated "success"). Without one, HTTP/1.1 clients get chunked encoding and
// HTTP/1.0 clients a close-delimited body. For HEAD requests no body bytes are sent; Write
// completes with ok = true at once.
//
// Abort(): before Begin, the client gets 500 and the connection stays usable; after Begin
// the connection is closed (the only way to tell an HTTP client a streamed body failed).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "http/request.h"
#include "http/response.h"

namespace paddock::http {

class Responder {
 public:
  virtual ~Responder() = default;

  virtual void Send(Response response) = 0;
  virtual void Begin(int status, Headers headers, std::optional<uint64_t> content_length) = 0;
  virtual void Write(std::string bytes, std::function<void(bool ok)> done) = 0;
  virtual void Finish() = 0;
  virtual void Abort() = 0;
};

}  // namespace paddock::http
