#pragma once

// The state archive: files a machine keeps across reboots (SSH host keys, machine-id, kubelet
// certificates), as a POSIX ustar archive (POSIX.1-2001 pax "ustar" format) that operators can
// read with `tar -tvf`. Member names are root-relative ("etc/ssh/ssh_host_ed25519_key");
// regular files, directories and symlinks are stored with mode, uid, gid and mtime.
//
// Integrity: the last member is ".paddock-sha256", whose content is the lower-case hex SHA-256
// of every archive byte before that member's header, followed by "\n"; then the two zero
// blocks that end a tar archive. ParseStateArchive checks every header checksum, every size,
// every name (no absolute names, no ".." components), the digest and the end blocks before it
// returns anything, so a truncated or corrupt archive (a cut at any offset, a flipped bit) is
// rejected as a whole. RestoreStateArchive writes only after that, through RootFs, so nothing
// lands outside the root even via symlinks inside the archive.
//
// Pure functions except Build/Restore, which touch the root. Never throws, never crashes on
// bad input (fuzzed: agent_state_archive_fuzz).

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "agent/rootfs.h"
#include "common/result.h"

namespace paddock::agent {

struct StateEntry {
  enum class Type { kFile, kDirectory, kSymlink };
  std::string path;  // root-relative, no leading "/", no trailing "/"
  Type type = Type::kFile;
  mode_t mode = 0644;
  uid_t uid = 0;
  gid_t gid = 0;
  int64_t mtime = 0;
  std::string data;    // file content
  std::string target;  // symlink target
};

inline constexpr const char* kStateChecksumMember = ".paddock-sha256";

// Serialises entries (names must fit ustar: 100 bytes, or 155-byte prefix + 100-byte name).
Result<std::string> WriteStateArchive(const std::vector<StateEntry>& entries);
// Validates everything (see above) and returns the entries, without the checksum member.
Result<std::vector<StateEntry>> ParseStateArchive(std::string_view archive);

// Collects the files matching `globs` (absolute, shell patterns as in glob(7), e.g.
// "/etc/ssh/ssh_host_*") under the root; matched directories are taken with their whole
// subtree. Patterns that match nothing are skipped with a warning.
Result<std::string> BuildStateArchive(const RootFs& fs, const std::vector<std::string>& globs,
                                      std::vector<std::string>* warnings);
// Parses (all checks first), then writes every entry into the root. Returns the entry count.
Result<size_t> RestoreStateArchive(RootFs& fs, std::string_view archive);

}  // namespace paddock::agent
