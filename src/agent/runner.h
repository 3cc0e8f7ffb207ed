#pragma once

// Running commands for bootcmd, runcmd and user scripts. The I/O seam is CommandRunner; the real
// one (ProcessRunner) forks and execs, with stdout and stderr merged into one pipe whose lines
// are handed to a callback as they arrive (the agent logs and reports them).
//
// Where commands run (`--run-commands`):
//   chroot: chroot(root) + chdir("/"), so a command sees the node's tree; the root must contain
//           the program (e.g. /bin/sh). Default whenever root != "/".
//   host:   the host's programs, with the working directory set to the root and PADDOCK_ROOT
//           set to it; absolute paths in commands then touch the host, so this is for tests
//           that use relative paths only.
//   none:   nothing runs; the command is recorded as skipped (exit status 0).
// With root == "/" chroot and host are the same thing.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace paddock::agent {

enum class RunMode { kChroot, kHost, kNone };
Result<RunMode> ParseRunMode(std::string_view s);
const char* RunModeName(RunMode m);

using LineSink = std::function<void(std::string_view line)>;

class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  // Runs argv[0] (looked up in PATH) with the environment additions `env` ("K=V"). Returns the
  // exit status (128+signal when killed), or an error when the program could not be started.
  virtual Result<int> Run(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                          const LineSink& output) = 0;
};

class ProcessRunner final : public CommandRunner {
 public:
  ProcessRunner(std::string root, RunMode mode) : root_(std::move(root)), mode_(mode) {}
  Result<int> Run(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                  const LineSink& output) override;

 private:
  std::string root_;
  RunMode mode_;
};

// cloud-init's shellify(): a runcmd item that is a list becomes one shell-quoted command line
// ('a' 'b c'); a string is taken verbatim.
std::string ShellQuote(std::string_view arg);

}  // namespace paddock::agent
