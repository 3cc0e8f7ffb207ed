#include "daemon/host_keys.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

namespace paddock::daemon {
namespace fs = std::filesystem;

extern "C" char** environ;

namespace {

constexpr const char* kPrivate = "ssh_host_ed25519_key";
constexpr const char* kPublic = "ssh_host_ed25519_key.pub";

Result<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError("cannot open " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return IoError("cannot read " + path.string());
  return ss.str();
}

void SyncPath(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

HostKeys::HostKeys(std::string dir, std::string ssh_keygen)
    : dir_(std::move(dir)), ssh_keygen_(std::move(ssh_keygen)) {}

Result<HostKeyPair> HostKeys::Get(const MacAddress& mac) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = cache_.find(mac); it != cache_.end()) return it->second;
  const std::string final_dir = (fs::path(dir_) / mac.ToHyphenString()).string();
  std::error_code ec;
  if (!fs::exists(fs::path(final_dir) / kPublic, ec)) {
    if (auto made = Generate(final_dir, mac); !made) return tl::unexpected(made.error());
  }
  auto keys = Load(final_dir);
  if (!keys) return keys;
  cache_[mac] = *keys;
  return keys;
}

Result<HostKeyPair> HostKeys::Load(const std::string& dir) {
  auto priv = ReadFile(fs::path(dir) / kPrivate);
  if (!priv) return tl::unexpected(priv.error());
  auto pub = ReadFile(fs::path(dir) / kPublic);
  if (!pub) return tl::unexpected(pub.error());
  while (!pub->empty() && (pub->back() == '\n' || pub->back() == '\r')) pub->pop_back();
  if (priv->find("PRIVATE KEY") == std::string::npos || pub->rfind("ssh-ed25519 ", 0) != 0) {
    return IoError("host key files in " + dir + " are not an ed25519 key pair");
  }
  return HostKeyPair{std::move(*priv), std::move(*pub)};
}

Result<void> HostKeys::Generate(const std::string& final_dir, const MacAddress& mac) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return IoError("cannot create " + dir_ + ": " + ec.message());
  // A leftover from a crash mid-generation is an incomplete directory: start over.
  const fs::path tmp = fs::path(dir_) / (".tmp-" + mac.ToHyphenString());
  fs::remove_all(tmp, ec);
  if (!fs::create_directory(tmp, ec) || ::chmod(tmp.c_str(), 0700) != 0) {
    return IoError("cannot create " + tmp.string());
  }
  const std::string key = (tmp / kPrivate).string();
  const std::string comment = "paddock-" + mac.ToHyphenString();
  std::vector<std::string> args = {ssh_keygen_, "-q", "-t",    "ed25519", "-N",
                                   "",          "-C", comment, "-f",      key};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, ssh_keygen_.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    fs::remove_all(tmp, ec);
    return IoError("cannot run " + ssh_keygen_ + " (install openssh-client): " + std::strerror(rc));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !fs::exists(key + ".pub", ec)) {
    fs::remove_all(tmp, ec);
    return IoError(ssh_keygen_ + " failed generating a host key for " + mac.ToString());
  }
  SyncPath(key);
  SyncPath(key + ".pub");
  SyncPath(tmp);
  if (::rename(tmp.c_str(), final_dir.c_str()) != 0) {
    int err = errno;
    fs::remove_all(tmp, ec);
    return IoError("cannot rename " + tmp.string() + " to " + final_dir + ": " +
                   std::strerror(err));
  }
  SyncPath(dir_);
  return {};
}

std::string SshKeysYaml(const HostKeyPair& keys) {
  std::string out = "ssh_keys:\n  ed25519_private: |\n";
  std::istringstream lines(keys.ed25519_private);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) out += "    " + line + "\n";
  }
  // JSON strings are valid YAML scalars.
  out += "  ed25519_public: " + nlohmann::json(keys.ed25519_public).dump() + "\n";
  return out;
}

}  // namespace paddock::daemon
