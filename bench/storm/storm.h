#pragma once

// paddock-storm: plays the network side of N PXE machines booting at once (a "boot storm").
//
// Each simulated machine has its own MAC and SMBIOS UUID and does what a BIOS PXE ROM followed
// by iPXE (undionly.kpxe) does on the wire (see shared/notes/pxe-in-qemu.md and
// tests/data/captures/):
//   1. dhcp_pxe    DISCOVER/OFFER/REQUEST/ACK as the PXE ROM: options 53, 57=1472, 55, 60
//                  "PXEClient:Arch:00000:UNDI:002001", 93=0, 94=1.2.1, 97=uuid; broadcast flag.
//                  Retransmission 4, 8, 16, 32 s (PXE 2.1 spec).
//   2. tftp_nbp    RRQ <boot file> octet blksize 1432 tsize 0, lock-step ACKs (as iPXE/the ROM).
//   3. dhcp_ipxe   DORA again as undionly.kpxe: adds 77 "iPXE" (raw), 175 (the captured
//                  encapsulated options), 61 client id; iPXE timeouts 1 s doubling to 10 s.
//   4. script      HTTP GET of the boot file URL (/boot.ipxe), then of its `chain` URL with the
//                  iPXE variables filled in (/ipxe?mac=..&uuid=..&arch=i386&platform=pcbios..).
//   5. kernel      HTTP GET of the `kernel` URL of the rendered script (new connection per file,
//                  as iPXE does).
//   6. initrd      HTTP GET of each `initrd` URL.
//   7. booted      HTTP GET <paddock.server>/node/booted?mac=..&token=..&uptime=.. (the node's
//                  "I am up" report, token taken from the kernel command line).
//
// What is simulated and what is not:
//   * DHCP requests leave through an AF_PACKET socket with the machine's MAC as the Ethernet
//     source and 0.0.0.0 as the IP source, exactly as firmware sends them. Replies are
//     received on one UDP socket bound to 0.0.0.0:68 on the interface and demultiplexed by
//     xid + chaddr (the server broadcasts them, as the notes require for unicast-less clients).
//   * After the ACK the leased address is added to the interface (/32, by netlink) and all
//     later TFTP/HTTP traffic of that machine is sourced from it, so the server sees N distinct
//     peers and ARPs for each ("--source=leased", default). "--source=single" uses the
//     interface's own address and distinct source ports instead.
//   * CPU-bound phases of a real boot (firmware POST, kernel decompression, init) are not
//     simulated: the storm measures the server and the link only.
//   * No offer collection: a machine takes the first OFFER (OVMF waits ~3.8 s; ROMs vary).
//
// Threading: one thread per machine with blocking sockets plus one DHCP receive thread; the
// machine table is shared under a mutex. Output: a JSON document (per-machine phase times,
// per-phase distributions, retries, failures, bytes, ratio to the link-rate limit).

#include <cstdint>
#include <string>

namespace paddock::bench {

struct StormOptions {
  std::string interface = "cli0";  // client side of the veth
  int machines = 100;
  int first_index = 0;              // MACs 02:5d:<run>:<hi>:<mid>:<lo> from this index
  int run_tag = 0;                  // third MAC byte, to keep runs apart in one data dir
  std::string source = "leased";    // "leased" or "single"
  double link_bits_per_second = 0;  // for the physical-limit ratio; 0 = not reported
  int spread_ms = 0;                // power-on times spread uniformly over this many ms
  int deadline_seconds = 900;       // give up on machines not booted by then
  int http_retries = 3;             // per HTTP fetch (iPXE's script retries; a reboot otherwise)
  std::string output = "-";         // JSON output path, "-" = stdout
};

// Runs the storm; returns the process exit code (0 when every machine booted).
int RunStorm(const StormOptions& options);

}  // namespace paddock::bench
