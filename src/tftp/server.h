#pragma once

// tftp::Server: a read-only TFTP server (RFC 1350, 2347, 2348, 2349, 7440) on an Asio
// io_context. It serves files below one root directory to PXE firmware and iPXE.
//
// What it does, per request on the listening socket (port 69 by default):
//  * WRQ is refused with ERROR 2 (access violation): the server is read-only.
//  * The filename is confined to the root (absolute names, ".." components and symlinks that
//    resolve outside are refused with ERROR 2 and logged at warn); a missing file gets ERROR 1.
//  * Each transfer runs on its own UDP socket with an ephemeral port (the RFC 1350 TID), bound
//    to the local address the request arrived on and connected to the client's address and
//    port, so packets from other TIDs never reach it.
//  * blksize is clamped to ServerOptions::max_blksize, or when that is 0, to the MTU of the
//    interface the request came in on (IP_PKTINFO + SIOCGIFMTU) minus 32 bytes of IP, UDP and
//    TFTP headers; windowsize to max_windowsize. See tftp/transfer.h for the protocol rules.
//  * Files up to cache_max_file_bytes are served from memory (FileCache, keyed by path, mtime
//    and size); bigger ones are read with pread, one window at a time. A window goes out with
//    one sendmmsg call.
//  * Every transfer, refused ones included, ends with exactly one BootEvent, phase
//    "tftp.transfer": mac from the MacResolver (else the zero MAC, and the peer address is in
//    the detail), detail JSON {file, peer, blksize, windowsize, tsize, retransmits, outcome,
//    error}, bytes, duration_us, ok. The OVMF tsize probe (ERROR 8 right after the OACK) is
//    normal: ok=true, outcome "aborted_after_oack", logged at debug.
//  * Malformed datagrams are counted, logged at debug and dropped (a request that does not
//    parse gets ERROR 4); they never stop the server.
//
// Threading: the server runs entirely on the io_context's thread(s); run that io_context on
// one thread. Start() and Stop() must be called from that thread or before io_context::run().
// UpdateOptions() and GetStats() may be called from any thread.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "common/event.h"
#include "common/result.h"

namespace boost::asio {
class io_context;
}

namespace paddock::tftp {

struct ServerOptions {
  std::string bind_address = "0.0.0.0";       // IPv4 address to listen on
  uint16_t port = 69;                         // 0 = any free port (tests); see Server::port()
  std::string root;                           // directory served; must exist
  uint16_t max_blksize = 0;                   // 0 = derived from the incoming interface's MTU
  uint16_t max_windowsize = 64;               // RFC 7440 windowsize ceiling (1 = lockstep)
  int timeout_ms = 1000;                      // retransmission timeout unless negotiated
  int retries = 5;                            // timeouts in a row before a transfer fails
  size_t max_transfers = 1024;                // concurrent transfers; more get ERROR 0 "busy"
  size_t cache_max_file_bytes = 16u << 20;    // files up to this size are cached
  size_t cache_max_total_bytes = 256u << 20;  // cache budget (LRU)
  // Files the operator named explicitly (the iPXE binaries of the `boot:` config), served by
  // exact name from an absolute, already-resolved path even when that lies outside the root:
  // Debian's /usr/lib/ipxe/ipxe.efi is a symlink to /boot/ipxe.efi. Nothing else may leave the
  // root; a request must equal a key here exactly to use this.
  std::map<std::string, std::string> pinned_files;
};

// Counters since Start(). A consistent-enough snapshot (each counter is read atomically).
struct ServerStats {
  uint64_t requests = 0;            // RRQ and WRQ datagrams received
  uint64_t duplicate_requests = 0;  // RRQ repeated by a client whose transfer is running
  uint64_t transfers_ok = 0;        // completed, plus OVMF tsize probes
  uint64_t transfers_failed = 0;    // refused, timed out, aborted by the client, I/O error
  uint64_t tsize_probes = 0;        // of transfers_ok: ERROR 8 after OACK
  uint64_t bytes_sent = 0;          // payload bytes acknowledged by clients
  uint64_t blocks_sent = 0;         // DATA datagrams sent, retransmissions included
  uint64_t retransmits = 0;         // DATA and OACK datagrams sent again
  uint64_t active_transfers = 0;
  uint64_t cache_hits = 0;
  uint64_t cache_misses = 0;
  // Errors by kind.
  uint64_t malformed = 0;          // datagrams that did not parse (any socket)
  uint64_t not_found = 0;          // ERROR 1 sent
  uint64_t access_violations = 0;  // ERROR 2 sent for a path outside the root / not a file
  uint64_t write_refused = 0;      // ERROR 2 sent for a WRQ
  uint64_t busy = 0;               // refused: max_transfers reached
  uint64_t timeouts = 0;           // transfers that exhausted their retries
  uint64_t client_errors = 0;      // transfers ended by an ERROR from the client (not probes)
  uint64_t io_errors = 0;          // socket or file errors
};

class Server {
 public:
  // io must outlive the server. sink may be null (no events); it must outlive the server.
  // resolver may be empty (every event then carries the zero MAC).
  Server(boost::asio::io_context& io, ServerOptions options, EventSink* sink, MacResolver resolver);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens the root and binds the listening socket. Errors: kInvalidArgument (bad address or
  // options), kNotFound (root missing), kIoError (bind failed, e.g. port in use or no
  // permission for port 69).
  Status Start();
  // Closes the listening socket and ends every transfer in flight (each records its event as
  // failed, error "server stopping"). Idempotent.
  void Stop();
  // Applies new options to transfers that start afterwards (reload). The root, limits, timeout,
  // retries and cache limits change; a different bind_address or port is not applied (logged;
  // it needs a restart). Thread-safe: the change is posted to the io_context. An unusable new
  // root is logged and the old one kept.
  void UpdateOptions(ServerOptions options);
  // Thread-safe snapshot.
  ServerStats GetStats() const;
  // The bound port (useful with port 0). 0 before Start().
  uint16_t port() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace paddock::tftp
