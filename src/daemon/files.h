#pragma once

// Small file helpers shared by the daemon's services (state archives, templates, host keys).

#include <string>

#include "common/result.h"

namespace paddock::daemon {

// The whole file. kNotFound when it cannot be opened, kIoError when reading fails.
Result<std::string> ReadWholeFile(const std::string& path);

// open(path, flags | O_CLOEXEC) + fsync: makes a file's data, or with O_RDONLY | O_DIRECTORY a
// directory's entries (after a rename), durable.
Status FsyncPath(const std::string& path, int flags);

}  // namespace paddock::daemon
