#include "agent/yaml.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>

#include "agent/codec.h"

namespace paddock::agent {
namespace {

bool AllMatch(std::string_view s, bool (*pred)(char)) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!pred(c)) return false;
  }
  return true;
}

bool IsDigitOrUnderscore(char c) { return (c >= '0' && c <= '9') || c == '_'; }
bool IsOctOrUnderscore(char c) { return (c >= '0' && c <= '7') || c == '_'; }
bool IsBinOrUnderscore(char c) { return c == '0' || c == '1' || c == '_'; }
bool IsHexOrUnderscore(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '_';
}

std::string StripUnderscores(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c != '_') out += c;
  }
  return out;
}

// Parses digits in `base`; false on overflow or empty input.
bool ParseUnsigned(std::string_view digits, int base, uint64_t* out) {
  std::string clean = StripUnderscores(digits);
  if (clean.empty()) return false;
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(clean.c_str(), &end, base);
  if (errno != 0 || end != clean.c_str() + clean.size()) return false;
  *out = v;
  return true;
}

Json SignedInt(bool negative, uint64_t magnitude, const std::string& original) {
  if (magnitude > static_cast<uint64_t>(INT64_MAX)) return Json(original);
  int64_t v = static_cast<int64_t>(magnitude);
  return Json(negative ? -v : v);
}

// YAML 1.1 float: [-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+][0-9]+)? | [-+]?\.(inf|Inf|INF) | .nan
bool LooksLikeFloat(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t int_start = i;
  while (i < s.size() && IsDigitOrUnderscore(s[i])) ++i;
  if (i >= s.size() || s[i] != '.') return false;
  if (i == int_start && i + 1 >= s.size()) return false;  // "." alone
  ++i;
  while (i < s.size() && IsDigitOrUnderscore(s[i])) ++i;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i >= s.size() || (s[i] != '+' && s[i] != '-')) return false;
    ++i;
    size_t exp_start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == exp_start) return false;
  }
  return i == s.size();
}

class Converter {
 public:
  explicit Converter(const YamlLimits& limits) : limits_(limits) {}

  Result<Json> Convert(const YAML::Node& node, int depth) {
    if (++nodes_ > limits_.max_nodes) return InvalidArgument("document too large (aliases?)");
    if (depth > limits_.max_depth) return InvalidArgument("document nested too deeply");
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        if (node.Tag() == "tag:yaml.org,2002:str" || node.Tag() == "!") return Json("");
        return Json(nullptr);
      case YAML::NodeType::Scalar:
        return ConvertScalar(node);
      case YAML::NodeType::Sequence: {
        Json arr = Json::array();
        for (const auto& item : node) {
          auto v = Convert(item, depth + 1);
          if (!v) return v;
          arr.push_back(std::move(*v));
        }
        return arr;
      }
      case YAML::NodeType::Map: {
        Json obj = Json::object();
        for (const auto& kv : node) {
          std::string key;
          if (kv.first.IsScalar()) {
            key = kv.first.Scalar();
          } else if (!kv.first.IsNull()) {
            return InvalidArgument("line " + std::to_string(kv.first.Mark().line + 1) +
                                   ": only scalar mapping keys are supported");
          }
          auto v = Convert(kv.second, depth + 1);
          if (!v) return v;
          obj[key] = std::move(*v);  // a repeated key: the last one wins, as in PyYAML
        }
        return obj;
      }
    }
    return Json(nullptr);
  }

 private:
  Result<Json> ConvertScalar(const YAML::Node& node) {
    const std::string& tag = node.Tag();
    const std::string& s = node.Scalar();
    if (tag == "tag:yaml.org,2002:binary") {
      auto decoded = Base64Decode(s);
      if (!decoded) {
        return InvalidArgument("line " + std::to_string(node.Mark().line + 1) +
                               ": bad !!binary data: " + decoded.error().message);
      }
      return Json(std::move(*decoded));
    }
    if (tag == "?") return ResolvePlainScalar(s);
    // "!" = quoted or block scalar; explicit !!str or unknown tags stay strings.
    return Json(s);
  }

  const YamlLimits& limits_;
  size_t nodes_ = 0;
};

}  // namespace

Json ResolvePlainScalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return Json(nullptr);
  static constexpr const char* kTrue[] = {"y",    "Y",    "yes", "Yes", "YES", "true",
                                          "True", "TRUE", "on",  "On",  "ON"};
  static constexpr const char* kFalse[] = {"n",     "N",     "no",  "No",  "NO", "false",
                                           "False", "FALSE", "off", "Off", "OFF"};
  // PyYAML's SafeLoader resolves only yes/no/true/false/on/off (not y/n) as booleans.
  for (const char* t : kTrue) {
    if (s == t && s.size() > 1) return Json(true);
  }
  for (const char* f : kFalse) {
    if (s == f && s.size() > 1) return Json(false);
  }
  std::string_view body = s;
  bool negative = false;
  if (body[0] == '+' || body[0] == '-') {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  uint64_t v = 0;
  if (!body.empty() && body[0] >= '0' && body[0] <= '9') {
    if (body.size() > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X')) {
      if (AllMatch(body.substr(2), IsHexOrUnderscore) && ParseUnsigned(body.substr(2), 16, &v)) {
        return SignedInt(negative, v, s);
      }
    } else if (body.size() > 2 && body[0] == '0' && body[1] == 'b') {
      if (AllMatch(body.substr(2), IsBinOrUnderscore) && ParseUnsigned(body.substr(2), 2, &v)) {
        return SignedInt(negative, v, s);
      }
    } else if (body.size() > 1 && body[0] == '0' && AllMatch(body.substr(1), IsOctOrUnderscore)) {
      // YAML 1.1: a leading zero means octal ("0644" -> 420).
      if (ParseUnsigned(body.substr(1), 8, &v)) return SignedInt(negative, v, s);
    } else if (AllMatch(body, IsDigitOrUnderscore) && (body[0] != '0' || body == "0")) {
      if (ParseUnsigned(body, 10, &v)) return SignedInt(negative, v, s);
    } else if (body[0] != '0' && body.find(':') != std::string_view::npos) {
      // Sexagesimal: [1-9][0-9_]*(:[0-5]?[0-9])+, e.g. "1:30" -> 90.
      uint64_t total = 0;
      size_t start = 0;
      bool ok = true;
      bool first = true;
      while (ok && start <= body.size()) {
        size_t colon = body.find(':', start);
        std::string_view part = body.substr(start, colon - start);
        uint64_t pv = 0;
        if (first) {
          ok = AllMatch(part, IsDigitOrUnderscore) && ParseUnsigned(part, 10, &pv);
        } else {
          ok = !part.empty() && part.size() <= 2 && AllMatch(part, IsDigitOrUnderscore) &&
               part.find('_') == std::string_view::npos && ParseUnsigned(part, 10, &pv) && pv < 60;
        }
        if (ok) {
          if (total > (UINT64_MAX - pv) / 60) ok = false;
          total = total * 60 + pv;
        }
        first = false;
        if (colon == std::string_view::npos) break;
        start = colon + 1;
      }
      if (ok) return SignedInt(negative, total, s);
    }
  }
  if (LooksLikeFloat(s)) {
    std::string clean = StripUnderscores(s);
    char* end = nullptr;
    double d = std::strtod(clean.c_str(), &end);
    if (end == clean.c_str() + clean.size()) return Json(d);
  }
  return Json(s);
}

Result<Json> ParseYaml(std::string_view text, const YamlLimits& limits) {
  try {
    YAML::Node root = YAML::Load(std::string(text));
    Converter converter(limits);
    return converter.Convert(root, 0);
  } catch (const YAML::Exception& e) {
    return InvalidArgument("line " + std::to_string(e.mark.line + 1) + ", column " +
                           std::to_string(e.mark.column + 1) + ": " + e.msg);
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("YAML: ") + e.what());
  }
}

}  // namespace paddock::agent
