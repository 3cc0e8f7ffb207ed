#include "daemon/host_keys.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/files.h"

namespace paddock::daemon {
namespace fs = std::filesystem;

extern "C" char** environ;

namespace {

constexpr const char* kPrivate = "ssh_host_ed25519_key";
constexpr const char* kPublic = "ssh_host_ed25519_key.pub";

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
  auto priv = ReadWholeFile((fs::path(dir) / kPrivate).string());
  if (!priv) return tl::unexpected(priv.error());
  auto pub = ReadWholeFile((fs::path(dir) / kPublic).string());
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
  // Best effort before the rename publishes the pair; ssh-keygen wrote the files already.
  (void)FsyncPath(key, O_RDONLY);
  (void)FsyncPath(key + ".pub", O_RDONLY);
  (void)FsyncPath(tmp.string(), O_RDONLY | O_DIRECTORY);
  if (::rename(tmp.c_str(), final_dir.c_str()) != 0) {
    int err = errno;
    fs::remove_all(tmp, ec);
    return IoError("cannot rename " + tmp.string() + " to " + final_dir + ": " +
                   std::strerror(err));
  }
  (void)FsyncPath(dir_, O_RDONLY | O_DIRECTORY);
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
