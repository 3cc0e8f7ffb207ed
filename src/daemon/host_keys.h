#pragma once

// Per-machine SSH host keys, so a diskless node's host key is stable across reboots without
// anything on its disk: paddock generates an ed25519 key pair for a MAC the first time a node
// asks for it and serves the same pair on every later boot (through the agent's vendor-data
// `ssh_keys`, cloud-init's key names). Keys live under <dir>/<mac-hyphen>/ (directory 0700,
// private key 0600), written into a temporary directory and renamed into place, so a crash
// never leaves half a key pair.
//
// Generation runs OpenSSH's own `ssh-keygen` (Debian: openssh-client), so the files are in the
// exact format sshd reads. Thread-safe; Get() blocks for the few milliseconds ssh-keygen takes
// on a machine's first request, so call it off the io thread.

#include <mutex>
#include <string>
#include <unordered_map>

#include "common/net.h"
#include "common/result.h"

namespace paddock::daemon {

struct HostKeyPair {
  std::string ed25519_private;  // "-----BEGIN OPENSSH PRIVATE KEY-----\n..."
  std::string ed25519_public;   // "ssh-ed25519 AAAA... paddock-52-54-00-12-34-56" (no newline)
};

class HostKeys {
 public:
  // `dir` is absolute and created on first use. `ssh_keygen` is the program to run.
  explicit HostKeys(std::string dir, std::string ssh_keygen = "ssh-keygen");

  // The machine's key pair, generated on first use. kIoError when ssh-keygen is missing or
  // fails, or the files cannot be written or read.
  Result<HostKeyPair> Get(const MacAddress& mac);

 private:
  Result<HostKeyPair> Load(const std::string& dir);
  Result<void> Generate(const std::string& final_dir, const MacAddress& mac);

  std::string dir_;
  std::string ssh_keygen_;
  std::mutex mu_;  // serialises generation and guards cache_
  std::unordered_map<MacAddress, HostKeyPair> cache_;
};

// The `ssh_keys:` mapping of a #cloud-config for `keys` (YAML, no leading indentation, ends
// with a newline).
std::string SshKeysYaml(const HostKeyPair& keys);

}  // namespace paddock::daemon
