#pragma once

// Pure parsers for the parts of RFC 9110 that file serving needs: byte ranges (§14),
// entity tags (§8.8.3) and HTTP-dates (§5.6.7). No I/O; every function takes untrusted header
// text and never throws.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace paddock::http {

struct ByteRange {
  enum class Kind {
    kNone,           // no Range header, or one we ignore (bad syntax, other unit): send 200
    kSatisfiable,    // one range inside the representation: send 206
    kUnsatisfiable,  // syntactically fine but past the end: send 416
    kMultiple,       // several ranges: we send the whole representation with 200 (§14.2)
  };
  Kind kind = Kind::kNone;
  uint64_t offset = 0;  // for kSatisfiable: first byte
  uint64_t length = 0;  // for kSatisfiable: number of bytes, >= 1
};

// Parses a Range header value against a representation of `size` bytes (RFC 9110 §14.1.2):
// "bytes=0-99", "bytes=100-" (to the end), "bytes=-500" (the last 500 bytes; the whole
// representation if it is shorter). A last-pos past the end is clamped. A first-pos at or past
// the end, or a zero suffix, is unsatisfiable. Syntax errors (first > last, junk, a unit other
// than "bytes") make the header ignored (kNone), as §14.2 allows. An empty representation has
// no satisfiable range except that a suffix range is ignored (200 with an empty body).
ByteRange ParseRange(std::string_view header, uint64_t size);

// "bytes 0-99/1234" and "bytes */1234" (§14.4).
std::string ContentRange(uint64_t offset, uint64_t length, uint64_t size);
std::string UnsatisfiedContentRange(uint64_t size);

// True if an If-None-Match value matches `etag` by the weak comparison (§13.1.2): "*", or any
// listed tag whose opaque part equals etag's, W/ ignored on both sides.
bool IfNoneMatchMatches(std::string_view header, std::string_view etag);
// True if two entity tags are equal by the strong comparison (§8.8.3.2): neither is weak and
// the opaque parts are equal. Used for If-Range.
bool StrongEtagEquals(std::string_view a, std::string_view b);

// Formats seconds since the epoch as an IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
std::string FormatHttpDate(int64_t unix_seconds);
// Parses the three HTTP-date forms (§5.6.7: IMF-fixdate, RFC 850, asctime). nullopt if the
// text is none of them.
std::optional<int64_t> ParseHttpDate(std::string_view text);

}  // namespace paddock::http
