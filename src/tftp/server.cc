#include "tftp/server.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/log.h"
#include "tftp/files.h"
#include "tftp/packet.h"
#include "tftp/transfer.h"

namespace paddock::tftp {

namespace asio = boost::asio;

namespace {

// IPv4 (20) + UDP (8) + TFTP DATA header (4): what blksize leaves of the MTU (RFC 2348 §"Notes"
// on fragmentation: a block must fit in one datagram on the link).
constexpr int kHeaderOverhead = 20 + 8 + 4;
constexpr uint16_t kFallbackMaxBlksize = 1500 - kHeaderOverhead;  // Ethernet
// DATA datagrams per sendmmsg call, and the bound on the pread buffer of one transfer.
constexpr uint32_t kMaxBatch = 64;
constexpr size_t kMaxReadBuffer = 256 * 1024;
// Netascii needs the whole converted file in memory; refuse beyond this.
constexpr uint64_t kMaxNetasciiBytes = 64u << 20;

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

std::string EndpointString(Ipv4Address ip, uint16_t port) {
  return ip.ToString() + ":" + std::to_string(port);
}

// One counter per ServerStats field, so GetStats() can run on any thread.
// clang-format 14 re-aligns these continuations differently on every run.
// clang-format off
#define PADDOCK_TFTP_STATS(X) \
  X(requests) \
  X(duplicate_requests) \
  X(transfers_ok) \
  X(transfers_failed) \
  X(tsize_probes) \
  X(bytes_sent) \
  X(blocks_sent) \
  X(retransmits) \
  X(active_transfers) \
  X(cache_hits) \
  X(cache_misses) \
  X(malformed) \
  X(not_found) \
  X(access_violations) \
  X(write_refused) \
  X(busy) \
  X(timeouts) \
  X(client_errors) \
  X(io_errors)
// clang-format on

struct AtomicStats {
#define PADDOCK_DECLARE(name) std::atomic<uint64_t> name{0};
  PADDOCK_TFTP_STATS(PADDOCK_DECLARE)
#undef PADDOCK_DECLARE
  ServerStats Snapshot() const {
    ServerStats s;
#define PADDOCK_COPY(name) s.name = name.load(std::memory_order_relaxed);
    PADDOCK_TFTP_STATS(PADDOCK_COPY)
#undef PADDOCK_COPY
    return s;
  }
};

}  // namespace

class Server::Impl : public std::enable_shared_from_this<Server::Impl> {
 public:
  Impl(asio::io_context& io, ServerOptions options, EventSink* sink, MacResolver resolver)
      : io_(io),
        options_(std::move(options)),
        sink_(sink),
        resolver_(std::move(resolver)),
        cache_(options_.cache_max_file_bytes, options_.cache_max_total_bytes),
        log_(log::Get("tftp")) {}

  Status Start();
  void Stop();
  void ApplyOptions(ServerOptions options);
  ServerStats GetStats() const {
    ServerStats s = stats_.Snapshot();
    return s;
  }
  uint16_t port() const { return port_.load(); }
  asio::io_context& io_context() { return io_; }

 private:
  struct Transfer;

  // Where a request came from and arrived.
  struct Origin {
    Ipv4Address peer_ip;
    uint16_t peer_port = 0;
    Ipv4Address local_ip;  // the address the request was sent to (IP_PKTINFO)
    int ifindex = 0;
  };

  void WaitListen();
  void OnListenReadable();
  void HandleRequest(ByteSpan datagram, const Origin& origin);
  // Opens the transfer's socket: ephemeral port on origin.local_ip, connected to the peer.
  Result<int> OpenTransferSocket(const Origin& origin);
  void Refuse(const Origin& origin, const std::string& file, TftpErrorCode code,
              const std::string& message, std::atomic<uint64_t>* counter);
  uint16_t MaxBlksizeFor(const Origin& origin) const;
  MacAddress MacOf(Ipv4Address ip) const;

  void Run(const std::shared_ptr<Transfer>& t, const TransferAction& action);
  bool SendBlocks(Transfer& t, const TransferAction& action);
  void ArmTimer(const std::shared_ptr<Transfer>& t);
  void WaitTransferReadable(const std::shared_ptr<Transfer>& t);
  void OnTransferReadable(const std::shared_ptr<Transfer>& t);
  void Finish(const std::shared_ptr<Transfer>& t);
  void RecordEvent(const MacAddress& mac, const Origin& origin, const std::string& file,
                   const nlohmann::json& extra, int64_t bytes, int64_t duration_us, bool ok,
                   const std::string& outcome, const std::string& error);

  static int64_t NowUs() { return SteadyMicros(); }
  static uint64_t PeerKey(const Origin& o) {
    return (uint64_t{o.peer_ip.value()} << 16) | o.peer_port;
  }

  asio::io_context& io_;
  ServerOptions options_;  // io thread only
  std::string root_;       // canonical
  EventSink* sink_;
  MacResolver resolver_;
  FileCache cache_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<asio::ip::udp::socket> listen_;
  std::atomic<uint16_t> port_{0};
  bool stopped_ = false;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, std::shared_ptr<Transfer>> transfers_;
  std::unordered_map<uint64_t, uint64_t> by_peer_;  // PeerKey -> transfer id
  AtomicStats stats_;
  // One receive buffer for every socket: everything runs on one thread and a datagram is fully
  // handled before the next is read.
  std::array<uint8_t, 65536> rx_{};
};

struct Server::Impl::Transfer {
  Transfer(asio::io_context& io, const ReadTransfer& m) : sock(io), timer(io), machine(m) {}

  uint64_t id = 0;
  asio::ip::udp::socket sock;
  asio::steady_timer timer;
  bool timer_pending = false;
  int64_t timer_at_us = 0;
  uint64_t timer_gen = 0;
  ReadTransfer machine;
  Origin origin;
  MacAddress mac;
  std::string file;   // as requested
  std::string label;  // "mac=.. peer=.. file=.."
  // Exactly one of these holds the content: data (cache or netascii) or disk (pread).
  std::shared_ptr<const Bytes> data;
  OpenFile disk;
  Bytes read_buffer;  // pread mode: one batch of blocks
  Bytes oack;
  uint32_t batch = 1;  // DATA datagrams per sendmmsg
  std::vector<uint8_t> headers;
  std::vector<iovec> iov;
  std::vector<mmsghdr> msgs;
  std::string server_error;  // set when the server ended it (I/O error, stop)
  bool finished = false;
};

// ---------------------------------------------------------------------------------------------
// Listening socket.

Status Server::Impl::Start() {
  if (listen_) return Ok();
  auto root = CanonicalRoot(options_.root);
  if (!root) return tl::unexpected(root.error());
  root_ = *root;
  auto bind_ip = Ipv4Address::Parse(options_.bind_address);
  if (!bind_ip) return InvalidArgument("tftp bind address '" + options_.bind_address + "'");

  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return IoError(Errno("socket"));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  // IP_PKTINFO: the local address and interface of each request, for the transfer socket's
  // source address and the MTU-derived blksize limit.
  if (::setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) != 0) {
    Status st = IoError(Errno("IP_PKTINFO"));
    ::close(fd);
    return st;
  }
  // Boot storms: many RRQs arrive at once; keep them queued rather than dropped.
  // SO_RCVBUF is capped at net.core.rmem_max (208 KB by default); SO_RCVBUFFORCE is not
  // (CAP_NET_ADMIN). Unprivileged, we take what SO_RCVBUF gives.
  int rcvbuf = 1 << 20;
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(options_.port);
  addr.sin_addr.s_addr = htonl(bind_ip->value());
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    Status st = IoError(
        Errno(("bind " + options_.bind_address + ":" + std::to_string(options_.port)).c_str()));
    ::close(fd);
    return st;
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  listen_ = std::make_unique<asio::ip::udp::socket>(io_);
  boost::system::error_code ec;
  listen_->assign(asio::ip::udp::v4(), fd, ec);
  if (ec) {
    ::close(fd);
    listen_.reset();
    return IoError("assign: " + ec.message());
  }
  stopped_ = false;
  log_->info("serving {} on {}:{} (max blksize {}, max windowsize {}, timeout {} ms)", root_,
             options_.bind_address, port_.load(),
             options_.max_blksize ? std::to_string(options_.max_blksize) : "from MTU",
             options_.max_windowsize, options_.timeout_ms);
  WaitListen();
  return Ok();
}

void Server::Impl::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (listen_) {
    boost::system::error_code ec;
    listen_->close(ec);
    listen_.reset();
  }
  std::vector<std::shared_ptr<Transfer>> all;
  all.reserve(transfers_.size());
  for (auto& [id, t] : transfers_) all.push_back(t);
  for (auto& t : all) {
    t->server_error = "server stopping";
    Finish(t);
  }
}

void Server::Impl::ApplyOptions(ServerOptions o) {
  if (o.bind_address != options_.bind_address || o.port != options_.port) {
    log_->warn("new listen address {}:{} needs a restart; keeping {}:{}", o.bind_address, o.port,
               options_.bind_address, options_.port);
    o.bind_address = options_.bind_address;
    o.port = options_.port;
  }
  if (o.root != options_.root) {
    auto root = CanonicalRoot(o.root);
    if (!root) {
      log_->error("new root {} unusable ({}); keeping {}", o.root, root.error().ToString(), root_);
      o.root = options_.root;
    } else {
      root_ = *root;
      cache_.Clear();
    }
  }
  cache_.SetLimits(o.cache_max_file_bytes, o.cache_max_total_bytes);
  options_ = std::move(o);
  log_->info("options updated (root {}, max windowsize {}, timeout {} ms, retries {})", root_,
             options_.max_windowsize, options_.timeout_ms, options_.retries);
}

void Server::Impl::WaitListen() {
  if (!listen_) return;
  listen_->async_wait(asio::socket_base::wait_read,
                      [self = shared_from_this()](const boost::system::error_code& ec) {
                        if (ec || self->stopped_) return;
                        self->OnListenReadable();
                        self->WaitListen();
                      });
}

void Server::Impl::OnListenReadable() {
  int fd = listen_->native_handle();
  // Drain the socket: Asio's reactor is edge-triggered, so leftovers would wait for the next
  // datagram.
  for (;;) {
    sockaddr_in peer{};
    iovec iov{rx_.data(), rx_.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in_pktinfo))];
    msghdr msg{};
    msg.msg_name = &peer;
    msg.msg_namelen = sizeof(peer);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n = ::recvmsg(fd, &msg, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        ++stats_.io_errors;
        log_->warn("recvmsg: {}", std::strerror(errno));
      }
      return;
    }
    Origin origin;
    origin.peer_ip = Ipv4Address(ntohl(peer.sin_addr.s_addr));
    origin.peer_port = ntohs(peer.sin_port);
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo info;
        std::memcpy(&info, CMSG_DATA(c), sizeof(info));
        origin.local_ip = Ipv4Address(ntohl(info.ipi_spec_dst.s_addr));
        origin.ifindex = info.ipi_ifindex;
      }
    }
    if (origin.local_ip.IsZero()) {
      auto bound = Ipv4Address::Parse(options_.bind_address);
      if (bound) origin.local_ip = *bound;
    }
    HandleRequest(ByteSpan(rx_.data(), static_cast<size_t>(n)), origin);
  }
}

// ---------------------------------------------------------------------------------------------
// Requests.

MacAddress Server::Impl::MacOf(Ipv4Address ip) const {
  if (resolver_) {
    if (auto mac = resolver_(ip)) return *mac;
  }
  return MacAddress();
}

uint16_t Server::Impl::MaxBlksizeFor(const Origin& origin) const {
  if (options_.max_blksize != 0) return options_.max_blksize;
  char name[IF_NAMESIZE] = {};
  if (origin.ifindex <= 0 || ::if_indextoname(origin.ifindex, name) == nullptr) {
    return kFallbackMaxBlksize;
  }
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name, std::min(std::strlen(name), size_t{IFNAMSIZ - 1}));
  if (::ioctl(listen_->native_handle(), SIOCGIFMTU, &ifr) != 0 ||
      ifr.ifr_mtu <= kHeaderOverhead + kMinBlockSize) {
    return kFallbackMaxBlksize;
  }
  return static_cast<uint16_t>(std::min(ifr.ifr_mtu - kHeaderOverhead, int{kMaxBlockSize}));
}

Result<int> Server::Impl::OpenTransferSocket(const Origin& origin) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return IoError(Errno("socket"));
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_port = 0;  // RFC 1350: a new TID for each transfer
  local.sin_addr.s_addr = htonl(origin.local_ip.value());
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
    // The request may have been sent to a broadcast address we cannot bind; any address will
    // do, the kernel picks the source from the route.
    local.sin_addr.s_addr = htonl(INADDR_ANY);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
      auto err = IoError(Errno("bind transfer socket"));
      ::close(fd);
      return err;
    }
  }
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_port = htons(origin.peer_port);
  peer.sin_addr.s_addr = htonl(origin.peer_ip.value());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&peer), sizeof(peer)) != 0) {
    auto err = IoError(Errno("connect transfer socket"));
    ::close(fd);
    return err;
  }
  return fd;
}

void Server::Impl::Refuse(const Origin& origin, const std::string& file, TftpErrorCode code,
                          const std::string& message, std::atomic<uint64_t>* counter) {
  if (counter) ++*counter;
  ++stats_.transfers_failed;
  // The ERROR comes from a fresh TID too, as a transfer's first packet would (RFC 1350 §4).
  if (auto fd = OpenTransferSocket(origin)) {
    Bytes pkt = SerializeError(static_cast<uint16_t>(code), message);
    if (::send(*fd, pkt.data(), pkt.size(), 0) < 0) ++stats_.io_errors;
    ::close(*fd);
  } else {
    ++stats_.io_errors;
  }
  MacAddress mac = MacOf(origin.peer_ip);
  nlohmann::json extra;
  extra["error_code"] = static_cast<int>(code);
  RecordEvent(mac, origin, file, extra, 0, 0, false, "refused", message);
}

void Server::Impl::HandleRequest(ByteSpan datagram, const Origin& origin) {
  const std::string peer = EndpointString(origin.peer_ip, origin.peer_port);
  auto parsed = ParseTftpPacket(datagram);
  if (!parsed) {
    ++stats_.malformed;
    log_->debug("peer={} malformed datagram ({} bytes): {}", peer, datagram.size(),
                parsed.error().message);
    // A request we cannot read gets an answer (RFC 1350: ERROR 4), so the client stops waiting;
    // other garbage on port 69 is dropped silently.
    if (datagram.size() >= 2 && datagram[0] == 0 && (datagram[1] == 1 || datagram[1] == 2)) {
      if (auto fd = OpenTransferSocket(origin)) {
        Bytes pkt = SerializeError(static_cast<uint16_t>(TftpErrorCode::kIllegalOperation),
                                   "malformed request");
        (void)::send(*fd, pkt.data(), pkt.size(), 0);
        ::close(*fd);
      }
    }
    return;
  }
  auto* request = std::get_if<TftpRequest>(&*parsed);
  if (request == nullptr) {
    ++stats_.malformed;
    log_->debug("peer={} non-request packet on the listening port dropped", peer);
    return;
  }
  ++stats_.requests;
  const std::string& file = request->filename;
  if (request->opcode == Opcode::kWrq) {
    log_->warn("peer={} file={} WRQ refused (read-only server)", peer, file);
    Refuse(origin, file, TftpErrorCode::kAccessViolation, "read-only server",
           &stats_.write_refused);
    return;
  }
  if (by_peer_.count(PeerKey(origin)) != 0) {
    // The client repeated its RRQ (our OACK or first DATA is on its way or was lost); the
    // running transfer's timer answers it.
    ++stats_.duplicate_requests;
    return;
  }
  if (transfers_.size() >= options_.max_transfers) {
    log_->warn("peer={} file={} refused: {} transfers running", peer, file, transfers_.size());
    Refuse(origin, file, TftpErrorCode::kNotDefined, "server busy", &stats_.busy);
    return;
  }
  auto pinned = options_.pinned_files.find(file);
  auto path = pinned != options_.pinned_files.end() ? Result<std::string>(pinned->second)
                                                    : ResolveUnderRoot(root_, file);
  if (!path) {
    if (path.error().code == ErrorCode::kNotFound) {
      log_->info("mac={} peer={} file={} not found", MacOf(origin.peer_ip).ToString(), peer, file);
      Refuse(origin, file, TftpErrorCode::kFileNotFound, "file not found", &stats_.not_found);
    } else {
      log_->warn("mac={} peer={} file={} refused: {}", MacOf(origin.peer_ip).ToString(), peer, file,
                 path.error().message);
      Refuse(origin, file, TftpErrorCode::kAccessViolation, "access violation",
             &stats_.access_violations);
    }
    return;
  }
  auto opened = OpenRegularFile(*path);
  if (!opened) {
    bool missing = opened.error().code == ErrorCode::kNotFound;
    log_->warn("peer={} file={} open failed: {}", peer, file, opened.error().message);
    Refuse(origin, file, missing ? TftpErrorCode::kFileNotFound : TftpErrorCode::kAccessViolation,
           missing ? "file not found" : "access violation",
           missing ? &stats_.not_found : &stats_.access_violations);
    return;
  }

  // The served bytes: from the cache (small files), converted (netascii), or pread (large).
  std::shared_ptr<const Bytes> data;
  OpenFile disk;
  uint64_t size = opened->size();
  if (request->mode == TransferMode::kNetascii) {
    if (size > kMaxNetasciiBytes) {
      Refuse(origin, file, TftpErrorCode::kNotDefined, "file too large for netascii",
             &stats_.io_errors);
      return;
    }
    auto raw = cache_.Get(*path, *opened);
    if (!raw) {
      Refuse(origin, file, TftpErrorCode::kNotDefined, "read error", &stats_.io_errors);
      return;
    }
    data = std::make_shared<const Bytes>(ToNetascii(**raw));
    size = data->size();
  } else if (cache_.Cacheable(size)) {
    uint64_t hits = cache_.hits();
    auto cached = cache_.Get(*path, *opened);
    if (!cached) {
      log_->warn("peer={} file={} read failed: {}", peer, file, cached.error().message);
      Refuse(origin, file, TftpErrorCode::kNotDefined, "read error", &stats_.io_errors);
      return;
    }
    ++(cache_.hits() > hits ? stats_.cache_hits : stats_.cache_misses);
    data = *cached;
  } else {
    disk = std::move(*opened);
  }

  auto fd = OpenTransferSocket(origin);
  if (!fd) {
    ++stats_.io_errors;
    ++stats_.transfers_failed;
    log_->warn("peer={} file={}: {}", peer, file, fd.error().message);
    return;
  }

  TransferLimits limits;
  limits.max_blksize = MaxBlksizeFor(origin);
  limits.max_windowsize = std::max<uint16_t>(options_.max_windowsize, 1);
  limits.default_timeout_us = int64_t{std::max(options_.timeout_ms, 1)} * 1000;
  limits.max_retries = options_.retries;
  const int64_t now = NowUs();
  auto t = std::make_shared<Transfer>(io_, ReadTransfer(request->options, size, limits, now));
  boost::system::error_code ec;
  t->sock.assign(asio::ip::udp::v4(), *fd, ec);
  if (ec) {
    ::close(*fd);
    ++stats_.io_errors;
    ++stats_.transfers_failed;
    return;
  }
  t->id = next_id_++;
  t->origin = origin;
  t->mac = MacOf(origin.peer_ip);
  t->file = file;
  t->label = "mac=" + t->mac.ToString() + " peer=" + peer + " file=" + file;
  t->data = std::move(data);
  t->disk = std::move(disk);
  const ReadTransfer& m = t->machine;
  t->batch = std::min<uint32_t>(m.windowsize(), kMaxBatch);
  if (!t->data) {
    t->batch = static_cast<uint32_t>(std::clamp<size_t>(kMaxReadBuffer / m.blksize(), 1, t->batch));
    t->read_buffer.resize(size_t{t->batch} * m.blksize());
  }
  t->headers.resize(size_t{t->batch} * kDataHeaderSize);
  t->iov.resize(size_t{t->batch} * 2);
  t->msgs.resize(t->batch);
  if (!m.accepted_options().empty()) t->oack = SerializeOack(m.accepted_options());
  if (!request->ignored_options.empty() || !request->unknown_options.empty()) {
    log_->debug("{} options ignored: {} bad value, {} unknown", t->label,
                request->ignored_options.size(), request->unknown_options.size());
  }
  log_->debug("{} RRQ size={} blksize={} windowsize={} oack={}", t->label, size, m.blksize(),
              m.windowsize(), !t->oack.empty());

  transfers_.emplace(t->id, t);
  by_peer_.emplace(PeerKey(origin), t->id);
  ++stats_.active_transfers;
  WaitTransferReadable(t);
  Run(t, t->machine.Start(now));
}

// ---------------------------------------------------------------------------------------------
// Transfers.

void Server::Impl::Run(const std::shared_ptr<Transfer>& t, const TransferAction& action) {
  if (t->finished) return;
  switch (action.kind) {
    case TransferAction::Kind::kNone:
      break;
    case TransferAction::Kind::kSendOack:
      if (::send(t->sock.native_handle(), t->oack.data(), t->oack.size(), 0) < 0 &&
          errno != EAGAIN) {
        if (errno == ECONNREFUSED) {
          t->server_error = "peer port unreachable";
          Finish(t);
          return;
        }
        ++stats_.io_errors;
      }
      if (action.retransmitted) ++stats_.retransmits;
      break;
    case TransferAction::Kind::kSendBlocks:
      if (!SendBlocks(*t, action)) {
        Finish(t);
        return;
      }
      break;
  }
  if (t->machine.done()) {
    Finish(t);
  } else {
    ArmTimer(t);
  }
}

bool Server::Impl::SendBlocks(Transfer& t, const TransferAction& action) {
  const ReadTransfer& m = t.machine;
  const int fd = t.sock.native_handle();
  stats_.blocks_sent += action.block_count;
  stats_.retransmits += action.retransmitted;
  uint64_t block = action.first_block;
  uint32_t left = action.block_count;
  while (left > 0) {
    const uint32_t n = std::min(left, t.batch);
    const uint8_t* base = nullptr;
    uint64_t base_offset = 0;
    if (t.data) {
      base = t.data->data();
    } else {
      // One pread for the whole batch: its blocks are contiguous in the file.
      auto first = m.BlockExtent(block);
      auto last = m.BlockExtent(block + n - 1);
      size_t len = static_cast<size_t>(last.offset + last.length - first.offset);
      if (auto st = t.disk.ReadAt(first.offset, t.read_buffer.data(), len); !st) {
        ++stats_.io_errors;
        t.server_error = st.error().message;
        return false;
      }
      base = t.read_buffer.data();
      base_offset = first.offset;
    }
    for (uint32_t i = 0; i < n; ++i) {
      auto ext = m.BlockExtent(block + i);
      uint8_t* hdr = t.headers.data() + size_t{i} * kDataHeaderSize;
      WriteDataHeader(ReadTransfer::WireBlock(block + i),
                      std::span<uint8_t, kDataHeaderSize>(hdr, kDataHeaderSize));
      t.iov[2 * i] = iovec{hdr, kDataHeaderSize};
      t.iov[2 * i + 1] = iovec{const_cast<uint8_t*>(base + (ext.offset - base_offset)), ext.length};
      msghdr& h = t.msgs[i].msg_hdr;
      h = msghdr{};
      h.msg_iov = &t.iov[2 * i];
      h.msg_iovlen = 2;
    }
    uint32_t done = 0;
    while (done < n) {
      int r = ::sendmmsg(fd, t.msgs.data() + done, n - done, 0);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno == ECONNREFUSED) {
          // ICMP port unreachable: nobody listens on the client's TID any more.
          t.server_error = "peer port unreachable";
          return false;
        }
        // EAGAIN (send buffer full) and transient errors: the rest of the window counts as
        // lost; the retransmission timer sends it again.
        if (errno != EAGAIN && errno != EWOULDBLOCK) ++stats_.io_errors;
        break;
      }
      done += static_cast<uint32_t>(r);
    }
    block += n;
    left -= n;
  }
  return true;
}

void Server::Impl::ArmTimer(const std::shared_ptr<Transfer>& t) {
  const int64_t deadline = t->machine.deadline_us();
  // The timer only ever needs to fire at or before the machine's deadline; when it fires early
  // it is re-armed. So a window that moves the deadline later costs no timer syscall.
  if (t->timer_pending && t->timer_at_us <= deadline) return;
  t->timer_pending = true;
  t->timer_at_us = deadline;
  const uint64_t gen = ++t->timer_gen;
  t->timer.expires_at(asio::steady_timer::time_point(std::chrono::microseconds(deadline)));
  t->timer.async_wait([self = shared_from_this(), t, gen](const boost::system::error_code& ec) {
    if (gen != t->timer_gen || t->finished) return;  // superseded by a newer wait, or ended
    t->timer_pending = false;
    if (ec) return;
    const int64_t now = NowUs();
    if (now < t->machine.deadline_us()) {
      self->ArmTimer(t);
      return;
    }
    self->Run(t, t->machine.OnTimeout(now));
  });
}

void Server::Impl::WaitTransferReadable(const std::shared_ptr<Transfer>& t) {
  t->sock.async_wait(asio::socket_base::wait_read,
                     [self = shared_from_this(), t](const boost::system::error_code& ec) {
                       if (ec || t->finished) return;
                       self->OnTransferReadable(t);
                       if (!t->finished) self->WaitTransferReadable(t);
                     });
}

void Server::Impl::OnTransferReadable(const std::shared_ptr<Transfer>& t) {
  const int fd = t->sock.native_handle();
  while (!t->finished) {
    ssize_t n = ::recv(fd, rx_.data(), rx_.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ECONNREFUSED) {
        // An earlier send drew an ICMP port unreachable: the client is gone.
        t->server_error = "peer port unreachable";
        Finish(t);
        return;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) ++stats_.io_errors;
      return;
    }
    auto parsed = ParseTftpPacket(ByteSpan(rx_.data(), static_cast<size_t>(n)));
    if (!parsed) {
      ++stats_.malformed;
      log_->debug("{} malformed datagram dropped: {}", t->label, parsed.error().message);
      continue;
    }
    Run(t, t->machine.OnPacket(*parsed, NowUs()));
  }
}

void Server::Impl::Finish(const std::shared_ptr<Transfer>& t) {
  if (t->finished) return;
  t->finished = true;
  const int64_t now = NowUs();
  const ReadTransfer& m = t->machine;
  TransferStats ts = m.stats(now);
  TransferOutcome outcome = m.outcome();
  std::string outcome_name = t->server_error.empty() ? TransferOutcomeName(outcome) : "io_error";
  if (t->server_error == "server stopping") outcome_name = "server_stopping";
  bool ok = t->server_error.empty() && (outcome == TransferOutcome::kCompleted ||
                                        outcome == TransferOutcome::kAbortedAfterOack);
  std::string error = t->server_error;
  if (error.empty() &&
      (outcome == TransferOutcome::kClientError || outcome == TransferOutcome::kAbortedAfterOack)) {
    error =
        "client error " + std::to_string(m.client_error().code) + ": " + m.client_error().message;
  } else if (error.empty() && outcome == TransferOutcome::kTimedOut) {
    error = "timed out after " + std::to_string(options_.retries) + " retries";
  }

  stats_.bytes_sent += ts.bytes;
  if (ok) {
    ++stats_.transfers_ok;
    if (outcome == TransferOutcome::kAbortedAfterOack) ++stats_.tsize_probes;
  } else {
    ++stats_.transfers_failed;
    if (outcome == TransferOutcome::kTimedOut) ++stats_.timeouts;
    if (outcome == TransferOutcome::kClientError) ++stats_.client_errors;
  }
  --stats_.active_transfers;

  if (outcome == TransferOutcome::kCompleted && ok) {
    double secs = static_cast<double>(ts.duration_us) / 1e6;
    log_->info(
        "tftp: {} sent {} bytes in {:.3f} s ({:.1f} MB/s) blksize={} windowsize={} "
        "retransmits={}",
        t->label, ts.bytes, secs, secs > 0 ? static_cast<double>(ts.bytes) / secs / 1e6 : 0,
        m.blksize(), m.windowsize(), ts.retransmits);
  } else if (outcome == TransferOutcome::kAbortedAfterOack) {
    // OVMF asks with tsize, reads the OACK, aborts with ERROR 8 and asks again: normal.
    log_->debug("{} client ended after OACK (tsize probe): {}", t->label, error);
  } else {
    log_->warn("{} failed ({}) after {} bytes: {}", t->label, outcome_name, ts.bytes, error);
  }

  nlohmann::json extra;
  extra["blksize"] = m.blksize();
  extra["windowsize"] = m.windowsize();
  extra["tsize"] = m.file_size();
  extra["retransmits"] = ts.retransmits;
  RecordEvent(t->mac, t->origin, t->file, extra, static_cast<int64_t>(ts.bytes), ts.duration_us, ok,
              outcome_name, error);

  ++t->timer_gen;
  boost::system::error_code ec;
  t->timer.cancel();
  t->sock.close(ec);
  t->data.reset();
  t->disk = OpenFile();
  by_peer_.erase(PeerKey(t->origin));
  transfers_.erase(t->id);
}

void Server::Impl::RecordEvent(const MacAddress& mac, const Origin& origin, const std::string& file,
                               const nlohmann::json& extra, int64_t bytes, int64_t duration_us,
                               bool ok, const std::string& outcome, const std::string& error) {
  if (sink_ == nullptr) return;
  nlohmann::json detail = extra;
  detail["file"] = file;
  detail["peer"] = EndpointString(origin.peer_ip, origin.peer_port);
  detail["outcome"] = outcome;
  detail["error"] = error.empty() ? nlohmann::json(nullptr) : nlohmann::json(error);
  if (!detail.contains("retransmits")) detail["retransmits"] = 0;
  BootEvent event;
  event.mac = mac;
  event.time_us = WallMicros();
  event.phase = "tftp.transfer";
  // Filenames are untrusted bytes: invalid UTF-8 is replaced rather than thrown about.
  event.detail = detail.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  event.bytes = bytes;
  event.duration_us = duration_us;
  event.ok = ok;
  sink_->Record(std::move(event));
}

// ---------------------------------------------------------------------------------------------

Server::Server(asio::io_context& io, ServerOptions options, EventSink* sink, MacResolver resolver)
    : impl_(std::make_shared<Impl>(io, std::move(options), sink, std::move(resolver))) {}

Server::~Server() { impl_->Stop(); }

Status Server::Start() { return impl_->Start(); }
void Server::Stop() { impl_->Stop(); }

void Server::UpdateOptions(ServerOptions options) {
  // Posting keeps options_ and the cache on the io thread.
  auto impl = impl_;
  asio::post(impl->io_context(),
             [impl, o = std::move(options)]() mutable { impl->ApplyOptions(std::move(o)); });
}

ServerStats Server::GetStats() const { return impl_->GetStats(); }
uint16_t Server::port() const { return impl_->port(); }

}  // namespace paddock::tftp
