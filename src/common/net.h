#pragma once

// Value types for link and network addresses. Both are trivially copyable and hashable, and
// parse from / format to the text forms operators type ("52:54:00:ab:cd:ef", "198.18.0.1").

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace paddock {

class MacAddress {
 public:
  MacAddress() = default;
  explicit MacAddress(const std::array<uint8_t, 6>& b) : bytes_(b) {}
  static MacAddress FromBytes(const uint8_t* p);

  // Accepts "aa:bb:cc:dd:ee:ff", "aa-bb-cc-dd-ee-ff" (iPXE ${mac:hexhyp}) and "aabbccddeeff",
  // in either case. Returns nullopt for anything else.
  static std::optional<MacAddress> Parse(std::string_view text);

  const std::array<uint8_t, 6>& bytes() const { return bytes_; }
  bool IsZero() const;
  // "52:54:00:ab:cd:ef"
  std::string ToString() const;
  // "52-54-00-ab-cd-ef" (the form iPXE's ${mac:hexhyp} produces, and the one used in URLs).
  std::string ToHyphenString() const;

  friend bool operator==(const MacAddress&, const MacAddress&) = default;
  friend auto operator<=>(const MacAddress&, const MacAddress&) = default;

 private:
  std::array<uint8_t, 6> bytes_{};
};

// An IPv4 address held in host byte order.
class Ipv4Address {
 public:
  constexpr Ipv4Address() = default;
  constexpr explicit Ipv4Address(uint32_t host_order) : value_(host_order) {}
  static std::optional<Ipv4Address> Parse(std::string_view text);
  static constexpr Ipv4Address Any() { return Ipv4Address(0); }
  static constexpr Ipv4Address Broadcast() { return Ipv4Address(0xffffffffu); }

  constexpr uint32_t value() const { return value_; }
  constexpr bool IsZero() const { return value_ == 0; }
  std::string ToString() const;
  // Appends the dotted quad to `out` (no allocation of its own).
  void AppendTo(std::string& out) const;

  friend constexpr bool operator==(Ipv4Address, Ipv4Address) = default;
  friend constexpr auto operator<=>(Ipv4Address, Ipv4Address) = default;

 private:
  uint32_t value_ = 0;
};

}  // namespace paddock

template <>
struct std::hash<paddock::MacAddress> {
  size_t operator()(const paddock::MacAddress& m) const noexcept {
    uint64_t v = 0;
    for (uint8_t b : m.bytes()) v = (v << 8) | b;
    return std::hash<uint64_t>{}(v);
  }
};

template <>
struct std::hash<paddock::Ipv4Address> {
  size_t operator()(paddock::Ipv4Address a) const noexcept {
    return std::hash<uint32_t>{}(a.value());
  }
};
