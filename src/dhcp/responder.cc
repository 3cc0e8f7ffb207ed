#include "dhcp/responder.h"

#include <algorithm>

#include "boot/policy.h"
#include "common/json_writer.h"
#include "dhcp/pxe.h"

namespace paddock::dhcp {
namespace {

// "0x%08x" without printf (this runs for every event of every packet).
void AppendHex32(std::string& out, uint32_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  char buf[10] = {'0', 'x'};
  for (int i = 0; i < 8; ++i) buf[2 + i] = kDigits[(v >> (28 - 4 * i)) & 0xf];
  out.append(buf, sizeof(buf));
}

BootEvent MakeEvent(const DhcpPacket& request, std::string phase, std::string detail,
                    bool ok = true) {
  BootEvent e;
  e.mac = request.mac();
  e.time_us = WallMicros();
  e.phase = std::move(phase);
  e.detail = std::move(detail);
  e.ok = ok;
  return e;
}

// RFC 2131 §4.1 / §4.3.1: the reply copies xid, flags, giaddr and chaddr.
DhcpPacket ReplySkeleton(const DhcpPacket& request, MessageType type, Ipv4Address server) {
  DhcpPacket r;
  r.op = kBootReply;
  r.htype = request.htype;
  r.hlen = request.hlen;
  r.xid = request.xid;
  r.flags = request.flags;
  r.giaddr = request.giaddr;
  r.chaddr = request.chaddr;
  r.SetU8(opt::kMessageType, static_cast<uint8_t>(type));
  r.SetIp(opt::kServerId, server);
  return r;
}

size_t MaxReplySize(const DhcpPacket& request) {
  // RFC 2132 §9.10: option 57 below 576 is invalid; ignore it then.
  auto v = request.GetU16(opt::kMaxMessageSize);
  return v && *v >= kDefaultMaxMessageSize ? *v : kDefaultMaxMessageSize;
}

// RFC 6842: echo the client identifier; RFC 3046 §2.2: echo relay agent information.
void EchoIdentifiers(const DhcpPacket& request, DhcpPacket* reply) {
  if (const Bytes* id = request.Find(opt::kClientId)) reply->Set(opt::kClientId, *id);
  if (const Bytes* rai = request.Find(opt::kRelayAgentInfo)) {
    reply->Set(opt::kRelayAgentInfo, *rai);
  }
}

// Boot options from the policy (notes/pxe-in-qemu.md, "What the server must answer").
void ApplyBoot(const DhcpPacket& request, const boot::ClientInfo& client,
               const boot::BootDecision& d, DhcpPacket* reply) {
  if (d.action == boot::BootAction::kNone) return;
  reply->siaddr = d.next_server;  // iPXE ignores a proxy reply with siaddr 0 (pitfall 7)
  if (d.filename.size() < kFileSize) reply->file = d.filename;
  reply->SetString(opt::kBootfileName, d.filename);
  if (!d.vendor_class.empty()) reply->SetString(opt::kVendorClass, d.vendor_class);
  // PXE spec §2.2.5 / RFC 4578 §2.3: a PXE server echoes the client's machine identifier.
  if (const Bytes* uuid = request.Find(opt::kClientUuid);
      uuid && (client.is_pxe || client.is_ipxe)) {
    reply->Set(opt::kClientUuid, *uuid);
  }
  if (d.ipxe_no_pxedhcp) {
    reply->Set(opt::kIpxeEncapsulated, Bytes{ipxe::kNoPxeDhcp, 1, 1});
  }
}

Destination ReplyDestination(const DhcpPacket& request, const ServerOptions& o, bool allow_ciaddr) {
  if (!request.giaddr.IsZero()) return {request.giaddr, o.server_port};
  if (allow_ciaddr && !request.ciaddr.IsZero()) return {request.ciaddr, o.client_port};
  return {Ipv4Address::Broadcast(), o.client_port};
}

}  // namespace

std::string EventDetail(const DhcpPacket& request, Ipv4Address ip, const std::string& file,
                        const std::string& error) {
  return EventDetail(request, ClassifyClient(request), ip, file, error);
}

std::string EventDetail(const DhcpPacket& request, const boot::ClientInfo& c, Ipv4Address ip,
                        const std::string& file, const std::string& error) {
  // Written directly (building an nlohmann object per packet was a visible share of the io
  // thread's CPU). Keys in nlohmann's order (sorted), so the text is unchanged.
  FlatJsonWriter w;
  if (c.arch) w.Int("arch", *c.arch);
  if (!error.empty()) w.String("error", error);
  if (!file.empty()) w.String("file", file);
  if (!ip.IsZero()) w.Ip("ip", ip);
  if (c.is_ipxe) w.Bool("ipxe", true);
  w.Bool("relayed", !request.giaddr.IsZero());
  if (!c.user_class.empty()) w.String("user_class", c.user_class);
  if (c.uuid) w.String("uuid", *c.uuid);
  if (!c.vendor_class.empty()) w.String("vendor_class", c.vendor_class);
  std::string xid;
  AppendHex32(xid, request.xid);
  w.String("xid", xid);
  return w.Finish();
}

LeasePoolOptions MakeLeasePoolOptions(const ServerOptions& options) {
  LeasePoolOptions p;
  for (const SubnetOptions& s : options.subnets) {
    p.ranges.push_back(s.range);
    if (!s.router.IsZero()) p.excluded.push_back(s.router);
  }
  p.excluded.push_back(options.server_address);
  p.reservations = options.reservations;
  p.offer_hold_seconds = options.offer_hold_seconds;
  p.decline_quarantine_seconds = options.decline_quarantine_seconds;
  return p;
}

Status ValidateServerOptions(const ServerOptions& options) {
  std::string errors;
  auto add = [&errors](const std::string& e) {
    if (!errors.empty()) errors += '\n';
    errors += e;
  };
  if (options.server_address.IsZero()) add("server address is not set");
  if (options.policy.server.IsZero()) add("boot policy server address is not set");
  if (options.server_port == options.proxy_port) add("server and proxy ports are equal");
  if (options.mode == Mode::kFull) {
    if (options.subnets.empty()) add("full mode needs at least one subnet with a range");
    if (options.lease_seconds < 60) add("lease time must be at least 60 s");
    if (auto s = ValidateLeasePoolOptions(MakeLeasePoolOptions(options)); !s) {
      add(s.error().message);
    }
  }
  if (!errors.empty()) return InvalidArgument(errors);
  return Ok();
}

Responder::Responder(const ServerOptions& options, LeasePool* pool, const Clock& clock)
    : options_(options), pool_(pool), clock_(clock) {}

Outcome Responder::Handle(const DhcpPacket& request, const Arrival& arrival) {
  if (request.op != kBootRequest) return Outcome{.note = "not a BOOTREQUEST"};
  if (!request.message_type()) return Outcome{.note = "no message type (BOOTP is not served)"};
  if (request.htype != 1 || request.hlen != 6) return Outcome{.note = "not Ethernet"};
  if (arrival.local_port == options_.proxy_port && arrival.local_port != options_.server_port) {
    return HandleBootServer(request, arrival);
  }
  return options_.mode == Mode::kFull ? HandleFull(request, arrival)
                                      : HandleProxy(request, arrival);
}

Outcome Responder::HandleFull(const DhcpPacket& request, const Arrival&) {
  Outcome out;
  if (pool_ == nullptr) return Outcome{.note = "full mode without a lease pool"};
  const MessageType type = *request.message_type();
  const MacAddress mac = request.mac();
  const Bytes no_id;
  const Bytes* id_ptr = request.Find(opt::kClientId);
  const Bytes& client_id = id_ptr ? *id_ptr : no_id;
  const auto requested = request.GetIp(opt::kRequestedIp);
  const auto server_id = request.GetIp(opt::kServerId);
  const Ipv4Address self = options_.server_address;
  const std::string phase_in = std::string("dhcp.") + [type] {
    std::string n = MessageTypeName(type);
    std::transform(n.begin(), n.end(), n.begin(), ::tolower);
    return n;
  }();

  // Which subnet: the relay's (RFC 2131 §4.3.1 "giaddr"), the renewing client's, or ours.
  std::optional<size_t> range;
  if (!request.giaddr.IsZero()) {
    range = pool_->RangeForAddress(request.giaddr);
  } else if (!request.ciaddr.IsZero()) {
    range = pool_->RangeForAddress(request.ciaddr);
  }
  if (!range && request.giaddr.IsZero()) range = pool_->RangeForAddress(self);
  if (!range) {
    out.note = "no subnet for giaddr " + request.giaddr.ToString();
    return out;
  }
  const SubnetOptions* subnet = nullptr;
  // Ranges in the pool are the subnets' ranges, in the same order.
  if (*range < options_.subnets.size()) subnet = &options_.subnets[*range];
  if (subnet == nullptr) return Outcome{.note = "subnet index out of range"};

  const boot::ClientInfo client = ClassifyClient(request);
  boot::PolicyInput policy = options_.policy;
  policy.role = boot::DhcpRole::kFull;
  const boot::BootDecision decision = boot::DecideBoot(policy, client);

  auto lease_options = [&](DhcpPacket* r, const Lease* lease) {
    if (lease != nullptr) {
      const uint32_t t = static_cast<uint32_t>(options_.lease_seconds);
      r->SetU32(opt::kLeaseTime, t);
      r->SetU32(opt::kRenewalTime, t / 2);        // RFC 2131 §4.4.5: T1 = 0.5
      r->SetU32(opt::kRebindingTime, t / 8 * 7);  // T2 = 0.875
    }
    const uint32_t mask = subnet->range.netmask.value();
    r->SetIp(opt::kSubnetMask, subnet->range.netmask);
    r->SetIp(opt::kBroadcastAddress, Ipv4Address((subnet->range.start.value() & mask) | ~mask));
    if (!subnet->router.IsZero()) r->SetIp(opt::kRouter, subnet->router);
    if (!subnet->dns.empty()) r->SetIpList(opt::kDnsServers, subnet->dns);
    if (!subnet->domain.empty()) r->SetString(opt::kDomainName, subnet->domain);
    if (lease != nullptr) {
      if (auto res = pool_->ReservationFor(request.mac()); res && !res->hostname.empty()) {
        r->SetString(opt::kHostname, res->hostname);
      }
    }
    EchoIdentifiers(request, r);
    ApplyBoot(request, client, decision, r);
  };
  auto respond = [&](MessageType rtype, DhcpPacket r, Destination to, const char* phase,
                     Ipv4Address ip, const std::string& error = "") {
    Response resp;
    resp.packet = std::move(r);
    resp.to = to;
    resp.max_size = MaxReplySize(request);
    std::string file = rtype == MessageType::kNak ? "" : decision.filename;
    resp.event = MakeEvent(request, phase, EventDetail(request, client, ip, file, error),
                           rtype != MessageType::kNak);
    out.reply = std::move(resp);
  };
  auto nak = [&](const std::string& why) {
    DhcpPacket r = ReplySkeleton(request, MessageType::kNak, self);
    r.SetString(opt::kMessage, why);
    EchoIdentifiers(request, &r);
    // RFC 2131 §4.3.2: a NAK goes by broadcast, or to the relay with the broadcast bit set.
    if (!request.giaddr.IsZero()) r.flags |= kFlagBroadcast;
    Destination to = request.giaddr.IsZero()
                         ? Destination{Ipv4Address::Broadcast(), options_.client_port}
                         : Destination{request.giaddr, options_.server_port};
    respond(MessageType::kNak, std::move(r), to, "dhcp.nak", Ipv4Address(), why);
  };

  Ipv4Address seen_ip = requested.value_or(request.ciaddr);
  out.events.push_back(MakeEvent(request, phase_in, EventDetail(request, client, seen_ip, "")));

  switch (type) {
    case MessageType::kDiscover: {
      auto lease = pool_->Offer(client_id, mac, *range, requested);
      if (!lease) {
        out.note = "pool exhausted";
        out.pool_exhausted = true;
        return out;
      }
      DhcpPacket r = ReplySkeleton(request, MessageType::kOffer, self);
      r.yiaddr = lease->ip;
      lease_options(&r, &*lease);
      respond(MessageType::kOffer, std::move(r), ReplyDestination(request, options_, false),
              "dhcp.offer", lease->ip);
      return out;
    }
    case MessageType::kRequest: {
      Ipv4Address ip;
      bool renewing = false;
      if (server_id) {
        // SELECTING: the client picked a server. Not us: withdraw our offer, stay silent.
        if (*server_id != self) {
          pool_->CancelOffer(client_id, mac);
          out.note = "client chose server " + server_id->ToString();
          return out;
        }
        if (!requested) {
          nak("REQUEST without requested address");
          return out;
        }
        ip = *requested;
      } else if (!request.ciaddr.IsZero()) {
        ip = request.ciaddr;  // RENEWING (unicast) or REBINDING (broadcast)
        renewing = true;
      } else if (requested) {
        ip = *requested;  // INIT-REBOOT
      } else {
        out.note = "REQUEST without address";
        return out;
      }
      auto hostname = request.GetString(opt::kHostname).value_or("");
      auto lease = pool_->Bind(client_id, mac, *range, ip, options_.lease_seconds, hostname);
      if (!lease) {
        nak(lease.error().message);
        return out;
      }
      DhcpPacket r = ReplySkeleton(request, MessageType::kAck, self);
      r.yiaddr = lease->ip;
      r.ciaddr = request.ciaddr;
      lease_options(&r, &*lease);
      respond(MessageType::kAck, std::move(r), ReplyDestination(request, options_, renewing),
              "dhcp.ack", lease->ip);
      out.leases_to_save.push_back(*lease);
      return out;
    }
    case MessageType::kDecline: {
      if (server_id && *server_id != self) return out;
      if (!requested) {
        out.note = "DECLINE without requested address";
        return out;
      }
      if (auto lease = pool_->Decline(client_id, mac, *requested)) {
        out.leases_to_save.push_back(*lease);
      } else {
        out.note = "DECLINE for an address the client does not hold";
      }
      return out;
    }
    case MessageType::kRelease: {
      if (server_id && *server_id != self) return out;
      if (auto lease = pool_->Release(client_id, mac, request.ciaddr)) {
        out.leases_to_save.push_back(*lease);
      } else {
        out.note = "RELEASE for an address the client does not hold";
      }
      return out;
    }
    case MessageType::kInform: {
      // RFC 2131 §4.3.5: configuration only; no lease time, no yiaddr; unicast to ciaddr.
      DhcpPacket r = ReplySkeleton(request, MessageType::kAck, self);
      r.ciaddr = request.ciaddr;
      lease_options(&r, nullptr);
      respond(MessageType::kAck, std::move(r), ReplyDestination(request, options_, true),
              "dhcp.ack", request.ciaddr);
      return out;
    }
    default:
      out.note = std::string("unexpected ") + MessageTypeName(type) + " from a client";
      out.events.clear();
      return out;
  }
}

Outcome Responder::HandleProxy(const DhcpPacket& request, const Arrival&) {
  Outcome out;
  if (request.message_type() != MessageType::kDiscover) {
    out.note = "proxy mode: only DISCOVER is answered on the server port";
    return out;
  }
  const boot::ClientInfo client = ClassifyClient(request);
  if (!client.is_pxe && !client.is_ipxe && !client.is_http_boot) {
    out.note = "proxy mode: not a PXE client";
    return out;
  }
  boot::PolicyInput policy = options_.policy;
  policy.role = boot::DhcpRole::kProxy;
  const boot::BootDecision d = boot::DecideBoot(policy, client);
  out.events.push_back(
      MakeEvent(request, "dhcp.discover", EventDetail(request, client, Ipv4Address(), "")));
  if (d.action == boot::BootAction::kNone) {
    out.note = "proxy mode: no boot file for this client";
    return out;
  }
  // PXE spec §2.2.2: the proxy OFFER has yiaddr 0, option 60 "PXEClient" and echoes 97.
  DhcpPacket r = ReplySkeleton(request, MessageType::kOffer, options_.server_address);
  ApplyBoot(request, client, d, &r);
  if (!r.Has(opt::kVendorClass)) r.SetString(opt::kVendorClass, "PXEClient");
  EchoIdentifiers(request, &r);
  Response resp;
  resp.packet = std::move(r);
  resp.to = ReplyDestination(request, options_, false);
  resp.max_size = MaxReplySize(request);
  resp.event =
      MakeEvent(request, "proxy.offer", EventDetail(request, client, Ipv4Address(), d.filename));
  out.reply = std::move(resp);
  return out;
}

Outcome Responder::HandleBootServer(const DhcpPacket& request, const Arrival& arrival) {
  Outcome out;
  auto type = request.message_type();
  if (type != MessageType::kRequest && type != MessageType::kDiscover &&
      type != MessageType::kInform) {
    out.note = "boot server port: unexpected message type";
    return out;
  }
  const boot::ClientInfo client = ClassifyClient(request);
  if (!client.is_pxe && !client.is_ipxe && !client.is_http_boot) {
    out.note = "boot server port: not a PXE client";
    return out;
  }
  boot::PolicyInput policy = options_.policy;
  // Never 175.176 here: this port answers only as the proxy/boot server.
  policy.role = boot::DhcpRole::kProxy;
  const boot::BootDecision d = boot::DecideBoot(policy, client);
  // Where the request really came from; ciaddr only when the source is unset (relayed).
  Ipv4Address client_ip = arrival.source.IsZero() ? request.ciaddr : arrival.source;
  out.events.push_back(
      MakeEvent(request, "dhcp.request", EventDetail(request, client, client_ip, "")));
  if (d.action == boot::BootAction::kNone) {
    out.note = "boot server port: no boot file for this client";
    return out;
  }
  DhcpPacket r = ReplySkeleton(request, MessageType::kAck, options_.server_address);
  r.ciaddr = request.ciaddr;
  r.sname = options_.server_address.ToString();
  ApplyBoot(request, client, d, &r);
  if (!r.Has(opt::kVendorClass)) r.SetString(opt::kVendorClass, "PXEClient");
  EchoIdentifiers(request, &r);
  // OVMF sends from port 4011 and listens there: answer the request's source address and port
  // (broadcast when it has no address yet).
  Response resp;
  resp.packet = std::move(r);
  if (!request.giaddr.IsZero()) {
    resp.to = {request.giaddr, options_.server_port};
  } else {
    resp.to = {client_ip.IsZero() ? Ipv4Address::Broadcast() : client_ip, arrival.source_port};
  }
  resp.max_size = MaxReplySize(request);
  resp.event = MakeEvent(request, "proxy.ack", EventDetail(request, client, client_ip, d.filename));
  out.reply = std::move(resp);
  return out;
}

}  // namespace paddock::dhcp
