#include "common/net.h"

namespace paddock {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Without printf: addresses are formatted on hot paths (every timeline event, every script).
std::string FormatMac(const std::array<uint8_t, 6>& b, char sep) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(17, sep);
  for (size_t i = 0; i < 6; ++i) {
    out[3 * i] = kDigits[b[i] >> 4];
    out[3 * i + 1] = kDigits[b[i] & 0xf];
  }
  return out;
}

}  // namespace

MacAddress MacAddress::FromBytes(const uint8_t* p) {
  std::array<uint8_t, 6> b;
  for (int i = 0; i < 6; ++i) b[i] = p[i];
  return MacAddress(b);
}

std::optional<MacAddress> MacAddress::Parse(std::string_view text) {
  std::array<uint8_t, 6> b{};
  size_t pos = 0;
  char sep = 0;
  if (text.size() == 17) {
    sep = text[2];
    if (sep != ':' && sep != '-') return std::nullopt;
  } else if (text.size() != 12) {
    return std::nullopt;
  }
  for (int i = 0; i < 6; ++i) {
    if (i > 0 && sep != 0) {
      if (text[pos] != sep) return std::nullopt;
      ++pos;
    }
    int hi = HexValue(text[pos]);
    int lo = HexValue(text[pos + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    b[i] = static_cast<uint8_t>(hi * 16 + lo);
    pos += 2;
  }
  return MacAddress(b);
}

bool MacAddress::IsZero() const {
  for (uint8_t c : bytes_) {
    if (c != 0) return false;
  }
  return true;
}

std::string MacAddress::ToString() const { return FormatMac(bytes_, ':'); }
std::string MacAddress::ToHyphenString() const { return FormatMac(bytes_, '-'); }

std::optional<Ipv4Address> Ipv4Address::Parse(std::string_view text) {
  uint32_t value = 0;
  int parts = 0;
  size_t i = 0;
  while (parts < 4) {
    if (i >= text.size()) return std::nullopt;
    uint32_t octet = 0;
    size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      octet = octet * 10 + static_cast<uint32_t>(text[i] - '0');
      if (++digits > 3 || octet > 255) return std::nullopt;
      ++i;
    }
    if (digits == 0) return std::nullopt;
    value = (value << 8) | octet;
    ++parts;
    if (parts < 4) {
      if (i >= text.size() || text[i] != '.') return std::nullopt;
      ++i;
    }
  }
  if (i != text.size()) return std::nullopt;
  return Ipv4Address(value);
}

std::string Ipv4Address::ToString() const {
  std::string out;
  AppendTo(out);
  return out;
}

void Ipv4Address::AppendTo(std::string& out) const {
  for (int shift = 24; shift >= 0; shift -= 8) {
    const unsigned octet = (value_ >> shift) & 0xff;
    if (octet >= 100) out += static_cast<char>('0' + octet / 100);
    if (octet >= 10) out += static_cast<char>('0' + octet / 10 % 10);
    out += static_cast<char>('0' + octet % 10);
    if (shift > 0) out += '.';
  }
}

}  // namespace paddock
