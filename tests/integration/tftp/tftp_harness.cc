// tftp_harness: runs tftp::Server alone, from flags, for the integration tests (the daemon wires
// the same server from paddock.yaml). Prints "READY port=N" on stdout once listening, writes
// each BootEvent as one JSON line to --events, and on SIGTERM/SIGINT stops and writes the
// final ServerStats as JSON to --stats.

#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "tftp/server.h"

namespace {

class JsonLinesSink : public paddock::EventSink {
 public:
  explicit JsonLinesSink(const std::string& path) {
    if (!path.empty()) out_.open(path, std::ios::app);
  }
  void Record(paddock::BootEvent e) override {
    if (!out_.is_open()) return;
    nlohmann::json j;
    j["mac"] = e.mac.ToString();
    j["phase"] = e.phase;
    j["detail"] = nlohmann::json::parse(e.detail, nullptr, false);
    j["bytes"] = e.bytes;
    j["duration_us"] = e.duration_us;
    j["time_us"] = e.time_us;
    j["ok"] = e.ok;
    std::lock_guard<std::mutex> lock(mu_);
    out_ << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    out_.flush();
  }

 private:
  std::mutex mu_;
  std::ofstream out_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"paddock TFTP server harness"};
  paddock::tftp::ServerOptions o;
  std::string events_path, stats_path, log_level = "info";
  app.add_option("--bind", o.bind_address, "IPv4 address to listen on");
  app.add_option("--port", o.port, "UDP port (0 = any)");
  app.add_option("--root", o.root, "directory to serve")->required();
  app.add_option("--max-blksize", o.max_blksize, "0 = from the interface MTU");
  app.add_option("--max-windowsize", o.max_windowsize);
  app.add_option("--timeout-ms", o.timeout_ms);
  app.add_option("--retries", o.retries);
  app.add_option("--max-transfers", o.max_transfers);
  app.add_option("--cache-max-file", o.cache_max_file_bytes, "bytes; bigger files use pread");
  app.add_option("--events", events_path, "append BootEvents as JSON lines here");
  app.add_option("--stats", stats_path, "write final stats JSON here on exit");
  app.add_option("--log-level", log_level);
  CLI11_PARSE(app, argc, argv);

  paddock::log::Configure(log_level, paddock::log::Format::kText);
  boost::asio::io_context io;
  JsonLinesSink sink(events_path);
  paddock::tftp::Server server(io, o, &sink, nullptr);
  if (auto st = server.Start(); !st) {
    std::cerr << "tftp_harness: " << st.error().ToString() << "\n";
    return 1;
  }
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    server.Stop();
    io.stop();
  });
  std::cout << "READY port=" << server.port() << std::endl;
  io.run();

  auto s = server.GetStats();
  nlohmann::json j = {{"requests", s.requests},
                      {"duplicate_requests", s.duplicate_requests},
                      {"transfers_ok", s.transfers_ok},
                      {"transfers_failed", s.transfers_failed},
                      {"tsize_probes", s.tsize_probes},
                      {"bytes_sent", s.bytes_sent},
                      {"blocks_sent", s.blocks_sent},
                      {"retransmits", s.retransmits},
                      {"cache_hits", s.cache_hits},
                      {"cache_misses", s.cache_misses},
                      {"malformed", s.malformed},
                      {"not_found", s.not_found},
                      {"access_violations", s.access_violations},
                      {"write_refused", s.write_refused},
                      {"busy", s.busy},
                      {"timeouts", s.timeouts},
                      {"client_errors", s.client_errors},
                      {"io_errors", s.io_errors},
                      {"active_transfers", s.active_transfers}};
  if (!stats_path.empty()) {
    std::ofstream(stats_path) << j.dump() << "\n";
  } else {
    std::cout << j.dump() << std::endl;
  }
  return 0;
}
