#!/usr/bin/env python3
"""many_clients.py SERVER_IP FILE N EXPECTED_SHA256: N RFC 1350/2348 read transfers of FILE at
once from one process (an independent client, not paddock's codec): all N RRQs go out first,
then every socket is served from one selector loop. Prints the wall time; exits 1 unless every
transfer arrives whole with the expected sha256."""
import hashlib, selectors, socket, struct, sys, time

ip, name, n, want = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
BLK = 1432
sel = selectors.DefaultSelector()
state = {}
t0 = time.monotonic()
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    rrq = b"\x00\x01" + name.encode() + b"\x00octet\x00blksize\x00" + str(BLK).encode() + b"\x00"
    s.sendto(rrq, (ip, 69))
    state[s] = {"rrq": rrq, "data": bytearray(), "next": 1, "tid": None, "done": False,
                "last": time.monotonic(), "blk": 512, "last_ack": None}
    sel.register(s, selectors.EVENT_READ)
pending = n
deadline = time.monotonic() + 120
while pending and time.monotonic() < deadline:
    for key, _ in sel.select(timeout=0.5):
        s = key.fileobj
        st = state[s]
        try:
            pkt, addr = s.recvfrom(70000)
        except BlockingIOError:
            continue
        if st["tid"] is None:
            st["tid"] = addr
        if addr != st["tid"]:
            continue
        op = struct.unpack(">H", pkt[:2])[0]
        st["last"] = time.monotonic()
        if op == 6:  # OACK
            opts = pkt[2:].split(b"\x00")
            for k, v in zip(opts[0::2], opts[1::2]):
                if k.lower() == b"blksize":
                    st["blk"] = int(v)
            ack = b"\x00\x04\x00\x00"
        elif op == 3:
            blk = struct.unpack(">H", pkt[2:4])[0]
            if blk == st["next"] & 0xFFFF:
                st["data"] += pkt[4:]
                st["next"] += 1
                if len(pkt) - 4 < st["blk"]:
                    st["done"] = True
            ack = b"\x00\x04" + struct.pack(">H", (st["next"] - 1) & 0xFFFF)
        else:
            print("error packet:", pkt[:60], file=sys.stderr)
            sys.exit(1)
        s.sendto(ack, addr)
        st["last_ack"] = ack
        if st["done"]:
            sel.unregister(s)
            pending -= 1
    # Client-side retransmission for anything silent for 1 s.
    now = time.monotonic()
    for s, st in state.items():
        if not st["done"] and now - st["last"] > 1.0:
            st["last"] = now
            if st["tid"] is None:
                s.sendto(st["rrq"], (ip, 69))
            elif st["last_ack"]:
                s.sendto(st["last_ack"], st["tid"])
wall = time.monotonic() - t0
bad = sum(1 for st in state.values()
          if not st["done"] or hashlib.sha256(st["data"]).hexdigest() != want)
print(f"{n} simultaneous transfers of {name}: {wall * 1000:.0f} ms wall, {bad} bad")
sys.exit(1 if bad else 0)
