#include "dhcp/router_advert.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <boost/asio/generic/raw_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/log.h"

namespace paddock::dhcp {
namespace {

std::optional<MacAddress> InterfaceMac(const std::string& ifname) {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return std::nullopt;
  struct ifreq ifr {};
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  std::optional<MacAddress> mac;
  if (::ioctl(fd, SIOCGIFHWADDR, &ifr) == 0) {
    mac = MacAddress::FromBytes(reinterpret_cast<const uint8_t*>(ifr.ifr_hwaddr.sa_data));
  }
  ::close(fd);
  return mac;
}

}  // namespace

Bytes BuildRouterAdvertisement(const RouterAdvertOptions& options,
                               const std::optional<MacAddress>& mac) {
  ByteWriter w;
  // RFC 4861 §4.2: type, code, checksum, cur hop limit, M|O flags, router lifetime, reachable
  // time, retrans timer.
  w.WriteU8(ND_ROUTER_ADVERT);
  w.WriteU8(0);
  w.WriteU16(0);
  w.WriteU8(64);
  w.WriteU8(0);  // no M, no O: nothing to ask DHCPv6 for
  w.WriteU16(options.router_lifetime_seconds);
  w.WriteU32(0);
  w.WriteU32(0);
  if (mac) {
    // §4.6.1 source link-layer address option: type 1, length 1 (8 octets).
    w.WriteU8(1);
    w.WriteU8(1);
    w.WriteBytes(mac->bytes());
  }
  if (options.prefix) {
    // §4.6.2 prefix information: type 3, length 4; /64, on-link + autonomous.
    w.WriteU8(3);
    w.WriteU8(4);
    w.WriteU8(64);
    w.WriteU8(0xc0);
    w.WriteU32(86400);  // valid lifetime
    w.WriteU32(14400);  // preferred lifetime
    w.WriteU32(0);
    w.WriteBytes(*options.prefix);
  }
  return w.Take();
}

struct RouterAdvertiser::Impl : std::enable_shared_from_this<Impl> {
  Impl(boost::asio::io_context& io, RouterAdvertOptions o)
      : options(std::move(o)), socket(io), timer(io) {}

  // Multicasts an RA to all nodes (ff02::1), or unicasts it to `unicast_to`.
  void Send(const sockaddr_in6* unicast_to = nullptr) {
    Bytes ra = BuildRouterAdvertisement(options, mac);
    sockaddr_in6 to{};
    if (unicast_to != nullptr) {
      to = *unicast_to;
    } else {
      to.sin6_family = AF_INET6;
      inet_pton(AF_INET6, "ff02::1", &to.sin6_addr);
    }
    to.sin6_scope_id = ifindex;
    if (::sendto(socket.native_handle(), ra.data(), ra.size(), 0, reinterpret_cast<sockaddr*>(&to),
                 sizeof(to)) < 0) {
      log::Get("dhcp")->warn("router advertisement on {}: {}", options.interface,
                             std::strerror(errno));
      return;
    }
    if (unicast_to == nullptr) last_sent = std::chrono::steady_clock::now();
    sent++;
  }

  void ArmTimer() {
    timer.expires_after(std::chrono::seconds(options.interval_seconds));
    timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || !self->running) return;
      self->Send();
      self->ArmTimer();
    });
  }

  void Receive() {
    socket.async_wait(
        boost::asio::socket_base::wait_read,
        [weak = weak_from_this()](const boost::system::error_code& ec) {
          auto self = weak.lock();
          if (ec || !self || !self->running) return;
          uint8_t buf[1500];
          sockaddr_in6 from{};
          socklen_t from_len = sizeof(from);
          ssize_t n = ::recvfrom(self->socket.native_handle(), buf, sizeof(buf), MSG_DONTWAIT,
                                 reinterpret_cast<sockaddr*>(&from), &from_len);
          if (n > 0 && buf[0] == ND_ROUTER_SOLICIT) {
            self->solicitations++;
            // RFC 4861 §6.2.6: multicast RAs at most every 3 s
            // (MIN_DELAY_BETWEEN_RAS); within that, a router MAY unicast the
            // answer to a solicitation with a source address. Dropping it made
            // a booting iPXE wait for its next solicitation (~0.8 s).
            auto now = std::chrono::steady_clock::now();
            if (now - self->last_sent >= std::chrono::seconds(3)) {
              self->Send();
            } else if (from_len >= sizeof(from) && !IN6_IS_ADDR_UNSPECIFIED(&from.sin6_addr)) {
              self->Send(&from);
            }
          }
          self->Receive();
        });
  }

  RouterAdvertOptions options;
  boost::asio::generic::raw_protocol::socket socket;
  boost::asio::steady_timer timer;
  unsigned ifindex = 0;
  std::optional<MacAddress> mac;
  bool running = false;
  std::chrono::steady_clock::time_point last_sent{};
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> solicitations{0};
};

RouterAdvertiser::RouterAdvertiser(boost::asio::io_context& io, RouterAdvertOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {}

RouterAdvertiser::~RouterAdvertiser() { Stop(); }

Status RouterAdvertiser::Start() {
  Impl& m = *impl_;
  m.ifindex = if_nametoindex(m.options.interface.c_str());
  if (m.ifindex == 0) return NotFound("router advertisements: no interface " + m.options.interface);
  m.mac = InterfaceMac(m.options.interface);
  int fd = ::socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
  if (fd < 0) {
    int e = errno;
    std::string msg = "router advertisements: raw ICMPv6 socket: " + std::string(strerror(e));
    return e == EPERM || e == EACCES ? PermissionDenied(msg) : IoError(msg);
  }
  auto fail = [fd](const std::string& what) {
    std::string msg = "router advertisements: " + what + ": " + std::strerror(errno);
    ::close(fd);
    return IoError(msg);
  };
  // RFC 4861 §6.1.2: RAs carry hop limit 255 so receivers know they are on-link.
  int hops = 255;
  if (::setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops)) < 0 ||
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof(hops)) < 0) {
    return fail("hop limit");
  }
  if (::setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &m.ifindex, sizeof(m.ifindex)) < 0) {
    return fail("multicast interface (is IPv6 enabled on " + m.options.interface + "?)");
  }
  if (::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, m.options.interface.c_str(),
                   m.options.interface.size()) < 0) {
    return fail("bind to " + m.options.interface);
  }
  struct icmp6_filter filter;
  ICMP6_FILTER_SETBLOCKALL(&filter);
  ICMP6_FILTER_SETPASS(ND_ROUTER_SOLICIT, &filter);
  ::setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof(filter));
  ipv6_mreq group{};
  inet_pton(AF_INET6, "ff02::2", &group.ipv6mr_multiaddr);
  group.ipv6mr_interface = m.ifindex;
  if (::setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &group, sizeof(group)) < 0) {
    return fail("join ff02::2");
  }
  boost::system::error_code ec;
  m.socket.assign(boost::asio::generic::raw_protocol(AF_INET6, IPPROTO_ICMPV6), fd, ec);
  if (ec) {
    ::close(fd);
    return IoError("router advertisements: " + ec.message());
  }
  m.running = true;
  m.Send();
  m.ArmTimer();
  m.Receive();
  log::Get("dhcp")->info("router advertisements on {} every {} s (lifetime {} s)",
                         m.options.interface, m.options.interval_seconds,
                         m.options.router_lifetime_seconds);
  return Ok();
}

void RouterAdvertiser::Stop() {
  if (!impl_ || !impl_->running) return;
  impl_->running = false;
  boost::system::error_code ec;
  impl_->timer.cancel();
  impl_->socket.close(ec);
}

uint64_t RouterAdvertiser::sent() const { return impl_->sent.load(); }
uint64_t RouterAdvertiser::solicitations() const { return impl_->solicitations.load(); }

}  // namespace paddock::dhcp
