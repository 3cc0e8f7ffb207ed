// The HTTP client and the agent protocol against a small fake server on loopback (the I/O
// seam is the socket: the real client code runs unchanged).

#include "agent/http_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "agent/boot.h"
#include "agent/codec.h"
#include "agent/server_api.h"

#include <filesystem>
#include <fstream>

namespace paddock::agent {
namespace {

struct SeenRequest {
  std::string method, target, authorization, body, sha_header;
};

// Accepts connections on 127.0.0.1:0, reads one request each (head + Content-Length body) and
// answers with whatever the handler returns as raw bytes.
class FakeServer {
 public:
  using Handler = std::function<std::string(const SeenRequest&)>;
  explicit FakeServer(Handler h) : handler_(std::move(h)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
    socklen_t len = sizeof(sa);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    listen(fd_, 16);
    thread_ = std::thread([this] { Loop(); });
  }
  ~FakeServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
    for (int c : kept_open_) close(c);
  }
  uint16_t port() const { return port_; }
  std::vector<SeenRequest> requests() {
    std::lock_guard<std::mutex> l(mu_);
    return seen_;
  }

 private:
  void Loop() {
    while (!stop_) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string data;
      char buf[65536];
      size_t need = std::string::npos;
      while (true) {
        ssize_t n = recv(c, buf, sizeof(buf), 0);
        if (n <= 0) break;
        data.append(buf, n);
        size_t he = data.find("\r\n\r\n");
        if (he != std::string::npos && need == std::string::npos) {
          size_t cl = data.find("Content-Length: ");
          need =
              he + 4 + (cl != std::string::npos && cl < he ? std::stoul(data.substr(cl + 16)) : 0);
        }
        if (need != std::string::npos && data.size() >= need) break;
      }
      SeenRequest r;
      size_t sp1 = data.find(' '), sp2 = data.find(' ', sp1 + 1);
      r.method = data.substr(0, sp1);
      r.target = data.substr(sp1 + 1, sp2 - sp1 - 1);
      auto header = [&](const std::string& name) {
        size_t p = data.find("\r\n" + name + ": ");
        if (p == std::string::npos) return std::string();
        size_t s = p + name.size() + 4;
        return data.substr(s, data.find("\r\n", s) - s);
      };
      r.authorization = header("Authorization");
      r.sha_header = header("X-Paddock-Sha256");
      r.body = data.substr(data.find("\r\n\r\n") + 4);
      {
        std::lock_guard<std::mutex> l(mu_);
        seen_.push_back(r);
      }
      std::string resp = handler_(r);
      send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
      if (resp.find("Content-Length") == std::string::npos && resp.rfind("HTTP/1.1 204", 0) == 0) {
        kept_open_.push_back(c);  // a 204 needs no close to be complete
      } else {
        close(c);
      }
    }
  }

  Handler handler_;
  int fd_;
  uint16_t port_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<SeenRequest> seen_;
  std::vector<int> kept_open_;
};

std::string Reply(int status, const std::string& body, const std::string& extra = "") {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
}

ServerUrl Loopback(uint16_t port) { return ServerUrl{Ipv4Address(0x7f000001), port, ""}; }

TEST(HttpParse, FramingVariants) {
  auto r = ParseHttpResponse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
  EXPECT_EQ(r->Header("x-a"), "b");
  auto c = ParseHttpResponse(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n "
      "world\r\n0\r\n\r\n");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->body, "hello world");
  auto eof = ParseHttpResponse("HTTP/1.0 404 Not Found\r\n\r\nno");
  ASSERT_TRUE(eof.has_value());
  EXPECT_EQ(eof->status, 404);
  EXPECT_FALSE(ParseHttpResponse("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort"));
  EXPECT_FALSE(ParseHttpResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"));
  EXPECT_FALSE(ParseHttpResponse("SSH-2.0-OpenSSH\r\n\r\n"));
  EXPECT_FALSE(ParseHttpResponse("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999\r\n\r\n"));
}

TEST(ServerApi, RedeemFetchReportAndState) {
  std::string archive = "pretend-archive-bytes";
  std::string stored;
  FakeServer server([&](const SeenRequest& r) {
    if (r.target == "/agent/v1/redeem") {
      auto j = Json::parse(r.body);
      if (j["token"] == "tok-1" && j["mac"] == "52:54:00:12:34:56") {
        return Reply(200, R"({"credential":"cred-xyz"})");
      }
      return Reply(403, "");
    }
    if (r.authorization != "Bearer cred-xyz") return Reply(401, "");
    if (r.target == "/agent/v1/nocloud/user-data")
      return Reply(200, "#cloud-config\nhostname: a\n");
    if (r.target == "/agent/v1/nocloud/vendor-data") return Reply(404, "");
    if (r.target == "/agent/v1/state" && r.method == "GET") {
      return Reply(200, archive, "X-Paddock-Sha256: " + Sha256::HexDigest(archive) + "\r\n");
    }
    if (r.target == "/agent/v1/state" && r.method == "PUT") {
      if (r.sha_header != Sha256::HexDigest(r.body)) return Reply(400, "");
      stored = r.body;
      return Reply(204, "");
    }
    if (r.target == "/agent/v1/report" || r.target == "/agent/v1/log") return Reply(204, "");
    return Reply(404, "");
  });
  ServerApi api(Loopback(server.port()), 2000, 0);
  auto mac = *MacAddress::Parse("52:54:00:12:34:56");
  auto bad = api.Redeem("wrong", mac);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kPermissionDenied);
  auto cred = api.Redeem("tok-1", mac);
  ASSERT_TRUE(cred.has_value()) << cred.error().message;
  EXPECT_EQ(*cred, "cred-xyz");

  auto ud = api.GetDocument("user-data");
  ASSERT_TRUE(ud.has_value());
  ASSERT_TRUE(ud->has_value());
  EXPECT_EQ(**ud, "#cloud-config\nhostname: a\n");
  auto vd = api.GetDocument("vendor-data");
  ASSERT_TRUE(vd.has_value());
  EXPECT_FALSE(vd->has_value());

  PhaseReport rep;
  rep.phase = "module:write_files";
  rep.ok = false;
  rep.duration_us = 1234;
  rep.detail = {{"error", "boom"}};
  ASSERT_TRUE(api.Report(rep, 12.5).has_value());
  ASSERT_TRUE(api.Log({"line one", "line two"}).has_value());

  auto st = api.GetState();
  ASSERT_TRUE(st.has_value()) << st.error().message;
  EXPECT_EQ(**st, archive);
  ASSERT_TRUE(api.PutState("new-state").has_value());
  EXPECT_EQ(stored, "new-state");

  auto reqs = server.requests();
  bool saw_report = false;
  for (const auto& r : reqs) {
    if (r.target != "/agent/v1/report") continue;
    auto j = Json::parse(r.body);
    EXPECT_EQ(j["phase"], "module:write_files");
    EXPECT_EQ(j["ok"], false);
    EXPECT_EQ(j["duration_us"], 1234);
    EXPECT_EQ(j["detail"]["error"], "boom");
    EXPECT_DOUBLE_EQ(j["uptime"].get<double>(), 12.5);
    saw_report = true;
  }
  EXPECT_TRUE(saw_report);
  // Only redeem goes without the credential.
  for (const auto& r : reqs) {
    if (r.target != "/agent/v1/redeem") {
      EXPECT_EQ(r.authorization, "Bearer cred-xyz") << r.target;
    }
  }
}

TEST(ServerApi, StateChecksumMismatchAndRetries) {
  std::atomic<int> calls{0};
  FakeServer server([&](const SeenRequest& r) {
    if (r.target == "/agent/v1/state") {
      return Reply(200, "tampered", "X-Paddock-Sha256: " + Sha256::HexDigest("original") + "\r\n");
    }
    // The first two document fetches fail with 503, the third succeeds.
    if (++calls < 3) return Reply(503, "");
    return Reply(200, "instance-id: i-1\n");
  });
  ServerApi api(Loopback(server.port()), 2000, 3);
  api.set_credential("c");
  auto st = api.GetState();
  ASSERT_FALSE(st.has_value());
  EXPECT_NE(st.error().message.find("X-Paddock-Sha256"), std::string::npos);
  auto md = api.GetDocument("meta-data");
  ASSERT_TRUE(md.has_value());
  EXPECT_EQ(**md, "instance-id: i-1\n");
  EXPECT_EQ(calls.load(), 3);
}

TEST(HttpClient, NoContentDoesNotWaitForClose) {
  FakeServer server(
      [](const SeenRequest&) { return std::string("HTTP/1.1 204 No Content\r\n\r\n"); });
  HttpClient c(Ipv4Address(0x7f000001), server.port(), 2000);
  auto r = c.Send("POST", "/agent/v1/report", {}, "{}");
  ASSERT_TRUE(r.has_value()) << r.error().message;  // a wait for the close would time out
  EXPECT_EQ(r->status, 204);
}

TEST(HttpClient, ConnectionRefusedIsUnavailable) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  socklen_t len = sizeof(sa);
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  close(fd);  // nothing listens on this port now
  HttpClient c(Ipv4Address(0x7f000001), ntohs(sa.sin_port), 1000);
  auto r = c.Send("GET", "/", {}, "");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
}

// The whole boot sequence against a fake paddock: two boots of one machine. The first has no
// saved state and uploads its host key; the second gets it back. A reused token is refused.
TEST(Boot, TwoBootsRestoreStateAndRefuseReusedToken) {
  namespace fs = std::filesystem;
  char tmpl[] = "/tmp/pd-agent-boot-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string root = dir + "/root";
  fs::create_directories(root + "/etc");
  std::ofstream(root + "/etc/passwd") << "root:x:0:0:root:/root:/bin/sh\n";
  std::ofstream(root + "/etc/group") << "root:x:0:\n";

  std::mutex mu;
  std::set<std::string> used_tokens;
  std::string saved_state;
  int boots = 0;
  Json userdata_detail;
  std::vector<std::string> phases;
  std::vector<std::string> log_lines;
  FakeServer server([&](const SeenRequest& r) {
    std::lock_guard<std::mutex> l(mu);
    if (r.target == "/agent/v1/redeem") {
      auto j = Json::parse(r.body);
      std::string tok = j["token"];
      if (used_tokens.count(tok)) return Reply(403, "");
      used_tokens.insert(tok);
      ++boots;
      return Reply(200, R"({"credential":"cred-1"})");
    }
    if (r.authorization != "Bearer cred-1") return Reply(401, "");
    if (r.target == "/agent/v1/nocloud/meta-data") {
      return Reply(200,
                   "instance-id: i-1\nlocal-hostname: boot1\n"
                   "persist_paths: [/etc/ssh/ssh_host_*]\n");
    }
    if (r.target == "/agent/v1/nocloud/user-data") {
      // Only the first boot writes the key; later boots must get it from the saved state.
      if (boots > 1) return Reply(200, "#cloud-config\nusers: []\nruncmd: [echo again]\n");
      return Reply(200,
                   "#cloud-config\nusers: []\nwrite_files:\n"
                   "- {path: /etc/ssh/ssh_host_ed25519_key, content: KEY, permissions: '0600'}\n"
                   "runcmd: [echo hi]\nbogus_key: 1\n");
    }
    if (r.target.rfind("/agent/v1/nocloud/", 0) == 0) return Reply(404, "");
    if (r.target == "/agent/v1/state" && r.method == "GET") {
      if (saved_state.empty()) return Reply(404, "");
      return Reply(200, saved_state);
    }
    if (r.target == "/agent/v1/state" && r.method == "PUT") {
      if (Sha256::HexDigest(r.body) != r.sha_header) return Reply(400, "");
      saved_state = r.body;
      return Reply(204, "");
    }
    if (r.target == "/agent/v1/report") {
      Json body = Json::parse(r.body);
      phases.push_back(body["phase"]);
      if (body["phase"] == "userdata") userdata_detail = body["detail"];
      // A 204 without Content-Length on a connection the server keeps open: the client must
      // not wait for the close.
      return std::string("HTTP/1.1 204 No Content\r\n\r\n");
    }
    if (r.target == "/agent/v1/log") {
      Json body = Json::parse(r.body);
      for (const auto& line : body["lines"]) log_lines.push_back(line);
      return Reply(204, "");
    }
    return Reply(404, "");
  });
  auto write_cmdline = [&](const std::string& token) {
    std::ofstream(dir + "/cmdline")
        << "console=ttyS0 paddock.server=http://127.0.0.1:" << server.port()
        << " paddock.token=" << token << " paddock.mac=52:54:00:00:00:01\n";
  };
  BootOptions opts;
  opts.cmdline_file = dir + "/cmdline";
  opts.root = root;
  opts.run_mode = RunMode::kNone;
  opts.retries = 0;
  opts.timeout_ms = 3000;
  opts.act_on_power_state = false;

  write_cmdline("tok-a");
  EXPECT_EQ(RunBoot(opts), 0);
  {
    std::lock_guard<std::mutex> l(mu);
    std::vector<std::string> want = {"agent_started", "token_redeemed", "state_restored",
                                     "datasource_fetched", "userdata"};
    ASSERT_GE(phases.size(), want.size());
    EXPECT_EQ(std::vector<std::string>(phases.begin(), phases.begin() + 5), want);
    EXPECT_NE(std::find(phases.begin(), phases.end(), "module:write_files"), phases.end());
    EXPECT_NE(std::find(phases.begin(), phases.end(), "runcmd_finished"), phases.end());
    EXPECT_NE(std::find(phases.begin(), phases.end(), "state_saved"), phases.end());
    EXPECT_EQ(phases.back(), "ready");
    EXPECT_FALSE(saved_state.empty());
    bool warned = false;
    for (const auto& line : log_lines)
      warned |= line.find("unknown key 'bogus_key'") != std::string::npos;
    EXPECT_TRUE(warned);
    EXPECT_EQ(userdata_detail["unknown_keys"], Json::array({"bogus_key"}));
  }
  std::ifstream hn(root + "/etc/hostname");
  std::string hostname;
  hn >> hostname;
  EXPECT_EQ(hostname, "boot1");  // from meta-data local-hostname

  // Reboot: RAM is wiped (a fresh root); the same token is refused, a new one works and the
  // host key comes back from the saved state.
  fs::remove_all(root + "/etc/ssh");
  EXPECT_EQ(RunBoot(opts), 3);
  write_cmdline("tok-b");
  {
    std::lock_guard<std::mutex> l(mu);
    phases.clear();
  }
  EXPECT_EQ(RunBoot(opts), 0);
  std::ifstream key(root + "/etc/ssh/ssh_host_ed25519_key");
  std::string k;
  key >> k;
  EXPECT_EQ(k, "KEY");
  struct stat st;
  ASSERT_EQ(stat((root + "/etc/ssh/ssh_host_ed25519_key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  {
    std::lock_guard<std::mutex> l(mu);
    EXPECT_NE(std::find(phases.begin(), phases.end(), "state_restored"), phases.end());
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace paddock::agent
