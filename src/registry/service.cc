#include "registry/service.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/log.h"
#include "http/conditional.h"
#include "registry/digest.h"

namespace paddock::registry {
namespace {

constexpr std::string_view kApiVersionHeader = "Docker-Distribution-API-Version";
constexpr std::string_view kApiVersion = "registry/2.0";

http::Response JsonResponse(int status, std::string body) {
  http::Response r = http::Response::Text(status, std::move(body), "application/json");
  r.headers.Set(std::string(kApiVersionHeader), std::string(kApiVersion));
  return r;
}

http::Response ErrorResponse(int status, std::string_view code, std::string_view message) {
  return JsonResponse(status, DistributionErrorBody(code, message));
}

// Maps a cache error to the distribution-spec error codes (spec "Error Codes" table).
http::Response FromError(const Error& e, std::string_view unknown_code,
                         std::string_view invalid_code) {
  switch (e.code) {
    case ErrorCode::kNotFound:
      return ErrorResponse(404, unknown_code, e.message);
    case ErrorCode::kInvalidArgument:
      return ErrorResponse(400, invalid_code, e.message);
    case ErrorCode::kPermissionDenied:
      return ErrorResponse(403, "DENIED", e.message);
    case ErrorCode::kUnavailable:
      return ErrorResponse(503, "UNAVAILABLE", e.message);
    default:
      return ErrorResponse(500, "UNKNOWN", e.message);
  }
}

std::string Namespace(const http::Request& request) {
  auto ns = request.Query("ns");
  return ns ? std::string(*ns) : std::string();
}

// Sends an in-flight blob slice chunk by chunk; the next read is scheduled only when the
// previous chunk left the socket (Responder backpressure).
class StreamPump : public std::enable_shared_from_this<StreamPump> {
 public:
  StreamPump(Service& service, PullThroughCache& cache, std::shared_ptr<BlobReader> reader,
             std::shared_ptr<http::Responder> responder, uint64_t offset, uint64_t end,
             size_t chunk, std::string ns, std::string repo)
      : service_(service),
        cache_(cache),
        reader_(std::move(reader)),
        responder_(std::move(responder)),
        offset_(offset),
        end_(end),
        chunk_(chunk),
        ns_(std::move(ns)),
        repo_(std::move(repo)) {}

  void Step() {
    if (offset_ >= end_) {
      responder_->Finish();
      return;
    }
    std::string buf(static_cast<size_t>(std::min<uint64_t>(chunk_, end_ - offset_)), '\0');
    auto n = reader_->ReadAt(offset_, reinterpret_cast<uint8_t*>(buf.data()), buf.size());
    if (!n || *n == 0) {
      log::Get("registry")
          ->warn("ns={} repo={}: blob stream aborted at {}: {}", ns_, repo_, offset_,
                 n ? "unexpected end" : n.error().message);
      responder_->Abort();  // closes the connection: the client sees an error, not success
      return;
    }
    buf.resize(*n);
    offset_ += *n;
    cache_.RecordBytesServed(ns_, repo_, *n, reader_->from_cache());
    responder_->Write(std::move(buf), [self = shared_from_this()](bool ok) {
      if (ok) self->service_.Post([self] { self->Step(); });
    });
  }

 private:
  Service& service_;
  PullThroughCache& cache_;
  std::shared_ptr<BlobReader> reader_;
  std::shared_ptr<http::Responder> responder_;
  uint64_t offset_, end_;
  size_t chunk_;
  std::string ns_, repo_;
};

}  // namespace

std::string DistributionErrorBody(std::string_view code, std::string_view message) {
  nlohmann::json j = {
      {"errors",
       nlohmann::json::array({{{"code", code}, {"message", message}, {"detail", nullptr}}})}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Service::Service(PullThroughCache& cache, ServiceOptions options)
    : cache_(cache), options_(options) {
  if (options_.worker_threads == 0) options_.worker_threads = 1;
  for (size_t i = 0; i < options_.worker_threads; ++i) {
    workers_.emplace_back([this] {
      while (true) {
        std::function<void()> work;
        {
          std::unique_lock lock(mu_);
          cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
          if (stopping_ && queue_.empty()) return;
          work = std::move(queue_.front());
          queue_.pop_front();
        }
        work();
      }
    });
  }
}

Service::~Service() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void Service::Post(std::function<void()> work) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    queue_.push_back(std::move(work));
  }
  cv_.notify_one();
}

void Service::Register(http::Router& router) {
  auto base = [](const http::Request&) { return JsonResponse(200, "{}"); };
  router.Handle("GET", "/v2", base);
  router.HandlePrefixAsync(
      "GET", "/v2/",
      [this](const http::Request& request, std::shared_ptr<http::Responder> responder) {
        HandleV2(request, std::move(responder));
      });
}

void Service::HandleV2(const http::Request& request, std::shared_ptr<http::Responder> responder) {
  std::string_view path = request.path;
  if (path == "/v2/") {
    responder->Send(JsonResponse(200, "{}"));
    return;
  }
  std::string_view rest = path.substr(4);  // after "/v2/"
  std::string ns = Namespace(request);
  const int64_t started = SteadyMicros();
  // <name> may contain '/', so split at the last API keyword (distribution-spec endpoints).
  if (rest.size() > 10 && rest.substr(rest.size() - 10) == "/tags/list") {
    std::string repo(rest.substr(0, rest.size() - 10));
    Post([this, request, ns, repo, responder] { ServeTags(request, ns, repo, responder); });
    return;
  }
  size_t m = rest.rfind("/manifests/");
  size_t b = rest.rfind("/blobs/");
  if (m != std::string_view::npos && (b == std::string_view::npos || m > b)) {
    std::string repo(rest.substr(0, m));
    std::string ref(rest.substr(m + 11));
    Post([this, request, ns, repo, ref, responder, started] {
      ServeManifest(request, ns, repo, ref, responder, started);
    });
    return;
  }
  if (b != std::string_view::npos) {
    std::string repo(rest.substr(0, b));
    std::string digest(rest.substr(b + 7));
    Post([this, request, ns, repo, digest, responder, started] {
      ServeBlob(request, ns, repo, digest, responder, started);
    });
    return;
  }
  responder->Send(ErrorResponse(404, "NAME_UNKNOWN", "no such endpoint"));
}

void Service::Report(const http::Request& request, PullRecord::Kind kind, std::string ns,
                     std::string repo, std::string reference, std::string digest,
                     std::string outcome, int status, uint64_t size, std::string error,
                     int64_t started_us) {
  if (!observer_) return;
  PullRecord r;
  r.kind = kind;
  r.peer_address = request.peer_address;
  r.peer_port = request.peer_port;
  r.method = request.method;
  r.path = request.path;
  r.ns = ns.empty() ? cache_.router().default_namespace() : std::move(ns);
  r.repo = std::move(repo);
  r.reference = std::move(reference);
  r.digest = std::move(digest);
  r.outcome = std::move(outcome);
  r.status = status;
  r.size = request.IsHead() ? 0 : size;
  r.error = std::move(error);
  r.started_us = started_us;
  observer_(r);
}

void Service::ServeManifest(const http::Request& request, std::string ns, std::string repo,
                            std::string reference, std::shared_ptr<http::Responder> responder,
                            int64_t started_us) {
  auto m = cache_.GetManifest(ns, repo, reference);
  if (!m) {
    log::Get("registry")
        ->info("peer={} ns={} repo={} ref={}: {}", request.PeerString(), ns, repo, reference,
               m.error().ToString());
    http::Response r = FromError(
        m.error(), "MANIFEST_UNKNOWN",
        m.error().message.find("name") != std::string::npos ? "NAME_INVALID" : "MANIFEST_INVALID");
    Report(request, PullRecord::Kind::kManifest, ns, repo, reference, "", "error", r.status, 0,
           m.error().message, started_us);
    responder->Send(std::move(r));
    return;
  }
  http::Response r;
  r.status = 200;
  r.headers.Set("Content-Type", m->media_type);
  r.headers.Set("Docker-Content-Digest", m->digest.ToString());
  r.headers.Set("ETag", "\"" + m->digest.ToString() + "\"");
  r.headers.Set(std::string(kApiVersionHeader), std::string(kApiVersion));
  r.body = std::move(m->bytes);
  Report(request, PullRecord::Kind::kManifest, ns, repo, reference, m->digest.ToString(),
         m->stale ? "stale" : (m->from_cache ? "hit" : "miss"), 200, r.body.size(), "", started_us);
  responder->Send(std::move(r));
}

void Service::ServeBlob(const http::Request& request, std::string ns, std::string repo,
                        std::string digest_text, std::shared_ptr<http::Responder> responder,
                        int64_t started_us) {
  auto reader = cache_.OpenBlob(ns, repo, digest_text);
  if (!reader) {
    log::Get("registry")
        ->info("peer={} ns={} repo={} blob={}: {}", request.PeerString(), ns, repo, digest_text,
               reader.error().ToString());
    http::Response r = FromError(reader.error(), "BLOB_UNKNOWN",
                                 Digest::Parse(digest_text) ? "NAME_INVALID" : "DIGEST_INVALID");
    Report(request, PullRecord::Kind::kBlob, ns, repo, digest_text, "", "error", r.status, 0,
           reader.error().message, started_us);
    responder->Send(std::move(r));
    return;
  }
  std::shared_ptr<BlobReader> blob = std::move(*reader);
  uint64_t size = blob->size();
  http::Headers headers;
  headers.Set("Content-Type", "application/octet-stream");
  headers.Set("Docker-Content-Digest", digest_text);
  headers.Set("ETag", "\"" + digest_text + "\"");
  headers.Set("Accept-Ranges", "bytes");
  headers.Set(std::string(kApiVersionHeader), std::string(kApiVersion));

  int status = 200;
  uint64_t offset = 0, length = size;
  if (auto range = request.headers.Get("Range")) {
    http::ByteRange br = http::ParseRange(*range, size);
    if (br.kind == http::ByteRange::Kind::kUnsatisfiable) {
      http::Response r = ErrorResponse(416, "BLOB_UNKNOWN", "range not satisfiable");
      r.headers.Set("Content-Range", http::UnsatisfiedContentRange(size));
      Report(request, PullRecord::Kind::kBlob, ns, repo, digest_text, "", "error", 416, 0,
             "range not satisfiable", started_us);
      responder->Send(std::move(r));
      return;
    }
    if (br.kind == http::ByteRange::Kind::kSatisfiable) {
      status = 206;
      offset = br.offset;
      length = br.length;
      headers.Set("Content-Range", http::ContentRange(offset, length, size));
    }
  }
  Report(request, PullRecord::Kind::kBlob, ns, repo, digest_text, "",
         blob->from_cache() ? "hit" : (blob->joined() ? "inflight" : "miss"), status, length, "",
         started_us);

  if (blob->file_fd() >= 0) {
    // Published: sendfile from the page cache. The FileHandle owns a dup so the reader's
    // descriptor can close independently.
    int fd = ::dup(blob->file_fd());
    if (fd < 0) {
      // (Reported above as served; the access record shows the 500.)
      responder->Send(ErrorResponse(500, "UNKNOWN", "dup failed"));
      return;
    }
    http::Response r;
    r.status = status;
    r.headers = std::move(headers);
    r.file = http::FileBody{std::make_shared<http::FileHandle>(fd), offset, length};
    if (!request.IsHead()) cache_.RecordBytesServed(ns, repo, length, true);
    responder->Send(std::move(r));
    return;
  }
  // In flight: stream as bytes arrive.
  responder->Begin(status, std::move(headers), length);
  if (request.IsHead()) {
    responder->Finish();
    return;
  }
  auto pump = std::make_shared<StreamPump>(*this, cache_, std::move(blob), responder, offset,
                                           offset + length, options_.stream_chunk_bytes, ns, repo);
  pump->Step();
}

void Service::ServeTags(const http::Request& request, std::string ns, std::string repo,
                        std::shared_ptr<http::Responder> responder) {
  auto tags = cache_.ListTags(ns, repo);
  if (!tags) {
    responder->Send(FromError(tags.error(), "NAME_UNKNOWN", "NAME_INVALID"));
    return;
  }
  // Pagination (distribution-spec end-8b): tags sorted lexically, after `last`, at most `n`.
  std::vector<std::string> list = std::move(*tags);
  std::sort(list.begin(), list.end());
  if (auto last = request.Query("last")) {
    list.erase(list.begin(), std::upper_bound(list.begin(), list.end(), std::string(*last)));
  }
  if (auto n = request.Query("n")) {
    char* end = nullptr;
    std::string nstr(*n);
    long long v = std::strtoll(nstr.c_str(), &end, 10);
    if (end != nstr.c_str() && *end == '\0' && v >= 0 && static_cast<size_t>(v) < list.size()) {
      list.resize(static_cast<size_t>(v));
    }
  }
  nlohmann::json j = {{"name", repo}, {"tags", list}};
  responder->Send(
      JsonResponse(200, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
}

}  // namespace paddock::registry
