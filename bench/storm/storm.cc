#include "storm.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <linux/rtnetlink.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace paddock::bench {
namespace {

using Bytes = std::vector<uint8_t>;

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

constexpr const char* kPhases[] = {"dhcp_pxe", "tftp_nbp", "dhcp_ipxe", "script",
                                   "kernel",   "initrd",   "booted"};
constexpr int kPhaseCount = 7;

struct Machine {
  int index = 0;
  uint8_t mac[6] = {};
  uint8_t uuid[16] = {};  // canonical (big-endian) order
  std::string mac_colon, mac_hyphen, uuid_text;

  // Results.
  int64_t start_us = 0;
  int64_t phase_start[kPhaseCount] = {};
  int64_t phase_end[kPhaseCount] = {};
  int64_t booted_us = 0;
  int dhcp_retries = 0, tftp_retries = 0, http_retries = 0;
  int64_t tftp_bytes = 0, http_bytes = 0;
  uint32_t ip = 0;  // network order
  std::string error;

  // DHCP mailbox (filled by the receive thread).
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Bytes> inbox;
};

// ---------------------------------------------------------------------------------------------
// Shared sockets.

struct Shared {
  StormOptions opt;
  int ifindex = 0;
  uint8_t if_mac[6] = {};
  uint32_t if_ip = 0;  // network order, the interface's own address
  int raw_fd = -1;     // AF_PACKET, DHCP out
  int dhcp_fd = -1;    // UDP 0.0.0.0:68, DHCP in
  int nl_fd = -1;      // rtnetlink, address add/del
  std::mutex nl_mu;
  std::mutex xid_mu;
  std::unordered_map<uint32_t, Machine*> by_xid;
  std::atomic<bool> stop{false};
  std::atomic<int> booted{0}, failed{0};
  std::atomic<int> in_phase[kPhaseCount] = {};
  std::atomic<int64_t> dhcp_unmatched{0};
  int64_t t0 = 0;
};

Shared* g = nullptr;

uint16_t IpChecksum(const uint8_t* p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += (p[i] << 8) | p[i + 1];
  if (n & 1) sum += p[n - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

void Put16(Bytes& b, uint16_t v) {
  b.push_back(v >> 8);
  b.push_back(v & 0xff);
}
void Put32(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back((v >> s) & 0xff);
}

// Sends a BOOTP payload from 0.0.0.0:68 to 255.255.255.255:67 with the machine's MAC as the
// Ethernet source, as firmware does before it has an address.
bool SendDhcp(const Machine& m, const Bytes& payload) {
  Bytes f;
  f.insert(f.end(), 6, 0xff);
  f.insert(f.end(), m.mac, m.mac + 6);
  Put16(f, ETH_P_IP);
  size_t ip_off = f.size();
  uint16_t total = static_cast<uint16_t>(20 + 8 + payload.size());
  f.push_back(0x45);
  f.push_back(0);
  Put16(f, total);
  Put16(f, 0);  // id
  Put16(f, 0);  // flags/fragment
  f.push_back(64);
  f.push_back(17);
  Put16(f, 0);  // checksum, below
  Put32(f, 0);  // 0.0.0.0
  Put32(f, 0xffffffff);
  uint16_t csum = IpChecksum(f.data() + ip_off, 20);
  f[ip_off + 10] = csum >> 8;
  f[ip_off + 11] = csum & 0xff;
  Put16(f, 68);
  Put16(f, 67);
  Put16(f, static_cast<uint16_t>(8 + payload.size()));
  Put16(f, 0);  // UDP checksum optional over IPv4 (RFC 768)
  f.insert(f.end(), payload.begin(), payload.end());
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_ifindex = g->ifindex;
  sll.sll_halen = 6;
  std::memset(sll.sll_addr, 0xff, 6);
  return sendto(g->raw_fd, f.data(), f.size(), 0, reinterpret_cast<sockaddr*>(&sll), sizeof sll) ==
         static_cast<ssize_t>(f.size());
}

void DhcpReceiveLoop() {
  std::vector<uint8_t> buf(4096);
  while (!g->stop.load()) {
    pollfd p{g->dhcp_fd, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    ssize_t n = recv(g->dhcp_fd, buf.data(), buf.size(), 0);
    if (n < 240 || buf[0] != 2) continue;
    uint32_t xid = (buf[4] << 24) | (buf[5] << 16) | (buf[6] << 8) | buf[7];
    Machine* m = nullptr;
    {
      std::lock_guard lock(g->xid_mu);
      auto it = g->by_xid.find(xid);
      if (it != g->by_xid.end()) m = it->second;
    }
    if (m == nullptr || std::memcmp(buf.data() + 28, m->mac, 6) != 0) {
      g->dhcp_unmatched++;
      continue;
    }
    {
      std::lock_guard lock(m->mu);
      m->inbox.emplace_back(buf.begin(), buf.begin() + n);
    }
    m->cv.notify_one();
  }
}

// ---------------------------------------------------------------------------------------------
// Netlink: add/remove the leased address on the client interface.

bool NetlinkAddr(int type, uint32_t ip_net) {
  struct {
    nlmsghdr nh;
    ifaddrmsg ifa;
    char attrs[64];
  } req{};
  req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(ifaddrmsg));
  req.nh.nlmsg_type = static_cast<uint16_t>(type);
  req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (type == RTM_NEWADDR ? NLM_F_CREATE : 0);
  req.ifa.ifa_family = AF_INET;
  req.ifa.ifa_prefixlen = 32;
  req.ifa.ifa_index = static_cast<unsigned>(g->ifindex);
  for (int attr : {IFA_LOCAL, IFA_ADDRESS}) {
    auto* rta =
        reinterpret_cast<rtattr*>(reinterpret_cast<char*>(&req) + NLMSG_ALIGN(req.nh.nlmsg_len));
    rta->rta_type = static_cast<uint16_t>(attr);
    rta->rta_len = RTA_LENGTH(4);
    std::memcpy(RTA_DATA(rta), &ip_net, 4);
    req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
  }
  std::lock_guard lock(g->nl_mu);
  if (send(g->nl_fd, &req, req.nh.nlmsg_len, 0) < 0) return false;
  char buf[1024];
  ssize_t n = recv(g->nl_fd, buf, sizeof buf, 0);
  if (n < static_cast<ssize_t>(sizeof(nlmsghdr))) return false;
  auto* nh = reinterpret_cast<nlmsghdr*>(buf);
  if (nh->nlmsg_type == NLMSG_ERROR) {
    int err = reinterpret_cast<nlmsgerr*>(NLMSG_DATA(nh))->error;
    return err == 0 || err == -EEXIST;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// DHCP client, as the PXE ROM (stage 1) and as undionly.kpxe (stage 2).

struct DhcpReply {
  int type = 0;
  uint32_t yiaddr = 0, siaddr = 0, server_id = 0;  // network order
  std::string boot_file;
};

std::optional<DhcpReply> ParseReply(const Bytes& p) {
  if (p.size() < 240 || p[236] != 99 || p[237] != 130 || p[238] != 83 || p[239] != 99) {
    return std::nullopt;
  }
  DhcpReply r;
  std::memcpy(&r.yiaddr, p.data() + 16, 4);
  std::memcpy(&r.siaddr, p.data() + 20, 4);
  std::string file(reinterpret_cast<const char*>(p.data() + 108), 128);
  r.boot_file = file.substr(0, file.find('\0'));
  size_t i = 240;
  while (i < p.size()) {
    uint8_t code = p[i];
    if (code == 0) {
      ++i;
      continue;
    }
    if (code == 255 || i + 1 >= p.size()) break;
    uint8_t len = p[i + 1];
    if (i + 2 + len > p.size()) return std::nullopt;
    const uint8_t* v = p.data() + i + 2;
    if (code == 53 && len == 1) r.type = v[0];
    if (code == 54 && len == 4) std::memcpy(&r.server_id, v, 4);
    if (code == 67 && len > 0) r.boot_file.assign(reinterpret_cast<const char*>(v), len);
    i += 2 + len;
  }
  while (!r.boot_file.empty() && r.boot_file.back() == '\0') r.boot_file.pop_back();
  return r;
}

void Opt(Bytes& b, uint8_t code, const Bytes& v) {
  b.push_back(code);
  b.push_back(static_cast<uint8_t>(v.size()));
  b.insert(b.end(), v.begin(), v.end());
}
Bytes Str(const std::string& s) { return Bytes(s.begin(), s.end()); }

// The 48-byte option 175 of Debian's undionly.kpxe (tests/data/captures/
// dhcp-decoded-undionly-loop.txt): bus-id PCI 1af4:1000, version 1.0.0, feature flags.
Bytes IpxeEncapsulated() {
  Bytes b = {0xb1, 5, 1, 0x1a, 0xf4, 0x10, 0x00, 0xeb, 3, 1, 0, 0};
  const std::pair<uint8_t, uint8_t> features[] = {{0x17, 1}, {0x22, 1}, {0x13, 1}, {0x11, 1},
                                                  {0x27, 1}, {0x19, 1}, {0x29, 1}, {0x10, 2},
                                                  {0x21, 1}, {0x15, 1}, {0x18, 1}, {0x12, 1}};
  for (auto [code, version] : features) {
    b.push_back(code);
    b.push_back(1);
    b.push_back(version);
  }
  return b;
}

Bytes BuildDhcp(const Machine& m, bool ipxe, int type, uint32_t xid, uint16_t secs,
                const DhcpReply* offer) {
  Bytes b = {1, 1, 6, 0};
  Put32(b, xid);
  Put16(b, secs);
  Put16(b, 0x8000);          // the ROM and undionly.kpxe both set the broadcast flag
  b.insert(b.end(), 16, 0);  // ciaddr yiaddr siaddr giaddr
  b.insert(b.end(), m.mac, m.mac + 6);
  b.insert(b.end(), 10 + 64 + 128, 0);  // chaddr pad, sname, file
  b.insert(b.end(), {99, 130, 83, 99});
  Opt(b, 53, {static_cast<uint8_t>(type)});
  if (offer != nullptr) {
    Bytes sid(4), ip(4);
    std::memcpy(sid.data(), &offer->server_id, 4);
    std::memcpy(ip.data(), &offer->yiaddr, 4);
    Opt(b, 54, sid);
    Opt(b, 50, ip);
  }
  Opt(b, 57, {0x05, 0xc0});  // 1472
  Opt(b, 93, {0, 0});        // x86 BIOS
  Opt(b, 94, {1, 2, 1});     // UNDI 2.1
  Opt(b, 60, Str("PXEClient:Arch:00000:UNDI:002001"));
  Bytes uuid = {0};
  // SMBIOS wire order: the first three fields little-endian (notes/pxe-in-qemu.md).
  const int order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
  for (int i : order) uuid.push_back(m.uuid[i]);
  if (ipxe) {
    Opt(b, 77, Str("iPXE"));  // raw, not RFC 3004 length-prefixed, as iPXE sends it
    Opt(b, 55, {1,   3,   6,   7,   12,  15,  17,  26,  43,  60,  66, 67,
                119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203});
    Opt(b, 175, IpxeEncapsulated());
    Bytes cid = {1};
    cid.insert(cid.end(), m.mac, m.mac + 6);
    Opt(b, 61, cid);
    Opt(b, 97, uuid);
  } else {
    Opt(b, 55, {1,  2,  3,  4,  5,  6,  12, 13, 15, 17,  18,  22,  23,  28,  40,  41,  42, 43,
                50, 51, 54, 58, 59, 60, 66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135});
    Opt(b, 97, uuid);
  }
  b.push_back(255);
  if (b.size() < 300) b.resize(300, 0);  // BOOTP minimum (RFC 1542 §3.1.1)
  return b;
}

std::optional<DhcpReply> WaitReply(Machine& m, int want_type, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::unique_lock lock(m.mu);
  while (true) {
    while (!m.inbox.empty()) {
      Bytes p = std::move(m.inbox.front());
      m.inbox.pop_front();
      auto r = ParseReply(p);
      if (r && (r->type == want_type || r->type == 6 /* NAK */)) return r;
    }
    if (m.cv.wait_until(lock, deadline) == std::cv_status::timeout && m.inbox.empty()) {
      return std::nullopt;
    }
  }
}

// One DORA. Timeouts: PXE ROM 4, 8, 16, 32 s; iPXE 1 s doubling to 10 s (both then fail).
std::optional<DhcpReply> Dora(Machine& m, bool ipxe, std::mt19937& rng) {
  std::vector<int> timeouts = ipxe ? std::vector<int>{1000, 2000, 4000, 8000, 10000}
                                   : std::vector<int>{4000, 8000, 16000, 32000};
  int64_t began = NowUs();
  for (int restart = 0; restart < 3; ++restart) {
    uint32_t xid = rng();
    {
      std::lock_guard lock(g->xid_mu);
      g->by_xid[xid] = &m;
    }
    auto unregister = [&] {
      std::lock_guard lock(g->xid_mu);
      g->by_xid.erase(xid);
    };
    std::optional<DhcpReply> offer;
    for (size_t attempt = 0; attempt < timeouts.size() && !offer; ++attempt) {
      if (attempt > 0) m.dhcp_retries++;
      auto secs = static_cast<uint16_t>((NowUs() - began) / 1000000);
      SendDhcp(m, BuildDhcp(m, ipxe, 1, xid, secs, nullptr));
      offer = WaitReply(m, 2, timeouts[attempt]);
      if (offer && offer->type != 2) offer.reset();
    }
    if (!offer) {
      unregister();
      return std::nullopt;
    }
    std::optional<DhcpReply> ack;
    for (size_t attempt = 0; attempt < timeouts.size() && !ack; ++attempt) {
      if (attempt > 0) m.dhcp_retries++;
      auto secs = static_cast<uint16_t>((NowUs() - began) / 1000000);
      SendDhcp(m, BuildDhcp(m, ipxe, 3, xid, secs, &*offer));
      ack = WaitReply(m, 5, timeouts[attempt]);
    }
    unregister();
    if (ack && ack->type == 5) return ack;
    m.dhcp_retries++;  // NAK or no ACK: start over (RFC 2131 §3.1 step 5)
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// TFTP (RFC 1350 + RFC 2347/2348 options), lock-step as iPXE and PXE ROMs do.

int BoundSocket(int type, uint32_t src_ip) {
  int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = src_ip;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool TftpGet(Machine& m, uint32_t src, uint32_t server, const std::string& file, std::string* err) {
  int fd = BoundSocket(SOCK_DGRAM, src);
  if (fd < 0) {
    *err = "tftp socket: " + std::string(strerror(errno));
    return false;
  }
  Bytes rrq = {0, 1};
  for (const std::string& s : {file, std::string("octet"), std::string("blksize"),
                               std::string("1432"), std::string("tsize"), std::string("0")}) {
    rrq.insert(rrq.end(), s.begin(), s.end());
    rrq.push_back(0);
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = server;
  to.sin_port = htons(69);
  Bytes last = rrq;  // what to retransmit on timeout
  bool have_tid = false;
  size_t blksize = 512;
  uint16_t expect = 1;
  int timeout_ms = 1000, tries = 0;
  std::vector<uint8_t> buf(70000);
  sendto(fd, last.data(), last.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  while (true) {
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, timeout_ms);
    if (r <= 0) {
      if (++tries > 8) {
        *err = "tftp: timed out at block " + std::to_string(expect);
        close(fd);
        return false;
      }
      m.tftp_retries++;
      timeout_ms = std::min(timeout_ms * 2, 8000);
      sendto(fd, last.data(), last.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
      continue;
    }
    sockaddr_in from{};
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &fl);
    if (n < 4 || from.sin_addr.s_addr != server) continue;
    if (have_tid && from.sin_port != to.sin_port) continue;  // RFC 1350 §4: wrong TID
    uint16_t op = (buf[0] << 8) | buf[1];
    if (op == 5) {
      *err = "tftp error " + std::to_string((buf[2] << 8) | buf[3]) + ": " +
             std::string(reinterpret_cast<char*>(buf.data() + 4),
                         strnlen(reinterpret_cast<char*>(buf.data() + 4), n - 4));
      close(fd);
      return false;
    }
    if (!have_tid) {
      to.sin_port = from.sin_port;
      have_tid = true;
    }
    if (op == 6) {  // OACK: take blksize, acknowledge with block 0 (RFC 2347)
      size_t i = 2;
      while (i < static_cast<size_t>(n)) {
        std::string k(reinterpret_cast<char*>(buf.data() + i),
                      strnlen(reinterpret_cast<char*>(buf.data() + i), n - i));
        i += k.size() + 1;
        if (i >= static_cast<size_t>(n)) break;
        std::string v(reinterpret_cast<char*>(buf.data() + i),
                      strnlen(reinterpret_cast<char*>(buf.data() + i), n - i));
        i += v.size() + 1;
        if (strcasecmp(k.c_str(), "blksize") == 0) blksize = std::stoul(v);
      }
      last = {0, 4, 0, 0};
      sendto(fd, last.data(), last.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
      tries = 0;
      timeout_ms = 1000;
      continue;
    }
    if (op != 3) continue;
    uint16_t block = (buf[2] << 8) | buf[3];
    if (block != expect) continue;  // duplicate: the retransmit timer re-ACKs
    size_t len = static_cast<size_t>(n) - 4;
    m.tftp_bytes += static_cast<int64_t>(len);
    last = {0, 4, buf[2], buf[3]};
    sendto(fd, last.data(), last.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    ++expect;
    tries = 0;
    timeout_ms = 1000;
    if (len < blksize) break;
  }
  close(fd);
  return true;
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1 GET, one connection per file, as iPXE.

struct Url {
  uint32_t host = 0;  // network order
  uint16_t port = 80;
  std::string target;
};

std::optional<Url> ParseUrl(const std::string& url) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) return std::nullopt;
  size_t slash = url.find('/', scheme.size());
  std::string hostport = url.substr(scheme.size(), slash - scheme.size());
  Url u;
  u.target = slash == std::string::npos ? "/" : url.substr(slash);
  size_t colon = hostport.find(':');
  std::string host = hostport.substr(0, colon);
  if (colon != std::string::npos)
    u.port = static_cast<uint16_t>(std::stoi(hostport.substr(colon + 1)));
  if (inet_pton(AF_INET, host.c_str(), &u.host) != 1) return std::nullopt;
  return u;
}

bool HttpGetOnce(uint32_t src, const Url& u, bool keep_body, std::string* body, int64_t* bytes,
                 std::string* err) {
  int fd = BoundSocket(SOCK_STREAM, src);
  if (fd < 0) {
    *err = "http socket: " + std::string(strerror(errno));
    return false;
  }
  timeval tv{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = u.host;
  to.sin_port = htons(u.port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    *err = "http connect: " + std::string(strerror(errno));
    close(fd);
    return false;
  }
  char host[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &u.host, host, sizeof host);
  std::string req = "GET " + u.target + " HTTP/1.1\r\nConnection: keep-alive\r\n" +
                    "User-Agent: iPXE/1.0.0+git-20190125.36a4c85-5.1\r\nHost: " + host + ":" +
                    std::to_string(u.port) + "\r\n\r\n";
  if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    *err = "http send: " + std::string(strerror(errno));
    close(fd);
    return false;
  }
  std::vector<char> buf(1 << 16);
  std::string head;
  size_t header_end = std::string::npos;
  std::string leftover;
  while (header_end == std::string::npos) {
    ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0) {
      *err = n == 0 ? "http: closed before headers" : "http recv: " + std::string(strerror(errno));
      close(fd);
      return false;
    }
    head.append(buf.data(), n);
    header_end = head.find("\r\n\r\n");
    if (head.size() > 65536) {
      *err = "http: headers too long";
      close(fd);
      return false;
    }
  }
  leftover = head.substr(header_end + 4);
  head.resize(header_end);
  int status = 0;
  if (sscanf(head.c_str(), "HTTP/%*d.%*d %d", &status) != 1 || status != 200) {
    *err = "http status " + std::to_string(status) + " for " + u.target;
    close(fd);
    return false;
  }
  std::string lower = head;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  int64_t length = -1;
  if (size_t p = lower.find("\r\ncontent-length:"); p != std::string::npos) {
    length = std::stoll(lower.substr(p + 17));
  }
  bool chunked = lower.find("transfer-encoding: chunked") != std::string::npos;
  std::string raw = leftover;  // body bytes as received (chunked framing included)
  int64_t got = static_cast<int64_t>(leftover.size());
  if (!keep_body) raw.clear();
  auto done = [&] {
    if (length >= 0) return got >= length;
    if (chunked) return raw.size() >= 5 && raw.compare(raw.size() - 5, 5, "0\r\n\r\n") == 0;
    return false;
  };
  if (chunked) keep_body = true;  // needed to find the end; only used for small bodies
  while (!done()) {
    ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n == 0 && length < 0 && !chunked) break;  // close-delimited
    if (n <= 0) {
      *err = "http: body cut at " + std::to_string(got) +
             " bytes: " + (n == 0 ? std::string("closed") : std::string(strerror(errno)));
      close(fd);
      return false;
    }
    got += n;
    if (keep_body) raw.append(buf.data(), n);
  }
  close(fd);
  *bytes += got + static_cast<int64_t>(header_end + 4);
  if (body != nullptr) {
    if (chunked) {
      body->clear();
      size_t i = 0;
      while (i < raw.size()) {
        size_t eol = raw.find("\r\n", i);
        if (eol == std::string::npos) break;
        size_t n = std::stoul(raw.substr(i, eol - i), nullptr, 16);
        if (n == 0) break;
        body->append(raw, eol + 2, n);
        i = eol + 2 + n + 2;
      }
    } else {
      *body = std::move(raw);
    }
  }
  return true;
}

bool HttpGet(Machine& m, uint32_t src, const std::string& url, std::string* body,
             std::string* err) {
  auto u = ParseUrl(url);
  if (!u) {
    *err = "unsupported URL: " + url;
    return false;
  }
  for (int attempt = 0; attempt <= g->opt.http_retries; ++attempt) {
    if (attempt > 0) {
      m.http_retries++;
      std::this_thread::sleep_for(std::chrono::seconds(attempt));
    }
    if (HttpGetOnce(src, *u, body != nullptr, body, &m.http_bytes, err)) return true;
  }
  return false;
}

// Fills in the iPXE variables a `chain` URL uses (${name} or ${name:type}).
std::string ExpandIpxe(const std::string& s, const Machine& m) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (s.compare(i, 2, "${") == 0) {
      size_t end = s.find('}', i);
      if (end == std::string::npos) break;
      std::string var = s.substr(i + 2, end - i - 2);
      std::string name = var.substr(0, var.find(':'));
      if (name == "mac")
        out += var.find("hexhyp") != std::string::npos ? m.mac_hyphen : m.mac_colon;
      else if (name == "uuid")
        out += m.uuid_text;
      else if (name == "buildarch")
        out += "i386";  // undionly.kpxe
      else if (name == "platform")
        out += "pcbios";
      // serial, asset: QEMU-like machines have none
      i = end + 1;
    } else {
      out += s[i++];
    }
  }
  return out;
}

std::vector<std::string> Words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> w;
  for (std::string s; in >> s;) w.push_back(s);
  return w;
}

// ---------------------------------------------------------------------------------------------

void Begin(Machine& m, int phase) {
  m.phase_start[phase] = NowUs();
  g->in_phase[phase]++;
}
void End(Machine& m, int phase) {
  m.phase_end[phase] = NowUs();
  g->in_phase[phase]--;
}

void Boot(Machine& m) {
  std::mt19937 rng(static_cast<unsigned>(m.index * 7919 + NowUs()));
  std::string err;
  auto fail = [&](int phase, const std::string& why) {
    g->in_phase[phase]--;
    m.error = std::string(kPhases[phase]) + ": " + why;
    g->failed++;
  };
  Begin(m, 0);
  auto ack = Dora(m, false, rng);
  if (!ack) return fail(0, "no DHCP lease");
  End(m, 0);
  m.ip = ack->yiaddr;
  uint32_t src = g->if_ip;
  if (g->opt.source == "leased") {
    if (!NetlinkAddr(RTM_NEWADDR, m.ip)) {
      m.error = "cannot add the leased address";
      g->failed++;
      return;
    }
    src = m.ip;
  }
  uint32_t next_server = ack->siaddr ? ack->siaddr : ack->server_id;

  Begin(m, 1);
  if (ack->boot_file.empty()) return fail(1, "no boot file in the ACK");
  if (!TftpGet(m, src, next_server, ack->boot_file, &err)) return fail(1, err);
  End(m, 1);

  Begin(m, 2);
  auto ack2 = Dora(m, true, rng);
  if (!ack2) return fail(2, "no DHCP lease for iPXE");
  End(m, 2);
  if (ack2->yiaddr != m.ip) {
    m.error = "iPXE got a different address";  // reported; still usable
  }

  Begin(m, 3);
  std::string chain_script, script;
  if (!HttpGet(m, src, ack2->boot_file, &chain_script, &err)) return fail(3, err);
  std::string chain_url;
  {
    std::istringstream in(chain_script);
    for (std::string line; std::getline(in, line);) {
      auto w = Words(line);
      if (w.size() >= 2 && w[0] == "chain") {
        chain_url = ExpandIpxe(w[1], m);
        break;
      }
    }
  }
  if (chain_url.empty()) return fail(3, "no chain line in " + ack2->boot_file);
  if (!HttpGet(m, src, chain_url, &script, &err)) return fail(3, err);
  End(m, 3);
  std::string kernel_url, token, server_url;
  std::vector<std::string> initrds;
  {
    std::istringstream in(script);
    for (std::string line; std::getline(in, line);) {
      auto w = Words(line);
      if (w.empty()) continue;
      if (w[0] == "kernel" || w[0] == "initrd") {
        std::string url;
        for (size_t i = 1; i < w.size(); ++i) {
          if (w[i].rfind("--", 0) == 0) continue;
          url = w[i];
          if (w[0] == "kernel") {
            for (size_t j = i + 1; j < w.size(); ++j) {
              if (w[j].rfind("paddock.token=", 0) == 0) token = w[j].substr(14);
              if (w[j].rfind("paddock.server=", 0) == 0) server_url = w[j].substr(15);
            }
          }
          break;
        }
        if (w[0] == "kernel")
          kernel_url = url;
        else
          initrds.push_back(url);
      }
    }
  }
  Begin(m, 4);
  if (kernel_url.empty()) return fail(4, "no kernel line in the script");
  if (!HttpGet(m, src, kernel_url, nullptr, &err)) return fail(4, err);
  End(m, 4);
  Begin(m, 5);
  for (const std::string& url : initrds) {
    if (!HttpGet(m, src, url, nullptr, &err)) return fail(5, err);
  }
  End(m, 5);
  Begin(m, 6);
  if (server_url.empty()) {
    auto pos = ack2->boot_file.find('/', 7);
    server_url = ack2->boot_file.substr(0, pos);
  }
  std::string ok;
  std::string report = server_url + "/node/booted?mac=" + m.mac_colon + "&token=" + token +
                       "&uptime=" + std::to_string((NowUs() - m.start_us) / 1000000);
  if (!HttpGet(m, src, report, &ok, &err)) return fail(6, err);
  End(m, 6);
  m.booted_us = NowUs();
  g->booted++;
}

std::string Hex(const uint8_t* p, int n, char sep) {
  std::string s;
  char b[4];
  for (int i = 0; i < n; ++i) {
    if (i > 0 && sep) s += sep;
    snprintf(b, sizeof b, "%02x", p[i]);
    s += b;
  }
  return s;
}

struct Dist {
  std::vector<double> v;
  std::string Json() const {
    if (v.empty()) return "{\"count\":0}";
    std::vector<double> s = v;
    std::sort(s.begin(), s.end());
    auto q = [&](double p) {
      double idx = p * (s.size() - 1);
      size_t lo = static_cast<size_t>(std::floor(idx));
      size_t hi = std::min(lo + 1, s.size() - 1);
      return s[lo] + (s[hi] - s[lo]) * (idx - lo);
    };
    double sum = 0;
    for (double x : s) sum += x;
    char b[320];
    snprintf(b, sizeof b,
             "{\"count\":%zu,\"min\":%.6f,\"p50\":%.6f,\"p90\":%.6f,\"p99\":%.6f,\"max\":%.6f,"
             "\"mean\":%.6f}",
             s.size(), s.front(), q(0.5), q(0.9), q(0.99), s.back(), sum / s.size());
    return b;
  }
};

std::string JsonEscape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      o += ' ';
      continue;
    }
    o += c;
  }
  return o;
}

}  // namespace

int RunStorm(const StormOptions& opt) {
  Shared shared;
  g = &shared;
  shared.opt = opt;
  shared.ifindex = static_cast<int>(if_nametoindex(opt.interface.c_str()));
  if (shared.ifindex == 0) {
    std::cerr << "storm: no interface " << opt.interface << "\n";
    return 2;
  }
  {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    ifreq ifr{};
    std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", opt.interface.c_str());
    if (ioctl(fd, SIOCGIFADDR, &ifr) == 0) {
      shared.if_ip = reinterpret_cast<sockaddr_in*>(&ifr.ifr_addr)->sin_addr.s_addr;
    }
    close(fd);
  }
  shared.raw_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  shared.dhcp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  shared.nl_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (shared.raw_fd < 0 || shared.dhcp_fd < 0 || shared.nl_fd < 0) {
    std::cerr << "storm: sockets: " << strerror(errno) << " (needs root)\n";
    return 2;
  }
  int one = 1;
  setsockopt(shared.dhcp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(shared.dhcp_fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one);
  setsockopt(shared.dhcp_fd, SOL_SOCKET, SO_BINDTODEVICE, opt.interface.c_str(),
             static_cast<socklen_t>(opt.interface.size()));
  int rcvbuf = 8 << 20;
  setsockopt(shared.dhcp_fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
  sockaddr_in any{};
  any.sin_family = AF_INET;
  any.sin_port = htons(68);
  if (bind(shared.dhcp_fd, reinterpret_cast<sockaddr*>(&any), sizeof any) != 0) {
    std::cerr << "storm: bind :68: " << strerror(errno) << "\n";
    return 2;
  }
  sockaddr_nl snl{};
  snl.nl_family = AF_NETLINK;
  bind(shared.nl_fd, reinterpret_cast<sockaddr*>(&snl), sizeof snl);

  std::vector<std::unique_ptr<Machine>> machines;
  for (int i = 0; i < opt.machines; ++i) {
    auto m = std::make_unique<Machine>();
    int idx = opt.first_index + i;
    m->index = idx;
    uint8_t mac[6] = {0x02,
                      0x5d,
                      static_cast<uint8_t>(opt.run_tag),
                      static_cast<uint8_t>(idx >> 16),
                      static_cast<uint8_t>(idx >> 8),
                      static_cast<uint8_t>(idx)};
    std::memcpy(m->mac, mac, 6);
    m->mac_colon = Hex(mac, 6, ':');
    m->mac_hyphen = Hex(mac, 6, '-');
    for (int k = 0; k < 16; ++k)
      m->uuid[k] = static_cast<uint8_t>((idx * 131 + k * 17 + opt.run_tag) & 0xff);
    m->uuid[6] = (m->uuid[6] & 0x0f) | 0x40;
    m->uuid[8] = (m->uuid[8] & 0x3f) | 0x80;
    std::string h = Hex(m->uuid, 16, 0);
    m->uuid_text = h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" +
                   h.substr(16, 4) + "-" + h.substr(20);
    machines.push_back(std::move(m));
  }

  std::thread receiver(DhcpReceiveLoop);
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> spread(0, std::max(0, opt.spread_ms));
  std::vector<int> delays(machines.size());
  for (int& d : delays) d = opt.spread_ms > 0 ? spread(rng) : 0;

  shared.t0 = NowUs();
  std::atomic<int> done{0};
  std::vector<pthread_t> threads(machines.size());
  struct Arg {
    Machine* m;
    int delay_ms;
    std::atomic<int>* done;
  };
  std::vector<Arg> args(machines.size());
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 512 * 1024);
  for (size_t i = 0; i < machines.size(); ++i) {
    args[i] = {machines[i].get(), delays[i], &done};
    int rc = pthread_create(
        &threads[i], &attr,
        [](void* p) -> void* {
          auto* a = static_cast<Arg*>(p);
          if (a->delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(a->delay_ms));
          a->m->start_us = NowUs();
          Boot(*a->m);
          (*a->done)++;
          return nullptr;
        },
        &args[i]);
    if (rc != 0) {
      std::cerr << "storm: pthread_create: " << strerror(rc) << "\n";
      return 2;
    }
  }
  // Progress once a second on stderr; the booted-over-time series goes into the JSON.
  std::vector<std::pair<double, int>> progress;
  int64_t deadline = shared.t0 + int64_t{opt.deadline_seconds} * 1000000;
  bool timed_out = false;
  while (done.load() < static_cast<int>(machines.size())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    double t = (NowUs() - shared.t0) / 1e6;
    progress.emplace_back(t, shared.booted.load());
    if (progress.size() % 4 == 0) {
      std::fprintf(stderr, "storm: t=%.0fs booted=%d failed=%d in:", t, shared.booted.load(),
                   shared.failed.load());
      for (int p = 0; p < kPhaseCount; ++p) {
        std::fprintf(stderr, " %s=%d", kPhases[p], shared.in_phase[p].load());
      }
      std::fprintf(stderr, "\n");
    }
    if (NowUs() > deadline) {
      timed_out = true;
      break;
    }
  }
  int64_t t_end = NowUs();
  if (timed_out) {
    std::cerr << "storm: deadline reached with " << machines.size() - done.load()
              << " machines still booting; reporting them as failed\n";
    std::fflush(stderr);
  } else {
    for (auto& t : threads) pthread_join(t, nullptr);
  }
  shared.stop = true;
  receiver.join();
  if (opt.source == "leased" && !timed_out) {
    for (auto& m : machines) {
      if (m->ip) NetlinkAddr(RTM_DELADDR, m->ip);
    }
  }

  // ---- report ----
  Dist phase_dist[kPhaseCount], total;
  int64_t last_booted = 0;
  int64_t dhcp_r = 0, tftp_r = 0, http_r = 0, tftp_bytes = 0, http_bytes = 0;
  int booted = 0;
  std::map<std::string, int> errors;
  for (auto& m : machines) {
    for (int p = 0; p < kPhaseCount; ++p) {
      if (m->phase_end[p] > 0)
        phase_dist[p].v.push_back((m->phase_end[p] - m->phase_start[p]) / 1e6);
    }
    if (m->booted_us > 0) {
      ++booted;
      total.v.push_back((m->booted_us - m->start_us) / 1e6);
      last_booted = std::max(last_booted, m->booted_us);
      tftp_bytes += m->tftp_bytes;
      http_bytes += m->http_bytes;
    } else {
      errors[m->error.empty() ? "still booting at the deadline" : m->error]++;
    }
    dhcp_r += m->dhcp_retries;
    tftp_r += m->tftp_retries;
    http_r += m->http_retries;
  }
  double bytes_per_boot = booted ? static_cast<double>(tftp_bytes + http_bytes) / booted : 0;
  double wall = booted == static_cast<int>(machines.size()) ? (last_booted - shared.t0) / 1e6
                                                            : (t_end - shared.t0) / 1e6;
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(6);
  o << "{\n  \"machines\": " << machines.size() << ",\n  \"booted\": " << booted
    << ",\n  \"failed\": " << machines.size() - booted << ",\n  \"source\": \"" << opt.source
    << "\",\n  \"spread_ms\": " << opt.spread_ms << ",\n  \"all_booted_seconds\": " << wall
    << ",\n  \"bytes_per_boot\": " << bytes_per_boot << ",\n  \"tftp_bytes\": " << tftp_bytes
    << ",\n  \"http_bytes\": " << http_bytes
    << ",\n  \"link_bits_per_second\": " << opt.link_bits_per_second;
  if (opt.link_bits_per_second > 0) {
    double limit = machines.size() * bytes_per_boot * 8 / opt.link_bits_per_second;
    o << ",\n  \"link_limit_seconds\": " << limit
      << ",\n  \"ratio_to_link_limit\": " << (limit > 0 ? wall / limit : 0);
  }
  o << ",\n  \"retries\": {\"dhcp\": " << dhcp_r << ", \"tftp\": " << tftp_r
    << ", \"http\": " << http_r
    << "},\n  \"dhcp_unmatched_replies\": " << shared.dhcp_unmatched.load() << ",\n  \"errors\": {";
  bool first = true;
  for (auto& [e, n] : errors) {
    o << (first ? "" : ", ") << "\"" << JsonEscape(e) << "\": " << n;
    first = false;
  }
  o << "},\n  \"total\": " << total.Json() << ",\n  \"phases\": {";
  for (int p = 0; p < kPhaseCount; ++p) {
    o << (p ? ", " : "") << "\"" << kPhases[p] << "\": " << phase_dist[p].Json();
  }
  o << "},\n  \"progress\": [";
  for (size_t i = 0; i < progress.size(); ++i) {
    o << (i ? "," : "") << "[" << progress[i].first << "," << progress[i].second << "]";
  }
  o << "],\n  \"per_machine\": [";
  for (size_t i = 0; i < machines.size(); ++i) {
    auto& m = *machines[i];
    char ip[INET_ADDRSTRLEN] = "";
    inet_ntop(AF_INET, &m.ip, ip, sizeof ip);
    o << (i ? ",\n    " : "\n    ") << "{\"mac\":\"" << m.mac_colon << "\",\"ip\":\"" << ip
      << "\",\"start\":" << (m.start_us - shared.t0) / 1e6
      << ",\"booted\":" << (m.booted_us ? (m.booted_us - shared.t0) / 1e6 : -1.0)
      << ",\"phases\":[";
    for (int p = 0; p < kPhaseCount; ++p) {
      o << (p ? "," : "") << "[" << (m.phase_start[p] ? (m.phase_start[p] - shared.t0) / 1e6 : -1.0)
        << "," << (m.phase_end[p] ? (m.phase_end[p] - shared.t0) / 1e6 : -1.0) << "]";
    }
    o << "],\"retries\":" << m.dhcp_retries + m.tftp_retries + m.http_retries << ",\"error\":\""
      << JsonEscape(m.error) << "\"}";
  }
  o << "\n  ],\n  \"phase_names\": [";
  for (int p = 0; p < kPhaseCount; ++p) o << (p ? ", " : "") << "\"" << kPhases[p] << "\"";
  o << "]\n}\n";
  if (opt.output == "-") {
    std::cout << o.str();
  } else {
    std::ofstream(opt.output) << o.str();
  }
  std::fprintf(stderr, "storm: %d/%zu booted in %.2f s; retries dhcp=%lld tftp=%lld http=%lld\n",
               booted, machines.size(), wall, static_cast<long long>(dhcp_r),
               static_cast<long long>(tftp_r), static_cast<long long>(http_r));
  if (timed_out) {
    std::fflush(nullptr);
    _exit(1);  // machine threads are still blocked in sockets; do not join them
  }
  return booted == static_cast<int>(machines.size()) ? 0 : 1;
}

}  // namespace paddock::bench
