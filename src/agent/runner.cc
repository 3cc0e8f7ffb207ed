#include "agent/runner.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace paddock::agent {

Result<RunMode> ParseRunMode(std::string_view s) {
  if (s == "chroot") return RunMode::kChroot;
  if (s == "host") return RunMode::kHost;
  if (s == "none") return RunMode::kNone;
  return InvalidArgument("run mode must be chroot, host or none: " + std::string(s));
}

const char* RunModeName(RunMode m) {
  switch (m) {
    case RunMode::kChroot:
      return "chroot";
    case RunMode::kHost:
      return "host";
    case RunMode::kNone:
      return "none";
  }
  return "?";
}

std::string ShellQuote(std::string_view arg) {
  std::string out = "'";
  for (char c : arg) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += "'";
  return out;
}

Result<int> ProcessRunner::Run(const std::vector<std::string>& argv,
                               const std::vector<std::string>& env, const LineSink& output) {
  if (argv.empty()) return InvalidArgument("empty command");
  if (mode_ == RunMode::kNone) {
    output("[skipped: --run-commands=none] " + argv[0]);
    return 0;
  }
  int pipefd[2];
  int errpipe[2];  // exec failure report (CLOEXEC: closes silently on success)
  if (pipe2(pipefd, O_CLOEXEC) != 0 || pipe2(errpipe, O_CLOEXEC) != 0) {
    return IoError(std::string("pipe: ") + std::strerror(errno));
  }
  std::vector<std::string> envs;
  for (char** e = environ; e && *e; ++e) envs.emplace_back(*e);
  auto set_env = [&](const std::string& kv) {
    std::string key = kv.substr(0, kv.find('='));
    for (auto& existing : envs) {
      if (existing.compare(0, key.size() + 1, key + "=") == 0) {
        existing = kv;
        return;
      }
    }
    envs.push_back(kv);
  };
  if (mode_ == RunMode::kChroot && root_ != "/") {
    set_env("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    set_env("HOME=/root");
  }
  if (mode_ == RunMode::kHost) set_env("PADDOCK_ROOT=" + root_);
  for (const auto& kv : env) set_env(kv);
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : envs) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) return IoError(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Child: only async-signal-safe calls from here.
    dup2(pipefd[1], 1);
    dup2(pipefd[1], 2);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    int err = 0;
    if (mode_ == RunMode::kChroot && std::strcmp(root_.c_str(), "/") != 0) {
      if (chroot(root_.c_str()) != 0 || chdir("/") != 0) err = errno;
    } else if (chdir(root_.c_str()) != 0) {
      err = errno;
    }
    if (err == 0) {
      // execvpe searches PATH from the new environment, inside the chroot when there is one.
      for (char** e = cenv.data(); *e; ++e) {
        if (std::strncmp(*e, "PATH=", 5) == 0) setenv("PATH", *e + 5, 1);
      }
      execvpe(cargv[0], cargv.data(), cenv.data());
      err = errno;
    }
    ssize_t ignored = write(errpipe[1], &err, sizeof(err));
    (void)ignored;
    _exit(127);
  }
  close(pipefd[1]);
  close(errpipe[1]);
  std::string pending;
  char buf[4096];
  while (true) {
    ssize_t n = read(pipefd[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buf, n);
    size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      output(std::string_view(pending).substr(0, nl));
      pending.erase(0, nl + 1);
    }
  }
  if (!pending.empty()) output(pending);
  close(pipefd[0]);
  int child_err = 0;
  ssize_t got = read(errpipe[0], &child_err, sizeof(child_err));
  close(errpipe[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (got == sizeof(child_err) && child_err != 0) {
    return IoError("cannot run " + argv[0] + " (" + RunModeName(mode_) +
                   "): " + std::strerror(child_err));
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

}  // namespace paddock::agent
