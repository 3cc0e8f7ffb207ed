// tftp::Server over real UDP on 127.0.0.1 (port 0), driven by a small client built on the codec.
// Third-party clients are exercised in tests/integration/tftp/.

#include "tftp/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include "tftp/packet.h"

namespace paddock::tftp {
namespace {

namespace fs = std::filesystem;

class RecordingSink : public EventSink {
 public:
  void Record(BootEvent e) override {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(e));
  }
  std::vector<BootEvent> Wait(size_t n) {
    for (int i = 0; i < 300; ++i) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (events_.size() >= n) return events_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }

 private:
  std::mutex mu_;
  std::vector<BootEvent> events_;
};

// A blocking UDP client socket on 127.0.0.1 with a receive timeout.
class Client {
 public:
  explicit Client(uint16_t server_port) : server_port_(server_port) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    timeval tv{0, 300'000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~Client() { ::close(fd_); }

  void SendTo(uint16_t port, const Bytes& b) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::sendto(fd_, b.data(), b.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  }
  void SendRequest(const Bytes& b) { SendTo(server_port_, b); }
  void SendToTid(const Bytes& b) { SendTo(tid_, b); }

  // Next datagram (remembering the sender's port as the TID), or nullopt on timeout.
  std::optional<Bytes> Receive() {
    Bytes buf(70000);
    sockaddr_in from{};
    socklen_t len = sizeof(from);
    ssize_t n =
        ::recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0) return std::nullopt;
    tid_ = ntohs(from.sin_port);
    buf.resize(static_cast<size_t>(n));
    return buf;
  }
  uint16_t tid() const { return tid_; }

 private:
  int fd_;
  uint16_t server_port_;
  uint16_t tid_ = 0;
};

TftpRequest Rrq(const std::string& file, TftpOptions o = {}) {
  TftpRequest r;
  r.filename = file;
  r.options = o;
  return r;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pd-tftp-server-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    fs::create_directories(base_ / "root");
    std::mt19937 rng(42);
    content_.resize(100'000);
    for (auto& b : content_) b = static_cast<uint8_t>(rng());
    std::ofstream(base_ / "root" / "data.bin", std::ios::binary)
        .write(reinterpret_cast<const char*>(content_.data()), content_.size());
    std::ofstream(base_ / "secret") << "secret";
    fs::create_symlink(base_ / "secret", base_ / "root" / "link");
  }
  void TearDown() override {
    if (server_) {
      boost::asio::post(io_, [this] { server_->Stop(); });
    }
    work_.reset();
    if (thread_.joinable()) thread_.join();
    server_.reset();
    fs::remove_all(base_);
  }
  void StartServer(ServerOptions o) {
    o.bind_address = "127.0.0.1";
    o.port = 0;
    o.root = (base_ / "root").string();
    server_ = std::make_unique<Server>(io_, o, &sink_, [](Ipv4Address ip) {
      return ip == Ipv4Address(0x7f000001) ? MacAddress::Parse("52:54:00:00:00:01") : std::nullopt;
    });
    auto st = server_->Start();
    ASSERT_TRUE(st) << st.error().ToString();
    thread_ = std::thread([this] { io_.run(); });
  }

  fs::path base_;
  Bytes content_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      boost::asio::make_work_guard(io_)};
  std::thread thread_;
  RecordingSink sink_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, WindowedTransferWithOackDeliversTheFile) {
  ServerOptions o;
  o.max_windowsize = 4;
  StartServer(o);
  Client c(server_->port());
  TftpOptions want;
  want.blksize = 1000;
  want.tsize = 0;
  want.windowsize = 8;  // clamped to 4
  c.SendRequest(SerializeRequest(Rrq("data.bin", want)));
  auto oack = c.Receive();
  ASSERT_TRUE(oack);
  auto p = ParseTftpPacket(*oack);
  ASSERT_TRUE(p);
  auto opts = std::get<TftpOack>(*p).options;
  EXPECT_EQ(opts.blksize, 1000);
  EXPECT_EQ(opts.tsize, content_.size());
  EXPECT_EQ(opts.windowsize, 4);
  c.SendToTid(SerializeAck(0));
  Bytes got;
  uint16_t expect = 1;
  int in_window = 0;
  for (;;) {
    auto d = c.Receive();
    ASSERT_TRUE(d) << "timeout waiting for block " << expect;
    auto dp = ParseTftpPacket(*d);
    ASSERT_TRUE(dp);
    auto data = std::get<TftpData>(*dp);
    ASSERT_EQ(data.block, expect);
    got.insert(got.end(), data.payload.begin(), data.payload.end());
    ++expect;
    ++in_window;
    bool last = data.payload.size() < 1000;
    if (last || in_window == 4) {
      c.SendToTid(SerializeAck(data.block));
      in_window = 0;
    }
    if (last) break;
  }
  EXPECT_EQ(got, content_);
  auto events = sink_.Wait(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].phase, "tftp.transfer");
  EXPECT_TRUE(events[0].ok);
  EXPECT_EQ(events[0].bytes, static_cast<int64_t>(content_.size()));
  EXPECT_EQ(events[0].mac.ToString(), "52:54:00:00:00:01");
  auto detail = nlohmann::json::parse(events[0].detail);
  EXPECT_EQ(detail["file"], "data.bin");
  EXPECT_EQ(detail["blksize"], 1000);
  EXPECT_EQ(detail["windowsize"], 4);
  EXPECT_EQ(detail["tsize"], content_.size());
  EXPECT_EQ(detail["outcome"], "completed");
  auto stats = server_->GetStats();
  EXPECT_EQ(stats.transfers_ok, 1u);
  EXPECT_EQ(stats.bytes_sent, content_.size());
  EXPECT_EQ(stats.blocks_sent, 101u);
  EXPECT_EQ(stats.cache_misses, 1u);
}

TEST_F(ServerTest, BlksizeFollowsLoopbackMtuAndTsizeProbeIsOk) {
  StartServer(ServerOptions{});  // max_blksize 0: from the MTU of lo (65536)
  Client c(server_->port());
  TftpOptions want;
  want.blksize = 65464;
  want.tsize = 0;
  c.SendRequest(SerializeRequest(Rrq("data.bin", want)));
  auto oack = c.Receive();
  ASSERT_TRUE(oack);
  auto opts = std::get<TftpOack>(*ParseTftpPacket(*oack)).options;
  EXPECT_EQ(opts.blksize, 65464);
  // OVMF: ERROR 8 after the OACK, then a new request.
  c.SendToTid(SerializeError(8, "User aborted the transfer"));
  auto events = sink_.Wait(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].ok);
  EXPECT_EQ(nlohmann::json::parse(events[0].detail)["outcome"], "aborted_after_oack");
  EXPECT_EQ(server_->GetStats().tsize_probes, 1u);
}

TEST_F(ServerTest, RefusalsGetTftpErrors) {
  StartServer(ServerOptions{});
  struct Case {
    std::string file;
    Opcode op;
    uint16_t code;
  };
  const std::vector<Case> cases = {
      {"../secret", Opcode::kRrq, 2}, {"/etc/passwd", Opcode::kRrq, 2}, {"link", Opcode::kRrq, 2},
      {"nope.bin", Opcode::kRrq, 1},  {"data.bin", Opcode::kWrq, 2},
  };
  for (const auto& k : cases) {
    Client c(server_->port());
    TftpRequest r = Rrq(k.file);
    r.opcode = k.op;
    c.SendRequest(SerializeRequest(r));
    auto reply = c.Receive();
    ASSERT_TRUE(reply) << k.file;
    auto p = ParseTftpPacket(*reply);
    ASSERT_TRUE(p);
    ASSERT_TRUE(std::holds_alternative<TftpError>(*p)) << k.file;
    EXPECT_EQ(std::get<TftpError>(*p).code, k.code) << k.file;
    EXPECT_NE(c.tid(), server_->port()) << "errors come from a fresh TID";
  }
  auto events = sink_.Wait(cases.size());
  ASSERT_EQ(events.size(), cases.size());
  for (const auto& e : events) EXPECT_FALSE(e.ok);
  auto s = server_->GetStats();
  EXPECT_EQ(s.access_violations, 3u);
  EXPECT_EQ(s.not_found, 1u);
  EXPECT_EQ(s.write_refused, 1u);
  EXPECT_EQ(s.bytes_sent, 0u);
}

// A pinned file (an operator-named boot file) is served by its exact name even though its
// symlink leaves the root; the same symlink under another name stays refused.
TEST_F(ServerTest, PinnedBootFileIsServedOtherEscapesAreNot) {
  ServerOptions o;
  o.pinned_files["ipxe.efi"] = (base_ / "secret").string();
  fs::create_symlink(base_ / "secret", base_ / "root" / "ipxe.efi");
  StartServer(o);
  for (const char* name : {"ipxe.efi", "link"}) {
    Client c(server_->port());
    c.SendRequest(SerializeRequest(Rrq(name)));
    auto reply = c.Receive();
    ASSERT_TRUE(reply) << name;
    auto p = ParseTftpPacket(*reply);
    ASSERT_TRUE(p) << name;
    if (std::string(name) == "ipxe.efi") {
      ASSERT_TRUE(std::holds_alternative<TftpData>(*p)) << "pinned file refused";
      const auto& d = std::get<TftpData>(*p);
      EXPECT_EQ(AsStringView(d.payload), "secret");
    } else {
      ASSERT_TRUE(std::holds_alternative<TftpError>(*p)) << "unpinned escape served";
      EXPECT_EQ(std::get<TftpError>(*p).code, 2);
    }
  }
}

TEST_F(ServerTest, MalformedDatagramsDoNotStopTheServer) {
  StartServer(ServerOptions{});
  Client c(server_->port());
  c.SendRequest(Bytes{0xff});
  c.SendRequest(Bytes{0, 9, 1, 2, 3});
  c.SendRequest(Bytes{0, 1, 'x'});  // RRQ without NULs: ERROR 4
  auto e = c.Receive();
  ASSERT_TRUE(e);
  EXPECT_EQ(std::get<TftpError>(*ParseTftpPacket(*e)).code, 4);
  c.SendRequest(SerializeRequest(Rrq("data.bin")));
  auto d = c.Receive();
  ASSERT_TRUE(d);
  auto p = ParseTftpPacket(*d);
  ASSERT_TRUE(p);
  EXPECT_EQ(std::get<TftpData>(*p).block, 1);
  EXPECT_EQ(std::get<TftpData>(*p).payload.size(), 512u);
  EXPECT_EQ(server_->GetStats().malformed, 3u);
}

TEST_F(ServerTest, RetransmitsThenGivesUp) {
  ServerOptions o;
  o.timeout_ms = 50;
  o.retries = 2;
  StartServer(o);
  Client c(server_->port());
  c.SendRequest(SerializeRequest(Rrq("data.bin")));
  int copies = 0;
  while (auto d = c.Receive()) {
    auto p = ParseTftpPacket(*d);
    ASSERT_TRUE(p);
    EXPECT_EQ(std::get<TftpData>(*p).block, 1);
    ++copies;
  }
  EXPECT_EQ(copies, 3);  // first send + 2 retries
  auto events = sink_.Wait(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_FALSE(events[0].ok);
  EXPECT_EQ(nlohmann::json::parse(events[0].detail)["outcome"], "timed_out");
  auto s = server_->GetStats();
  EXPECT_EQ(s.retransmits, 2u);
  EXPECT_EQ(s.timeouts, 1u);
  EXPECT_EQ(s.active_transfers, 0u);
}

}  // namespace
}  // namespace paddock::tftp
