#pragma once

// cloud-init's merging of several cloud-config parts (cloudinit/mergers/, handlers/
// cloud_config.py). A merger spec is the `Merge-Type`/`X-Merge-Type` MIME header or the part's
// own `merge_how` (or `merge_type`) key, either as a string "dict(replace)+list(append)+str()"
// or as the list form [{name: list, settings: [append]}, ...]. A part without one uses the
// default "dict(replace)+list()+str()": a later part's top-level key replaces the earlier
// value entirely (two `runcmd:` lists -> only the last survives).
//
// Implemented options (as in cloud-init's m_dict.py, m_list.py, m_str.py):
//   dict: replace | no_replace (default no_replace when dict() is named without a method),
//         recurse_list/recurse_array, recurse_str, allow_delete; dicts always recurse.
//   list: replace (default) | append | prepend | no_replace; recurse_dict, recurse_list,
//         recurse_str (only for replace-by-index).
//   str:  append (else the new string replaces).
// A type with no merger named keeps the old value (cloud-init's "unknown" merger).
//
// Pure and thread-safe.

#include <string>
#include <vector>

#include "agent/yaml.h"
#include "common/result.h"

namespace paddock::agent {

struct MergerSpec {
  std::string name;                  // "dict", "list", "str"
  std::vector<std::string> options;  // e.g. {"no_replace", "recurse_list"}
};
using MergerStack = std::vector<MergerSpec>;

// "dict(replace)+list()+str()"
MergerStack DefaultMergers();
// Parses the string form; malformed pieces are skipped (cloud-init logs and ignores them).
MergerStack ParseMergerString(const std::string& text);
// Reads `merge_how` or `merge_type` from a part (string or list form). Empty when absent.
MergerStack MergersFromPart(const Json& part);

// Merges `incoming` into `base` with `mergers` and returns the result (cloud-init
// `merger.merge(cloud_buf, payload)`).
Json MergeValues(const Json& base, const Json& incoming, const MergerStack& mergers);

// cloud-init's handling of one cloud-config part: mergers come from the part itself, then the
// headers, else the default.
Json MergeCloudConfigPart(const Json& base, const Json& part, const std::string& merge_header);

}  // namespace paddock::agent
