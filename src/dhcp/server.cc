#include "dhcp/server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/log.h"
#include "dhcp/lease_pool.h"
#include "dhcp/lease_writer.h"
#include "dhcp/pxe.h"
#include "dhcp/responder.h"
#include "dhcp/router_advert.h"

namespace paddock::dhcp {
namespace {

using boost::asio::ip::udp;

constexpr auto kExpiryInterval = std::chrono::seconds(10);

// "mac=.. xid=.." from whatever part of a bad datagram is there.
std::string RawLabel(ByteSpan data) {
  if (data.size() < 34) return "mac=? xid=?";
  char xid[16];
  std::snprintf(xid, sizeof(xid), "0x%02x%02x%02x%02x", data[4], data[5], data[6], data[7]);
  return "mac=" + MacAddress::FromBytes(data.data() + 28).ToString() + " xid=" + xid;
}

// The same text as ClientLabel, from what the ACK path keeps of the request.
std::string Label(const MacAddress& mac, uint32_t xid) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", xid);
  return "mac=" + mac.ToString() + " xid=" + buf;
}

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Impl> {
  // Datagrams read per recvmmsg(2) call, and calls per wake-up before the listener yields the
  // io thread to its other work (TFTP, HTTP, timers). Under load one wake-up and one system
  // call serve up to kBatch messages: an async receive per datagram cost a reactor round trip
  // and a recvfrom each, a large share of the io thread's CPU per DORA.
  static constexpr int kBatch = 32;
  static constexpr int kCallsPerWake = 4;
  // A slot holds a jumbo frame's datagram. DHCP messages are 300-1,500 bytes; a longer one is
  // truncated by the kernel (MSG_TRUNC) and dropped as malformed.
  static constexpr size_t kSlotBytes = 9216;

  struct Listener {
    explicit Listener(boost::asio::io_context& io) : socket(io) {
      for (int i = 0; i < kBatch; ++i) {
        iov[i] = iovec{slots[i].data(), kSlotBytes};
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &from[i];
      }
    }
    udp::socket socket;
    uint16_t port = 0;
    std::array<std::array<uint8_t, kSlotBytes>, kBatch> slots;
    std::array<iovec, kBatch> iov;
    std::array<sockaddr_in, kBatch> from;
    std::array<mmsghdr, kBatch> msgs{};
  };

  Impl(boost::asio::io_context& io_context, ServerOptions o, EventSink* sink, LeaseStorage* st,
       const Clock& c)
      : io(io_context),
        options(std::move(o)),
        events(sink),
        storage(st),
        clock(c),
        server_listener(io),
        proxy_listener(io),
        expiry_timer(io) {
    if (options.mode == Mode::kFull) {
      pool = std::make_unique<LeasePool>(clock, MakeLeasePoolOptions(options));
    }
    responder = std::make_unique<Responder>(options, pool.get(), clock);
  }

  Status Open(Listener& l, uint16_t port) {
    boost::system::error_code ec;
    std::string where = "0.0.0.0:" + std::to_string(port) +
                        (options.interface.empty() ? "" : " on " + options.interface);
    auto error = [&](const char* step) {
      std::string msg = std::string(step) + " " + where + ": " + ec.message();
      boost::system::error_code close_ec;
      l.socket.close(close_ec);
      return ec == boost::asio::error::access_denied ? PermissionDenied(msg) : IoError(msg);
    };
    l.port = port;
    l.socket.open(udp::v4(), ec);
    if (ec) return error("open");
    l.socket.set_option(udp::socket::reuse_address(true), ec);
    l.socket.set_option(boost::asio::socket_base::broadcast(true), ec);
    if (ec) return error("SO_BROADCAST");
    // A room powering on at once sends a burst of DISCOVERs; the default ~208 KB receive buffer
    // overflowed at 1,000 simulated machines (bench/ storm: RcvbufErrors = retries). 4 MB holds
    // about 10,000 datagrams. SO_RCVBUF is capped at net.core.rmem_max (208 KB by default, so
    // it alone changes nothing on a stock host); SO_RCVBUFFORCE (CAP_NET_ADMIN, which a DHCP
    // server usually has) is not. Unprivileged, we take what SO_RCVBUF gives.
    const int rcvbuf = 4 << 20;
    if (::setsockopt(l.socket.native_handle(), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
                     sizeof(rcvbuf)) != 0) {
      ::setsockopt(l.socket.native_handle(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    }
    if (!options.interface.empty()) {
      // SO_BINDTODEVICE: receive only from, and send broadcasts out of, the boot interface.
      if (::setsockopt(l.socket.native_handle(), SOL_SOCKET, SO_BINDTODEVICE,
                       options.interface.data(), options.interface.size()) != 0) {
        ec = boost::system::error_code(errno, boost::system::system_category());
        return error("SO_BINDTODEVICE");
      }
    }
    l.socket.bind(udp::endpoint(boost::asio::ip::address_v4::any(), port), ec);
    if (ec) return error("bind");
    return Ok();
  }

  void Receive(Listener& l) {
    l.socket.async_wait(udp::socket::wait_read,
                        [weak = weak_from_this(), &l](const boost::system::error_code& ec) {
                          auto self = weak.lock();
                          if (!self || !self->running) return;
                          // Only a closed or bad descriptor fails a wait (a socket error shows
                          // as readable, and recvmmsg reports it).
                          if (ec) return;
                          self->Drain(l);
                        });
  }

  // Reads and handles datagrams until the socket is empty (EAGAIN), then waits for more. After
  // kCallsPerWake calls the rest is read from the io queue, after the handlers already waiting
  // there (TFTP, HTTP, timers). Waiting only on an empty socket also saves system calls: Asio
  // re-arms its edge-triggered epoll registration with an epoll_ctl(MOD) for every wait (which
  // is also why a wait armed on a socket that still holds datagrams fires at once).
  void Drain(Listener& l) {
    for (int call = 0; call < kCallsPerWake; ++call) {
      for (int i = 0; i < kBatch; ++i) {
        l.msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
        l.msgs[i].msg_hdr.msg_flags = 0;
      }
      const int n =
          ::recvmmsg(l.socket.native_handle(), l.msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        // EAGAIN: empty. Another error was the socket's pending one, now reported and cleared.
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
          log->debug("recvmmsg on port {}: {}", l.port, std::strerror(errno));
        }
        Receive(l);
        return;
      }
      for (int i = 0; i < n && running; ++i) {
        const msghdr& h = l.msgs[i].msg_hdr;
        const sockaddr_in& from = l.from[i];
        const Ipv4Address from_ip(ntohl(from.sin_addr.s_addr));
        const uint16_t from_port = ntohs(from.sin_port);
        const ByteSpan data(l.slots[i].data(), std::min<size_t>(l.msgs[i].msg_len, kSlotBytes));
        if (h.msg_flags & MSG_TRUNC) {
          received++;
          dropped_malformed++;
          log->debug("{} dropped oversized datagram (over {} bytes) from {}:{} on port {}",
                     RawLabel(data), kSlotBytes, from_ip.ToString(), from_port, l.port);
          continue;
        }
        OnDatagram(l, data, from_ip, from_port);
      }
      if (!running) return;
    }
    boost::asio::post(io, [weak = weak_from_this(), &l] {
      auto self = weak.lock();
      if (self && self->running) self->Drain(l);
    });
  }

  void OnDatagram(Listener& l, ByteSpan data, Ipv4Address from_ip, uint16_t from_port) {
    received++;
    auto packet = ParseDhcpPacket(data);
    if (!packet) {
      dropped_malformed++;
      log->debug("{} dropped malformed datagram ({} bytes) from {}:{} on port {}: {}",
                 RawLabel(data), data.size(), from_ip.ToString(), from_port, l.port,
                 packet.error().message);
      return;
    }
    if (auto type = packet->message_type()) {
      switch (*type) {
        case MessageType::kDiscover:
          discovers++;
          break;
        case MessageType::kRequest:
          requests++;
          break;
        case MessageType::kRelease:
          releases++;
          break;
        case MessageType::kDecline:
          declines++;
          break;
        case MessageType::kInform:
          informs++;
          break;
        default:
          break;
      }
    }
    Arrival arrival{l.port, from_ip, from_port};
    Outcome out = responder->Handle(*packet, arrival);
    // The "mac=.. xid=.." label costs two printf calls: built only when something logs it.
    const bool debug = log->should_log(spdlog::level::debug);
    const std::string label = debug || out.pool_exhausted ? ClientLabel(*packet) : "";
    for (BootEvent& e : out.events) {
      if (debug) log->debug("{} {} {}", label, e.phase, e.detail);
      if (events) events->Record(std::move(e));
    }
    if (out.pool_exhausted) {
      pool_exhausted++;
      log->warn("{} no free address: pool exhausted", label);
    }
    if (!out.reply) {
      if (!out.note.empty()) {
        ignored++;
        if (debug) log->debug("{} not answered: {}", label, out.note);
      }
      if (!out.leases_to_save.empty() && writer) writer->Submit(std::move(out.leases_to_save), {});
      return;
    }
    if (out.leases_to_save.empty() || !writer) {
      Send(l, std::move(*out.reply), *packet);
      return;
    }
    // RFC 2131 §4.3.2 leaves durability to the server; we ACK only what survives a crash.
    auto reply = std::make_shared<Response>(std::move(*out.reply));
    const MacAddress mac = packet->mac();
    const uint32_t xid = packet->xid;
    writer->Submit(std::move(out.leases_to_save),
                   [weak = weak_from_this(), &l, reply, mac, xid](const Status& s) {
                     auto self = weak.lock();
                     if (!self) return;
                     boost::asio::post(self->io, [weak, &l, reply, mac, xid, s] {
                       auto self2 = weak.lock();
                       if (!self2 || !self2->running) return;
                       if (!s) {
                         self2->persist_errors++;
                         self2->log->error("{} lease not saved, ACK withheld: {}", Label(mac, xid),
                                           s.error().ToString());
                         return;
                       }
                       self2->SendLabelled(
                           l, std::move(*reply), [&] { return Label(mac, xid); },
                           self2->log->should_log(spdlog::level::debug));
                     });
                   });
  }

  // `packet` is the request answered; its label is formatted only when something is logged.
  void Send(Listener& l, Response r, const DhcpPacket& packet) {
    const bool debug = log->should_log(spdlog::level::debug);
    SendLabelled(
        l, std::move(r), [&] { return ClientLabel(packet); }, debug);
  }

  template <typename LabelFn>
  void SendLabelled(Listener& l, Response r, const LabelFn& label_fn, bool debug) {
    Bytes wire = SerializeDhcpPacket(r.packet, r.max_size);
    boost::system::error_code ec;
    udp::endpoint to(boost::asio::ip::address_v4(r.to.ip.value()), r.to.port);
    l.socket.send_to(boost::asio::buffer(wire), to, 0, ec);
    if (ec) {
      send_errors++;
      log->warn("{} {} to {}: {}", label_fn(), r.event.phase, to.address().to_string(),
                ec.message());
      return;
    }
    const std::string& phase = r.event.phase;
    if (phase == "dhcp.offer") offers++;
    if (phase == "dhcp.ack") acks++;
    if (phase == "dhcp.nak") naks++;
    if (phase == "proxy.offer") proxy_offers++;
    if (phase == "proxy.ack") proxy_acks++;
    if (debug) {
      log->debug("{} {} -> {}:{} {}", label_fn(), phase, to.address().to_string(), to.port(),
                 r.event.detail);
    }
    r.event.bytes = static_cast<int64_t>(wire.size());
    if (events) events->Record(std::move(r.event));
  }

  void ArmExpiry() {
    expiry_timer.expires_after(kExpiryInterval);
    expiry_timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || !self->running) return;
      std::vector<Lease> changed = self->pool->ExpireDue();
      if (!changed.empty() && self->writer) self->writer->Submit(std::move(changed), {});
      self->ArmExpiry();
    });
  }

  boost::asio::io_context& io;
  ServerOptions options;
  EventSink* events;
  LeaseStorage* storage;
  const Clock& clock;
  std::shared_ptr<spdlog::logger> log = log::Get("dhcp");
  std::unique_ptr<LeasePool> pool;
  std::unique_ptr<Responder> responder;
  std::unique_ptr<LeaseWriter> writer;
  std::unique_ptr<RouterAdvertiser> advertiser;
  Listener server_listener;
  Listener proxy_listener;
  boost::asio::steady_timer expiry_timer;
  bool running = false;

  std::atomic<uint64_t> received{0}, dropped_malformed{0}, ignored{0}, discovers{0}, requests{0},
      releases{0}, declines{0}, informs{0}, offers{0}, acks{0}, naks{0}, proxy_offers{0},
      proxy_acks{0}, pool_exhausted{0}, send_errors{0}, persist_errors{0}, leases_loaded{0};
};

Server::Server(boost::asio::io_context& io, ServerOptions options, EventSink* events,
               LeaseStorage* storage, const Clock* clock)
    : impl_(std::make_shared<Impl>(io, std::move(options), events, storage,
                                   clock ? *clock : SystemClock::Instance())) {}

Server::~Server() { Stop(); }

Status Server::Start() {
  Impl& m = *impl_;
  if (m.running) return Ok();
  if (auto s = ValidateServerOptions(m.options); !s) {
    return InvalidArgument("dhcp options:\n" + s.error().message);
  }
  if (m.options.mode == Mode::kFull) {
    if (m.storage != nullptr) {
      auto leases = m.storage->LoadAll();
      if (!leases) return tl::unexpected(leases.error());
      m.pool->Load(*leases);
      m.leases_loaded = leases->size();
    }
    m.writer = std::make_unique<LeaseWriter>(m.storage);
  }
  if (auto s = m.Open(m.server_listener, m.options.server_port); !s) return s;
  if (auto s = m.Open(m.proxy_listener, m.options.proxy_port); !s) {
    boost::system::error_code ec;
    m.server_listener.socket.close(ec);
    return s;
  }
  if (m.options.router_advertisements) {
    RouterAdvertOptions ra;
    ra.interface = m.options.interface;
    m.advertiser = std::make_unique<RouterAdvertiser>(m.io, ra);
    if (auto s = m.advertiser->Start(); !s) {
      Stop();
      return tl::unexpected(Error{s.error().code, s.error().message +
                                                      " (disable router advertisements to run "
                                                      "without them)"});
    }
  }
  m.running = true;
  m.Receive(m.server_listener);
  m.Receive(m.proxy_listener);
  if (m.pool) m.ArmExpiry();
  m.log->info("dhcp {} mode on {} ports {}/{} as {} ({} leases loaded)",
              m.options.mode == Mode::kFull ? "full" : "proxy",
              m.options.interface.empty() ? "all interfaces" : m.options.interface,
              m.options.server_port, m.options.proxy_port, m.options.server_address.ToString(),
              m.leases_loaded.load());
  return Ok();
}

void Server::Stop() {
  if (!impl_) return;
  Impl& m = *impl_;
  m.running = false;
  boost::system::error_code ec;
  m.server_listener.socket.close(ec);
  m.proxy_listener.socket.close(ec);
  m.expiry_timer.cancel();
  if (m.advertiser) m.advertiser->Stop();
  if (m.writer) m.writer->Stop();
}

Status Server::UpdateOptions(ServerOptions options) {
  if (auto s = ValidateServerOptions(options); !s) {
    return InvalidArgument("dhcp options:\n" + s.error().message);
  }
  boost::asio::post(impl_->io, [weak = std::weak_ptr<Impl>(impl_), o = std::move(options)] {
    auto self = weak.lock();
    if (!self) return;
    // Sockets stay as they are; the rest of the options apply from the next packet on.
    ServerOptions merged = o;
    merged.mode = self->options.mode;
    merged.interface = self->options.interface;
    merged.server_port = self->options.server_port;
    merged.proxy_port = self->options.proxy_port;
    self->options = merged;
    self->responder->UpdateOptions(merged);
    if (self->pool) self->pool->Reconfigure(MakeLeasePoolOptions(merged));
    self->log->info("dhcp options updated");
  });
  return Ok();
}

Stats Server::GetStats() const {
  const Impl& m = *impl_;
  Stats s;
  s.received = m.received;
  s.dropped_malformed = m.dropped_malformed;
  s.ignored = m.ignored;
  s.discovers = m.discovers;
  s.requests = m.requests;
  s.releases = m.releases;
  s.declines = m.declines;
  s.informs = m.informs;
  s.offers = m.offers;
  s.acks = m.acks;
  s.naks = m.naks;
  s.proxy_offers = m.proxy_offers;
  s.proxy_acks = m.proxy_acks;
  s.pool_exhausted = m.pool_exhausted;
  s.send_errors = m.send_errors;
  s.persist_errors = m.persist_errors;
  s.persist_batches = m.writer ? m.writer->batches() : 0;
  s.leases_loaded = m.leases_loaded;
  s.router_advertisements = m.advertiser ? m.advertiser->sent() : 0;
  return s;
}

std::optional<MacAddress> Server::MacForAddress(Ipv4Address address) const {
  if (!impl_->pool) return std::nullopt;
  return impl_->pool->MacForAddress(address);
}

MacResolver Server::Resolver() const {
  return [weak = std::weak_ptr<Impl>(impl_)](Ipv4Address ip) -> std::optional<MacAddress> {
    auto self = weak.lock();
    if (!self || !self->pool) return std::nullopt;
    return self->pool->MacForAddress(ip);
  };
}

std::vector<Lease> Server::Leases() const {
  if (!impl_->pool) return {};
  return impl_->pool->All();
}

}  // namespace paddock::dhcp
