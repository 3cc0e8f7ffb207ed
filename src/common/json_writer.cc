#include "common/json_writer.h"

#include <nlohmann/json.hpp>

namespace paddock {

void AppendJsonString(std::string& out, std::string_view value) {
  // Printable ASCII (nearly everything: firmware strings, paths, addresses) is copied with
  // '"' and '\\' escaped; anything else goes through nlohmann for its escapes and UTF-8 rules.
  for (unsigned char c : value) {
    if (c < 0x20 || c >= 0x7f) {
      out += nlohmann::json(std::string(value))
                 .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      return;
    }
  }
  out += '"';
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

FlatJsonWriter::FlatJsonWriter(size_t reserve) {
  out_.reserve(reserve);
  out_ += '{';
}

void FlatJsonWriter::Key(std::string_view key) {
  if (out_.size() > 1) out_ += ',';
  out_ += '"';
  out_ += key;
  out_ += "\":";
}

FlatJsonWriter& FlatJsonWriter::String(std::string_view key, std::string_view value) {
  Key(key);
  AppendJsonString(out_, value);
  return *this;
}

FlatJsonWriter& FlatJsonWriter::Int(std::string_view key, int64_t value) {
  Key(key);
  out_ += std::to_string(value);
  return *this;
}

FlatJsonWriter& FlatJsonWriter::Bool(std::string_view key, bool value) {
  Key(key);
  out_ += value ? "true" : "false";
  return *this;
}

FlatJsonWriter& FlatJsonWriter::Ip(std::string_view key, Ipv4Address value) {
  Key(key);
  out_ += '"';
  value.AppendTo(out_);
  out_ += '"';
  return *this;
}

FlatJsonWriter& FlatJsonWriter::Raw(std::string_view key, std::string_view json) {
  Key(key);
  out_ += json;
  return *this;
}

FlatJsonWriter& FlatJsonWriter::Merge(std::string_view object) {
  if (object.size() <= 2 || object.front() != '{' || object.back() != '}') return *this;
  if (out_.size() > 1) out_ += ',';
  out_ += object.substr(1, object.size() - 2);
  return *this;
}

std::string FlatJsonWriter::Finish() {
  out_ += '}';
  std::string done = std::move(out_);
  out_.clear();
  out_ += '{';
  return done;
}

}  // namespace paddock
