// http_harness: serves a directory with http::ServeFile on a loopback address, for the curl
// integration tests and benchmarks.
//
//   http_harness --root DIR [--address 127.0.0.1] [--port 0] [--port-file FILE] [--threads 1]
//
// Routes: GET /assets/<path> (the directory), GET /hello (text), GET /stats (counters as
// "name value" lines). Writes the bound port to --port-file once listening; runs until
// SIGTERM or SIGINT.

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "http/file_server.h"
#include "http/router.h"
#include "http/server.h"

using namespace paddock;

int main(int argc, char** argv) {
  std::string root, address = "127.0.0.1", port_file;
  int port = 0, threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    std::string value = argv[i + 1];
    if (flag == "--root") {
      root = value;
    } else if (flag == "--address") {
      address = value;
    } else if (flag == "--port") {
      port = std::atoi(value.c_str());
    } else if (flag == "--port-file") {
      port_file = value;
    } else if (flag == "--threads") {
      threads = std::max(1, std::atoi(value.c_str()));
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  auto addr = Ipv4Address::Parse(address);
  if (root.empty() || !addr) {
    std::fprintf(stderr, "usage: http_harness --root DIR [--address A] [--port P]\n");
    return 2;
  }

  boost::asio::io_context io;
  http::Router router;
  router.HandlePrefix("GET", "/assets/", [&root](const http::Request& req) {
    return http::ServeFile(root, std::string_view(req.path).substr(8), req);
  });
  router.Handle("GET", "/hello",
                [](const http::Request&) { return http::Response::Text(200, "hello\n"); });
  http::Server* server_ptr = nullptr;
  router.Handle("GET", "/stats", [&server_ptr](const http::Request&) {
    http::ServerStats s = server_ptr->stats();
    std::string text =
        "requests " + std::to_string(s.requests) + "\nmalformed " + std::to_string(s.malformed) +
        "\nstatus_2xx " + std::to_string(s.status_2xx) + "\nstatus_4xx " +
        std::to_string(s.status_4xx) + "\nbytes_sent " + std::to_string(s.bytes_sent) +
        "\nactive_connections " + std::to_string(s.active_connections) + "\n";
    return http::Response::Text(200, std::move(text));
  });

  http::ServerOptions options;
  options.address = *addr;
  options.port = static_cast<uint16_t>(port);
  http::Server server(io, options, router);
  server_ptr = &server;
  if (auto st = server.Start(); !st) {
    std::fprintf(stderr, "http_harness: %s\n", st.error().message.c_str());
    return 1;
  }
  if (!port_file.empty()) {
    std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << server.port() << "\n";
    std::rename(tmp.c_str(), port_file.c_str());
  }
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code&, int) {
    server.Stop();
    io.stop();
  });
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
  return 0;
}
