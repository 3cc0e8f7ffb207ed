#pragma once

// Module-internal (src/config only; other modules include config/config.h): the YAML walker
// that the section parsers share. A Parser belongs to one ParseConfig call: it walks the YAML
// tree, collects every error with its file, line, column and key path, and remembers where each
// key path is so that checks made after the walk (inventory validation, cross-field checks)
// still point at the right line. Not thread-safe; one Parser per parse.
//
// Where things live: parser.cc (this header's implementation and the text helpers),
// sections.h (the section parsers ParseTree calls), config.cc (ParseTree and the public API).

#include <charconv>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include "config/config.h"

namespace paddock::config::detail {

// ---------------------------------------------------------------------------------------
// Small text helpers the sections share.

// A value from the file, shown in a message: quoted, control bytes escaped, long values cut.
std::string Quote(std::string_view value);

// Plain decimal digits only (no sign, no spaces, at most 20 digits); nullopt otherwise or on
// overflow of T.
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
bool IsHostname(std::string_view s);

// Key paths as errors show them: "dhcp.range.start", "groups[1].selectors".
std::string JoinPath(const std::string& base, std::string_view key);
std::string IndexPath(const std::string& base, size_t index);

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
  Parser(std::string file, std::filesystem::path base_dir)
      : file_(std::move(file)), base_dir_(std::move(base_dir)) {}

  std::vector<ConfigError>& errors() { return errors_; }

  void ErrorAt(const YAML::Mark& mark, std::string path, std::string message);

  // An error about a value. Null values (an empty "key:") have no useful mark of their own,
  // so the caller passes the key's node as `fallback`.
  void Error(const YAML::Node& node, const std::string& path, std::string message,
             const YAML::Node* fallback = nullptr);

  // Remember where a key path is, so errors found later (inventory validation, cross-field
  // checks) point at the right line.
  void Remember(const std::string& path, const YAML::Node& node);
  YAML::Mark MarkFor(std::string path) const;
  void ErrorAtPath(const std::string& path, std::string message) {
    ErrorAt(MarkFor(path), path, std::move(message));
  }

  // --- scalar readers: each reports its own error and returns nullopt on failure. ---

  std::optional<std::string> String(const MapView::Entry& e, const std::string& path);

  std::optional<Ipv4Address> Ipv4(const MapView::Entry& e, const std::string& path) {
    return Ipv4Node(e.value, path, &e.key_node);
  }
  std::optional<Ipv4Address> Ipv4Node(const YAML::Node& node, const std::string& path,
                                      const YAML::Node* key);

  std::optional<MacAddress> Mac(const MapView::Entry& e, const std::string& path);

  std::optional<bool> Bool(const MapView::Entry& e, const std::string& path);

  std::optional<uint64_t> Unsigned(const MapView::Entry& e, const std::string& path, uint64_t min,
                                   uint64_t max, std::string_view what);

  std::optional<uint16_t> Port(const MapView::Entry& e, const std::string& path);

  std::optional<std::chrono::seconds> Duration(const MapView::Entry& e, const std::string& path);

  // A sequence of strings; a single scalar counts as a one-element list.
  std::optional<std::vector<std::string>> StringList(const MapView::Entry& e,
                                                     const std::string& path);

  // A mapping of string keys to string values (selectors, labels, templates).
  std::optional<std::map<std::string, std::string>> StringMap(const MapView::Entry& e,
                                                              const std::string& path);

  // Group metadata: YAML to JSON. Plain scalars that look like YAML 1.2 core-schema booleans,
  // nulls or numbers get those types; quoted scalars stay strings.
  std::optional<nlohmann::json> Json(const YAML::Node& node, const std::string& path,
                                     int depth = 0);

  std::optional<nlohmann::json> ScalarJson(const YAML::Node& node, const std::string& path);

  // An absolute path: `value` resolved against the config file's directory.
  std::string Resolve(const std::string& value) const;

  const std::filesystem::path& base_dir() const { return base_dir_; }
  bool Has(const std::string& path) const { return marks_.count(path) != 0; }
  // Set when dhcp.mode is unreadable: the mode-dependent checks would only add noise.
  bool dhcp_mode_invalid = false;

 private:
  std::string file_;
  std::filesystem::path base_dir_;
  std::vector<ConfigError> errors_;
  std::map<std::string, YAML::Mark> marks_;
  size_t metadata_nodes_ = 0;
  bool metadata_too_big_reported_ = false;
};

}  // namespace paddock::config::detail
