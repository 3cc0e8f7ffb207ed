#pragma once

// `paddock state ls MAC` and `paddock state get MAC [--version N] -o FILE`: the operator's view
// of the state archives the node agent uploads (<data_dir>/state/<mac-hyphen>/<N>.tar, see
// daemon/agent_service.h). Read-only; safe while the daemon runs (versions appear by rename).

#include <cstdint>
#include <string>

namespace paddock::cli {

// Prints the versions of `mac` (version, bytes, time), oldest first, or JSON. Returns the
// process exit status: 0, 1 on a bad MAC or I/O error.
int StateList(const std::string& data_dir, const std::string& mac, bool json);
// Copies version `version` (0 = the latest) to `out` ("-" = stdout). 1 when there is none.
int StateGet(const std::string& data_dir, const std::string& mac, int64_t version,
             const std::string& out);

}  // namespace paddock::cli
