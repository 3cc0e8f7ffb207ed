#include "http/router.h"

#include <algorithm>

namespace paddock::http {

void Router::Handle(std::string method, std::string path, Handler handler) {
  Add(Route{std::move(method), std::move(path), false, std::move(handler), nullptr});
}

void Router::HandlePrefix(std::string method, std::string prefix, Handler handler) {
  Add(Route{std::move(method), std::move(prefix), true, std::move(handler), nullptr});
}

void Router::HandleAsync(std::string method, std::string path, AsyncHandler handler) {
  Add(Route{std::move(method), std::move(path), false, nullptr, std::move(handler)});
}

void Router::HandlePrefixAsync(std::string method, std::string prefix, AsyncHandler handler) {
  Add(Route{std::move(method), std::move(prefix), true, nullptr, std::move(handler)});
}

void Router::Add(Route route) {
  for (Route& r : routes_) {
    if (r.prefix == route.prefix && r.path == route.path && r.method == route.method) {
      r = std::move(route);
      return;
    }
  }
  routes_.push_back(std::move(route));
}

std::vector<const Router::Route*> Router::Resource(std::string_view path) const {
  std::vector<const Route*> exact;
  for (const Route& r : routes_) {
    if (!r.prefix && r.path == path) exact.push_back(&r);
  }
  if (!exact.empty()) return exact;
  size_t best = 0;
  bool found = false;
  for (const Route& r : routes_) {
    if (r.prefix && path.starts_with(r.path) && (!found || r.path.size() > best)) {
      best = r.path.size();
      found = true;
    }
  }
  std::vector<const Route*> out;
  if (!found) return out;
  for (const Route& r : routes_) {
    if (r.prefix && r.path.size() == best && path.starts_with(r.path)) out.push_back(&r);
  }
  return out;
}

std::string Router::AllowFor(std::string_view path) const {
  std::vector<std::string> methods;
  for (const Route* r : Resource(path)) methods.push_back(r->method);
  bool has_get = std::find(methods.begin(), methods.end(), "GET") != methods.end();
  bool has_head = std::find(methods.begin(), methods.end(), "HEAD") != methods.end();
  if (has_get && !has_head) methods.push_back("HEAD");
  std::string allow;
  for (const std::string& m : methods) {
    if (!allow.empty()) allow += ", ";
    allow += m;
  }
  return allow;
}

void Router::Dispatch(const Request& request, std::shared_ptr<Responder> responder) const {
  std::vector<const Route*> resource = Resource(request.path);
  if (resource.empty()) {
    responder->Send(Response::NotFound());
    return;
  }
  const Route* chosen = nullptr;
  for (const Route* r : resource) {
    if (r->method == request.method) chosen = r;
  }
  // RFC 9110 §9.3.2: HEAD is GET without the body; the server strips the body.
  if (chosen == nullptr && request.method == "HEAD") {
    for (const Route* r : resource) {
      if (r->method == "GET") chosen = r;
    }
  }
  if (chosen == nullptr) {
    responder->Send(Response::MethodNotAllowed(AllowFor(request.path)));
    return;
  }
  if (chosen->async_handler) {
    chosen->async_handler(request, std::move(responder));
  } else {
    responder->Send(chosen->handler(request));
  }
}

}  // namespace paddock::http
