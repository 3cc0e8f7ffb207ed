#include "http/conditional.h"

#include <time.h>

#include <array>
#include <cstdio>
#include <limits>

#include "http/request.h"

namespace paddock::http {
namespace {

constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<const char*, 7> kLongDays = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                  "Thursday", "Friday", "Saturday"};
constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

bool IsOws(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsOws(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsOws(s.back())) s.remove_suffix(1);
  return s;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Parses 1*DIGIT, saturating at UINT64_MAX (a huge last-pos is still a valid range).
std::optional<uint64_t> ParseDigits(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (!IsDigit(c)) return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) {
      v = std::numeric_limits<uint64_t>::max();
    } else {
      v = v * 10 + d;
    }
  }
  return v;
}

struct RangeSpec {
  bool suffix = false;
  uint64_t first = 0;
  std::optional<uint64_t> last;  // absent: to the end
  uint64_t suffix_length = 0;
};

// RFC 9110 §14.1.1: int-range = first-pos "-" [ last-pos ]; suffix-range = "-" suffix-length.
std::optional<RangeSpec> ParseSpec(std::string_view s) {
  size_t dash = s.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  RangeSpec spec;
  std::string_view a = s.substr(0, dash);
  std::string_view b = s.substr(dash + 1);
  if (a.empty()) {
    auto n = ParseDigits(b);
    if (!n) return std::nullopt;
    spec.suffix = true;
    spec.suffix_length = *n;
    return spec;
  }
  auto first = ParseDigits(a);
  if (!first) return std::nullopt;
  spec.first = *first;
  if (!b.empty()) {
    auto last = ParseDigits(b);
    if (!last || *last < *first) return std::nullopt;  // §14.1.1: invalid if last < first
    spec.last = *last;
  }
  return spec;
}

int MonthIndex(std::string_view m) {
  for (size_t i = 0; i < kMonths.size(); ++i) {
    if (m == kMonths[i]) return static_cast<int>(i);
  }
  return -1;
}

std::optional<int> Number(std::string_view s) {
  if (s.empty() || s.size() > 4) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (!IsDigit(c)) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// "08:49:37"
bool ParseClock(std::string_view s, struct tm* tm) {
  if (s.size() != 8 || s[2] != ':' || s[5] != ':') return false;
  auto h = Number(s.substr(0, 2));
  auto m = Number(s.substr(3, 2));
  auto sec = Number(s.substr(6, 2));
  if (!h || !m || !sec || *h > 23 || *m > 59 || *sec > 60) return false;
  tm->tm_hour = *h;
  tm->tm_min = *m;
  tm->tm_sec = *sec;
  return true;
}

std::optional<int64_t> ToEpoch(struct tm* tm) {
  if (tm->tm_mday < 1 || tm->tm_mday > 31 || tm->tm_year < 70) {
    return std::nullopt;
  }
  time_t t = timegm(tm);
  if (t == static_cast<time_t>(-1)) return std::nullopt;
  return static_cast<int64_t>(t);
}

}  // namespace

ByteRange ParseRange(std::string_view header, uint64_t size) {
  ByteRange none;
  header = Trim(header);
  size_t eq = header.find('=');
  if (eq == std::string_view::npos) return none;
  // §14.1: range-unit is case-insensitive; only "bytes" is defined.
  if (!EqualsIgnoreCase(Trim(header.substr(0, eq)), "bytes")) return none;
  std::string_view set = header.substr(eq + 1);

  std::optional<RangeSpec> only;
  int count = 0;
  size_t pos = 0;
  while (pos <= set.size()) {
    size_t comma = set.find(',', pos);
    if (comma == std::string_view::npos) comma = set.size();
    std::string_view element = Trim(set.substr(pos, comma - pos));
    pos = comma + 1;
    if (element.empty()) continue;  // §5.6.1: empty list elements are allowed
    auto spec = ParseSpec(element);
    if (!spec) return none;
    ++count;
    only = spec;
  }
  if (count == 0) return none;
  if (count > 1) return ByteRange{ByteRange::Kind::kMultiple, 0, 0};

  ByteRange out;
  if (only->suffix) {
    if (only->suffix_length == 0) return ByteRange{ByteRange::Kind::kUnsatisfiable, 0, 0};
    if (size == 0) return none;
    uint64_t n = std::min(only->suffix_length, size);
    return ByteRange{ByteRange::Kind::kSatisfiable, size - n, n};
  }
  if (only->first >= size) return ByteRange{ByteRange::Kind::kUnsatisfiable, 0, 0};
  uint64_t last = only->last ? std::min(*only->last, size - 1) : size - 1;
  out.kind = ByteRange::Kind::kSatisfiable;
  out.offset = only->first;
  out.length = last - only->first + 1;
  return out;
}

std::string ContentRange(uint64_t offset, uint64_t length, uint64_t size) {
  return "bytes " + std::to_string(offset) + "-" + std::to_string(offset + length - 1) + "/" +
         std::to_string(size);
}

std::string UnsatisfiedContentRange(uint64_t size) { return "bytes */" + std::to_string(size); }

namespace {

// Splits an entity-tag into (weak, opaque-tag with quotes). nullopt if malformed.
std::optional<std::pair<bool, std::string_view>> SplitEtag(std::string_view tag) {
  bool weak = false;
  if (tag.size() >= 2 && tag[0] == 'W' && tag[1] == '/') {
    weak = true;
    tag.remove_prefix(2);
  }
  if (tag.size() < 2 || tag.front() != '"' || tag.back() != '"') return std::nullopt;
  if (tag.substr(1, tag.size() - 2).find('"') != std::string_view::npos) return std::nullopt;
  return std::make_pair(weak, tag);
}

}  // namespace

bool IfNoneMatchMatches(std::string_view header, std::string_view etag) {
  header = Trim(header);
  if (header == "*") return true;
  auto ours = SplitEtag(etag);
  if (!ours) return false;
  size_t pos = 0;
  while (pos <= header.size()) {
    size_t comma = header.find(',', pos);
    if (comma == std::string_view::npos) comma = header.size();
    std::string_view element = Trim(header.substr(pos, comma - pos));
    pos = comma + 1;
    auto theirs = SplitEtag(element);
    if (theirs && theirs->second == ours->second) return true;
  }
  return false;
}

bool StrongEtagEquals(std::string_view a, std::string_view b) {
  auto x = SplitEtag(Trim(a));
  auto y = SplitEtag(Trim(b));
  return x && y && !x->first && !y->first && x->second == y->second;
}

std::string FormatHttpDate(int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday % 7],
                tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

std::optional<int64_t> ParseHttpDate(std::string_view text) {
  text = Trim(text);
  struct tm tm {};
  size_t comma = text.find(',');
  if (comma == 3) {
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    if (text.size() != 29 || text.substr(25) != " GMT" || text[4] != ' ' || text[7] != ' ' ||
        text[11] != ' ' || text[16] != ' ') {
      return std::nullopt;
    }
    auto day = Number(text.substr(5, 2));
    int mon = MonthIndex(text.substr(8, 3));
    auto year = Number(text.substr(12, 4));
    if (!day || mon < 0 || !year || !ParseClock(text.substr(17, 8), &tm)) return std::nullopt;
    tm.tm_mday = *day;
    tm.tm_mon = mon;
    tm.tm_year = *year - 1900;
    return ToEpoch(&tm);
  }
  if (comma != std::string_view::npos) {
    // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
    std::string_view day_name = text.substr(0, comma);
    bool known = false;
    for (const char* d : kLongDays) known = known || day_name == d;
    std::string_view rest = text.substr(comma + 1);
    if (!known || rest.size() != 23 || rest[0] != ' ' || rest[3] != '-' || rest[7] != '-' ||
        rest[10] != ' ' || rest.substr(19) != " GMT") {
      return std::nullopt;
    }
    auto day = Number(rest.substr(1, 2));
    int mon = MonthIndex(rest.substr(4, 3));
    auto yy = Number(rest.substr(8, 2));
    if (!day || mon < 0 || !yy || !ParseClock(rest.substr(11, 8), &tm)) return std::nullopt;
    // RFC 9110 §5.6.7: a two-digit year more than 50 years ahead is in the past century.
    tm.tm_mday = *day;
    tm.tm_mon = mon;
    tm.tm_year = *yy < 70 ? *yy + 100 : *yy;
    return ToEpoch(&tm);
  }
  // asctime: "Sun Nov  6 08:49:37 1994"
  if (text.size() != 24 || text[3] != ' ' || text[7] != ' ' || text[10] != ' ' || text[19] != ' ') {
    return std::nullopt;
  }
  int mon = MonthIndex(text.substr(4, 3));
  std::string_view day_text = text.substr(8, 2);
  if (day_text[0] == ' ') day_text.remove_prefix(1);
  auto day = Number(day_text);
  auto year = Number(text.substr(20, 4));
  if (mon < 0 || !day || !year || !ParseClock(text.substr(11, 8), &tm)) return std::nullopt;
  tm.tm_mday = *day;
  tm.tm_mon = mon;
  tm.tm_year = *year - 1900;
  return ToEpoch(&tm);
}

}  // namespace paddock::http
