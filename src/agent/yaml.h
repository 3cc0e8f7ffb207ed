#pragma once

// YAML → JSON value conversion for cloud-config documents. cloud-init loads YAML with PyYAML's
// SafeLoader, i.e. YAML 1.1 scalar resolution; this converter mirrors it so that the same
// document means the same thing here: plain `yes/no/on/off/true/false` are booleans, `~`/`null`
// and empty are null, `0644` is an octal integer (420), `0x1f` hex, `1_000` decimal, `1:30`
// sexagesimal (90); quoted scalars always stay strings; `!!binary` scalars are base64-decoded
// into the string's bytes; `!!str` forces a string. Anchors and aliases are expanded.
//
// Pure and thread-safe. Never throws: yaml-cpp exceptions are caught here and turned into an
// error that names the line and column (1-based), e.g. "line 3, column 7: illegal map value".

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace paddock::agent {

// Key order is kept as written, so printed plans and merged documents read like the input.
using Json = nlohmann::ordered_json;

struct YamlLimits {
  int max_depth = 64;          // nesting of maps/sequences
  size_t max_nodes = 200'000;  // after alias expansion (guards "billion laughs")
};

// Parses the first YAML document in `text`. An empty document yields null.
Result<Json> ParseYaml(std::string_view text, const YamlLimits& limits = {});

// YAML 1.1 resolution of one plain (unquoted) scalar, exposed for tests.
Json ResolvePlainScalar(const std::string& s);

}  // namespace paddock::agent
