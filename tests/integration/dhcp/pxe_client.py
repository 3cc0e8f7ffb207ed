#!/usr/bin/env python3
"""Small DHCP test client for the integration tests (run inside the client netns).

  pxe_client.py discover PCAP IFACE SERVER_PORT CLIENT_PORT
      Sends the first client DISCOVER found in PCAP (real firmware bytes) by broadcast on IFACE
      and prints the first reply as JSON.
  pxe_client.py request4011 PCAP IFACE SERVER_IP PORT
      Sends the first request to port 4011 found in PCAP, from PORT to SERVER_IP:PORT, and
      prints the reply as JSON.
  pxe_client.py garbage SERVER_IP PORT
      Sends malformed datagrams (too short; an option running past the end; oversized).
  pxe_client.py burst RELAY_IP SERVER_IP JUNK N SERVER_PID
      Acts as a relay (giaddr RELAY_IP, bound to RELAY_IP:67): stops the server process
      (SIGSTOP), sends JUNK short datagrams (dropped unanswered) and then N DISCOVERs from N
      MACs, lets the server go on (SIGCONT) with all of them queued on its socket, and waits up
      to 3 s for the OFFERs. Prints
      {"sent": N, "offers": K, "last_offer_s": T} (T: seconds from the last DISCOVER sent to
      the last OFFER received). Nothing is retransmitted, so every OFFER answers the burst.
"""
import json
import socket
import struct
import sys


def udp_payloads(path):
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if linktype == 1:
            if struct.unpack("!H", frame[12:14])[0] != 0x0800:
                continue
            ip = frame[14:]
        elif linktype == 113:
            ip = frame[16:]
        else:
            continue
        if ip[9] != 17:
            continue
        ihl = (ip[0] & 15) * 4
        sport, dport = struct.unpack("!HH", ip[ihl:ihl + 4])
        yield sport, dport, ip[ihl + 8:]


def options(pkt):
    out, i = {}, 240
    while i < len(pkt):
        code = pkt[i]
        if code == 0:
            i += 1
            continue
        if code == 255:
            break
        n = pkt[i + 1]
        out[code] = out.get(code, b"") + pkt[i + 2:i + 2 + n]
        i += 2 + n
    return out


def describe(pkt):
    o = options(pkt)
    return {
        "op": pkt[0],
        "xid": "0x%08x" % struct.unpack("!I", pkt[4:8])[0],
        "yiaddr": socket.inet_ntoa(pkt[16:20]),
        "siaddr": socket.inet_ntoa(pkt[20:24]),
        "file": pkt[108:236].split(b"\0")[0].decode(errors="replace"),
        "msg_type": o.get(53, b"\0")[0],
        "vendor_class": o.get(60, b"").decode(errors="replace"),
        "bootfile": o.get(67, b"").decode(errors="replace"),
        "uuid_echoed": 97 in o,
        "has_175": 175 in o,
    }


def first(path, want):
    for sport, dport, payload in udp_payloads(path):
        if want(sport, dport, payload):
            return payload
    sys.exit("no matching packet in " + path)


def discover(xid, mac, giaddr):
    pkt = bytearray(240)
    pkt[0:4] = b"\x01\x01\x06\x01"  # BOOTREQUEST, Ethernet, hlen 6, hops 1 (relayed)
    pkt[4:8] = struct.pack("!I", xid)
    pkt[24:28] = socket.inet_aton(giaddr)
    pkt[28:34] = mac
    pkt[236:240] = b"\x63\x82\x53\x63"
    return bytes(pkt) + b"\x35\x01\x01\xff"


def burst(relay_ip, server_ip, junk, n, server_pid):
    import os
    import signal
    import time
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((relay_ip, 67))
    os.kill(server_pid, signal.SIGSTOP)
    try:
        for i in range(junk):
            s.sendto(b"\x01\x01\x06\x00" + b"x" * 40, (server_ip, 67))
        for i in range(n):
            mac = b"\x02\x5e\xb0" + struct.pack("!I", i)[1:]
            s.sendto(discover(0x5e000000 + i, mac, relay_ip), (server_ip, 67))
    finally:
        os.kill(server_pid, signal.SIGCONT)
    sent_at = time.monotonic()
    seen, last = set(), sent_at
    s.settimeout(0.2)
    while len(seen) < n and time.monotonic() - sent_at < 3.0:
        try:
            pkt = s.recv(4096)
        except socket.timeout:
            continue
        if len(pkt) >= 240 and pkt[0] == 2 and options(pkt).get(53) == b"\x02":
            seen.add(struct.unpack("!I", pkt[4:8])[0])
            last = time.monotonic()
    print(json.dumps({"sent": n, "offers": len(seen), "last_offer_s": round(last - sent_at, 3)}))


def main():
    cmd = sys.argv[1]
    if cmd == "burst":
        burst(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
        return
    if cmd == "garbage":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(b"\x01\x01\x06\x00" + b"x" * 40, (sys.argv[2], int(sys.argv[3])))
        bad = bytearray(240)
        bad[0] = 1
        bad[1] = 1
        bad[2] = 6
        bad[236:240] = b"\x63\x82\x53\x63"
        bad += b"\x35\x09\x01"  # option 53 claiming 9 bytes
        s.sendto(bytes(bad), (sys.argv[2], int(sys.argv[3])))
        # Longer than the server reads (9,216 bytes, a jumbo frame): truncated, so dropped.
        big = bytearray(bad[:240]) + b"\x35\x01\x01" + b"\x00" * 12000 + b"\xff"
        s.sendto(bytes(big), (sys.argv[2], int(sys.argv[3])))
        return
    iface = sys.argv[3].encode()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface)
    s.settimeout(5)
    if cmd == "discover":
        pkt = first(sys.argv[2], lambda sp, dp, p: dp == 67 and p[0] == 1 and
                    options(p).get(53) == b"\x01")
        s.bind(("0.0.0.0", int(sys.argv[5])))
        s.sendto(pkt, ("255.255.255.255", int(sys.argv[4])))
    elif cmd == "request4011":
        pkt = first(sys.argv[2], lambda sp, dp, p: dp == 4011 and p[0] == 1)
        port = int(sys.argv[5])
        s.bind(("0.0.0.0", port))
        s.sendto(pkt, (sys.argv[4], port))
    else:
        sys.exit("unknown command " + cmd)
    xid = pkt[4:8]
    while True:
        reply, _ = s.recvfrom(4096)
        if reply[0] == 2 and reply[4:8] == xid:
            print(json.dumps(describe(reply)))
            return


if __name__ == "__main__":
    main()
