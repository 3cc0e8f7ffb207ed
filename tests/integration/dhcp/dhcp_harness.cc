// dhcp_harness: runs dhcp::Server with InMemoryLeaseStorage from command-line flags, for the
// integration tests in this folder (the daemon's real wiring lives in src/daemon). Prints a
// JSON line with the server's Stats to stdout on SIGTERM/SIGINT and exits 0.

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "common/log.h"
#include "dhcp/server.h"

using namespace paddock;

namespace {

class LogSink final : public EventSink {
 public:
  void Record(BootEvent e) override {
    log::Get("events")->info("mac={} {} {}", e.mac.ToString(), e.phase, e.detail);
  }
};

Ipv4Address Ip(const std::string& s, const char* flag) {
  auto ip = Ipv4Address::Parse(s);
  if (!ip) {
    std::fprintf(stderr, "bad address for %s: %s\n", flag, s.c_str());
    std::exit(2);
  }
  return *ip;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"paddock DHCP test harness"};
  std::string mode = "full", iface, server, range_start, range_end, netmask = "255.255.255.0",
              router, domain, level = "info";
  std::vector<std::string> dns, reserve, relay_subnets;
  int64_t lease_time = 600, quarantine = 600;
  uint16_t server_port = 67, proxy_port = 4011, client_port = 68, http_port = 8080;
  int save_delay_us = 0;
  bool ra = false;
  app.add_option("--mode", mode)->check(CLI::IsMember({"full", "proxy"}));
  app.add_option("--interface", iface);
  app.add_option("--server", server)->required();
  app.add_option("--range-start", range_start);
  app.add_option("--range-end", range_end);
  app.add_option("--netmask", netmask);
  app.add_option("--router", router);
  app.add_option("--dns", dns);
  app.add_option("--domain", domain);
  app.add_option("--lease-time", lease_time);
  app.add_option("--quarantine", quarantine);
  app.add_option("--reserve", reserve, "MAC=IP[=HOSTNAME]");
  app.add_option("--relay-subnet", relay_subnets, "START-END (netmask from --netmask)");
  app.add_option("--server-port", server_port);
  app.add_option("--proxy-port", proxy_port);
  app.add_option("--client-port", client_port);
  app.add_option("--http-port", http_port);
  app.add_option("--save-delay-us", save_delay_us, "simulated fsync per lease batch");
  app.add_flag("--ra", ra, "send IPv6 router advertisements");
  app.add_option("--log-level", level);
  CLI11_PARSE(app, argc, argv);
  log::Configure(level, log::Format::kText);

  dhcp::ServerOptions o;
  o.mode = mode == "full" ? dhcp::Mode::kFull : dhcp::Mode::kProxy;
  o.interface = iface;
  o.server_address = Ip(server, "--server");
  o.policy.server = o.server_address;
  o.policy.http_port = http_port;
  o.server_port = server_port;
  o.proxy_port = proxy_port;
  o.client_port = client_port;
  o.lease_seconds = lease_time;
  o.decline_quarantine_seconds = quarantine;
  o.router_advertisements = ra;
  if (!range_start.empty()) {
    dhcp::SubnetOptions s;
    s.range = {Ip(range_start, "--range-start"), Ip(range_end, "--range-end"),
               Ip(netmask, "--netmask")};
    if (!router.empty()) s.router = Ip(router, "--router");
    for (const auto& d : dns) s.dns.push_back(Ip(d, "--dns"));
    s.domain = domain;
    o.subnets.push_back(s);
  }
  for (const auto& r : relay_subnets) {
    auto dash = r.find('-');
    dhcp::SubnetOptions s;
    s.range = {Ip(r.substr(0, dash), "--relay-subnet"), Ip(r.substr(dash + 1), "--relay-subnet"),
               Ip(netmask, "--netmask")};
    o.subnets.push_back(s);
  }
  for (const auto& r : reserve) {
    auto a = r.find('='), b = r.find('=', a + 1);
    auto mac = MacAddress::Parse(r.substr(0, a));
    if (!mac || a == std::string::npos) {
      std::fprintf(stderr, "bad --reserve %s\n", r.c_str());
      return 2;
    }
    o.reservations.push_back(
        {*mac, Ip(r.substr(a + 1, b == std::string::npos ? b : b - a - 1), "--reserve"),
         b == std::string::npos ? "" : r.substr(b + 1)});
  }

  boost::asio::io_context io;
  dhcp::InMemoryLeaseStorage storage{std::chrono::microseconds(save_delay_us)};
  LogSink sink;
  dhcp::Server srv(io, o, &sink, &storage);
  if (auto s = srv.Start(); !s) {
    std::fprintf(stderr, "start failed: %s\n", s.error().ToString().c_str());
    return 1;
  }
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code&, int) {
    srv.Stop();
    io.stop();
  });
  std::fprintf(stderr, "dhcp_harness ready\n");
  io.run();
  dhcp::Stats st = srv.GetStats();
  std::printf(
      "{\"received\":%lu,\"dropped_malformed\":%lu,\"ignored\":%lu,\"discovers\":%lu,"
      "\"requests\":%lu,\"offers\":%lu,\"acks\":%lu,\"naks\":%lu,\"proxy_offers\":%lu,"
      "\"proxy_acks\":%lu,\"pool_exhausted\":%lu,\"send_errors\":%lu,\"persist_batches\":%lu,"
      "\"persist_errors\":%lu,\"leases_saved\":%lu,\"router_advertisements\":%lu}\n",
      st.received, st.dropped_malformed, st.ignored, st.discovers, st.requests, st.offers, st.acks,
      st.naks, st.proxy_offers, st.proxy_acks, st.pool_exhausted, st.send_errors,
      st.persist_batches, st.persist_errors, storage.leases_saved(), st.router_advertisements);
  std::fflush(stdout);
  return 0;
}
