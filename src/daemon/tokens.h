#pragma once

// Boot tokens: one-time secrets put on a machine's kernel command line. Only a hash is stored.

#include <string>

namespace paddock::daemon {

// 128 random bits from the kernel (getrandom), as 32 lower-case hex characters.
std::string NewBootToken();

// Lower-case hex SHA-256 of the token text.
std::string HashToken(const std::string& token);

}  // namespace paddock::daemon
