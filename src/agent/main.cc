// paddock-agent: the node-side binary. `main` only parses options and wires (see boot.h,
// apply.h, state_archive.h). Static build: stdio and getopt only, no iostream.

#include <getopt.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "agent/apply.h"
#include "agent/boot.h"
#include "agent/codec.h"
#include "agent/merge.h"
#include "agent/rootfs.h"
#include "agent/runner.h"
#include "agent/state_archive.h"
#include "agent/userdata.h"
#include "common/clock.h"

namespace paddock::agent {
namespace {

constexpr const char* kUsage =
    "usage:\n"
    "  paddock-agent apply --file USER-DATA --root DIR [--dry-run] [--run-commands "
    "chroot|host|none]\n"
    "                      [--meta-data FILE] [--vendor-data FILE] [--default-user NAME] "
    "[--mount]\n"
    "  paddock-agent boot [--cmdline-file FILE] [--root DIR] [--run-commands MODE]\n"
    "                     [--no-power] [--watch SECONDS] [--timeout-ms N] [--retries N]\n"
    "  paddock-agent state save --root DIR --paths GLOB[,GLOB...] [GLOB...] --out FILE\n"
    "  paddock-agent state restore --root DIR --in FILE [--sha256 HEX]\n"
    "  paddock-agent version\n";

Result<std::string> ReadAll(const std::string& path) {
  FILE* f = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
  if (!f) return IoError("cannot open " + path + ": " + std::strerror(errno));
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  bool err = std::ferror(f);
  if (f != stdin) std::fclose(f);
  if (err) return IoError("read error on " + path);
  return out;
}

class ConsoleReporter final : public Reporter {
 public:
  void Phase(const PhaseReport& r) override {
    std::string extra;
    if (r.detail.contains("error")) extra += ": " + r.detail["error"].get<std::string>();
    if (r.detail.contains("warnings")) {
      for (const auto& w : r.detail["warnings"]) extra += "\n  warning: " + w.get<std::string>();
    }
    std::fprintf(stderr, "paddock-agent: %-28s %s %8lld us%s\n", r.phase.c_str(),
                 r.ok ? "ok    " : "FAILED", static_cast<long long>(r.duration_us), extra.c_str());
  }
  void Output(std::string_view line) override {
    std::fprintf(stderr, "paddock-agent: | %.*s\n", static_cast<int>(line.size()), line.data());
  }
};

int Apply(int argc, char** argv) {
  std::string file, root, meta_file, vendor_file;
  ApplyOptions opts;
  static const option kOpts[] = {{"file", required_argument, nullptr, 'f'},
                                 {"root", required_argument, nullptr, 'r'},
                                 {"dry-run", no_argument, nullptr, 'n'},
                                 {"run-commands", required_argument, nullptr, 'c'},
                                 {"meta-data", required_argument, nullptr, 'm'},
                                 {"vendor-data", required_argument, nullptr, 'v'},
                                 {"default-user", required_argument, nullptr, 'u'},
                                 {"mount", no_argument, nullptr, 'M'},
                                 {nullptr, 0, nullptr, 0}};
  bool run_mode_set = false;
  int c;
  while ((c = getopt_long(argc, argv, "", kOpts, nullptr)) != -1) {
    switch (c) {
      case 'f':
        file = optarg;
        break;
      case 'r':
        root = optarg;
        break;
      case 'n':
        opts.dry_run = true;
        break;
      case 'c': {
        auto m = ParseRunMode(optarg);
        if (!m) {
          std::fprintf(stderr, "%s\n", m.error().message.c_str());
          return 2;
        }
        opts.run_mode = *m;
        run_mode_set = true;
        break;
      }
      case 'm':
        meta_file = optarg;
        break;
      case 'v':
        vendor_file = optarg;
        break;
      case 'u':
        opts.default_user = optarg;
        break;
      case 'M':
        opts.mount = true;
        break;
      default:
        std::fputs(kUsage, stderr);
        return 2;
    }
  }
  if (file.empty() || root.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (!run_mode_set) opts.run_mode = RunMode::kChroot;
  opts.root = root;
  int64_t t0 = SteadyMicros();
  auto blob = ReadAll(file);
  if (!blob) {
    std::fprintf(stderr, "paddock-agent: %s\n", blob.error().message.c_str());
    return 2;
  }
  if (!meta_file.empty()) {
    auto m = ReadAll(meta_file);
    auto j = m ? ParseYaml(*m) : Result<Json>(tl::unexpected(m.error()));
    if (!j || !j->is_object()) {
      std::fprintf(stderr, "paddock-agent: meta-data: %s\n",
                   j ? "not a mapping" : j.error().message.c_str());
      return 2;
    }
    opts.meta_data = *j;
  }
  UserData ud = ParseUserData(*blob);
  if (!vendor_file.empty()) {
    auto v = ReadAll(vendor_file);
    if (!v) {
      std::fprintf(stderr, "paddock-agent: %s\n", v.error().message.c_str());
      return 2;
    }
    UserData vd = ParseUserData(*v);
    ud.cloud_config = MergeValues(ud.cloud_config, vd.cloud_config,
                                  ParseMergerString("dict(no_replace)+list()+str()"));
    for (auto& e : vd.errors) ud.errors.push_back("vendor-data: " + e);
  }
  for (const auto& e : ud.errors) std::fprintf(stderr, "paddock-agent: error: %s\n", e.c_str());
  ConsoleReporter reporter;
  ProcessRunner runner(root, opts.run_mode);
  ApplyResult result = ApplyUserData(ud, opts, reporter, runner);
  if (opts.dry_run) {
    for (const auto& line : result.plan) std::printf("%s\n", line.c_str());
  }
  std::fprintf(stderr, "paddock-agent: apply %s in %lld us (%zu modules, %zu warnings)\n",
               result.ok && ud.errors.empty() ? "finished" : "finished with errors",
               static_cast<long long>(SteadyMicros() - t0), result.modules.size(),
               result.warnings.size());
  return result.ok && ud.errors.empty() ? 0 : 1;
}

int Boot(int argc, char** argv) {
  BootOptions opts;
  static const option kOpts[] = {{"cmdline-file", required_argument, nullptr, 'k'},
                                 {"root", required_argument, nullptr, 'r'},
                                 {"run-commands", required_argument, nullptr, 'c'},
                                 {"no-power", no_argument, nullptr, 'P'},
                                 {"watch", required_argument, nullptr, 'w'},
                                 {"timeout-ms", required_argument, nullptr, 't'},
                                 {"retries", required_argument, nullptr, 'R'},
                                 {"default-user", required_argument, nullptr, 'u'},
                                 {nullptr, 0, nullptr, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", kOpts, nullptr)) != -1) {
    switch (c) {
      case 'k':
        opts.cmdline_file = optarg;
        break;
      case 'r':
        opts.root = optarg;
        break;
      case 'c': {
        auto m = ParseRunMode(optarg);
        if (!m) {
          std::fprintf(stderr, "%s\n", m.error().message.c_str());
          return 2;
        }
        opts.run_mode = *m;
        break;
      }
      case 'P':
        opts.act_on_power_state = false;
        break;
      case 'w':
        opts.watch_seconds = std::atoi(optarg);
        break;
      case 't':
        opts.timeout_ms = std::atoi(optarg);
        break;
      case 'R':
        opts.retries = std::atoi(optarg);
        break;
      case 'u':
        opts.default_user = optarg;
        break;
      default:
        std::fputs(kUsage, stderr);
        return 2;
    }
  }
  return RunBoot(opts);
}

int State(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::string verb = argv[1];
  std::string root, out, in, sha;
  std::vector<std::string> globs;
  static const option kOpts[] = {
      {"root", required_argument, nullptr, 'r'},   {"paths", required_argument, nullptr, 'p'},
      {"out", required_argument, nullptr, 'o'},    {"in", required_argument, nullptr, 'i'},
      {"sha256", required_argument, nullptr, 's'}, {nullptr, 0, nullptr, 0}};
  auto add_globs = [&](const std::string& s) {
    size_t pos = 0;
    while (pos <= s.size()) {
      size_t comma = s.find(',', pos);
      std::string g = s.substr(pos, comma == std::string::npos ? comma : comma - pos);
      if (!g.empty()) globs.push_back(g);
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
  };
  int c;
  optind = 2;
  while ((c = getopt_long(argc, argv, "", kOpts, nullptr)) != -1) {
    switch (c) {
      case 'r':
        root = optarg;
        break;
      case 'p':
        add_globs(optarg);
        break;
      case 'o':
        out = optarg;
        break;
      case 'i':
        in = optarg;
        break;
      case 's':
        sha = optarg;
        break;
      default:
        std::fputs(kUsage, stderr);
        return 2;
    }
  }
  for (int i = optind; i < argc; ++i) add_globs(argv[i]);
  if (root.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (verb == "save") {
    if (out.empty() || globs.empty()) {
      std::fputs(kUsage, stderr);
      return 2;
    }
    RootFs fs(root, false);
    std::vector<std::string> warnings;
    auto archive = BuildStateArchive(fs, globs, &warnings);
    for (const auto& w : warnings) std::fprintf(stderr, "paddock-agent: warning: %s\n", w.c_str());
    if (!archive) {
      std::fprintf(stderr, "paddock-agent: %s\n", archive.error().message.c_str());
      return 1;
    }
    FILE* f = std::fopen(out.c_str(), "wb");
    if (!f || std::fwrite(archive->data(), 1, archive->size(), f) != archive->size() ||
        std::fclose(f) != 0) {
      std::fprintf(stderr, "paddock-agent: cannot write %s\n", out.c_str());
      return 1;
    }
    std::printf("%s  %s\n", Sha256::HexDigest(*archive).c_str(), out.c_str());
    return 0;
  }
  if (verb == "restore") {
    if (in.empty()) {
      std::fputs(kUsage, stderr);
      return 2;
    }
    auto data = ReadAll(in);
    if (!data) {
      std::fprintf(stderr, "paddock-agent: %s\n", data.error().message.c_str());
      return 1;
    }
    if (!sha.empty() && Sha256::HexDigest(*data) != sha) {
      std::fprintf(stderr, "paddock-agent: %s does not match --sha256; nothing restored\n",
                   in.c_str());
      return 1;
    }
    RootFs fs(root, false);
    auto n = RestoreStateArchive(fs, *data);
    if (!n) {
      std::fprintf(stderr, "paddock-agent: state rejected, nothing restored: %s\n",
                   n.error().message.c_str());
      return 1;
    }
    std::fprintf(stderr, "paddock-agent: restored %zu entries into %s\n", *n, root.c_str());
    return 0;
  }
  std::fputs(kUsage, stderr);
  return 2;
}

}  // namespace
}  // namespace paddock::agent

int main(int argc, char** argv) {
  using namespace paddock::agent;
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::string cmd = argv[1];
  if (cmd == "apply") return Apply(argc - 1, argv + 1);
  if (cmd == "boot") return Boot(argc - 1, argv + 1);
  if (cmd == "state") return State(argc - 1, argv + 1);
  if (cmd == "version" || cmd == "--version") {
    std::printf("paddock-agent\n");
    return 0;
  }
  std::fputs(kUsage, stderr);
  return 2;
}
