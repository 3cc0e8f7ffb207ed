// libFuzzer target: DHCP codec, classification and the pure responder on arbitrary bytes.
// Parse must never crash; whatever parses must serialize within the size limit and parse back;
// the responder (full and proxy mode, both ports) must handle it without crashing.

#include <cstdint>
#include <cstdlib>

#include "common/clock.h"
#include "dhcp/lease_pool.h"
#include "dhcp/packet.h"
#include "dhcp/pxe.h"
#include "dhcp/responder.h"

using namespace paddock;
using namespace paddock::dhcp;

namespace {

ServerOptions Options(Mode mode) {
  ServerOptions o;
  o.mode = mode;
  o.server_address = Ipv4Address(0xc6120001);  // 198.18.0.1
  o.policy.server = o.server_address;
  SubnetOptions s;
  s.range = {Ipv4Address(0xc6120064), Ipv4Address(0xc6120068), Ipv4Address(0xffffff00)};
  s.router = o.server_address;
  o.subnets.push_back(s);
  o.reservations.push_back({MacAddress({0x52, 0x54, 0, 0, 0, 1}), Ipv4Address(0xc6120020), "r"});
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static FakeClock clock;
  static ServerOptions full = Options(Mode::kFull);
  static ServerOptions proxy = Options(Mode::kProxy);
  static LeasePool pool(clock, MakeLeasePoolOptions(full));  // state carries across inputs
  static Responder full_responder(full, &pool, clock);
  static Responder proxy_responder(proxy, nullptr, clock);

  auto packet = ParseDhcpPacket(ByteSpan(data, size));
  if (!packet) return 0;
  boot::ClientInfo info = ClassifyClient(*packet);
  (void)info;
  (void)ClientLabel(*packet);
  size_t max = size > 0 ? 576 + data[0] * 4 : 576;
  Bytes wire = SerializeDhcpPacket(*packet, max);
  if (wire.size() > max || wire.size() < kBootpMinimumSize) std::abort();
  if (!ParseDhcpPacket(wire)) std::abort();

  for (uint16_t port : {uint16_t{67}, uint16_t{4011}}) {
    Arrival a{port, packet->ciaddr, 68};
    for (Responder* r : {&full_responder, &proxy_responder}) {
      Outcome o = r->Handle(*packet, a);
      if (o.reply) {
        Bytes out = SerializeDhcpPacket(o.reply->packet, o.reply->max_size);
        if (out.size() > o.reply->max_size) std::abort();
        if (!ParseDhcpPacket(out)) std::abort();
      }
    }
  }
  clock.Advance(7);
  (void)pool.ExpireDue();
  return 0;
}
