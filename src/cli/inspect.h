#pragma once

// Read-side CLI commands over the store: `paddock machines` and `paddock timeline MAC`. They
// open the database read-only-in-spirit (plain reads, WAL lets them run beside the daemon).

#include <cstdint>
#include <string>

namespace paddock::cli {

// Prints every known machine. Returns the process exit code.
int PrintMachines(const std::string& db_path, bool json);

// Prints one machine's timeline, oldest first, grouped by boot; `boot` = 0 means every boot,
// -1 the latest. Returns the process exit code (1 when the MAC is malformed or unknown).
int PrintTimeline(const std::string& db_path, const std::string& mac, int64_t boot, bool json);

}  // namespace paddock::cli
