#pragma once

// Router: maps (method, path) to a handler. It knows nothing of what routes mean; the daemon
// registers them.
//
// Matching, on the decoded Request::path:
//   1. an exact route whose path equals the request path, else
//   2. the prefix route with the longest prefix that the path starts with, else 404.
// The path found in step 1 or 2 is the "resource"; its methods decide: the request's method
// runs its handler, HEAD falls back to the GET handler (the server drops the body), any other
// method is answered 405 with an Allow header listing the resource's methods. A shorter prefix
// is never tried once a longer one matched.
//
// Threading: register every route before the server starts; afterwards the router is only
// read, from the I/O thread(s), and must outlive the server. Handlers run on an I/O thread:
// a synchronous Handler must be quick (no disk scans, no network); anything slow takes an
// AsyncHandler and answers through its Responder later.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http/request.h"
#include "http/responder.h"
#include "http/response.h"

namespace paddock::http {

using Handler = std::function<Response(const Request&)>;
using AsyncHandler = std::function<void(const Request&, std::shared_ptr<Responder>)>;

class Router {
 public:
  // Registers a handler for `method` on exactly `path`. A later registration of the same
  // method and path replaces the earlier one.
  void Handle(std::string method, std::string path, Handler handler);
  // Registers a handler for `method` on every path starting with `prefix` (usually ending in
  // '/': "/assets/"). The handler strips the prefix itself if it needs the rest.
  void HandlePrefix(std::string method, std::string prefix, Handler handler);
  void HandleAsync(std::string method, std::string path, AsyncHandler handler);
  void HandlePrefixAsync(std::string method, std::string prefix, AsyncHandler handler);

  // Finds the handler for `request` and runs it: a synchronous handler's Response goes to
  // responder->Send(); an asynchronous handler gets the responder. 404 and 405 are sent here.
  void Dispatch(const Request& request, std::shared_ptr<Responder> responder) const;

  // The value of the Allow header for a resource ("GET, HEAD"), or empty if no route matches
  // `path`. Exposed for tests.
  std::string AllowFor(std::string_view path) const;

 private:
  struct Route {
    std::string method;
    std::string path;
    bool prefix = false;
    Handler handler;
    AsyncHandler async_handler;
  };
  void Add(Route route);
  // The resource's routes: exact match first, else the longest prefix. Empty when none.
  std::vector<const Route*> Resource(std::string_view path) const;

  std::vector<Route> routes_;
};

}  // namespace paddock::http
