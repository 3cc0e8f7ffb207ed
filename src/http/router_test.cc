#include "http/router.h"

#include <gtest/gtest.h>

namespace paddock::http {
namespace {

// A Responder that records what the router or handler sent: the fake at the I/O seam.
class RecordingResponder : public Responder {
 public:
  void Send(Response r) override { sent = std::move(r); }
  void Begin(int status, Headers, std::optional<uint64_t>) override { begun = status; }
  void Write(std::string, std::function<void(bool)> done) override { done(true); }
  void Finish() override {}
  void Abort() override {}

  std::optional<Response> sent;
  int begun = 0;
};

Request Req(std::string method, std::string target) {
  return BuildRequest(std::move(method), std::move(target), 11, {}, "").value();
}

Response Named(std::string name) { return Response::Text(200, std::move(name)); }

std::optional<Response> RunRoute(const Router& r, const Request& req) {
  auto responder = std::make_shared<RecordingResponder>();
  r.Dispatch(req, responder);
  return responder->sent;
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Handle("GET", "/boot.ipxe", [](const Request&) { return Named("boot"); });
    router_.Handle("GET", "/ipxe", [](const Request& q) {
      return Named("ipxe:" + std::string(q.Query("mac").value_or("?")));
    });
    router_.Handle("POST", "/ipxe", [](const Request&) { return Named("post-ipxe"); });
    router_.HandlePrefix("GET", "/assets/", [](const Request&) { return Named("assets"); });
    router_.HandlePrefix("GET", "/assets/special/",
                         [](const Request&) { return Named("special"); });
    router_.HandlePrefix("PUT", "/v2/", [](const Request&) { return Named("v2-put"); });
  }
  Router router_;
};

TEST_F(RouterTest, ExactMatch) {
  EXPECT_EQ(RunRoute(router_, Req("GET", "/boot.ipxe"))->body, "boot");
  EXPECT_EQ(RunRoute(router_, Req("GET", "/ipxe?mac=52-54-00-00-00-01"))->body,
            "ipxe:52-54-00-00-00-01");
  EXPECT_EQ(RunRoute(router_, Req("POST", "/ipxe"))->body, "post-ipxe");
}

TEST_F(RouterTest, ExactDoesNotMatchLongerPaths) {
  EXPECT_EQ(RunRoute(router_, Req("GET", "/boot.ipxe/x"))->status, 404);
  EXPECT_EQ(RunRoute(router_, Req("GET", "/boot"))->status, 404);
}

TEST_F(RouterTest, LongestPrefixWins) {
  EXPECT_EQ(RunRoute(router_, Req("GET", "/assets/vmlinuz"))->body, "assets");
  EXPECT_EQ(RunRoute(router_, Req("GET", "/assets/special/x"))->body, "special");
  EXPECT_EQ(RunRoute(router_, Req("GET", "/assets/specialx"))->body, "assets");
  // Prefixes match the decoded path, dot segments included (ServeFile refuses those).
  EXPECT_EQ(RunRoute(router_, Req("GET", "/assets/%2e%2e/x"))->body, "assets");
  EXPECT_EQ(RunRoute(router_, Req("GET", "/assets"))->status, 404);
}

TEST_F(RouterTest, HeadFallsBackToGet) {
  EXPECT_EQ(RunRoute(router_, Req("HEAD", "/boot.ipxe"))->body, "boot");
  EXPECT_EQ(RunRoute(router_, Req("HEAD", "/assets/x"))->body, "assets");
}

TEST_F(RouterTest, WrongMethodIs405WithAllow) {
  auto r = RunRoute(router_, Req("DELETE", "/ipxe"));
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->headers.Get("Allow"), "GET, POST, HEAD");
  r = RunRoute(router_, Req("POST", "/assets/x"));
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->headers.Get("Allow"), "GET, HEAD");
  // A longer prefix that lacks the method does not fall back to a shorter one.
  r = RunRoute(router_, Req("PUT", "/v2/x"));
  EXPECT_EQ(r->body, "v2-put");
  EXPECT_EQ(RunRoute(router_, Req("GET", "/v2/x"))->status, 405);
  // Methods are case-sensitive (RFC 9110 §9.1).
  EXPECT_EQ(RunRoute(router_, Req("get", "/boot.ipxe"))->status, 405);
}

TEST_F(RouterTest, UnknownPathIs404) {
  EXPECT_EQ(RunRoute(router_, Req("GET", "/"))->status, 404);
  EXPECT_EQ(RunRoute(router_, Req("GET", "/nothing"))->status, 404);
  EXPECT_EQ(router_.AllowFor("/nothing"), "");
}

TEST_F(RouterTest, LaterRegistrationReplaces) {
  router_.Handle("GET", "/boot.ipxe", [](const Request&) { return Named("boot2"); });
  EXPECT_EQ(RunRoute(router_, Req("GET", "/boot.ipxe"))->body, "boot2");
}

TEST(RouterAsyncTest, AsyncHandlerGetsTheResponder) {
  Router router;
  std::shared_ptr<Responder> kept;
  router.HandleAsync("GET", "/slow",
                     [&](const Request&, std::shared_ptr<Responder> r) { kept = std::move(r); });
  auto responder = std::make_shared<RecordingResponder>();
  router.Dispatch(Req("GET", "/slow"), responder);
  EXPECT_FALSE(responder->sent.has_value());
  ASSERT_EQ(kept.get(), responder.get());
  kept->Begin(200, {}, 5);
  EXPECT_EQ(responder->begun, 200);
}

}  // namespace
}  // namespace paddock::http
