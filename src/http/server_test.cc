// In-process tests of http::Server: a real server on 127.0.0.1:<ephemeral> and a raw TCP client,
// so framing, keep-alive and error handling are checked byte for byte.

#include "http/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "http/file_server.h"

namespace paddock::http {
namespace {

namespace fs = std::filesystem;

struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  bool ok = false;  // a complete response was read
};

// A blocking loopback client with a receive timeout, and a read buffer kept across responses
// so pipelined and keep-alive responses are split exactly where the server framed them.
class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  ~Client() { ::close(fd_); }

  bool connected() const { return connected_; }
  void Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      data.remove_prefix(static_cast<size_t>(n));
    }
  }
  // Reads one response. head_request: the response has no body whatever its headers say.
  RawResponse Read(bool head_request = false) {
    RawResponse r;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return r;
    }
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    size_t line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    if (status_line.size() < 12) return r;
    r.status = std::atoi(status_line.c_str() + 9);
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t e = head.find("\r\n", pos);
      if (e == std::string::npos) e = head.size();
      std::string line = head.substr(pos, e - pos);
      size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(c));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.headers[name] = value;
      pos = e + 2;
    }
    if (head_request || r.status == 304 || r.status == 204) {
      r.ok = true;
      return r;
    }
    if (r.headers.count("content-length")) {
      size_t len = std::stoull(r.headers["content-length"]);
      while (buf_.size() < len) {
        if (!Fill()) return r;
      }
      r.body = buf_.substr(0, len);
      buf_.erase(0, len);
      r.ok = true;
    } else if (r.headers.count("transfer-encoding") &&
               r.headers.at("transfer-encoding") == "chunked") {
      for (;;) {
        size_t le;
        while ((le = buf_.find("\r\n")) == std::string::npos) {
          if (!Fill()) return r;
        }
        size_t n = std::stoull(buf_.substr(0, le), nullptr, 16);
        while (buf_.size() < le + 2 + n + 2) {
          if (!Fill()) return r;
        }
        r.body += buf_.substr(le + 2, n);
        buf_.erase(0, le + 2 + n + 2);
        if (n == 0) break;
      }
      r.ok = true;
    } else {
      while (Fill()) {
      }
      r.body = std::move(buf_);
      buf_.clear();
      r.ok = true;
    }
    return r;
  }
  // True if the server closed the connection (EOF) within the receive timeout.
  bool ClosedByServer() {
    char c;
    return ::recv(fd_, &c, 1, 0) == 0;
  }
  int fd() const { return fd_; }

 private:
  bool Fill() {
    char tmp[65536];
    ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  int fd_;
  bool connected_ = false;
  std::string buf_;
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/paddock-http-srv-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    for (size_t i = 0; i < 3 * 1024 * 1024; ++i) big_.push_back(static_cast<char>(i * 7 % 251));
    std::ofstream(root_ / "big.bin", std::ios::binary) << big_;

    router_.Handle("GET", "/hello", [](const Request& r) {
      return Response::Text(200, "hello " + std::string(r.Query("name").value_or("nobody")));
    });
    router_.Handle("POST", "/echo", [](const Request& r) { return Response::Text(200, r.body); });
    router_.HandlePrefix("GET", "/assets/", [this](const Request& r) {
      return ServeFile(root_.string(), std::string_view(r.path).substr(8), r);
    });
    router_.Handle("GET", "/throw",
                   [](const Request&) -> Response { throw std::runtime_error("boom"); });
    // Streams "part0".."part4" from another thread, each Write waiting for the previous one.
    router_.HandleAsync(
        "GET", "/stream", [this](const Request& req, std::shared_ptr<Responder> responder) {
          bool with_length = req.Query("len").has_value();
          ++producers_;
          std::thread([this, responder = std::move(responder), with_length]() mutable {
            // The fixture waits for this thread (producers_) before the io_context goes away:
            // the last responder reference must not outlive it.
            struct Done {
              std::atomic<int>& n;
              std::shared_ptr<Responder>& r;
              ~Done() {
                r.reset();
                --n;
              }
            } done{producers_, responder};
            responder->Begin(200, {}, with_length ? std::optional<uint64_t>(25) : std::nullopt);
            for (int i = 0; i < 5; ++i) {
              std::promise<bool> written;
              responder->Write("part" + std::to_string(i), [&](bool ok) { written.set_value(ok); });
              if (!written.get_future().get()) return;
            }
            responder->Finish();
          }).detach();
        });
    router_.HandleAsync("GET", "/abort", [this](const Request&, std::shared_ptr<Responder> r) {
      ++producers_;
      std::thread([this, r]() mutable {
        r->Abort();
        r.reset();
        --producers_;
      }).detach();
    });
    router_.HandleAsync("GET", "/drop", [](const Request&, std::shared_ptr<Responder>) {});
    router_.HandleAsync("GET", "/short", [](const Request&, std::shared_ptr<Responder> r) {
      r->Begin(200, {}, 100);
      r->Write("only ten b", nullptr);
      r->Finish();
    });
  }

  void StartServer(ServerOptions options = {}) {
    options.address = Ipv4Address::Parse("127.0.0.1").value();
    options.port = 0;
    server_ = std::make_unique<Server>(io_, options, router_);
    server_->SetAccessObserver([this](const AccessRecord& a) {
      std::lock_guard<std::mutex> lock(mu_);
      access_.push_back(a);
    });
    ASSERT_TRUE(server_->Start());
    ASSERT_NE(server_->port(), 0);
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    for (int i = 0; i < 500 && producers_.load() != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (server_) {
      boost::asio::post(io_, [this] { server_->Stop(); });
    }
    work_.reset();
    if (thread_.joinable()) thread_.join();
    server_.reset();
    fs::remove_all(root_);
  }

  std::atomic<int> producers_{0};  // detached handler threads still holding a Responder

  std::vector<AccessRecord> Access() {
    std::lock_guard<std::mutex> lock(mu_);
    return access_;
  }

  // Waits (up to 5 s) until `pred` holds; the server updates stats on its own thread.
  template <class Pred>
  bool Eventually(Pred pred) {
    for (int i = 0; i < 500; ++i) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return pred();
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  Router router_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  fs::path root_;
  std::string big_;
  std::mutex mu_;
  std::vector<AccessRecord> access_;
};

TEST_F(ServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  StartServer();
  Client c(server_->port());
  ASSERT_TRUE(c.connected());
  c.Send("GET /hello?name=a HTTP/1.1\r\nHost: x\r\n\r\n");
  RawResponse r1 = c.Read();
  ASSERT_TRUE(r1.ok);
  EXPECT_EQ(r1.status, 200);
  EXPECT_EQ(r1.body, "hello a");
  EXPECT_EQ(r1.headers["content-length"], "7");
  EXPECT_EQ(r1.headers.count("connection"), 0u);
  EXPECT_TRUE(r1.headers.count("date"));
  c.Send("GET /hello?name=b%20c HTTP/1.1\r\nHost: x\r\n\r\n");
  RawResponse r2 = c.Read();
  EXPECT_EQ(r2.body, "hello b c");
  EXPECT_EQ(server_->stats().connections_accepted, 1u);
  EXPECT_EQ(server_->stats().requests, 2u);
  EXPECT_EQ(server_->stats().status_2xx, 2u);
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer();
  Client c(server_->port());
  c.Send(
      "GET /hello?name=1 HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde"
      "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /hello?name=3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(c.Read().body, "hello 1");
  EXPECT_EQ(c.Read().body, "abcde");
  EXPECT_EQ(c.Read().status, 404);
  RawResponse last = c.Read();
  EXPECT_EQ(last.body, "hello 3");
  EXPECT_EQ(last.headers["connection"], "close");
  EXPECT_TRUE(c.ClosedByServer());
}

TEST_F(ServerTest, MalformedRequestIs400AndServerKeepsServing) {
  StartServer();
  {
    Client c(server_->port());
    c.Send("GARBAGE\r\n\r\n");
    RawResponse r = c.Read();
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.headers["connection"], "close");
    EXPECT_TRUE(c.ClosedByServer());
  }
  {
    Client c(server_->port());
    c.Send("GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n");  // bad escape: our parser, not Beast's
    EXPECT_EQ(c.Read().status, 400);
  }
  {
    Client c(server_->port());
    c.Send("GET / HTTP/1.1\r\nBad Header\r\n\r\n");
    EXPECT_EQ(c.Read().status, 400);
  }
  Client c(server_->port());
  c.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.Read().body, "hello nobody");
  EXPECT_EQ(server_->stats().malformed, 3u);
  EXPECT_EQ(server_->stats().status_4xx, 3u);
}

TEST_F(ServerTest, LimitsGive431And413) {
  ServerOptions o;
  o.max_header_bytes = 1024;
  o.max_body_bytes = 10;
  StartServer(o);
  {
    Client c(server_->port());
    c.Send("GET /hello HTTP/1.1\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n");
    EXPECT_EQ(c.Read().status, 431);
  }
  Client c(server_->port());
  c.Send("POST /echo HTTP/1.1\r\nContent-Length: 11\r\n\r\n0123456789x");
  EXPECT_EQ(c.Read().status, 413);
  EXPECT_EQ(server_->stats().malformed, 2u);
}

TEST_F(ServerTest, HeadHasHeadersButNoBody) {
  StartServer();
  Client c(server_->port());
  c.Send("HEAD /assets/big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
  RawResponse h = c.Read(/*head_request=*/true);
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.headers["content-length"], std::to_string(big_.size()));
  // If any body byte had been sent, this second response would be garbled.
  c.Send("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  RawResponse h2 = c.Read(true);
  EXPECT_EQ(h2.status, 200);
  EXPECT_EQ(h2.headers["content-length"], "12");
  c.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.Read().body, "hello nobody");
}

TEST_F(ServerTest, Http10GetsOneResponseAndClose) {
  StartServer();
  Client c(server_->port());
  c.Send("GET /hello HTTP/1.0\r\n\r\n");
  RawResponse r = c.Read();
  EXPECT_EQ(r.body, "hello nobody");
  EXPECT_EQ(r.headers["connection"], "close");
  EXPECT_TRUE(c.ClosedByServer());
  // HTTP/1.0 with keep-alive asked for explicitly keeps the connection.
  Client k(server_->port());
  k.Send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_EQ(k.Read().headers["connection"], "keep-alive");
  k.Send("GET /hello HTTP/1.0\r\n\r\n");
  EXPECT_EQ(k.Read().body, "hello nobody");
}

TEST_F(ServerTest, FileBodyAndRangeBySendfile) {
  StartServer();
  Client c(server_->port());
  c.Send("GET /assets/big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
  RawResponse r = c.Read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body == big_);
  c.Send("GET /assets/big.bin HTTP/1.1\r\nRange: bytes=-1000\r\n\r\n");
  r = c.Read();
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.headers["content-range"], "bytes " + std::to_string(big_.size() - 1000) + "-" +
                                            std::to_string(big_.size() - 1) + "/" +
                                            std::to_string(big_.size()));
  EXPECT_TRUE(r.body == big_.substr(big_.size() - 1000));
  c.Send("GET /assets/../big.bin HTTP/1.1\r\n\r\n");
  EXPECT_EQ(c.Read().status, 403);
  ASSERT_TRUE(Eventually([&] { return Access().size() == 3; }));
  auto access = Access();
  EXPECT_EQ(access[0].bytes_sent, big_.size());
  EXPECT_TRUE(access[0].complete);
  EXPECT_EQ(access[1].status, 206);
  EXPECT_EQ(access[1].bytes_sent, 1000u);
  EXPECT_EQ(access[2].path, "/assets/../big.bin");
  EXPECT_GE(server_->stats().bytes_sent, big_.size() + 1000);
}

TEST_F(ServerTest, SlowReaderGetsWholeFile) {
  StartServer();
  Client c(server_->port());
  int small = 64 * 1024;
  ::setsockopt(c.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  c.Send("GET /assets/big.bin HTTP/1.1\r\n\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // server hits EAGAIN meanwhile
  RawResponse r = c.Read();
  EXPECT_TRUE(r.ok);
  EXPECT_TRUE(r.body == big_);
}

TEST_F(ServerTest, StreamingResponderChunkedAndWithLength) {
  StartServer();
  Client c(server_->port());
  c.Send("GET /stream HTTP/1.1\r\n\r\n");
  RawResponse r = c.Read();
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.headers["transfer-encoding"], "chunked");
  EXPECT_EQ(r.body, "part0part1part2part3part4");
  c.Send("GET /stream?len HTTP/1.1\r\n\r\n");
  r = c.Read();
  EXPECT_EQ(r.headers["content-length"], "25");
  EXPECT_EQ(r.body, "part0part1part2part3part4");
  // HTTP/1.0 without a length: close-delimited.
  Client old(server_->port());
  old.Send("GET /stream HTTP/1.0\r\n\r\n");
  r = old.Read();
  EXPECT_EQ(r.headers.count("transfer-encoding"), 0u);
  EXPECT_EQ(r.body, "part0part1part2part3part4");
  ASSERT_TRUE(Eventually([&] { return Access().size() == 3; }));
  EXPECT_EQ(Access()[0].bytes_sent, 25u);
}

TEST_F(ServerTest, AbortDropAndShortBody) {
  StartServer();
  Client c(server_->port());
  c.Send("GET /abort HTTP/1.1\r\n\r\n");
  EXPECT_EQ(c.Read().status, 500);
  c.Send("GET /drop HTTP/1.1\r\n\r\n");  // responder dropped unused: also 500
  EXPECT_EQ(c.Read().status, 500);
  c.Send("GET /throw HTTP/1.1\r\n\r\n");
  EXPECT_EQ(c.Read().status, 500);
  // A body shorter than announced: the connection is closed, the client sees a short read.
  c.Send("GET /short HTTP/1.1\r\n\r\n");
  RawResponse r = c.Read();
  EXPECT_FALSE(r.ok);
  ASSERT_TRUE(Eventually([&] { return Access().size() == 4; }));
  EXPECT_FALSE(Access()[3].complete);
  EXPECT_EQ(server_->stats().status_5xx, 3u);
}

TEST_F(ServerTest, IdleClientTimesOut) {
  ServerOptions o;
  o.idle_timeout_ms = 200;
  StartServer(o);
  Client c(server_->port());
  c.Send("GET /hel");  // a partial request, then silence
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.ClosedByServer());
  auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(elapsed, std::chrono::seconds(3));
  EXPECT_TRUE(Eventually([&] { return server_->stats().timeouts == 1; }));
  EXPECT_TRUE(Eventually([&] { return server_->stats().active_connections == 0; }));
}

TEST_F(ServerTest, ExpectContinue) {
  StartServer();
  Client c(server_->port());
  c.Send("POST /echo HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
  RawResponse interim = c.Read(true);
  EXPECT_EQ(interim.status, 100);
  c.Send("xyz");
  EXPECT_EQ(c.Read().body, "xyz");
}

TEST_F(ServerTest, MaxConnectionsHoldsBackNewClients) {
  ServerOptions o;
  o.max_connections = 1;
  StartServer(o);
  auto first = std::make_unique<Client>(server_->port());
  first->Send("GET /hello HTTP/1.1\r\n\r\n");
  EXPECT_EQ(first->Read().status, 200);
  Client second(server_->port());  // connects (backlog) but is not served yet
  second.Send("GET /hello HTTP/1.1\r\n\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(server_->stats().connections_accepted, 1u);
  first.reset();
  EXPECT_EQ(second.Read().status, 200);
  EXPECT_EQ(server_->stats().connections_accepted, 2u);
}

TEST_F(ServerTest, HeadOnStreamKeepsConnection) {
  StartServer();
  Client c(server_->port());
  c.Send("HEAD /stream HTTP/1.1\r\n\r\n");
  RawResponse h = c.Read(true);
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.headers.count("transfer-encoding"), 0u);
  c.Send("HEAD /stream?len HTTP/1.1\r\n\r\n");
  EXPECT_EQ(c.Read(true).headers["content-length"], "25");
  c.Send("GET /hello HTTP/1.1\r\n\r\n");
  EXPECT_EQ(c.Read().body, "hello nobody");
}

TEST_F(ServerTest, AccessRecordCarriesRequestFacts) {
  StartServer();
  Client c(server_->port());
  c.Send("GET /hello?name=x%20y&mac=52-54-00-00-00-01 HTTP/1.1\r\n\r\n");
  ASSERT_EQ(c.Read().status, 200);
  ASSERT_TRUE(Eventually([&] { return Access().size() == 1; }));
  AccessRecord a = Access()[0];
  EXPECT_EQ(a.method, "GET");
  EXPECT_EQ(a.target, "/hello?name=x%20y&mac=52-54-00-00-00-01");
  EXPECT_EQ(a.path, "/hello");
  ASSERT_EQ(a.query.size(), 2u);
  EXPECT_EQ(a.query[0].second, "x y");
  EXPECT_EQ(a.peer_address.ToString(), "127.0.0.1");
  EXPECT_NE(a.peer_port, 0);
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.bytes_sent, 9u);  // "hello x y"
  EXPECT_TRUE(a.complete);
  EXPECT_GE(a.duration_us, 0);
}

TEST_F(ServerTest, ManyClientsOnTwoIoThreads) {
  StartServer();
  std::thread second([this] { io_.run(); });
  std::atomic<int> good{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 20; ++i) {
    clients.emplace_back([&, i] {
      Client c(server_->port());
      for (int j = 0; j < 5; ++j) {
        std::string name = std::to_string(i) + "-" + std::to_string(j);
        c.Send("GET /hello?name=" + name + " HTTP/1.1\r\n\r\n");
        if (c.Read().body == "hello " + name) ++good;
      }
      c.Send("GET /assets/big.bin HTTP/1.1\r\nRange: bytes=1000-1999\r\n\r\n");
      if (c.Read().body == big_.substr(1000, 1000)) ++good;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(good.load(), 20 * 6);
  EXPECT_EQ(server_->stats().requests, 120u);
  boost::asio::post(io_, [this] { server_->Stop(); });
  work_.reset();
  second.join();
}

TEST_F(ServerTest, ResponderOutlivingStopIsHarmless) {
  std::shared_ptr<Responder> kept;
  std::promise<void> got;
  router_.HandleAsync("GET", "/park", [&](const Request&, std::shared_ptr<Responder> r) {
    kept = std::move(r);
    got.set_value();
  });
  StartServer();
  Client c(server_->port());
  c.Send("GET /park HTTP/1.1\r\n\r\n");
  got.get_future().wait();
  boost::asio::post(io_, [this] { server_->Stop(); });
  EXPECT_TRUE(c.ClosedByServer());
  std::promise<bool> result;
  kept->Begin(200, {}, std::nullopt);
  kept->Write("late", [&](bool ok) { result.set_value(ok); });
  EXPECT_FALSE(result.get_future().get());
  kept.reset();
}

// A producer on the I/O thread that writes the next chunk from each completion callback:
// 20000 chunks must neither recurse the stack away nor lose or reorder bytes.
TEST_F(ServerTest, ProducerWritingFromCallbacks) {
  constexpr int kChunks = 20000;
  router_.HandleAsync("GET", "/many", [](const Request&, std::shared_ptr<Responder> r) {
    r->Begin(200, {}, std::optional<uint64_t>(kChunks * 6));
    auto next = std::make_shared<std::function<void(int)>>();
    *next = [r, next](int i) {
      if (i == kChunks) {
        r->Finish();
        *next = nullptr;  // break the self-reference
        return;
      }
      char buf[8];
      std::snprintf(buf, sizeof(buf), "%05d\n", i);
      r->Write(buf, [next, i](bool ok) {
        if (ok && *next) (*next)(i + 1);
      });
    };
    (*next)(0);
  });
  StartServer();
  Client c(server_->port());
  c.Send("GET /many HTTP/1.1\r\n\r\n");
  RawResponse r = c.Read();
  ASSERT_TRUE(r.ok);
  ASSERT_EQ(r.body.size(), static_cast<size_t>(kChunks * 6));
  EXPECT_EQ(r.body.substr(0, 12), "00000\n00001\n");
  EXPECT_EQ(r.body.substr(r.body.size() - 6), "19999\n");
}

TEST_F(ServerTest, StartFailsClearlyWhenPortIsTaken) {
  StartServer();
  ServerOptions o;
  o.address = Ipv4Address::Parse("127.0.0.1").value();
  o.port = server_->port();
  Server other(io_, o, router_);
  auto st = other.Start();
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("bind 127.0.0.1:" + std::to_string(o.port)), std::string::npos)
      << st.error().message;
}

}  // namespace
}  // namespace paddock::http
