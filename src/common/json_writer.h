#pragma once

// FlatJsonWriter: a flat JSON object written straight into a string. Timeline details are
// built on hot paths (one per DHCP packet, one per HTTP request); an nlohmann tree per detail
// was a visible share of the io thread's CPU. Keys are the caller's literal ASCII; string
// values are escaped exactly as nlohmann::json::dump with error_handler_t::replace escapes
// them (control characters as \uXXXX, invalid UTF-8 replaced by U+FFFD), so the text is valid
// JSON whatever bytes came from the network.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/net.h"

namespace paddock {

class FlatJsonWriter {
 public:
  explicit FlatJsonWriter(size_t reserve = 160);

  FlatJsonWriter& String(std::string_view key, std::string_view value);
  FlatJsonWriter& Int(std::string_view key, int64_t value);
  FlatJsonWriter& Bool(std::string_view key, bool value);
  // A dotted quad, as a JSON string.
  FlatJsonWriter& Ip(std::string_view key, Ipv4Address value);
  // A value that is already JSON text (the caller vouches for it).
  FlatJsonWriter& Raw(std::string_view key, std::string_view json);

  // The members of `object`, the text of a JSON object (as Finish returns it), appended.
  FlatJsonWriter& Merge(std::string_view object);

  // The object's text ("{}" when nothing was added). The writer is empty afterwards.
  std::string Finish();

 private:
  void Key(std::string_view key);
  std::string out_;
};

// Appends `value` as a JSON string (quoted, escaped as above).
void AppendJsonString(std::string& out, std::string_view value);

}  // namespace paddock
