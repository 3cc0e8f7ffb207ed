#pragma once

// Plain HTTP request types and the pure parsers behind them (no Beast, no Asio): header fields
// with case-insensitive lookup, request-target splitting, percent-decoding of the path and the
// query. The server builds a Request with BuildRequest(); handlers only read it. Every parser
// here takes untrusted bytes and reports a malformed input as an Error, never by throwing.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/net.h"
#include "common/result.h"

namespace paddock::http {

// Case-insensitive ASCII comparison of header field names and tokens (RFC 9110 §5.1).
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// An ordered list of header fields. Names compare case-insensitively; a name may repeat.
// Values are stored as received (leading and trailing whitespace already trimmed by the parser).
class Headers {
 public:
  using Field = std::pair<std::string, std::string>;

  // The value of the first field called `name`, or nullopt. The view lives as long as this
  // object is not modified.
  std::optional<std::string_view> Get(std::string_view name) const;
  bool Has(std::string_view name) const { return Get(name).has_value(); }
  // Appends a field (keeps existing ones of the same name).
  void Add(std::string name, std::string value);
  // Replaces every field called `name` by one field.
  void Set(std::string name, std::string value);
  void Remove(std::string_view name);

  const std::vector<Field>& fields() const { return fields_; }
  std::vector<Field>::const_iterator begin() const { return fields_.begin(); }
  std::vector<Field>::const_iterator end() const { return fields_.end(); }
  size_t size() const { return fields_.size(); }

 private:
  std::vector<Field> fields_;
};

// Decoded query parameters in the order they appear in the target ("a=1&b=2&a=3" gives three
// entries). A parameter without '=' has an empty value.
using QueryParams = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;     // as sent, case-sensitive (RFC 9110 §9.1): "GET", "HEAD", ...
  std::string target;     // the raw request-target: "/ipxe?mac=52-54-00-12-34-56"
  std::string path;       // percent-decoded path of the target: "/ipxe". Starts with '/', no NUL.
  std::string raw_query;  // the undecoded text after '?', empty when there is none
  QueryParams query;      // decoded raw_query ('+' is a space, as in HTML forms)
  Headers headers;
  int version = 11;  // 10 for HTTP/1.0, 11 for HTTP/1.1
  Ipv4Address peer_address;
  uint16_t peer_port = 0;
  std::string body;

  bool IsHead() const { return method == "HEAD"; }
  // The value of the first query parameter called `name` (case-sensitive), or nullopt.
  std::optional<std::string_view> Query(std::string_view name) const;
  // "198.18.0.7:51234", for log lines.
  std::string PeerString() const;
};

// Decodes %XX escapes. With plus_is_space, '+' becomes ' ' (query strings). Fails on a
// truncated or non-hex escape. The result may contain any byte, NUL included; callers decide.
Result<std::string> PercentDecode(std::string_view text, bool plus_is_space);

// Splits and decodes a query string ("a=1&b=%20x"). Empty pairs ("a=1&&b=2") are skipped.
Result<QueryParams> ParseQuery(std::string_view raw_query);

struct ParsedTarget {
  std::string path;       // decoded, starts with '/', never contains NUL
  std::string raw_query;  // without the '?'
  QueryParams query;
};

// Parses an origin-form request-target (RFC 9112 §3.2.1: "/path?query"). Also accepts the
// absolute-form "http://host/path?query" (RFC 9112 §3.2.2; proxies and some clients send it)
// by dropping scheme and authority. A fragment is dropped. Fails (the server answers 400) on
// an empty target, a target not starting with '/', a bad escape or a NUL in the decoded path.
// Dot segments are kept as they are: a file server refuses them, and a router treats
// "/a/../b" as a path under "/a/", never as "/b".
Result<ParsedTarget> ParseTarget(std::string_view target);

// Assembles a Request from parsed pieces (the server calls it with what Beast parsed).
Result<Request> BuildRequest(std::string method, std::string target, int version, Headers headers,
                             std::string body);

}  // namespace paddock::http
