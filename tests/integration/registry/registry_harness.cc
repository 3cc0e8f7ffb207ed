// registry_harness: the registry module as a process, for the integration tests. It wires what
// the daemon will wire (BlobStore, CurlUpstream, PullThroughCache, Service on http::Server),
// plus the offline tools.
//
//   registry_harness serve  --root DIR [--port-file F] [--upstream NAME=URL[,USER,PASS]]...
//                           [--default-ns NS] [--tag-ttl S] [--max-bytes N] [--closed]
//                           [--proxy URL]
//   registry_harness pull   --root DIR [--upstream ...] IMAGE
//   registry_harness import --root DIR --target NS/REPO:TAG PATH
//   registry_harness hosts  --mirror URL --dir CERTS_DIR NS...   (containerd hosts.toml)
// serve prints per-image stats lines on SIGTERM.
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "common/log.h"
#include "http/router.h"
#include "http/server.h"
#include "registry/blob_store.h"
#include "registry/cache.h"
#include "registry/containerd.h"
#include "registry/service.h"
#include "registry/tools.h"
#include "registry/upstream.h"

namespace reg = paddock::registry;

namespace {

std::vector<reg::UpstreamConfig> ParseUpstreams(const std::vector<std::string>& specs) {
  std::vector<reg::UpstreamConfig> out;
  for (const auto& spec : specs) {
    reg::UpstreamConfig u;
    size_t eq = spec.find('=');
    u.name = spec.substr(0, eq);
    std::string rest = eq == std::string::npos ? "" : spec.substr(eq + 1);
    size_t c1 = rest.find(',');
    u.url = rest.substr(0, c1);
    if (c1 != std::string::npos) {
      size_t c2 = rest.find(',', c1 + 1);
      u.username = rest.substr(c1 + 1, c2 - c1 - 1);
      if (c2 != std::string::npos) u.password = rest.substr(c2 + 1);
    }
    out.push_back(u);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"registry module harness"};
  app.require_subcommand(1);
  std::string root, port_file, default_ns = "docker.io", target, image, path;
  std::vector<std::string> upstreams;
  int64_t tag_ttl = 300;
  uint64_t max_bytes = 0;
  bool closed = false;
  std::string proxy;
  auto add_common = [&](CLI::App* sub) {
    sub->add_option("--root", root)->required();
    sub->add_option("--upstream", upstreams);
    sub->add_option("--default-ns", default_ns);
    sub->add_option("--tag-ttl", tag_ttl);
    sub->add_option("--max-bytes", max_bytes);
    sub->add_flag("--closed", closed, "only configured upstreams");
    sub->add_option("--proxy", proxy, "HTTP proxy for the upstream side");
  };
  auto* serve = app.add_subcommand("serve");
  add_common(serve);
  serve->add_option("--port-file", port_file);
  auto* pull = app.add_subcommand("pull");
  add_common(pull);
  pull->add_option("image", image)->required();
  auto* import = app.add_subcommand("import");
  add_common(import);
  import->add_option("--target", target)->required();
  import->add_option("path", path)->required();
  auto* hosts = app.add_subcommand("hosts", "render containerd hosts.toml files");
  std::string mirror, certs_dir;
  std::vector<std::string> namespaces;
  hosts->add_option("--mirror", mirror)->required();
  hosts->add_option("--dir", certs_dir)->required();
  hosts->add_option("namespaces", namespaces);
  CLI11_PARSE(app, argc, argv);
  if (*hosts) {
    for (const auto& f : reg::RenderContainerdHosts(namespaces, {mirror, true, false}, certs_dir)) {
      std::filesystem::create_directories(std::filesystem::path(f.path).parent_path());
      std::ofstream(f.path) << f.content;
    }
    return 0;
  }
  paddock::log::Configure("info", paddock::log::Format::kText);

  auto store = reg::BlobStore::Open({root, max_bytes, nullptr});
  if (!store) {
    std::cerr << "store: " << store.error().ToString() << "\n";
    return 1;
  }
  if (*import) {
    auto t = reg::ParseImageReference(target);
    if (!t) {
      std::cerr << "target: " << t.error().ToString() << "\n";
      return 2;
    }
    auto r = reg::ImportOciLayout(**store, path, *t);
    if (!r) {
      std::cerr << "import: " << r.error().ToString() << "\n";
      return 1;
    }
    std::cout << "imported manifests=" << r->manifests << " blobs=" << r->blobs << "\n";
    return 0;
  }

  reg::CurlUpstream upstream({.proxy = proxy});
  reg::PullThroughCache cache(**store, upstream,
                              reg::UpstreamRouter(ParseUpstreams(upstreams), default_ns, !closed),
                              reg::CacheOptions{.tag_ttl_seconds = tag_ttl, .clock = nullptr});
  if (*pull) {
    auto ref = reg::ParseImageReference(image);
    if (!ref) {
      std::cerr << "image: " << ref.error().ToString() << "\n";
      return 2;
    }
    auto r = reg::WarmCache(cache, *ref);
    if (!r) {
      std::cerr << "pull: " << r.error().ToString() << "\n";
      return 1;
    }
    std::cout << "pulled manifests=" << r->manifests << " blobs=" << r->blobs
              << " bytes=" << r->blob_bytes << "\n";
    return 0;
  }

  boost::asio::io_context io;
  paddock::http::Router router;
  auto service = std::make_unique<reg::Service>(cache);
  service->Register(router);
  paddock::http::ServerOptions options;
  options.address = paddock::Ipv4Address(0x7f000001);
  options.port = 0;
  paddock::http::Server server(io, options, router);
  if (auto s = server.Start(); !s) {
    std::cerr << "server: " << s.error().ToString() << "\n";
    return 1;
  }
  if (!port_file.empty()) {
    std::ofstream(port_file + ".tmp") << server.port() << "\n";
    std::rename((port_file + ".tmp").c_str(), port_file.c_str());
  }
  std::cout << "listening 127.0.0.1:" << server.port() << std::endl;
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](auto, int) {
    server.Stop();
    io.stop();
  });
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) threads.emplace_back([&] { io.run(); });
  for (auto& t : threads) t.join();
  service.reset();
  for (const auto& [image_key, s] : cache.Stats()) {
    std::cout << "stats " << image_key << " manifest_hits=" << s.manifest_hits
              << " manifest_misses=" << s.manifest_misses << " blob_hits=" << s.blob_hits
              << " blob_misses=" << s.blob_misses << " stale=" << s.stale_served
              << " bytes_upstream=" << s.bytes_from_upstream
              << " bytes_streamed=" << s.bytes_streamed << " bytes_cache=" << s.bytes_from_cache
              << "\n";
  }
  std::cout << "upstream_fetches=" << cache.fetcher().upstream_fetches()
            << " failed_fetches=" << cache.fetcher().failed_fetches() << std::endl;
  return 0;
}
