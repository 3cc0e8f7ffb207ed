#include "agent/merge.h"

#include <algorithm>

namespace paddock::agent {
namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

bool Has(const MergerSpec& m, const char* opt) {
  return std::find(m.options.begin(), m.options.end(), opt) != m.options.end();
}

const MergerSpec* Find(const MergerStack& stack, const char* name) {
  for (const auto& m : stack) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

// First of `methods` present in the options, else `def` (mergers pick their method this way).
std::string Method(const MergerSpec& m, std::initializer_list<const char*> methods,
                   const char* def) {
  for (const char* meth : methods) {
    if (Has(m, meth)) return meth;
  }
  return def;
}

Json Merge(const Json& base, const Json& incoming, const MergerStack& stack, int depth);

Json MergeDict(const Json& base, const Json& incoming, const MergerSpec& m,
               const MergerStack& stack, int depth) {
  if (!incoming.is_object()) return base;
  bool replace = Method(m, {"replace", "no_replace"}, "no_replace") == "replace";
  bool recurse_list = Has(m, "recurse_list") || Has(m, "recurse_array");
  bool recurse_str = Has(m, "recurse_str");
  bool allow_delete = Has(m, "allow_delete");
  Json out = base;
  for (const auto& [key, value] : incoming.items()) {
    if (!out.contains(key)) {
      out[key] = value;
      continue;
    }
    if (value.is_null() && allow_delete) {
      out.erase(key);
      continue;
    }
    if (replace) {
      out[key] = value;
    } else if ((value.is_array() && recurse_list) || (value.is_string() && recurse_str) ||
               value.is_object()) {
      out[key] = Merge(out[key], value, stack, depth + 1);
    }
    // otherwise: no_replace keeps the old value
  }
  return out;
}

Json MergeList(const Json& base, const Json& incoming, const MergerSpec& m,
               const MergerStack& stack, int depth) {
  std::string method = Method(m, {"append", "prepend", "replace", "no_replace"}, "replace");
  if (method == "replace" && !incoming.is_array()) return incoming;
  if (!incoming.is_array()) return base;  // cloud-init would fail iterating; keep the old value
  Json out = Json::array();
  if (method == "prepend") {
    for (const auto& v : incoming) out.push_back(v);
    for (const auto& v : base) out.push_back(v);
    return out;
  }
  if (method == "append") {
    for (const auto& v : base) out.push_back(v);
    for (const auto& v : incoming) out.push_back(v);
    return out;
  }
  out = base;
  size_t common = std::min(out.size(), incoming.size());
  for (size_t i = 0; i < common; ++i) {
    if (method == "no_replace") continue;
    const Json& nv = incoming[i];
    if ((nv.is_array() && (Has(m, "recurse_list") || Has(m, "recurse_array"))) ||
        (nv.is_string() && Has(m, "recurse_str")) || (nv.is_object() && Has(m, "recurse_dict"))) {
      out[i] = Merge(out[i], nv, stack, depth + 1);
    } else {
      out[i] = nv;
    }
  }
  return out;
}

Json Merge(const Json& base, const Json& incoming, const MergerStack& stack, int depth) {
  if (depth > 64) return base;
  const char* type = base.is_object()   ? "dict"
                     : base.is_array()  ? "list"
                     : base.is_string() ? "str"
                                        : nullptr;
  const MergerSpec* m = type ? Find(stack, type) : nullptr;
  if (m == nullptr) return base;  // cloud-init's _handle_unknown keeps the old value
  if (base.is_object()) return MergeDict(base, incoming, *m, stack, depth);
  if (base.is_array()) return MergeList(base, incoming, *m, stack, depth);
  // str merger (m_str.py): only strings merge; append concatenates, else the new one wins.
  if (!incoming.is_string()) return incoming;
  if (Has(*m, "append")) return Json(base.get<std::string>() + incoming.get<std::string>());
  return incoming;
}

}  // namespace

MergerStack DefaultMergers() { return ParseMergerString("dict(replace)+list()+str()"); }

MergerStack ParseMergerString(const std::string& text) {
  MergerStack out;
  size_t start = 0;
  while (start < text.size()) {
    size_t plus = text.find('+', start);
    std::string piece = Trim(text.substr(start, plus == std::string::npos ? plus : plus - start));
    start = plus == std::string::npos ? text.size() : plus + 1;
    size_t open = piece.find('(');
    size_t close = piece.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close < open) continue;
    MergerSpec spec;
    spec.name = Trim(piece.substr(0, open));
    std::string opts = piece.substr(open + 1, close - open - 1);
    size_t os = 0;
    while (os <= opts.size()) {
      size_t comma = opts.find(',', os);
      std::string o = Trim(opts.substr(os, comma == std::string::npos ? comma : comma - os));
      if (!o.empty()) spec.options.push_back(o);
      if (comma == std::string::npos) break;
      os = comma + 1;
    }
    if (!spec.name.empty()) out.push_back(std::move(spec));
  }
  return out;
}

MergerStack MergersFromPart(const Json& part) {
  if (!part.is_object()) return {};
  for (const char* key : {"merge_how", "merge_type"}) {
    auto it = part.find(key);
    if (it == part.end()) continue;
    if (it->is_string()) return ParseMergerString(it->get<std::string>());
    if (it->is_array()) {
      MergerStack out;
      for (const auto& entry : *it) {
        if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string()) {
          continue;
        }
        MergerSpec spec{entry["name"].get<std::string>(), {}};
        if (auto s = entry.find("settings"); s != entry.end() && s->is_array()) {
          for (const auto& o : *s) {
            if (o.is_string()) spec.options.push_back(o.get<std::string>());
          }
        }
        out.push_back(std::move(spec));
      }
      return out;
    }
  }
  return {};
}

Json MergeValues(const Json& base, const Json& incoming, const MergerStack& mergers) {
  return Merge(base, incoming, mergers, 0);
}

Json MergeCloudConfigPart(const Json& base, const Json& part, const std::string& merge_header) {
  MergerStack stack = MergersFromPart(part);
  MergerStack from_header = ParseMergerString(merge_header);
  stack.insert(stack.end(), from_header.begin(), from_header.end());
  if (stack.empty()) stack = DefaultMergers();
  Json start = base.is_object() ? base : Json::object();
  return MergeValues(start, part, stack);
}

}  // namespace paddock::agent
