#pragma once

// Bounds-checked readers and writers for network byte order. A ByteReader never reads past its
// span: every Read* returns false (and leaves the output untouched) when too few bytes remain,
// so codecs can parse untrusted packets without undefined behaviour.

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace paddock {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;

class ByteReader {
 public:
  explicit ByteReader(ByteSpan data) : data_(data) {}

  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }
  bool empty() const { return remaining() == 0; }

  bool ReadU8(uint8_t* out);
  bool ReadU16(uint16_t* out);  // big-endian
  bool ReadU32(uint32_t* out);  // big-endian
  // Returns a view of the next n bytes and advances; false when fewer remain.
  bool ReadSpan(size_t n, ByteSpan* out);
  bool Skip(size_t n);
  // The rest of the data, without advancing.
  ByteSpan Rest() const { return data_.subspan(pos_); }

 private:
  ByteSpan data_;
  size_t pos_ = 0;
};

class ByteWriter {
 public:
  ByteWriter() = default;
  explicit ByteWriter(size_t reserve) { out_.reserve(reserve); }

  void WriteU8(uint8_t v) { out_.push_back(v); }
  void WriteU16(uint16_t v);
  void WriteU32(uint32_t v);
  void WriteBytes(ByteSpan b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void WriteString(std::string_view s) { out_.insert(out_.end(), s.begin(), s.end()); }
  void WriteZeros(size_t n) { out_.insert(out_.end(), n, 0); }
  size_t size() const { return out_.size(); }
  // Overwrites a big-endian u16 at an earlier offset (for length fields).
  void PatchU16(size_t offset, uint16_t v);

  const Bytes& bytes() const { return out_; }
  Bytes Take() { return std::move(out_); }

 private:
  Bytes out_;
};

inline ByteSpan AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view AsStringView(ByteSpan b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
// Lower-case hex, no separators ("0a1b").
std::string HexEncode(ByteSpan b);

}  // namespace paddock
