#include "tftp/packet.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "testutil/pcap.h"

namespace paddock::tftp {
namespace {

using namespace std::string_literals;

Bytes Raw(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Every RRQ (to port 69) in a capture.
std::vector<Bytes> CapturedRrqs(const std::string& file) {
  std::vector<Bytes> out;
  for (const auto& d :
       paddock::testing::ReadUdpFromPcap(std::string(PADDOCK_CAPTURES_DIR) + "/" + file)) {
    if (d.dst_port == 69) out.push_back(d.payload);
  }
  return out;
}

TEST(TftpPacket, OvmfCapturedRrqs) {
  auto rrqs = CapturedRrqs("uefi-native-tftp-rrq.pcap");
  ASSERT_EQ(rrqs.size(), 2u);
  // First: "ipxe.efi octet tsize 0 blksize 1468 windowsize 4" (the tsize probe).
  auto p = ParseTftpPacket(rrqs[0]);
  ASSERT_TRUE(p) << p.error().ToString();
  const auto& r = std::get<TftpRequest>(*p);
  EXPECT_EQ(r.opcode, Opcode::kRrq);
  EXPECT_EQ(r.filename, "ipxe.efi");
  EXPECT_EQ(r.mode, TransferMode::kOctet);
  EXPECT_EQ(r.options.tsize, 0u);
  EXPECT_EQ(r.options.blksize, 1468);
  EXPECT_EQ(r.options.windowsize, 4);
  EXPECT_FALSE(r.options.timeout_s);
  EXPECT_TRUE(r.ignored_options.empty());
  EXPECT_TRUE(r.unknown_options.empty());
  // Second: the same without tsize.
  auto p2 = ParseTftpPacket(rrqs[1]);
  ASSERT_TRUE(p2);
  const auto& r2 = std::get<TftpRequest>(*p2);
  EXPECT_FALSE(r2.options.tsize);
  EXPECT_EQ(r2.options.blksize, 1468);
  EXPECT_EQ(r2.options.windowsize, 4);
}

TEST(TftpPacket, ProxyOvmfCapturedRrqsRoundTrip) {
  for (const auto& raw : CapturedRrqs("proxy-uefi-native-tftp-rrq.pcap")) {
    auto p = ParseTftpPacket(raw);
    ASSERT_TRUE(p);
    auto again = ParseTftpPacket(SerializeTftpPacket(*p));
    ASSERT_TRUE(again);
    EXPECT_EQ(std::get<TftpRequest>(*again).options, std::get<TftpRequest>(*p).options);
  }
}

TEST(TftpPacket, IpxeCapturedRrqs) {
  auto rrqs = CapturedRrqs("bios-tftp-tftp-rrq.pcap");
  ASSERT_EQ(rrqs.size(), 3u);
  std::vector<std::string> names;
  for (const auto& raw : rrqs) {
    auto p = ParseTftpPacket(raw);
    ASSERT_TRUE(p) << p.error().ToString();
    const auto& r = std::get<TftpRequest>(*p);
    names.push_back(r.filename);
    EXPECT_EQ(r.options.blksize, 1432);
    EXPECT_EQ(r.options.tsize, 0u);
    EXPECT_FALSE(r.options.windowsize);
    // iPXE writes "blksize 1432 tsize 0"; our serializer uses the same order, so the captured
    // bytes come back identical.
    EXPECT_EQ(SerializeTftpPacket(*p), raw);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"boot-tftp.ipxe", "vmlinuz", "initrd.cpio.gz"}));
}

TEST(TftpPacket, CaseInsensitiveNamesAndMode) {
  Bytes raw = Raw("\0\1File.BIN\0OcTeT\0BLKSIZE\0001024\0TSize\0000\0"s);
  auto p = ParseTftpPacket(raw);
  ASSERT_TRUE(p) << p.error().ToString();
  const auto& r = std::get<TftpRequest>(*p);
  EXPECT_EQ(r.filename, "File.BIN");  // the filename keeps its case
  EXPECT_EQ(r.mode, TransferMode::kOctet);
  EXPECT_EQ(r.options.blksize, 1024);
  EXPECT_EQ(r.options.tsize, 0u);
  auto n = ParseTftpPacket(Raw("\0\1a\0NETASCII\0"s));
  ASSERT_TRUE(n);
  EXPECT_EQ(std::get<TftpRequest>(*n).mode, TransferMode::kNetascii);
}

TEST(TftpPacket, UnknownOptionsIgnoredAndListed) {
  TftpRequest req;
  req.filename = "x";
  Bytes raw = SerializeRequest(req);
  for (std::string_view s : {"multicast", "", "rollover", "1"}) {
    raw.insert(raw.end(), s.begin(), s.end());
    raw.push_back(0);
  }
  // "multicast" "" is a name with an empty value; "rollover" "1" follows.
  auto p = ParseTftpPacket(raw);
  ASSERT_TRUE(p) << p.error().ToString();
  const auto& r = std::get<TftpRequest>(*p);
  EXPECT_TRUE(r.options.empty());
  EXPECT_EQ(r.unknown_options, (std::vector<std::string>{"multicast", "rollover"}));
}

TEST(TftpPacket, BadOptionValuesInRequestAreDroppedOrClamped) {
  auto parse = [](std::string_view name, std::string_view value) {
    TftpRequest req;
    req.filename = "f";
    Bytes raw = SerializeRequest(req);
    raw.insert(raw.end(), name.begin(), name.end());
    raw.push_back(0);
    raw.insert(raw.end(), value.begin(), value.end());
    raw.push_back(0);
    auto p = ParseTftpPacket(raw);
    EXPECT_TRUE(p);
    return std::get<TftpRequest>(*p);
  };
  EXPECT_FALSE(parse("blksize", "7").options.blksize);
  EXPECT_EQ(parse("blksize", "7").ignored_options, std::vector<std::string>{"blksize"});
  EXPECT_EQ(parse("blksize", "8").options.blksize, 8);
  EXPECT_EQ(parse("blksize", "65464").options.blksize, 65464);
  EXPECT_EQ(parse("blksize", "65465").options.blksize, 65464);  // clamped, RFC 2348
  EXPECT_EQ(parse("blksize", "99999999999999999999999").options.blksize, std::nullopt);
  EXPECT_FALSE(parse("blksize", "abc").options.blksize);
  EXPECT_FALSE(parse("blksize", "-5").options.blksize);
  EXPECT_FALSE(parse("blksize", "12x").options.blksize);
  EXPECT_FALSE(parse("blksize", "").options.blksize);
  EXPECT_FALSE(parse("timeout", "0").options.timeout_s);
  EXPECT_FALSE(parse("timeout", "256").options.timeout_s);
  EXPECT_EQ(parse("timeout", "255").options.timeout_s, 255);
  EXPECT_EQ(parse("timeout", "1").options.timeout_s, 1);
  EXPECT_FALSE(parse("windowsize", "0").options.windowsize);
  EXPECT_EQ(parse("windowsize", "1").options.windowsize, 1);
  EXPECT_EQ(parse("windowsize", "70000").options.windowsize, 65535);
  EXPECT_EQ(parse("tsize", "12345").options.tsize, 12345u);
  EXPECT_FALSE(parse("tsize", "x").options.tsize);
}

TEST(TftpPacket, DuplicateOptionFirstWins) {
  Bytes raw = Raw("\0\1f\0octet\0blksize\0001000\0blksize\0002000\0"s);
  auto p = ParseTftpPacket(raw);
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_EQ(std::get<TftpRequest>(*p).options.blksize, 1000);
}

TEST(TftpPacket, TrailingNulPaddingTolerated) {
  Bytes raw = Raw("\0\1f\0octet\0tsize\0000\0\0\0\0"s);
  auto p = ParseTftpPacket(raw);
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_EQ(std::get<TftpRequest>(*p).options.tsize, 0u);
}

struct BadCase {
  const char* what;
  std::string bytes;
};

TEST(TftpPacket, MalformedDatagramsAreErrors) {
  const std::vector<BadCase> cases = {
      {"empty", std::string()},
      {"one byte", "\0"s},
      {"opcode 0", "\0\0x\0octet\0"s},
      {"opcode 7", "\0\7x\0octet\0"s},
      {"opcode 0x0101", "\1\1x\0octet\0"s},
      {"rrq no filename", "\0\1"s},
      {"rrq filename without NUL", "\0\1file"s},
      {"rrq empty filename", "\0\1\0octet\0"s},
      {"rrq no mode", "\0\1file\0"s},
      {"rrq mode without NUL", "\0\1file\0octet"s},
      {"rrq bad mode", "\0\1file\0binary\0"s},
      {"rrq mail mode", "\0\1file\0mail\0"s},
      {"option without value", "\0\1f\0octet\0blksize\0"s},
      {"option value without NUL", "\0\1f\0octet\0blksize\0001024"s},
      {"option name without NUL", "\0\1f\0octet\0blksize"s},
      {"wrq filename without NUL", "\0\2f"s},
      {"data 3 bytes", "\0\3\0"s},
      {"ack 3 bytes", "\0\4\0"s},
      {"ack 2 bytes", "\0\4"s},
      {"error 3 bytes", "\0\5\0"s},
      {"error without message NUL", "\0\5\0\1oops"s},
      {"error with no message at all", "\0\5\0\1"s},
      {"oack option without value", "\0\6blksize\0"s},
      {"oack blksize 7", "\0\6blksize\0007\0"s},
      {"oack blksize too big", "\0\6blksize\00065465\0"s},
      {"oack blksize not a number", "\0\6blksize\0big\0"s},
      {"oack timeout 0", "\0\6timeout\0000\0"s},
      {"oack windowsize 0", "\0\6windowsize\0000\0"s},
      {"oack windowsize too big", "\0\6windowsize\00065536\0"s},
      {"oack unknown option", "\0\6foo\0001\0"s},
  };
  for (const auto& c : cases) {
    auto p = ParseTftpPacket(AsBytes(c.bytes));
    EXPECT_FALSE(p) << c.what;
    if (!p) {
      EXPECT_EQ(p.error().code, ErrorCode::kInvalidArgument) << c.what;
      EXPECT_FALSE(p.error().message.empty()) << c.what;
    }
  }
}

TEST(TftpPacket, DataAckErrorOackRoundTrip) {
  Bytes payload = {1, 2, 3, 4, 5};
  Bytes data_wire = SerializeData(65535, payload);  // the parsed view points into it
  auto d = ParseTftpPacket(data_wire);
  ASSERT_TRUE(d);
  EXPECT_EQ(std::get<TftpData>(*d).block, 65535);
  EXPECT_EQ(Bytes(std::get<TftpData>(*d).payload.begin(), std::get<TftpData>(*d).payload.end()),
            payload);
  Bytes empty_wire = SerializeData(7, {});
  auto empty = ParseTftpPacket(empty_wire);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(std::get<TftpData>(*empty).payload.empty());

  auto a = ParseTftpPacket(SerializeAck(0x1234));
  ASSERT_TRUE(a);
  EXPECT_EQ(std::get<TftpAck>(*a).block, 0x1234);
  EXPECT_EQ(SerializeAck(0x1234), Raw("\0\4\x12\x34"s));

  auto e = ParseTftpPacket(SerializeError(8, "User aborted the transfer"));
  ASSERT_TRUE(e);
  EXPECT_EQ(std::get<TftpError>(*e).code, 8);
  EXPECT_EQ(std::get<TftpError>(*e).message, "User aborted the transfer");
  // An embedded NUL cannot travel; the message is cut there.
  auto cut = ParseTftpPacket(SerializeError(1, "ab\0cd"s));
  ASSERT_TRUE(cut);
  EXPECT_EQ(std::get<TftpError>(*cut).message, "ab");

  TftpOptions o;
  o.blksize = 1468;
  o.tsize = 1031168;
  o.timeout_s = 3;
  o.windowsize = 4;
  Bytes oack = SerializeOack(o);
  EXPECT_EQ(oack, Raw("\0\6blksize\0001468\0tsize\0001031168\0timeout\0003\0"
                      "windowsize\0004\0"s));
  auto po = ParseTftpPacket(oack);
  ASSERT_TRUE(po);
  EXPECT_EQ(std::get<TftpOack>(*po).options, o);
}

TEST(TftpPacket, WriteDataHeader) {
  uint8_t hdr[4];
  WriteDataHeader(0xabcd, std::span<uint8_t, 4>(hdr));
  EXPECT_EQ(Bytes(hdr, hdr + 4), (Bytes{0, 3, 0xab, 0xcd}));
}

TEST(TftpPacket, Netascii) {
  EXPECT_EQ(ToNetascii(AsBytes("a\nb\rc")), Raw("a\r\nb\r\0c"s));
  EXPECT_TRUE(ToNetascii({}).empty());
}

}  // namespace
}  // namespace paddock::tftp
