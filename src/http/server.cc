// The only translation unit with Beast and Asio in the http module. Beast parses requests;
// responses are serialized here by hand and written with sendmsg(2)/sendfile(2) on the
// non-blocking socket, waiting for writability through Asio when the socket is full. That
// keeps file data out of user space and lets a header and its body leave in one segment.

#include "http/server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <unordered_map>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include "common/clock.h"
#include "common/log.h"
#include "http/conditional.h"

namespace paddock::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using SteadyTime = std::chrono::steady_clock::time_point;

namespace {

// Bytes sendfile may push for one connection before it yields the thread to others.
constexpr uint64_t kSendfileSliceBytes = 4 * 1024 * 1024;
// How long a closing connection waits for the client to finish sending (lingering close).
constexpr int kLingerMs = 2000;

bool StatusHasNoBody(int status) {
  return (status >= 100 && status < 200) || status == 204 || status == 304;
}

// "Date" (RFC 9110 §6.6.1), formatted once per second per thread.
const std::string& CachedDate() {
  thread_local int64_t cached_second = -1;
  thread_local std::string cached;
  int64_t now = WallMicros() / 1000000;
  if (now != cached_second) {
    cached_second = now;
    cached = FormatHttpDate(now);
  }
  return cached;
}

// Framing headers belong to the server; a handler's copy would contradict ours.
bool IsFramingHeader(std::string_view name) {
  return EqualsIgnoreCase(name, "Content-Length") || EqualsIgnoreCase(name, "Transfer-Encoding") ||
         EqualsIgnoreCase(name, "Connection") || EqualsIgnoreCase(name, "Date");
}

// True for a syntax or limit error from Beast's parser (answered 400/413/431), false for
// transport errors and for a client that closed (answered by closing).
bool IsParseError(const boost::system::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

}  // namespace

struct Counters {
  std::atomic<uint64_t> accepted{0}, active{0}, requests{0}, malformed{0}, timeouts{0},
      bytes_sent{0};
  std::array<std::atomic<uint64_t>, 5> by_class{};

  void CountStatus(int status) {
    int c = status / 100;
    if (c >= 1 && c <= 5) by_class[c - 1].fetch_add(1, std::memory_order_relaxed);
  }
};

class Connection;

namespace detail {

class ServerImpl : public std::enable_shared_from_this<ServerImpl> {
 public:
  ServerImpl(asio::io_context& io, ServerOptions options, const Router& router)
      : io_(io), options_(options), router_(router), log_(log::Get("http")), acceptor_(io) {}

  Status Start();
  void Stop();
  void DoAccept();  // mu_ held
  void OnConnectionClosed(Connection* c);

  asio::io_context& io_;
  const ServerOptions options_;
  const Router& router_;
  std::shared_ptr<spdlog::logger> log_;
  Counters counters_;
  std::atomic<uint16_t> port_{0};
  std::atomic<bool> stopped_{false};
  std::function<void(const AccessRecord&)> observer_;

  std::mutex mu_;  // guards acceptor_ calls, connections_, accept_paused_
  tcp::acceptor acceptor_;
  bool accepting_ = false;
  bool accept_paused_ = false;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> connections_;
  uint64_t next_id_ = 1;
};

}  // namespace detail

using detail::ServerImpl;

// One client connection. Every member is touched only on the connection's strand.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<ServerImpl> server, tcp::socket socket, uint64_t id)
      : server_(std::move(server)),
        socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        id_(id) {}

  void Start();
  void Close();

  // Entry points for ResponderImpl, already on the strand.
  void OnSend(uint64_t gen, Response response);
  void OnBegin(uint64_t gen, int status, Headers headers, std::optional<uint64_t> length);
  void OnWrite(uint64_t gen, std::string bytes, std::function<void(bool)> done);
  void OnFinish(uint64_t gen);
  void OnAbort(uint64_t gen);

  auto executor() { return socket_.get_executor(); }

 private:
  enum class State { kReading, kHandling, kResponding, kStreaming, kLingering, kClosed };

  void StartRead();
  void OnHeader(beast::error_code ec);
  void OnBody(beast::error_code ec);
  void Dispatch();
  void RespondMalformed(int status, std::string_view why);
  std::string BuildHead(int status, const Headers& headers, std::optional<uint64_t> length,
                        bool chunked);
  void StartResponse(Response response);
  void SetOutput(std::string head, std::string body, std::string_view body_view, std::string tail,
                 bool more);
  void TryWrite();
  void TrySendFile();
  void SetCork(bool on);
  void WaitWritable(void (Connection::*then)());
  void PumpStream();
  void FinishExchange(bool complete);
  void LingerAndClose();
  void ArmDeadline(int ms);
  void Disarm() { deadline_ = SteadyTime::max(); }
  void OnTimer(beast::error_code ec);
  void Record(bool complete);

  std::shared_ptr<ServerImpl> server_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  const uint64_t id_;
  Ipv4Address peer_;
  uint16_t peer_port_ = 0;
  State state_ = State::kReading;

  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  SteadyTime deadline_ = SteadyTime::max();
  bool timer_waiting_ = false;

  // The exchange in progress.
  uint64_t generation_ = 0;
  AccessRecord access_;
  int64_t start_us_ = 0;
  bool head_ = false;
  bool keep_alive_ = false;
  int version_ = 11;

  // Pending output: up to three byte ranges, written with one sendmsg per attempt.
  std::string out_head_, out_body_, out_tail_;
  std::array<std::string_view, 3> out_parts_;
  bool out_more_ = false;
  std::function<void()> out_done_;  // runs on the strand when every byte is written
  bool body_counted_in_parts_ = false;

  std::optional<FileBody> file_;
  uint64_t file_offset_ = 0, file_remaining_ = 0;

  // Streaming (Responder::Begin/Write/Finish).
  struct Chunk {
    std::string prefix, data, suffix;
    std::function<void(bool)> done;
  };
  std::deque<Chunk> stream_queue_;
  bool stream_writing_ = false;
  bool stream_finishing_ = false;
  bool stream_chunked_ = false;
  std::optional<uint64_t> stream_length_;
  uint64_t stream_queued_ = 0;
};

// The Responder handed to handlers; every call hops onto the connection's strand.
class ResponderImpl final : public Responder {
 public:
  ResponderImpl(std::shared_ptr<Connection> conn, uint64_t gen)
      : conn_(std::move(conn)), gen_(gen) {}
  ~ResponderImpl() override {
    // Dropping a responder that never completed aborts the exchange. The connection also
    // ignores a stale abort (its generation or state moved on), so this flag only saves a
    // post per request in the common case.
    if (completed_.load(std::memory_order_acquire)) return;
    auto conn = conn_;
    uint64_t gen = gen_;
    asio::post(conn->executor(), [conn, gen] { conn->OnAbort(gen); });
  }

  void Send(Response response) override {
    completed_.store(true, std::memory_order_release);
    asio::dispatch(conn_->executor(), [c = conn_, g = gen_, r = std::move(response)]() mutable {
      c->OnSend(g, std::move(r));
    });
  }
  void Begin(int status, Headers headers, std::optional<uint64_t> length) override {
    asio::dispatch(conn_->executor(),
                   [c = conn_, g = gen_, status, h = std::move(headers), length]() mutable {
                     c->OnBegin(g, status, std::move(h), length);
                   });
  }
  void Write(std::string bytes, std::function<void(bool)> done) override {
    // Posted, never run inline: a producer that writes the next chunk from the previous
    // chunk's completion would otherwise nest one stack frame set per chunk while the socket
    // keeps accepting data (ProducerWritingFromCallbacks overflowed the stack at ~4,700).
    asio::post(conn_->executor(),
               [c = conn_, g = gen_, b = std::move(bytes), d = std::move(done)]() mutable {
                 c->OnWrite(g, std::move(b), std::move(d));
               });
  }
  void Finish() override {
    completed_.store(true, std::memory_order_release);
    asio::dispatch(conn_->executor(), [c = conn_, g = gen_] { c->OnFinish(g); });
  }
  void Abort() override {
    completed_.store(true, std::memory_order_release);
    asio::dispatch(conn_->executor(), [c = conn_, g = gen_] { c->OnAbort(g); });
  }

 private:
  std::shared_ptr<Connection> conn_;
  uint64_t gen_;
  std::atomic<bool> completed_{false};
};

// ---------------------------------------------------------------------------------------------
// ServerImpl

Status ServerImpl::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  std::string where = options_.address.ToString() + ":" + std::to_string(options_.port);
  tcp::endpoint ep(asio::ip::address_v4(options_.address.value()), options_.port);
  beast::error_code ec;
  acceptor_.open(ep.protocol(), ec);
  if (ec) return IoError("open socket for " + where + ": " + ec.message());
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  acceptor_.bind(ep, ec);
  if (ec) {
    acceptor_.close();
    return IoError("bind " + where + ": " + ec.message());
  }
  acceptor_.listen(options_.listen_backlog, ec);
  if (ec) {
    acceptor_.close();
    return IoError("listen " + where + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint(ec).port();
  accepting_ = true;
  log_->info("listening on {}:{}", options_.address.ToString(), port_.load());
  DoAccept();
  return Ok();
}

void ServerImpl::DoAccept() {
  if (!accepting_ || !acceptor_.is_open()) return;
  acceptor_.async_accept(
      asio::make_strand(io_), [self = shared_from_this()](beast::error_code ec, tcp::socket s) {
        if (ec == asio::error::operation_aborted || self->stopped_) return;
        std::shared_ptr<Connection> conn;
        {
          std::lock_guard<std::mutex> lock(self->mu_);
          if (!ec) {
            conn = std::make_shared<Connection>(self, std::move(s), self->next_id_++);
            self->connections_[conn.get()] = conn;
            self->counters_.accepted.fetch_add(1, std::memory_order_relaxed);
            uint64_t active = self->counters_.active.fetch_add(1) + 1;
            if (active >= static_cast<uint64_t>(self->options_.max_connections)) {
              self->accept_paused_ = true;
            }
          } else {
            // EMFILE and friends: keep accepting; the next attempt may succeed.
            self->log_->warn("accept: {}", ec.message());
          }
          if (!self->accept_paused_) self->DoAccept();
        }
        if (conn) asio::dispatch(conn->executor(), [conn] { conn->Start(); });
      });
}

void ServerImpl::OnConnectionClosed(Connection* c) {
  std::lock_guard<std::mutex> lock(mu_);
  connections_.erase(c);
  uint64_t active = counters_.active.fetch_sub(1) - 1;
  if (accept_paused_ && active < static_cast<uint64_t>(options_.max_connections)) {
    accept_paused_ = false;
    DoAccept();
  }
}

void ServerImpl::Stop() {
  std::vector<std::shared_ptr<Connection>> conns;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_.exchange(true)) return;
    accepting_ = false;
    beast::error_code ec;
    acceptor_.close(ec);
    for (auto& [ptr, weak] : connections_) {
      if (auto c = weak.lock()) conns.push_back(std::move(c));
    }
  }
  for (auto& c : conns) asio::post(c->executor(), [c] { c->Close(); });
}

// ---------------------------------------------------------------------------------------------
// Connection: reading

void Connection::Start() {
  beast::error_code ec;
  socket_.set_option(tcp::no_delay(true), ec);
  socket_.native_non_blocking(true, ec);
  auto remote = socket_.remote_endpoint(ec);
  if (!ec && remote.address().is_v4()) {
    peer_ = Ipv4Address(remote.address().to_v4().to_uint());
    peer_port_ = remote.port();
  }
  if (server_->stopped_) {
    Close();
    return;
  }
  StartRead();
}

void Connection::StartRead() {
  state_ = State::kReading;
  ++generation_;
  parser_.emplace();
  parser_->header_limit(server_->options_.max_header_bytes);
  parser_->body_limit(server_->options_.max_body_bytes);
  ArmDeadline(server_->options_.idle_timeout_ms);
  bhttp::async_read_header(
      socket_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
}

void Connection::OnHeader(beast::error_code ec) {
  if (state_ == State::kClosed) return;
  start_us_ = SteadyMicros();
  if (ec) {
    if (!IsParseError(ec)) {
      // A clean close between requests, a client gone mid-request, or a timeout: nothing to
      // answer.
      Close();
      return;
    }
    int status = ec == bhttp::error::header_limit ? 431
                 : ec == bhttp::error::body_limit ? 413
                                                  : 400;
    RespondMalformed(status, ec.message());
    return;
  }
  auto& msg = parser_->get();
  // RFC 9110 §10.1.1: a client waiting for 100 Continue gets it before we read the body.
  auto expect = msg.find(bhttp::field::expect);
  if (expect != msg.end() && EqualsIgnoreCase(expect->value(), "100-continue") &&
      msg.version() >= 11 && !parser_->is_done()) {
    state_ = State::kResponding;
    SetOutput("HTTP/1.1 100 Continue\r\n\r\n", {}, {}, {}, false);
    out_done_ = [this] {
      state_ = State::kReading;
      ArmDeadline(server_->options_.idle_timeout_ms);
      bhttp::async_read(
          socket_, buffer_, *parser_,
          [self = shared_from_this()](beast::error_code e, size_t) { self->OnBody(e); });
    };
    TryWrite();
    return;
  }
  if (parser_->is_done()) {
    OnBody({});
    return;
  }
  bhttp::async_read(socket_, buffer_, *parser_,
                    [self = shared_from_this()](beast::error_code e, size_t) { self->OnBody(e); });
}

void Connection::OnBody(beast::error_code ec) {
  if (state_ == State::kClosed) return;
  if (ec) {
    if (ec == bhttp::error::body_limit) {
      RespondMalformed(413, "body too large");
    } else if (IsParseError(ec)) {
      RespondMalformed(400, ec.message());
    } else {
      Close();
    }
    return;
  }
  Dispatch();
}

void Connection::Dispatch() {
  Disarm();  // no timeout while a handler works
  auto msg = parser_->release();
  Headers headers;
  for (const auto& field : msg) {
    headers.Add(std::string(field.name_string()), std::string(field.value()));
  }
  version_ = static_cast<int>(msg.version());
  keep_alive_ = msg.keep_alive();
  auto built = BuildRequest(std::string(msg.method_string()), std::string(msg.target()), version_,
                            std::move(headers), std::move(msg.body()));
  if (!built) {
    RespondMalformed(400, built.error().message);
    return;
  }
  Request& req = *built;
  req.peer_address = peer_;
  req.peer_port = peer_port_;
  head_ = req.IsHead();
  access_ = AccessRecord{};
  access_.method = req.method;
  access_.target = req.target;
  access_.path = req.path;
  access_.query = req.query;
  access_.peer_address = peer_;
  access_.peer_port = peer_port_;
  state_ = State::kHandling;
  server_->counters_.requests.fetch_add(1, std::memory_order_relaxed);
  if (server_->stopped_) {
    Close();
    return;
  }
  auto responder = std::make_shared<ResponderImpl>(shared_from_this(), generation_);
  try {
    server_->router_.Dispatch(req, std::move(responder));
  } catch (const std::exception& e) {
    // Handlers should not throw; if one does, the client gets 500 and the server lives on.
    server_->log_->error("conn={} handler for {} threw: {}", id_, req.target, e.what());
    if (state_ == State::kHandling) StartResponse(Response::InternalError());
  }
}

void Connection::RespondMalformed(int status, std::string_view why) {
  server_->counters_.requests.fetch_add(1, std::memory_order_relaxed);
  server_->counters_.malformed.fetch_add(1, std::memory_order_relaxed);
  server_->log_->debug("conn={} peer={}:{} malformed request ({}): {}", id_, peer_.ToString(),
                       peer_port_, status, why);
  access_ = AccessRecord{};
  access_.peer_address = peer_;
  access_.peer_port = peer_port_;
  head_ = false;
  keep_alive_ = false;
  version_ = 11;
  state_ = State::kHandling;
  StartResponse(Response::Error(status));
}

// ---------------------------------------------------------------------------------------------
// Connection: writing

std::string Connection::BuildHead(int status, const Headers& headers,
                                  std::optional<uint64_t> length, bool chunked) {
  std::string head;
  head.reserve(256);
  head += "HTTP/1.1 ";
  head += std::to_string(status);
  head += ' ';
  head += StatusReason(status);
  head += "\r\nDate: ";
  head += CachedDate();
  head += "\r\n";
  bool has_server = false;
  for (const auto& [name, value] : headers) {
    if (IsFramingHeader(name)) continue;
    // A CR or LF in a handler's value would split the header (response splitting); drop it.
    if (name.find_first_of("\r\n:") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      continue;
    }
    has_server = has_server || EqualsIgnoreCase(name, "Server");
    head += name;
    head += ": ";
    head += value;
    head += "\r\n";
  }
  if (!has_server) head += "Server: paddock\r\n";
  if (!StatusHasNoBody(status)) {
    if (length) {
      head += "Content-Length: ";
      head += std::to_string(*length);
      head += "\r\n";
    } else if (chunked) {
      head += "Transfer-Encoding: chunked\r\n";
    }
  }
  if (!keep_alive_) {
    head += "Connection: close\r\n";
  } else if (version_ == 10) {
    head += "Connection: keep-alive\r\n";
  }
  head += "\r\n";
  return head;
}

void Connection::OnSend(uint64_t gen, Response response) {
  if (gen != generation_ || state_ != State::kHandling) {
    if (state_ != State::kClosed) {
      server_->log_->debug("conn={} Responder::Send out of order ignored", id_);
    }
    return;
  }
  StartResponse(std::move(response));
}

void Connection::StartResponse(Response response) {
  state_ = State::kResponding;
  access_.status = response.status;
  access_.label = std::move(response.access_label);
  access_.detail = std::move(response.access_detail);
  server_->counters_.CountStatus(response.status);
  bool no_body = StatusHasNoBody(response.status);
  std::string head = BuildHead(response.status, response.headers, response.ContentLength(), false);
  if (head_ || no_body) {
    SetOutput(std::move(head), {}, {}, {}, false);
    out_done_ = [this] { FinishExchange(true); };
  } else if (response.file) {
    file_ = std::move(response.file);
    file_offset_ = file_->offset;
    file_remaining_ = file_->length;
    // TCP_CORK while the body is sent (nginx's tcp_nopush): only full segments leave until the
    // last byte. With TCP_NODELAY alone, each sendfile call pushed its partial tail at once;
    // a 64 MB file then cost 1.3-1.6x nginx's server CPU per GB (bench/run http, idle machine).
    SetCork(true);
    // MSG_MORE: the kernel holds the header back so it leaves with the first file bytes.
    SetOutput(std::move(head), {}, {}, {}, file_remaining_ > 0);
    out_done_ = [this] { TrySendFile(); };
  } else {
    SetOutput(std::move(head), std::move(response.body), {}, {}, false);
    body_counted_in_parts_ = true;
    out_done_ = [this] { FinishExchange(true); };
  }
  TryWrite();
}

void Connection::SetOutput(std::string head, std::string body, std::string_view body_view,
                           std::string tail, bool more) {
  out_head_ = std::move(head);
  out_body_ = std::move(body);
  out_tail_ = std::move(tail);
  out_parts_[0] = out_head_;
  out_parts_[1] = body_view.empty() ? std::string_view(out_body_) : body_view;
  out_parts_[2] = out_tail_;
  out_more_ = more;
  body_counted_in_parts_ = false;
}

void Connection::TryWrite() {
  if (state_ == State::kClosed) return;
  int fd = socket_.native_handle();
  for (;;) {
    std::array<iovec, 3> iov{};
    int n_iov = 0;
    for (auto& p : out_parts_) {
      if (!p.empty()) {
        iov[n_iov].iov_base = const_cast<char*>(p.data());
        iov[n_iov].iov_len = p.size();
        ++n_iov;
      }
    }
    if (n_iov == 0) break;
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = n_iov;
    ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL | (out_more_ ? MSG_MORE : 0));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        WaitWritable(&Connection::TryWrite);
        return;
      }
      Close();
      return;
    }
    server_->counters_.bytes_sent.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    size_t left = static_cast<size_t>(n);
    for (size_t i = 0; i < out_parts_.size() && left > 0; ++i) {
      size_t take = std::min(left, out_parts_[i].size());
      if (i == 1 && body_counted_in_parts_) access_.bytes_sent += take;
      out_parts_[i].remove_prefix(take);
      left -= take;
    }
    ArmDeadline(server_->options_.idle_timeout_ms);
  }
  auto done = std::move(out_done_);
  out_done_ = nullptr;
  if (done) done();
}

void Connection::WaitWritable(void (Connection::*then)()) {
  ArmDeadline(server_->options_.idle_timeout_ms);
  socket_.async_wait(tcp::socket::wait_write,
                     [self = shared_from_this(), then](beast::error_code ec) {
                       if (ec || self->state_ == State::kClosed) {
                         self->Close();
                         return;
                       }
                       ((*self).*then)();
                     });
}

void Connection::TrySendFile() {
  if (state_ == State::kClosed) return;
  int sock = socket_.native_handle();
  uint64_t slice = 0;
  while (file_remaining_ > 0) {
    off_t off = static_cast<off_t>(file_offset_);
    size_t want = static_cast<size_t>(std::min<uint64_t>(file_remaining_, 1u << 30));
    ssize_t n = ::sendfile(sock, file_->file->fd(), &off, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        WaitWritable(&Connection::TrySendFile);
        return;
      }
      server_->log_->debug("conn={} sendfile: {}", id_, std::strerror(errno));
      Close();
      return;
    }
    if (n == 0) {
      // The file shrank under us: the promised Content-Length can no longer be met.
      server_->log_->warn("conn={} file for {} shrank while sending", id_, access_.target);
      Close();
      return;
    }
    uint64_t sent = static_cast<uint64_t>(n);
    file_offset_ += sent;
    file_remaining_ -= sent;
    access_.bytes_sent += sent;
    server_->counters_.bytes_sent.fetch_add(sent, std::memory_order_relaxed);
    ArmDeadline(server_->options_.idle_timeout_ms);
    slice += sent;
    if (slice >= kSendfileSliceBytes && file_remaining_ > 0) {
      // Fairness: let other connections on this thread run, then continue.
      asio::post(socket_.get_executor(), [self = shared_from_this()] { self->TrySendFile(); });
      return;
    }
  }
  file_.reset();
  SetCork(false);  // pushes the last partial segment
  FinishExchange(true);
}

void Connection::SetCork(bool on) {
  const int value = on ? 1 : 0;
  (void)::setsockopt(socket_.native_handle(), IPPROTO_TCP, TCP_CORK, &value, sizeof(value));
}

void Connection::FinishExchange(bool complete) {
  Record(complete);
  file_.reset();
  if (keep_alive_ && !server_->stopped_) {
    StartRead();
  } else {
    LingerAndClose();
  }
}

void Connection::Record(bool complete) {
  access_.complete = complete;
  access_.duration_us = SteadyMicros() - start_us_;
  // After Stop() the daemon may be tearing down what the observer points at.
  if (server_->observer_ && !server_->stopped_) server_->observer_(access_);
  access_.status = 0;  // recorded; Close() must not record it again
}

// RFC 9112 §9.6: close the sending side first and drain what the client still sends, so
// that a reset does not destroy the response before the client reads it.
void Connection::LingerAndClose() {
  state_ = State::kLingering;
  beast::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  if (ec) {
    Close();
    return;
  }
  ArmDeadline(std::min(kLingerMs, server_->options_.idle_timeout_ms));
  auto scratch = std::make_shared<std::array<char, 4096>>();
  struct Drain {
    std::shared_ptr<Connection> self;
    std::shared_ptr<std::array<char, 4096>> buf;
    void operator()(beast::error_code e, size_t) {
      if (e || self->state_ == State::kClosed) {
        self->Close();
        return;
      }
      self->socket_.async_read_some(asio::buffer(*buf), std::move(*this));
    }
  };
  socket_.async_read_some(asio::buffer(*scratch), Drain{shared_from_this(), scratch});
}

// ---------------------------------------------------------------------------------------------
// Connection: streaming responses

void Connection::OnBegin(uint64_t gen, int status, Headers headers,
                         std::optional<uint64_t> length) {
  if (gen != generation_ || state_ != State::kHandling) return;
  state_ = State::kStreaming;
  access_.status = status;
  server_->counters_.CountStatus(status);
  stream_length_ = StatusHasNoBody(status) ? std::optional<uint64_t>(0) : length;
  stream_chunked_ = !stream_length_ && !head_ && version_ >= 11;
  if (!stream_length_ && !stream_chunked_ && !head_) {
    keep_alive_ = false;  // close-delimited body (HTTP/1.0 client)
  }
  stream_queued_ = 0;
  stream_finishing_ = false;
  stream_queue_.clear();
  std::string head = BuildHead(status, headers, length, stream_chunked_);
  stream_queue_.push_back(Chunk{std::move(head), {}, {}, nullptr});
  PumpStream();
}

void Connection::OnWrite(uint64_t gen, std::string bytes, std::function<void(bool)> done) {
  auto fail = [&] {
    if (done) asio::post(socket_.get_executor(), [d = std::move(done)] { d(false); });
  };
  if (gen != generation_ || state_ != State::kStreaming || stream_finishing_) {
    fail();
    return;
  }
  if (head_ || bytes.empty()) {
    if (done) asio::post(socket_.get_executor(), [d = std::move(done)] { d(true); });
    return;
  }
  if (stream_length_ && stream_queued_ + bytes.size() > *stream_length_) {
    server_->log_->warn("conn={} streamed body exceeds its Content-Length; closing", id_);
    fail();
    Close();
    return;
  }
  stream_queued_ += bytes.size();
  Chunk chunk;
  if (stream_chunked_) {
    char size_line[24];
    std::snprintf(size_line, sizeof(size_line), "%zx\r\n", bytes.size());
    chunk.prefix = size_line;
    chunk.suffix = "\r\n";
  }
  chunk.data = std::move(bytes);
  chunk.done = std::move(done);
  stream_queue_.push_back(std::move(chunk));
  PumpStream();
}

void Connection::OnFinish(uint64_t gen) {
  if (gen != generation_ || state_ != State::kStreaming || stream_finishing_) return;
  if (!head_ && stream_length_ && stream_queued_ != *stream_length_) {
    server_->log_->warn("conn={} streamed body shorter than its Content-Length; closing", id_);
    Close();
    return;
  }
  stream_finishing_ = true;
  if (stream_chunked_) stream_queue_.push_back(Chunk{"0\r\n\r\n", {}, {}, nullptr});
  PumpStream();
}

void Connection::OnAbort(uint64_t gen) {
  if (gen != generation_) return;
  if (state_ == State::kHandling) {
    StartResponse(Response::InternalError());
  } else if (state_ == State::kStreaming) {
    Close();
  }
}

void Connection::PumpStream() {
  if (stream_writing_ || state_ != State::kStreaming) return;
  if (stream_queue_.empty()) {
    if (stream_finishing_) {
      stream_finishing_ = false;
      FinishExchange(true);
    }
    return;
  }
  Chunk& front = stream_queue_.front();
  stream_writing_ = true;
  size_t data_size = front.data.size();
  out_head_ = std::move(front.prefix);
  out_body_ = std::move(front.data);
  out_tail_ = std::move(front.suffix);
  out_parts_ = {out_head_, out_body_, out_tail_};
  out_more_ = false;
  body_counted_in_parts_ = false;
  out_done_ = [this, data_size] {
    stream_writing_ = false;
    access_.bytes_sent += data_size;
    auto done = std::move(stream_queue_.front().done);
    stream_queue_.pop_front();
    // Posted, not called: a producer that writes again from its callback would otherwise
    // recurse once per chunk while the socket keeps accepting data.
    if (done) asio::post(socket_.get_executor(), [d = std::move(done)] { d(true); });
    PumpStream();
  };
  TryWrite();
}

// ---------------------------------------------------------------------------------------------
// Connection: timeouts and close

void Connection::ArmDeadline(int ms) {
  // Lazy deadline: moving it forward costs a clock read; the timer, when it fires early,
  // re-waits until the current deadline instead of being cancelled on every byte.
  deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  if (timer_waiting_) return;
  timer_waiting_ = true;
  timer_.expires_at(deadline_);
  timer_.async_wait([self = shared_from_this()](beast::error_code ec) { self->OnTimer(ec); });
}

void Connection::OnTimer(beast::error_code ec) {
  timer_waiting_ = false;
  if (ec || state_ == State::kClosed || deadline_ == SteadyTime::max()) return;
  auto now = std::chrono::steady_clock::now();
  if (now < deadline_) {
    timer_waiting_ = true;
    timer_.expires_at(deadline_);
    timer_.async_wait([self = shared_from_this()](beast::error_code e) { self->OnTimer(e); });
    return;
  }
  if (state_ != State::kLingering) {
    server_->counters_.timeouts.fetch_add(1, std::memory_order_relaxed);
    server_->log_->debug("conn={} peer={}:{} idle timeout", id_, peer_.ToString(), peer_port_);
  }
  Close();
}

void Connection::Close() {
  if (state_ == State::kClosed) return;
  bool exchange_open =
      state_ == State::kHandling || state_ == State::kResponding || state_ == State::kStreaming;
  state_ = State::kClosed;
  if (exchange_open && access_.status != 0) Record(false);
  beast::error_code ec;
  socket_.close(ec);
  timer_.cancel();
  file_.reset();
  out_done_ = nullptr;
  auto queue = std::move(stream_queue_);
  stream_queue_.clear();
  for (auto& chunk : queue) {
    if (chunk.done) chunk.done(false);
  }
  server_->OnConnectionClosed(this);
}

// ---------------------------------------------------------------------------------------------
// Server

Server::Server(asio::io_context& io, ServerOptions options, const Router& router)
    : impl_(std::make_shared<ServerImpl>(io, options, router)) {}

Server::~Server() { impl_->Stop(); }

Status Server::Start() { return impl_->Start(); }
void Server::Stop() { impl_->Stop(); }
uint16_t Server::port() const { return impl_->port_.load(); }

void Server::SetAccessObserver(std::function<void(const AccessRecord&)> observer) {
  impl_->observer_ = std::move(observer);
}

ServerStats Server::stats() const {
  const Counters& c = impl_->counters_;
  ServerStats s;
  s.connections_accepted = c.accepted.load();
  s.active_connections = c.active.load();
  s.requests = c.requests.load();
  s.status_1xx = c.by_class[0].load();
  s.status_2xx = c.by_class[1].load();
  s.status_3xx = c.by_class[2].load();
  s.status_4xx = c.by_class[3].load();
  s.status_5xx = c.by_class[4].load();
  s.malformed = c.malformed.load();
  s.timeouts = c.timeouts.load();
  s.bytes_sent = c.bytes_sent.load();
  return s;
}

}  // namespace paddock::http
