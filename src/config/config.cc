#include "config/config.h"

#include <algorithm>
#include <charconv>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include <yaml-cpp/yaml.h>

#include "render/ipxe.h"
#include "render/template.h"

namespace paddock::config {
namespace {

namespace fs = std::filesystem;

// A config file is hand-written; anything bigger is a mistake (or an attack on `check`).
constexpr size_t kMaxConfigBytes = 4 << 20;
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

template <class T>
std::optional<T> ParseDecimal(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  T value{};
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
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

bool IsContiguousNetmask(Ipv4Address mask) {
  const uint32_t inverted = ~mask.value();
  return (inverted & (inverted + 1)) == 0;
}

bool InSubnet(Ipv4Address ip, Ipv4Address network_member, Ipv4Address mask) {
  return (ip.value() & mask.value()) == (network_member.value() & mask.value());
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

class Parser;

// The entries of one YAML mapping, with unknown and duplicate keys reported once.
class MapView {
 public:
  struct Entry {
    std::string key;
    YAML::Node key_node;
    YAML::Node value;
  };

  // `known` empty = any key is accepted (profiles, selectors, labels, metadata).
  MapView(Parser& parser, const YAML::Node& node, std::string path,
          std::vector<std::string_view> known);

  bool ok() const { return ok_; }
  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* Find(std::string_view key) const {
    for (const Entry& e : entries_) {
      if (e.key == key) return &e;
    }
    return nullptr;
  }
  const std::string& path() const { return path_; }
  std::string Path(std::string_view key) const { return JoinPath(path_, key); }

 private:
  bool ok_ = false;
  std::string path_;
  std::vector<Entry> entries_;
};

class Parser {
 public:
  Parser(std::string file, fs::path base_dir)
      : file_(std::move(file)), base_dir_(std::move(base_dir)) {}

  std::vector<ConfigError>& errors() { return errors_; }

  void ErrorAt(const YAML::Mark& mark, std::string path, std::string message) {
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

  // An error about a value. Null values (an empty "key:") have no useful mark of their own,
  // so the caller passes the key's node as `fallback`.
  void Error(const YAML::Node& node, const std::string& path, std::string message,
             const YAML::Node* fallback = nullptr) {
    YAML::Mark mark = node.Mark();
    if ((node.IsNull() || mark.line < 0) && fallback != nullptr) mark = fallback->Mark();
    ErrorAt(mark, path, std::move(message));
  }

  // Remember where a key path is, so errors found later (inventory validation, cross-field
  // checks) point at the right line.
  void Remember(const std::string& path, const YAML::Node& node) {
    const YAML::Mark mark = node.Mark();
    if (mark.line >= 0) marks_.emplace(path, mark);
  }
  YAML::Mark MarkFor(std::string path) const {
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
  void ErrorAtPath(const std::string& path, std::string message) {
    ErrorAt(MarkFor(path), path, std::move(message));
  }

  // --- scalar readers: each reports its own error and returns nullopt on failure. ---

  std::optional<std::string> String(const MapView::Entry& e, const std::string& path) {
    Remember(path, e.value.IsNull() ? e.key_node : e.value);
    if (e.value.IsNull()) return std::string();
    if (!e.value.IsScalar()) {
      Error(e.value, path, "expected a string");
      return std::nullopt;
    }
    return e.value.Scalar();
  }

  std::optional<Ipv4Address> Ipv4(const MapView::Entry& e, const std::string& path) {
    return Ipv4Node(e.value, path, &e.key_node);
  }
  std::optional<Ipv4Address> Ipv4Node(const YAML::Node& node, const std::string& path,
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

  std::optional<MacAddress> Mac(const MapView::Entry& e, const std::string& path) {
    Remember(path, e.value.IsNull() ? e.key_node : e.value);
    if (!e.value.IsScalar()) {
      Error(e.value, path, "expected a MAC address", &e.key_node);
      return std::nullopt;
    }
    auto mac = MacAddress::Parse(e.value.Scalar());
    if (!mac) Error(e.value, path, "not a MAC address: " + Quote(e.value.Scalar()), &e.key_node);
    return mac;
  }

  std::optional<bool> Bool(const MapView::Entry& e, const std::string& path) {
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

  std::optional<uint64_t> Unsigned(const MapView::Entry& e, const std::string& path, uint64_t min,
                                   uint64_t max, std::string_view what) {
    Remember(path, e.value);
    std::optional<uint64_t> v;
    if (e.value.IsScalar()) v = ParseDecimal<uint64_t>(e.value.Scalar());
    if (!v || *v < min || *v > max) {
      Error(e.value, path,
            std::string("not ") + std::string(what) + " (" + std::to_string(min) + ".." +
                std::to_string(max) + "): " +
                Quote(e.value.IsScalar() ? e.value.Scalar() : std::string("<not a scalar>")),
            &e.key_node);
      return std::nullopt;
    }
    return v;
  }

  std::optional<uint16_t> Port(const MapView::Entry& e, const std::string& path) {
    auto v = Unsigned(e, path, 1, 65535, "a port");
    if (!v) return std::nullopt;
    return static_cast<uint16_t>(*v);
  }

  std::optional<std::chrono::seconds> Duration(const MapView::Entry& e, const std::string& path) {
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

  // A sequence of strings; a single scalar counts as a one-element list.
  std::optional<std::vector<std::string>> StringList(const MapView::Entry& e,
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

  // A mapping of string keys to string values (selectors, labels, templates).
  std::optional<std::map<std::string, std::string>> StringMap(const MapView::Entry& e,
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

  // Group metadata: YAML to JSON. Plain scalars that look like YAML 1.2 core-schema booleans,
  // nulls or numbers get those types; quoted scalars stay strings.
  std::optional<nlohmann::json> Json(const YAML::Node& node, const std::string& path,
                                     int depth = 0) {
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

  std::optional<nlohmann::json> ScalarJson(const YAML::Node& node, const std::string& path) {
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

  // An absolute path: `value` resolved against the config file's directory.
  std::string Resolve(const std::string& value) const {
    fs::path p(value);
    if (p.is_absolute()) return p.lexically_normal().string();
    return (base_dir_ / p).lexically_normal().string();
  }

  const fs::path& base_dir() const { return base_dir_; }
  bool Has(const std::string& path) const { return marks_.count(path) != 0; }
  // Set when dhcp.mode is unreadable: the mode-dependent checks would only add noise.
  bool dhcp_mode_invalid = false;

 private:
  std::string file_;
  fs::path base_dir_;
  std::vector<ConfigError> errors_;
  std::map<std::string, YAML::Mark> marks_;
  size_t metadata_nodes_ = 0;
  bool metadata_too_big_reported_ = false;
};

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

// ---------------------------------------------------------------------------------------
// Sections.

void ParseServer(Parser& p, const MapView::Entry& section, Config& config, bool& has_address) {
  MapView m(p, section.value, "server",
            {"address", "interface", "data_dir", "log_level", "log_format"});
  p.Remember("server", section.key_node);
  if (!m.ok()) return;
  for (const auto& e : m.entries()) {
    const std::string path = m.Path(e.key);
    if (e.key == "address") {
      has_address = true;
      if (auto v = p.Ipv4(e, path)) {
        if (v->IsZero() || *v == Ipv4Address::Broadcast()) {
          p.Error(e.value, path, "must be a unicast address of this host, not " + v->ToString());
        } else {
          config.server.address = *v;
        }
      }
    } else if (e.key == "interface") {
      if (auto v = p.String(e, path)) config.server.interface = *v;
    } else if (e.key == "data_dir") {
      if (auto v = p.String(e, path)) {
        if (v->empty()) {
          p.Error(e.value, path, "must not be empty", &e.key_node);
        } else {
          config.server.data_dir = *v;
        }
      }
    } else if (e.key == "log_level") {
      if (auto v = p.String(e, path)) {
        static const std::vector<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
        if (std::find(kLevels.begin(), kLevels.end(), *v) == kLevels.end()) {
          p.Error(e.value, path,
                  "unknown log level " + Quote(*v) + " (trace, debug, info, warn, error)",
                  &e.key_node);
        } else {
          config.server.log_level = *v;
        }
      }
    } else if (e.key == "log_format") {
      if (auto v = p.String(e, path)) {
        if (*v == "text") {
          config.server.log_format = LogFormat::kText;
        } else if (*v == "json") {
          config.server.log_format = LogFormat::kJson;
        } else {
          p.Error(e.value, path, "unknown log format " + Quote(*v) + " (text or json)",
                  &e.key_node);
        }
      }
    }
  }
}

void ParseDhcp(Parser& p, const MapView::Entry& section, Config& config) {
  DhcpConfig& d = config.dhcp;
  p.Remember("dhcp", section.key_node);
  MapView m(p, section.value, "dhcp",
            {"mode", "range", "netmask", "router", "dns", "domain", "lease_time",
             "decline_quarantine", "router_advertisement", "reservations", "port", "proxy_port"});
  if (!m.ok()) return;
  for (const auto& e : m.entries()) {
    const std::string path = m.Path(e.key);
    if (e.key == "mode") {
      if (auto v = p.String(e, path)) {
        if (*v == "full") {
          d.mode = DhcpMode::kFull;
        } else if (*v == "proxy") {
          d.mode = DhcpMode::kProxy;
        } else if (*v == "off") {
          d.mode = DhcpMode::kOff;
        } else {
          p.Error(e.value, path, "unknown mode " + Quote(*v) + " (full, proxy or off)",
                  &e.key_node);
          p.dhcp_mode_invalid = true;
        }
      }
    } else if (e.key == "range") {
      p.Remember(path, e.key_node);
      MapView r(p, e.value, path, {"start", "end"});
      if (!r.ok()) continue;
      const MapView::Entry* start = r.Find("start");
      const MapView::Entry* end = r.Find("end");
      std::optional<Ipv4Address> s, t;
      if (start) s = p.Ipv4(*start, r.Path("start"));
      if (end) t = p.Ipv4(*end, r.Path("end"));
      if (!start) p.Error(e.value, r.Path("start"), "start is required", &e.key_node);
      if (!end) p.Error(e.value, r.Path("end"), "end is required", &e.key_node);
      if (s && t) d.range = DhcpRange{*s, *t};
    } else if (e.key == "netmask") {
      if (auto v = p.Ipv4(e, path)) {
        if (!IsContiguousNetmask(*v) || v->IsZero()) {
          p.Error(e.value, path, "not a netmask (contiguous one bits): " + v->ToString());
        } else {
          d.netmask = *v;
        }
      }
    } else if (e.key == "router") {
      if (auto v = p.Ipv4(e, path)) d.router = *v;
    } else if (e.key == "dns") {
      if (auto list = p.StringList(e, path)) {
        d.dns.clear();
        for (size_t i = 0; i < list->size(); ++i) {
          auto ip = Ipv4Address::Parse((*list)[i]);
          if (!ip) {
            p.Error(e.value.IsSequence() ? e.value[i] : e.value, IndexPath(path, i),
                    "not an IPv4 address: " + Quote((*list)[i]));
          } else {
            d.dns.push_back(*ip);
          }
        }
      }
    } else if (e.key == "domain") {
      if (auto v = p.String(e, path)) {
        if (!v->empty() && !IsHostname(*v)) {
          p.Error(e.value, path, "not a domain name: " + Quote(*v));
        } else {
          d.domain = *v;
        }
      }
    } else if (e.key == "lease_time") {
      if (auto v = p.Duration(e, path)) {
        // RFC 2131 §3.3: lease times are 32-bit seconds; 0xffffffff means infinite, which a
        // boot server has no business handing out.
        if (v->count() < 60 || v->count() >= 0xffffffffLL) {
          p.Error(e.value, path,
                  "lease_time must be between 60s and 136y, got " + Quote(e.value.Scalar()));
        } else {
          d.lease_time = *v;
        }
      }
    } else if (e.key == "decline_quarantine") {
      if (auto v = p.Duration(e, path)) d.decline_quarantine = *v;
    } else if (e.key == "router_advertisement") {
      if (auto v = p.Bool(e, path)) d.router_advertisement = *v;
    } else if (e.key == "port") {
      if (auto v = p.Port(e, path)) d.port = *v;
    } else if (e.key == "proxy_port") {
      if (auto v = p.Port(e, path)) d.proxy_port = *v;
    } else if (e.key == "reservations") {
      p.Remember(path, e.key_node);
      if (e.value.IsNull()) continue;
      if (!e.value.IsSequence()) {
        p.Error(e.value, path, "expected a list of reservations");
        continue;
      }
      for (size_t i = 0; i < e.value.size(); ++i) {
        const std::string item_path = IndexPath(path, i);
        const YAML::Node item = e.value[i];
        p.Remember(item_path, item);
        MapView r(p, item, item_path, {"mac", "ip", "hostname"});
        if (!r.ok()) continue;
        Reservation res;
        bool ok = true;
        if (const auto* mac = r.Find("mac")) {
          auto v = p.Mac(*mac, r.Path("mac"));
          ok &= v.has_value();
          if (v) res.mac = *v;
        } else {
          p.Error(item, r.Path("mac"), "mac is required");
          ok = false;
        }
        if (const auto* ip = r.Find("ip")) {
          auto v = p.Ipv4(*ip, r.Path("ip"));
          ok &= v.has_value();
          if (v) res.ip = *v;
        } else {
          p.Error(item, r.Path("ip"), "ip is required");
          ok = false;
        }
        if (const auto* host = r.Find("hostname")) {
          auto v = p.String(*host, r.Path("hostname"));
          if (v && !v->empty() && !IsHostname(*v)) {
            p.Error(host->value, r.Path("hostname"), "not a host name: " + Quote(*v));
            ok = false;
          } else if (v) {
            res.hostname = *v;
          }
        }
        // Keep the index aligned with the YAML list even for bad entries (cross checks below
        // report by index); a bad entry is never used because the whole load fails.
        d.reservations.push_back(res);
        (void)ok;
      }
    }
  }
}

void ParseTftp(Parser& p, const MapView::Entry& section, Config& config) {
  TftpConfig& t = config.tftp;
  p.Remember("tftp", section.key_node);
  MapView m(p, section.value, "tftp",
            {"enabled", "root", "port", "max_blksize", "max_windowsize", "timeout", "retries"});
  if (!m.ok()) return;
  for (const auto& e : m.entries()) {
    const std::string path = m.Path(e.key);
    if (e.key == "enabled") {
      if (auto v = p.Bool(e, path)) t.enabled = *v;
    } else if (e.key == "root") {
      if (auto v = p.String(e, path)) {
        if (v->empty()) {
          p.Error(e.value, path, "must not be empty", &e.key_node);
        } else {
          t.root = *v;
        }
      }
    } else if (e.key == "port") {
      if (auto v = p.Port(e, path)) t.port = *v;
    } else if (e.key == "max_blksize") {
      // RFC 2348 §2: blksize is 8..65464; 0 here means "from the interface MTU".
      if (auto v = p.Unsigned(e, path, 0, 65464, "a block size")) {
        if (*v != 0 && *v < 8) {
          p.Error(e.value, path, "block size must be 0 (from the MTU) or 8..65464");
        } else {
          t.max_blksize = static_cast<uint32_t>(*v);
        }
      }
    } else if (e.key == "max_windowsize") {
      // RFC 7440 §3: windowsize is 1..65535.
      if (auto v = p.Unsigned(e, path, 1, 65535, "a window size")) {
        t.max_windowsize = static_cast<uint32_t>(*v);
      }
    } else if (e.key == "timeout") {
      // RFC 2349 §2: the timeout option is 1..255 seconds.
      if (auto v = p.Duration(e, path)) {
        if (v->count() < 1 || v->count() > 255) {
          p.Error(e.value, path, "timeout must be 1s..255s (RFC 2349)");
        } else {
          t.timeout = *v;
        }
      }
    } else if (e.key == "retries") {
      if (auto v = p.Unsigned(e, path, 1, 100, "a retry count")) {
        t.retries = static_cast<uint32_t>(*v);
      }
    }
  }
}

void ParseHttp(Parser& p, const MapView::Entry& section, Config& config) {
  p.Remember("http", section.key_node);
  MapView m(p, section.value, "http", {"address", "port", "assets"});
  if (!m.ok()) return;
  for (const auto& e : m.entries()) {
    const std::string path = m.Path(e.key);
    if (e.key == "address") {
      if (auto v = p.Ipv4(e, path)) config.http.address = *v;
    } else if (e.key == "port") {
      if (auto v = p.Port(e, path)) config.http.port = *v;
    } else if (e.key == "assets") {
      if (auto v = p.String(e, path)) config.http.assets = *v;
    }
  }
}

void ParseBoot(Parser& p, const MapView::Entry& section, Config& config) {
  p.Remember("boot", section.key_node);
  MapView m(p, section.value, "boot", {"bios", "efi32", "efi64", "arm64"});
  if (!m.ok()) return;
  for (const auto& e : m.entries()) {
    const std::string path = m.Path(e.key);
    auto v = p.String(e, path);
    if (!v) continue;
    // A file under tftp.root: never absolute, never climbing out.
    if (!v->empty() && (fs::path(*v).is_absolute() || v->find("..") != std::string::npos)) {
      p.Error(e.value, path, "must be a file name relative to tftp.root: " + Quote(*v));
      continue;
    }
    if (e.key == "bios") config.boot.bios = *v;
    if (e.key == "efi32") config.boot.efi32 = *v;
    if (e.key == "efi64") config.boot.efi64 = *v;
    if (e.key == "arm64") config.boot.arm64 = *v;
  }
}

// Reads a template file named in the config; reports and returns nullopt when it cannot.
std::optional<std::string> ReadTemplateFile(Parser& p, const MapView::Entry& e,
                                            const std::string& path, const std::string& resolved) {
  std::error_code ec;
  if (!fs::is_regular_file(resolved, ec)) {
    p.Error(e.value, path, "template file " + Quote(resolved) + " does not exist or is not a file",
            &e.key_node);
    return std::nullopt;
  }
  const auto size = fs::file_size(resolved, ec);
  if (ec || size > render::kMaxTemplateBytes) {
    p.Error(e.value, path, "template file " + Quote(resolved) + " is unreadable or too large");
    return std::nullopt;
  }
  std::ifstream in(resolved, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in.good() && !in.eof()) {
    p.Error(e.value, path, "cannot read template file " + Quote(resolved));
    return std::nullopt;
  }
  return text.str();
}

void ParseProfiles(Parser& p, const MapView::Entry& section, Config& config) {
  p.Remember("profiles", section.key_node);
  MapView profiles(p, section.value, "profiles", {});
  if (!profiles.ok()) return;
  for (const MapView::Entry& entry : profiles.entries()) {
    const std::string path = profiles.Path(entry.key);
    p.Remember(path, entry.key_node);
    inventory::Profile profile;
    profile.name = entry.key;
    MapView m(p, entry.value, path,
              {"kernel", "initrds", "args", "ipxe_template", "templates", "persist"});
    if (m.ok()) {
      for (const auto& e : m.entries()) {
        const std::string key_path = m.Path(e.key);
        if (e.key == "kernel") {
          if (auto v = p.String(e, key_path)) profile.kernel = *v;
        } else if (e.key == "initrds") {
          if (auto v = p.StringList(e, key_path)) profile.initrds = *v;
        } else if (e.key == "args") {
          // A string, or a list of arguments joined with spaces (matchbox's form).
          if (auto v = p.StringList(e, key_path)) {
            std::string joined;
            for (const std::string& arg : *v) {
              if (!joined.empty()) joined += ' ';
              joined += arg;
            }
            profile.args = joined;
          }
        } else if (e.key == "ipxe_template") {
          auto v = p.String(e, key_path);
          if (!v || v->empty()) continue;
          profile.ipxe_template_path = p.Resolve(*v);
          auto text = ReadTemplateFile(p, e, key_path, profile.ipxe_template_path);
          if (!text) continue;
          if (text->empty()) {
            p.Error(e.value, key_path,
                    "template file " + Quote(profile.ipxe_template_path) + " is empty");
            continue;
          }
          profile.ipxe_template = std::move(*text);
        } else if (e.key == "persist") {
          // Absolute paths or globs the node agent keeps across reboots (docs/agent.md).
          auto v = p.StringList(e, key_path);
          if (!v) continue;
          for (const std::string& glob : *v) {
            if (glob.empty() || glob[0] != '/' || glob.find("/../") != std::string::npos ||
                (glob.size() >= 3 && glob.compare(glob.size() - 3, 3, "/..") == 0)) {
              p.Error(e.value, key_path,
                      "persist entries must be absolute paths without '..': " + Quote(glob));
              continue;
            }
            profile.persist.push_back(glob);
          }
        } else if (e.key == "templates") {
          p.Remember(key_path, e.key_node);
          if (e.value.IsNull()) continue;
          MapView names(p, e.value, key_path, {});
          if (!names.ok()) continue;
          for (const MapView::Entry& item : names.entries()) {
            const std::string item_path = names.Path(item.key);
            auto file = p.String(item, item_path);
            if (!file) continue;
            if (item.key.empty() || file->empty()) {
              p.Error(item.value, item_path, "a template needs a name and a file", &item.key_node);
              continue;
            }
            const std::string resolved = p.Resolve(*file);
            auto text = ReadTemplateFile(p, item, item_path, resolved);
            if (!text) continue;
            if (auto ok = render::CheckTemplateSyntax(*text); !ok) {
              p.Error(item.value, item_path,
                      "template " + Quote(resolved) + ": " + ok.error().message);
              continue;
            }
            profile.templates[item.key] = resolved;
          }
        }
      }
    }
    config.inventory.profiles.push_back(std::move(profile));
  }
}

void ParseGroups(Parser& p, const MapView::Entry& section, Config& config) {
  p.Remember("groups", section.key_node);
  if (section.value.IsNull()) return;
  if (!section.value.IsSequence()) {
    p.Error(section.value, "groups", "expected a list of groups (- name: ...)");
    return;
  }
  for (size_t i = 0; i < section.value.size(); ++i) {
    const std::string path = IndexPath("groups", i);
    const YAML::Node node = section.value[i];
    p.Remember(path, node);
    inventory::Group group;
    MapView m(p, node, path, {"name", "profile", "selectors", "metadata"});
    if (m.ok()) {
      for (const auto& e : m.entries()) {
        const std::string key_path = m.Path(e.key);
        if (e.key == "name") {
          if (auto v = p.String(e, key_path)) group.name = *v;
        } else if (e.key == "profile") {
          if (auto v = p.String(e, key_path)) group.profile = *v;
        } else if (e.key == "selectors") {
          if (auto v = p.StringMap(e, key_path)) group.selectors = *v;
        } else if (e.key == "metadata") {
          p.Remember(key_path, e.key_node);
          if (e.value.IsNull()) continue;
          if (!e.value.IsMap()) {
            p.Error(e.value, key_path, "expected a mapping");
            continue;
          }
          if (auto v = p.Json(e.value, key_path)) group.metadata = std::move(*v);
        }
      }
    }
    config.inventory.groups.push_back(std::move(group));
  }
}

void ParseMachines(Parser& p, const MapView::Entry& section, Config& config) {
  p.Remember("machines", section.key_node);
  if (section.value.IsNull()) return;
  if (!section.value.IsSequence()) {
    p.Error(section.value, "machines", "expected a list of machines (- mac: ...)");
    return;
  }
  for (size_t i = 0; i < section.value.size(); ++i) {
    const std::string path = IndexPath("machines", i);
    const YAML::Node node = section.value[i];
    p.Remember(path, node);
    inventory::MachineSpec machine;
    MapView m(p, node, path, {"mac", "hostname", "labels"});
    if (m.ok()) {
      if (!m.Find("mac")) p.Error(node, JoinPath(path, "mac"), "mac is required");
      for (const auto& e : m.entries()) {
        const std::string key_path = m.Path(e.key);
        if (e.key == "mac") {
          if (auto v = p.Mac(e, key_path)) machine.mac = *v;
        } else if (e.key == "hostname") {
          auto v = p.String(e, key_path);
          if (v && !v->empty() && !IsHostname(*v)) {
            p.Error(e.value, key_path, "not a host name: " + Quote(*v));
          } else if (v) {
            machine.hostname = *v;
          }
        } else if (e.key == "labels") {
          if (auto v = p.StringMap(e, key_path)) {
            for (const auto& [key, value] : *v) {
              if (inventory::IsFactSelectorKey(key)) {
                p.ErrorAtPath(JoinPath(key_path, key),
                              "label " + Quote(key) +
                                  " would shadow the machine fact of that name; rename it");
              }
            }
            machine.labels = *v;
          }
        }
      }
    }
    config.inventory.machines.push_back(std::move(machine));
  }
}

// ---------------------------------------------------------------------------------------
// Checks across fields, once every section is read.

void CheckDhcp(Parser& p, Config& config, bool has_address) {
  DhcpConfig& d = config.dhcp;
  // Proxy and off hand out no addresses: no pool, nothing to check.
  if (d.mode != DhcpMode::kFull || p.dhcp_mode_invalid) return;
  // A key that is present but invalid was reported where it was read.
  if (!p.Has("dhcp.range")) p.ErrorAtPath("dhcp.range", "dhcp.range is required in full mode");
  if (!p.Has("dhcp.netmask")) {
    p.ErrorAtPath("dhcp.netmask", "dhcp.netmask is required in full mode");
  }
  if (d.range && d.range->start > d.range->end) {
    p.ErrorAtPath("dhcp.range.start", "range start " + d.range->start.ToString() +
                                          " is after range end " + d.range->end.ToString());
  }
  if (!d.netmask || !has_address || config.server.address.IsZero()) return;
  const Ipv4Address server = config.server.address;
  const Ipv4Address mask = *d.netmask;
  const std::string subnet =
      Ipv4Address(server.value() & mask.value()).ToString() + "/" + mask.ToString();
  if (d.range) {
    for (const auto& [name, ip] : {std::pair{"start", d.range->start}, {"end", d.range->end}}) {
      if (!InSubnet(ip, server, mask)) {
        p.ErrorAtPath(std::string("dhcp.range.") + name,
                      ip.ToString() + " is outside server.address's subnet " + subnet);
      }
    }
    if (d.range->start <= server && server <= d.range->end) {
      p.ErrorAtPath("dhcp.range", "the range contains server.address " + server.ToString());
    }
  }
  std::map<MacAddress, size_t> macs;
  std::map<Ipv4Address, size_t> ips;
  for (size_t i = 0; i < d.reservations.size(); ++i) {
    const Reservation& r = d.reservations[i];
    const std::string path = IndexPath("dhcp.reservations", i);
    if (!r.mac.IsZero()) {
      auto [it, inserted] = macs.emplace(r.mac, i);
      if (!inserted) {
        p.ErrorAtPath(path + ".mac", "MAC " + r.mac.ToString() +
                                         " is already reserved by dhcp.reservations[" +
                                         std::to_string(it->second) + "]");
      }
    }
    if (r.ip.IsZero()) continue;
    auto [it, inserted] = ips.emplace(r.ip, i);
    if (!inserted) {
      p.ErrorAtPath(path + ".ip", "IP " + r.ip.ToString() +
                                      " is already reserved by dhcp.reservations[" +
                                      std::to_string(it->second) + "]");
    }
    if (!InSubnet(r.ip, server, mask)) {
      p.ErrorAtPath(path + ".ip",
                    r.ip.ToString() + " is outside server.address's subnet " + subnet);
    } else if (r.ip == server) {
      p.ErrorAtPath(path + ".ip", "reserves server.address " + server.ToString());
    }
  }
}

void CheckInventory(Parser& p, Config& config) {
  for (const inventory::InventoryError& e : config.inventory.Validate()) {
    p.ErrorAtPath(e.path, e.message);
  }
  // Syntax and shape of every iPXE template, by rendering it for a made-up machine: a broken
  // template must fail the load, not the first boot.
  for (const inventory::Profile& profile : config.inventory.profiles) {
    if (profile.ipxe_template.empty()) continue;
    if (auto ok = render::DryRenderIpxeTemplate(profile); !ok) {
      p.ErrorAtPath("profiles." + profile.name + ".ipxe_template",
                    "template " + Quote(profile.ipxe_template_path) + ": " + ok.error().message);
    }
  }
}

void ParseRegistry(Parser& p, const MapView::Entry& section, Config& config) {
  RegistryConfig& r = config.registry;
  p.Remember("registry", section.key_node);
  MapView m(p, section.value, "registry",
            {"enabled", "cache_dir", "max_size", "tag_ttl", "default_namespace", "allow_unlisted",
             "proxy", "connect_timeout", "stall_timeout", "upstreams", "nodes"});
  if (!m.ok()) return;
  for (const auto& e : m.entries()) {
    const std::string path = m.Path(e.key);
    if (e.key == "enabled") {
      if (auto v = p.Bool(e, path)) r.enabled = *v;
    } else if (e.key == "cache_dir") {
      if (auto v = p.String(e, path)) r.cache_dir = *v;
    } else if (e.key == "max_size") {
      if (auto v = p.String(e, path)) {
        if (auto size = ParseSize(*v)) {
          r.max_size = *size;
        } else {
          p.Error(e.value, path, "not a size (like 50GiB, 500MiB or plain bytes): " + Quote(*v));
        }
      }
    } else if (e.key == "tag_ttl") {
      if (auto v = p.Duration(e, path)) r.tag_ttl = *v;
    } else if (e.key == "default_namespace") {
      if (auto v = p.String(e, path)) r.default_namespace = *v;
    } else if (e.key == "allow_unlisted") {
      if (auto v = p.Bool(e, path)) r.allow_unlisted = *v;
    } else if (e.key == "proxy") {
      if (auto v = p.String(e, path)) r.proxy = *v;
    } else if (e.key == "connect_timeout") {
      if (auto v = p.Duration(e, path)) r.connect_timeout = *v;
    } else if (e.key == "stall_timeout") {
      if (auto v = p.Duration(e, path)) r.stall_timeout = *v;
    } else if (e.key == "nodes") {
      p.Remember(path, e.key_node);
      MapView n(p, e.value, path, {"namespaces", "fallback_to_upstream"});
      if (!n.ok()) continue;
      for (const auto& f : n.entries()) {
        const std::string key_path = n.Path(f.key);
        if (f.key == "namespaces") {
          if (auto v = p.StringList(f, key_path)) {
            for (const std::string& ns : *v) {
              // A namespace becomes a directory name under certs.d: a host[:port], no paths.
              if (ns.empty() || ns.find_first_of("/\\ \t") != std::string::npos || ns == "." ||
                  ns == ".." || ns == "_default") {
                p.Error(f.value, key_path, "not a registry host name: " + Quote(ns));
              }
            }
            r.node_namespaces = *v;
          }
        } else if (f.key == "fallback_to_upstream") {
          if (auto v = p.Bool(f, key_path)) r.node_fallback_to_upstream = *v;
        }
      }
    } else if (e.key == "upstreams") {
      p.Remember(path, e.key_node);
      if (e.value.IsNull()) continue;
      if (!e.value.IsSequence()) {
        p.Error(e.value, path, "expected a list of upstreams");
        continue;
      }
      for (size_t i = 0; i < e.value.size(); ++i) {
        const std::string item_path = IndexPath(path, i);
        const YAML::Node item = e.value[i];
        p.Remember(item_path, item);
        MapView u(p, item, item_path, {"name", "url", "username", "password_file"});
        if (!u.ok()) continue;
        RegistryUpstream up;
        for (const auto& f : u.entries()) {
          auto v = p.String(f, u.Path(f.key));
          if (!v) continue;
          if (f.key == "name") up.name = *v;
          if (f.key == "url") up.url = *v;
          if (f.key == "username") up.username = *v;
          if (f.key == "password_file") up.password_file = *v;
        }
        if (up.name.empty()) p.Error(item, u.Path("name"), "name is required");
        if (up.url.rfind("http://", 0) != 0 && up.url.rfind("https://", 0) != 0) {
          p.Error(item, u.Path("url"), "url must start with http:// or https://");
        }
        r.upstreams.push_back(std::move(up));
      }
    }
  }
}

ConfigResult ParseTree(const YAML::Node& root, Parser& p, Config config) {
  MapView top(
      p, root, "",
      {"server", "dhcp", "tftp", "http", "boot", "registry", "profiles", "groups", "machines"});
  bool has_address = false;
  if (top.ok()) {
    for (const auto& e : top.entries()) {
      if (e.key == "server") ParseServer(p, e, config, has_address);
      if (e.key == "dhcp") ParseDhcp(p, e, config);
      if (e.key == "tftp") ParseTftp(p, e, config);
      if (e.key == "http") ParseHttp(p, e, config);
      if (e.key == "boot") ParseBoot(p, e, config);
      if (e.key == "registry") ParseRegistry(p, e, config);
      if (e.key == "profiles") ParseProfiles(p, e, config);
      if (e.key == "groups") ParseGroups(p, e, config);
      if (e.key == "machines") ParseMachines(p, e, config);
    }
    if (!has_address) p.ErrorAtPath("server.address", "server.address is required");
    CheckDhcp(p, config, has_address);
    CheckInventory(p, config);
  }

  // Relative paths resolve against the config file's directory.
  config.server.data_dir = p.Resolve(config.server.data_dir);
  config.tftp.root = p.Resolve(config.tftp.root);
  config.http.assets = config.http.assets.empty()
                           ? (fs::path(config.server.data_dir) / "assets").string()
                           : p.Resolve(config.http.assets);
  config.registry.cache_dir = config.registry.cache_dir.empty()
                                  ? (fs::path(config.server.data_dir) / "registry").string()
                                  : p.Resolve(config.registry.cache_dir);
  for (RegistryUpstream& up : config.registry.upstreams) {
    if (!up.password_file.empty()) up.password_file = p.Resolve(up.password_file);
  }

  if (!p.errors().empty()) {
    // Report in file order; errors without a position (line 0) come first.
    std::stable_sort(p.errors().begin(), p.errors().end(),
                     [](const ConfigError& a, const ConfigError& b) {
                       return std::pair(a.line, a.column) < std::pair(b.line, b.column);
                     });
    return tl::unexpected(std::move(p.errors()));
  }
  return config;
}

fs::path BaseDir(std::string_view filename) {
  std::error_code ec;
  fs::path parent = fs::path(filename).parent_path();
  fs::path absolute = fs::absolute(parent.empty() ? fs::path(".") : parent, ec);
  if (ec) return parent;
  return absolute.lexically_normal();
}

}  // namespace

std::string Config::ServerUrl() const {
  return "http://" + server.address.ToString() + ":" + std::to_string(http.port);
}

std::string ConfigError::ToString() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
  out += ": ";
  if (!key_path.empty()) out += key_path + ": ";
  out += message;
  return out;
}

std::string FormatErrors(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const ConfigError& e : errors) out += e.ToString() + "\n";
  return out;
}

const char* DhcpModeName(DhcpMode mode) {
  switch (mode) {
    case DhcpMode::kFull:
      return "full";
    case DhcpMode::kProxy:
      return "proxy";
    case DhcpMode::kOff:
      return "off";
  }
  return "?";
}

std::optional<uint64_t> ParseSize(std::string_view text) {
  size_t digits = 0;
  uint64_t value = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    if (value > (UINT64_MAX - 9) / 10) return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(text[digits] - '0');
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  std::string_view unit = text.substr(digits);
  static constexpr std::pair<std::string_view, int> kUnits[] = {
      {"", 0},     {"B", 0},  {"K", 10},  {"KB", 10},  {"KiB", 10}, {"M", 20},  {"MB", 20},
      {"MiB", 20}, {"G", 30}, {"GB", 30}, {"GiB", 30}, {"T", 40},   {"TB", 40}, {"TiB", 40}};
  for (const auto& [name, shift] : kUnits) {
    if (unit != name) continue;
    if (shift > 0 && value > (UINT64_MAX >> shift)) return std::nullopt;
    return value << shift;
  }
  return std::nullopt;
}

std::optional<std::chrono::seconds> ParseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t unit = 1;
  switch (text.back()) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    default:
      unit = 0;
  }
  if (unit != 0) text.remove_suffix(1);
  if (unit == 0) unit = 1;
  auto n = ParseDecimal<int64_t>(text);
  // Ten years is more than any lease or timeout needs and keeps arithmetic far from overflow.
  if (!n || *n > 10LL * 365 * 86400 / unit) return std::nullopt;
  return std::chrono::seconds(*n * unit);
}

ConfigResult ParseConfig(std::string_view text, std::string_view filename) {
  Parser p{std::string(filename), BaseDir(filename)};
  Config config;
  config.source = std::string(filename);
  config.base_dir = p.base_dir().string();
  if (text.size() > kMaxConfigBytes) {
    p.ErrorAt(YAML::Mark::null_mark(), "",
              "file is larger than " + std::to_string(kMaxConfigBytes) + " bytes");
    return tl::unexpected(std::move(p.errors()));
  }
  // yaml-cpp reports syntax errors (and its recursion limit) by exception; they stop here.
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    return ParseTree(root, p, std::move(config));
  } catch (const YAML::Exception& e) {
    p.ErrorAt(e.mark, "", "YAML syntax: " + e.msg);
  } catch (const std::exception& e) {
    p.ErrorAt(YAML::Mark::null_mark(), "", std::string("cannot parse: ") + e.what());
  }
  return tl::unexpected(std::move(p.errors()));
}

ConfigResult LoadConfigFile(const std::string& path) {
  std::error_code ec;
  std::vector<ConfigError> errors;
  auto fail = [&](std::string message) {
    errors.push_back(ConfigError{path, 0, 0, "", std::move(message)});
    return tl::unexpected(std::move(errors));
  };
  if (!fs::is_regular_file(path, ec)) return fail("no such file (or not a regular file)");
  const auto size = fs::file_size(path, ec);
  if (ec) return fail("cannot read: " + ec.message());
  if (size > kMaxConfigBytes) {
    return fail("file is larger than " + std::to_string(kMaxConfigBytes) + " bytes");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail("cannot open for reading");
  std::ostringstream text;
  text << in.rdbuf();
  return ParseConfig(text.str(), path);
}

}  // namespace paddock::config
