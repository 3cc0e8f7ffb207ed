#pragma once

// user-data decoding (cloud-init's user_data.py and handlers/): one blob from the datasource
// becomes a merged cloud-config document plus the scripts to run.
//
// Accepted input:
//   - gzip-compressed data (RFC 1952 magic) is inflated first;
//   - MIME multipart when "mime-version:" appears in the first 4096 bytes (as cloud-init
//     checks). Parts may be nested multiparts, and may use Content-Transfer-Encoding base64
//     (RFC 2045 §6.8) or quoted-printable; a part whose payload is gzip is inflated.
//     Part types: text/cloud-config, text/x-shellscript, text/cloud-boothook,
//     text/cloud-config-jsonp and text/x-include-url are recognised; text/plain,
//     application/octet-stream and text/x-not-multipart are typed by their first line;
//   - a single document typed by its first line: "#cloud-config", "#!", "#cloud-boothook".
// Several cloud-config parts are merged in order with merge.h (cloud-init's defaults).
//
// Errors never abort the whole blob: a part that does not parse (invalid YAML, a top-level
// value that is not a mapping, bad base64) is dropped and described in `errors`, naming the
// part and the YAML line/column; the remaining parts still apply. Unsupported part types
// (#include, #cloud-config-archive, #part-handler, #cloud-config-jsonp, jinja templates) are
// listed in `warnings`. Pure and thread-safe; never throws.

#include <string>
#include <string_view>
#include <vector>

#include "agent/yaml.h"

namespace paddock::agent {

struct UserScript {
  std::string name;     // MIME filename or "part-NNN"
  std::string content;  // begins with "#!" (scripts) or "#cloud-boothook" (boothooks)
};

struct UserData {
  Json cloud_config = Json::object();  // merged, always an object
  std::vector<UserScript> scripts;     // "#!" parts, in order (run like cloud-init's scripts_user)
  std::vector<UserScript> boothooks;   // "#cloud-boothook" parts (run before bootcmd)
  int cloud_config_parts = 0;
  std::vector<std::string> warnings;
  std::vector<std::string> errors;
};

struct UserDataLimits {
  size_t max_inflated = 64u << 20;
  int max_mime_depth = 8;
  size_t max_parts = 1000;
};

UserData ParseUserData(std::string_view blob, const UserDataLimits& limits = {});

// One MIME entity, exposed for tests and the fuzzer.
struct MimePart {
  std::string content_type;  // lower-case type/subtype, "" when absent
  std::string filename;
  std::string merge_type;  // Merge-Type / X-Merge-Type header
  std::string body;        // transfer-decoded
};
// Flattens a MIME message into its leaf parts (multiparts are walked recursively).
// Fails on a multipart without a usable boundary.
Result<std::vector<MimePart>> ParseMime(std::string_view message, const UserDataLimits& limits);

}  // namespace paddock::agent
