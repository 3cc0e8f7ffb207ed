#include "config/parser.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <utility>

namespace paddock::config::detail {
namespace {

namespace fs = std::filesystem;

// Upper bound on YAML nodes converted into group metadata, across the file. yaml-cpp keeps
// aliases as shared nodes, so a small file can describe an exponentially large tree.
constexpr size_t kMaxMetadataNodes = 100000;
// Nesting limit for metadata. An alias can refer to the node it is part of ("&a [*a]"), which
// yaml-cpp accepts as a cycle; the limit also ends those.
constexpr int kMaxMetadataDepth = 32;

// ---------------------------------------------------------------------------------------
// Small text helpers.

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t subst = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid (RFC 3629 §3).
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += len;
  }
  return true;
}

}  // namespace

// The helpers parser.h declares for the section parsers.

// A value from the file, shown in a message: quoted, control bytes escaped, long values cut.
std::string Quote(std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  const size_t limit = 64;
  for (size_t i = 0; i < value.size() && i < limit; ++i) {
    const auto u = static_cast<unsigned char>(value[i]);
    if (u == '"' || u == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(u));
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\x";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    } else {
      out.push_back(static_cast<char>(u));
    }
  }
  if (value.size() > limit) out += "...";
  out += "\"";
  return out;
}

// RFC 1123 §2.1 host names: labels of letters, digits and '-', separated by dots.
bool IsHostname(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t label = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '.') {
      if (label == 0 || s[i - 1] == '-') return false;
      label = 0;
      continue;
    }
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    if (c == '-' && label == 0) return false;
    if (++label > 63) return false;
  }
  return label > 0 && s.back() != '-';
}

std::string JoinPath(const std::string& base, std::string_view key) {
  if (base.empty()) return std::string(key);
  return base + "." + std::string(key);
}

std::string IndexPath(const std::string& base, size_t index) {
  return base + "[" + std::to_string(index) + "]";
}

// ---------------------------------------------------------------------------------------
// The parser: walks the YAML tree, fills a Config, and collects every error with its place.

MapView::MapView(Parser& parser, const YAML::Node& node, std::string path,
                 std::vector<std::string_view> known)
    : path_(std::move(path)) {
  if (node.IsNull()) {
    ok_ = true;  // "section:" with nothing under it: an empty mapping
    return;
  }
  if (!node.IsMap()) {
    parser.Error(node, path_, "expected a mapping (key: value lines)");
    return;
  }
  ok_ = true;
  std::set<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node key_node = it->first;
    if (!key_node.IsScalar()) {
      parser.Error(key_node, path_, "a key must be a plain string");
      continue;
    }
    const std::string key = key_node.Scalar();
    const std::string key_path = JoinPath(path_, key);
    if (!seen.insert(key).second) {
      parser.Error(key_node, key_path, "duplicate key " + Quote(key));
      continue;
    }
    if (!known.empty() && std::find(known.begin(), known.end(), key) == known.end()) {
      std::string message = "unknown key " + Quote(key);
      std::string_view best;
      size_t best_distance = 3;  // suggest only close spellings
      for (std::string_view candidate : known) {
        const size_t d = EditDistance(Lower(key), candidate);
        if (d < best_distance && d < std::max<size_t>(candidate.size(), 2)) {
          best = candidate;
          best_distance = d;
        }
      }
      if (!best.empty()) message += " (did you mean \"" + std::string(best) + "\"?)";
      parser.Error(key_node, key_path, std::move(message));
      continue;
    }
    entries_.push_back({key, key_node, it->second});
  }
}

void Parser::ErrorAt(const YAML::Mark& mark, std::string path, std::string message) {
  ConfigError e;
  e.file = file_;
  if (mark.line >= 0) {
    e.line = mark.line + 1;
    e.column = mark.column + 1;
  }
  e.key_path = std::move(path);
  e.message = std::move(message);
  errors_.push_back(std::move(e));
}

void Parser::Error(const YAML::Node& node, const std::string& path, std::string message,
                   const YAML::Node* fallback) {
  YAML::Mark mark = node.Mark();
  if ((node.IsNull() || mark.line < 0) && fallback != nullptr) mark = fallback->Mark();
  ErrorAt(mark, path, std::move(message));
}

void Parser::Remember(const std::string& path, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.line >= 0) marks_.emplace(path, mark);
}

YAML::Mark Parser::MarkFor(std::string path) const {
  while (true) {
    if (auto it = marks_.find(path); it != marks_.end()) return it->second;
    const size_t cut = path.find_last_of(".[");
    if (cut == std::string::npos || cut == 0) break;
    path.resize(cut);
  }
  if (auto it = marks_.find(path); it != marks_.end()) return it->second;
  YAML::Mark start;  // line 0, column 0: the document
  start.line = 0;
  start.column = 0;
  return start;
}

std::optional<std::string> Parser::String(const MapView::Entry& e, const std::string& path) {
  Remember(path, e.value.IsNull() ? e.key_node : e.value);
  if (e.value.IsNull()) return std::string();
  if (!e.value.IsScalar()) {
    Error(e.value, path, "expected a string");
    return std::nullopt;
  }
  return e.value.Scalar();
}

std::optional<Ipv4Address> Parser::Ipv4Node(const YAML::Node& node, const std::string& path,
                                            const YAML::Node* key) {
  Remember(path, node.IsNull() && key ? *key : node);
  if (!node.IsScalar()) {
    Error(node, path, "expected an IPv4 address", key);
    return std::nullopt;
  }
  auto ip = Ipv4Address::Parse(node.Scalar());
  if (!ip) Error(node, path, "not an IPv4 address: " + Quote(node.Scalar()), key);
  return ip;
}

std::optional<MacAddress> Parser::Mac(const MapView::Entry& e, const std::string& path) {
  Remember(path, e.value.IsNull() ? e.key_node : e.value);
  if (!e.value.IsScalar()) {
    Error(e.value, path, "expected a MAC address", &e.key_node);
    return std::nullopt;
  }
  auto mac = MacAddress::Parse(e.value.Scalar());
  if (!mac) Error(e.value, path, "not a MAC address: " + Quote(e.value.Scalar()), &e.key_node);
  return mac;
}

std::optional<bool> Parser::Bool(const MapView::Entry& e, const std::string& path) {
  Remember(path, e.value);
  if (e.value.IsScalar()) {
    const std::string v = Lower(e.value.Scalar());
    if (v == "true" || v == "yes" || v == "on") return true;
    if (v == "false" || v == "no" || v == "off") return false;
  }
  Error(e.value, path,
        "expected true or false" +
            (e.value.IsScalar() ? ", got " + Quote(e.value.Scalar()) : std::string()),
        &e.key_node);
  return std::nullopt;
}

std::optional<uint64_t> Parser::Unsigned(const MapView::Entry& e, const std::string& path,
                                         uint64_t min, uint64_t max, std::string_view what) {
  Remember(path, e.value);
  std::optional<uint64_t> v;
  if (e.value.IsScalar()) v = ParseDecimal<uint64_t>(e.value.Scalar());
  if (!v || *v < min || *v > max) {
    Error(e.value, path,
          std::string("not ") + std::string(what) + " (" + std::to_string(min) + ".." +
              std::to_string(max) +
              "): " + Quote(e.value.IsScalar() ? e.value.Scalar() : std::string("<not a scalar>")),
          &e.key_node);
    return std::nullopt;
  }
  return v;
}

std::optional<uint16_t> Parser::Port(const MapView::Entry& e, const std::string& path) {
  auto v = Unsigned(e, path, 1, 65535, "a port");
  if (!v) return std::nullopt;
  return static_cast<uint16_t>(*v);
}

std::optional<std::chrono::seconds> Parser::Duration(const MapView::Entry& e,
                                                     const std::string& path) {
  Remember(path, e.value);
  std::optional<std::chrono::seconds> d;
  if (e.value.IsScalar()) d = ParseDuration(e.value.Scalar());
  if (!d) {
    Error(e.value, path,
          "not a duration (like 90s, 10m, 1h, 1d or plain seconds): " +
              Quote(e.value.IsScalar() ? e.value.Scalar() : std::string("<not a scalar>")),
          &e.key_node);
  }
  return d;
}

std::optional<std::vector<std::string>> Parser::StringList(const MapView::Entry& e,
                                                           const std::string& path) {
  Remember(path, e.value.IsNull() ? e.key_node : e.value);
  std::vector<std::string> out;
  if (e.value.IsNull()) return out;
  if (e.value.IsScalar()) {
    out.push_back(e.value.Scalar());
    return out;
  }
  if (!e.value.IsSequence()) {
    Error(e.value, path, "expected a list of strings");
    return std::nullopt;
  }
  bool ok = true;
  for (size_t i = 0; i < e.value.size(); ++i) {
    const YAML::Node item = e.value[i];
    if (!item.IsScalar()) {
      Error(item, IndexPath(path, i), "expected a string", &e.key_node);
      ok = false;
      continue;
    }
    out.push_back(item.Scalar());
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::map<std::string, std::string>> Parser::StringMap(const MapView::Entry& e,
                                                                    const std::string& path) {
  Remember(path, e.value.IsNull() ? e.key_node : e.value);
  std::map<std::string, std::string> out;
  if (e.value.IsNull()) return out;
  MapView map(*this, e.value, path, {});
  if (!map.ok()) return std::nullopt;
  bool ok = true;
  for (const MapView::Entry& item : map.entries()) {
    const std::string item_path = map.Path(item.key);
    Remember(item_path, item.value.IsNull() ? item.key_node : item.value);
    if (item.key.empty()) {
      Error(item.key_node, item_path, "empty key");
      ok = false;
    } else if (!item.value.IsScalar()) {
      Error(item.value, item_path, "expected a string value", &item.key_node);
      ok = false;
    } else {
      out[item.key] = item.value.Scalar();
    }
  }
  // Bad entries are reported; the good ones are kept so later checks (inventory
  // validation) still see them and report their own problems in the same run.
  (void)ok;
  return out;
}

std::optional<nlohmann::json> Parser::Json(const YAML::Node& node, const std::string& path,
                                           int depth) {
  if (depth > kMaxMetadataDepth) {
    Error(node, path,
          "metadata nested deeper than " + std::to_string(kMaxMetadataDepth) +
              " levels (or an alias that contains itself)");
    return std::nullopt;
  }
  if (++metadata_nodes_ > kMaxMetadataNodes) {
    if (!metadata_too_big_reported_) {
      Error(node, path,
            "metadata too large (more than " + std::to_string(kMaxMetadataNodes) +
                " nodes, counting aliases)");
      metadata_too_big_reported_ = true;
    }
    return std::nullopt;
  }
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nlohmann::json(nullptr);
    case YAML::NodeType::Scalar:
      return ScalarJson(node, path);
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (size_t i = 0; i < node.size(); ++i) {
        auto item = Json(node[i], IndexPath(path, i), depth + 1);
        if (!item) return std::nullopt;
        out.push_back(std::move(*item));
      }
      return out;
    }
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      MapView map(*this, node, path, {});
      if (!map.ok()) return std::nullopt;
      for (const MapView::Entry& item : map.entries()) {
        if (!IsValidUtf8(item.key)) {
          Error(item.key_node, map.Path(item.key), "key is not valid UTF-8");
          return std::nullopt;
        }
        auto value = Json(item.value, map.Path(item.key), depth + 1);
        if (!value) return std::nullopt;
        out[item.key] = std::move(*value);
      }
      return out;
    }
  }
  return std::nullopt;
}

std::optional<nlohmann::json> Parser::ScalarJson(const YAML::Node& node, const std::string& path) {
  const std::string& s = node.Scalar();
  if (!IsValidUtf8(s)) {
    Error(node, path, "value is not valid UTF-8");
    return std::nullopt;
  }
  if (node.Tag() != "?") return nlohmann::json(s);  // quoted or explicitly tagged: a string
  if (s == "true" || s == "True" || s == "TRUE") return nlohmann::json(true);
  if (s == "false" || s == "False" || s == "FALSE") return nlohmann::json(false);
  if (s == "null" || s == "Null" || s == "NULL" || s == "~") return nlohmann::json(nullptr);
  {
    std::string_view digits = s;
    const bool negative = !digits.empty() && digits.front() == '-';
    if (negative) digits.remove_prefix(1);
    if (auto v = ParseDecimal<int64_t>(digits); v && (digits.size() == 1 || digits[0] != '0')) {
      return nlohmann::json(negative ? -*v : *v);
    }
  }
  double d = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  // Leading zeros ("017") are octal in YAML 1.1 and decimal in 1.2: keep them strings.
  const size_t first_digit = s.find_first_not_of("+-");
  const bool leading_zero = first_digit != std::string::npos && first_digit + 1 < s.size() &&
                            s[first_digit] == '0' &&
                            std::isdigit(static_cast<unsigned char>(s[first_digit + 1]));
  if (!leading_zero && ec == std::errc() && ptr == s.data() + s.size() && !s.empty() &&
      s.find_first_of("0123456789") != std::string::npos && s.find("inf") == std::string::npos &&
      s.find("nan") == std::string::npos) {
    return nlohmann::json(d);
  }
  return nlohmann::json(s);
}

std::string Parser::Resolve(const std::string& value) const {
  fs::path p(value);
  if (p.is_absolute()) return p.lexically_normal().string();
  return (base_dir_ / p).lexically_normal().string();
}

}  // namespace paddock::config::detail
