#include "agent/userdata.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "agent/codec.h"
#include "agent/merge.h"

namespace paddock::agent {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view TrimView(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

struct Headers {
  std::vector<std::pair<std::string, std::string>> fields;  // lower-case name, raw value
  std::string Get(std::string_view name) const {
    for (const auto& [k, v] : fields) {
      if (k == name) return v;
    }
    return "";
  }
};

// RFC 5322 §2.2: header fields end at the first empty line; continuation lines start with
// whitespace. Returns the offset of the body.
size_t ParseHeaders(std::string_view msg, Headers* out) {
  size_t pos = 0;
  while (pos < msg.size()) {
    size_t eol = msg.find('\n', pos);
    std::string_view line = msg.substr(pos, eol == std::string_view::npos ? eol : eol - pos);
    size_t next = eol == std::string_view::npos ? msg.size() : eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) return next;
    if ((line[0] == ' ' || line[0] == '\t') && !out->fields.empty()) {
      out->fields.back().second += " ";
      out->fields.back().second += std::string(TrimView(line));
    } else if (size_t colon = line.find(':'); colon != std::string_view::npos) {
      out->fields.emplace_back(Lower(TrimView(line.substr(0, colon))),
                               std::string(TrimView(line.substr(colon + 1))));
    } else {
      return pos;  // not a header line: treat the rest as body
    }
    pos = next;
  }
  return msg.size();
}

// Content-Type parameter (RFC 2045 §5.1), quoted or token.
std::string Param(const std::string& header, std::string_view name) {
  size_t pos = 0;
  std::string lower = Lower(header);
  while ((pos = lower.find(';', pos)) != std::string::npos) {
    ++pos;
    size_t eq = lower.find('=', pos);
    if (eq == std::string::npos) break;
    if (TrimView(std::string_view(lower).substr(pos, eq - pos)) != name) continue;
    std::string_view v = std::string_view(header).substr(eq + 1);
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    if (!v.empty() && v.front() == '"') {
      size_t end = v.find('"', 1);
      return std::string(v.substr(1, end == std::string_view::npos ? end : end - 1));
    }
    size_t end = v.find(';');
    return std::string(TrimView(v.substr(0, end)));
  }
  return "";
}

std::string MediaType(const std::string& header) {
  return Lower(TrimView(std::string_view(header).substr(0, header.find(';'))));
}

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 2045 §6.7 quoted-printable.
std::string DecodeQuotedPrintable(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '=') {
      out += s[i];
      continue;
    }
    if (i + 1 < s.size() && s[i + 1] == '\n') {
      i += 1;
    } else if (i + 2 < s.size() && s[i + 1] == '\r' && s[i + 2] == '\n') {
      i += 2;
    } else if (i + 2 < s.size() && HexVal(s[i + 1]) >= 0 && HexVal(s[i + 2]) >= 0) {
      out += static_cast<char>(HexVal(s[i + 1]) * 16 + HexVal(s[i + 2]));
      i += 2;
    } else {
      out += '=';
    }
  }
  return out;
}

Status WalkMime(std::string_view message, const UserDataLimits& limits, int depth,
                std::vector<MimePart>* out) {
  if (depth > limits.max_mime_depth) return InvalidArgument("MIME nested too deeply");
  Headers headers;
  size_t body_at = ParseHeaders(message, &headers);
  std::string_view body = message.substr(body_at);
  std::string ctype_header = headers.Get("content-type");
  std::string ctype = MediaType(ctype_header);
  if (ctype.rfind("multipart/", 0) == 0) {
    std::string boundary = Param(ctype_header, "boundary");
    if (boundary.empty()) return InvalidArgument("multipart without boundary");
    // RFC 2046 §5.1.1: delimiter lines are "--boundary" at the start of a line; the close
    // delimiter is "--boundary--". Text before the first and after the last is ignored.
    std::string delim = "--" + boundary;
    size_t pos = 0;
    bool in_part = false;
    size_t part_start = 0;
    while (pos <= body.size()) {
      size_t eol = body.find('\n', pos);
      std::string_view line = body.substr(pos, eol == std::string_view::npos ? eol : eol - pos);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      std::string_view tline = TrimView(line);
      bool is_delim = tline.size() >= delim.size() && tline.substr(0, delim.size()) == delim;
      bool is_close =
          is_delim && tline.size() >= delim.size() + 2 && tline.substr(delim.size(), 2) == "--";
      if (is_delim && (tline.size() == delim.size() || is_close)) {
        if (in_part) {
          // The line break before the delimiter belongs to the delimiter (RFC 2046 §5.1.1).
          size_t end = pos;
          if (end > part_start && body[end - 1] == '\n') --end;
          if (end > part_start && body[end - 1] == '\r') --end;
          if (out->size() >= limits.max_parts) return InvalidArgument("too many MIME parts");
          auto st = WalkMime(body.substr(part_start, end - part_start), limits, depth + 1, out);
          if (!st) return st;
        }
        if (is_close) return Ok();
        in_part = true;
        part_start = eol == std::string_view::npos ? body.size() : eol + 1;
      }
      if (eol == std::string_view::npos) break;
      pos = eol + 1;
    }
    if (in_part && part_start < body.size()) {
      // Missing close delimiter: keep the last part, as Python's email parser does.
      auto st = WalkMime(body.substr(part_start), limits, depth + 1, out);
      if (!st) return st;
    }
    return Ok();
  }
  MimePart part;
  part.content_type = ctype;
  part.filename = Param(headers.Get("content-disposition"), "filename");
  if (part.filename.empty()) part.filename = Param(ctype_header, "name");
  part.merge_type = headers.Get("merge-type");
  if (part.merge_type.empty()) part.merge_type = headers.Get("x-merge-type");
  std::string cte = Lower(TrimView(headers.Get("content-transfer-encoding")));
  if (cte == "base64") {
    auto decoded = Base64Decode(body);
    if (!decoded) return InvalidArgument("MIME part base64: " + decoded.error().message);
    part.body = std::move(*decoded);
  } else if (cte == "quoted-printable") {
    part.body = DecodeQuotedPrintable(body);
  } else {
    part.body = std::string(body);
  }
  out->push_back(std::move(part));
  return Ok();
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

// cloud-init handlers/__init__.py INCLUSION_TYPES_MAP: the type from the first line.
std::string TypeFromContent(std::string_view body) {
  std::string_view s = body;
  // cloud-init compares the start of the payload, after a possible BOM.
  if (StartsWith(s, "\xEF\xBB\xBF")) s.remove_prefix(3);
  if (StartsWith(s, "#include-once")) return "text/x-include-once-url";
  if (StartsWith(s, "#include")) return "text/x-include-url";
  if (StartsWith(s, "#cloud-config-archive")) return "text/cloud-config-archive";
  if (StartsWith(s, "#cloud-config-jsonp")) return "text/cloud-config-jsonp";
  if (StartsWith(s, "#cloud-config")) return "text/cloud-config";
  if (StartsWith(s, "#cloud-boothook")) return "text/cloud-boothook";
  if (StartsWith(s, "#part-handler")) return "text/part-handler";
  if (StartsWith(s, "#upstart-job")) return "text/upstart-job";
  if (StartsWith(s, "## template: jinja")) return "text/jinja2";
  if (StartsWith(s, "#!")) return "text/x-shellscript";
  return "text/plain";
}

}  // namespace

Result<std::vector<MimePart>> ParseMime(std::string_view message, const UserDataLimits& limits) {
  std::vector<MimePart> parts;
  auto st = WalkMime(message, limits, 0, &parts);
  if (!st) return tl::unexpected(st.error());
  return parts;
}

UserData ParseUserData(std::string_view blob, const UserDataLimits& limits) {
  UserData ud;
  std::string data(blob);
  if (IsGzip(data)) {
    auto inflated = Gunzip(data, limits.max_inflated);
    if (!inflated) {
      ud.errors.push_back("user-data: " + inflated.error().message);
      return ud;
    }
    data = std::move(*inflated);
  }
  std::vector<MimePart> parts;
  std::string head = Lower(std::string_view(data).substr(0, 4096));
  if (head.find("mime-version:") != std::string::npos) {
    auto parsed = ParseMime(data, limits);
    if (!parsed) {
      ud.errors.push_back("user-data MIME: " + parsed.error().message);
      return ud;
    }
    parts = std::move(*parsed);
  } else {
    MimePart p;
    p.body = std::move(data);
    parts.push_back(std::move(p));
  }

  int index = 0;
  for (auto& part : parts) {
    ++index;
    char default_name[32];
    std::snprintf(default_name, sizeof(default_name), "part-%03d", index);
    std::string name = part.filename.empty() ? default_name : part.filename;
    if (IsGzip(part.body)) {
      auto inflated = Gunzip(part.body, limits.max_inflated);
      if (!inflated) {
        ud.errors.push_back(name + ": " + inflated.error().message);
        continue;
      }
      part.body = std::move(*inflated);
    }
    std::string type = part.content_type;
    if (type.empty() || type == "text/plain" || type == "text/x-not-multipart" ||
        type == "application/octet-stream") {
      type = TypeFromContent(part.body);
    }
    if (type == "text/cloud-config") {
      auto doc = ParseYaml(part.body);
      if (!doc) {
        ud.errors.push_back(name + ": invalid YAML at " + doc.error().message + "; part skipped");
        continue;
      }
      if (doc->is_null()) doc = Json::object();
      if (!doc->is_object()) {
        ud.errors.push_back(name + ": cloud-config is not a mapping; part skipped");
        continue;
      }
      ud.cloud_config = MergeCloudConfigPart(ud.cloud_config, *doc, part.merge_type);
      ++ud.cloud_config_parts;
    } else if (type == "text/x-shellscript") {
      ud.scripts.push_back({name, std::move(part.body)});
    } else if (type == "text/cloud-boothook") {
      ud.boothooks.push_back({name, std::move(part.body)});
    } else if (type == "text/plain" && TrimView(part.body).empty()) {
      continue;  // empty user-data
    } else {
      ud.warnings.push_back(name + ": unsupported user-data type " + type + "; part ignored");
    }
  }
  return ud;
}

}  // namespace paddock::agent
