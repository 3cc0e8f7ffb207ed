#pragma once

// Result<T>: the return type of anything that can fail on input. Untrusted input never throws;
// a codec or parser returns an Error that the caller counts, logs and drops.

#include <string>
#include <utility>

#include <tl/expected.hpp>

namespace paddock {

enum class ErrorCode {
  kInvalidArgument,  // malformed input (packet, request, config value)
  kNotFound,
  kAlreadyExists,
  kPermissionDenied,  // path escapes a root, token reused, credential wrong
  kUnavailable,       // transient: peer or resource not reachable now
  kIoError,
  kInternal,
};

const char* ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  std::string ToString() const;
};

template <class T>
using Result = tl::expected<T, Error>;

// Status is Result<void>: success carries nothing.
using Status = Result<void>;

inline tl::unexpected<Error> MakeError(ErrorCode code, std::string message) {
  return tl::unexpected<Error>(Error{code, std::move(message)});
}
inline tl::unexpected<Error> InvalidArgument(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}
inline tl::unexpected<Error> NotFound(std::string message) {
  return MakeError(ErrorCode::kNotFound, std::move(message));
}
inline tl::unexpected<Error> IoError(std::string message) {
  return MakeError(ErrorCode::kIoError, std::move(message));
}
inline tl::unexpected<Error> PermissionDenied(std::string message) {
  return MakeError(ErrorCode::kPermissionDenied, std::move(message));
}

inline Status Ok() { return {}; }

}  // namespace paddock
