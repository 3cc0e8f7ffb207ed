#!/usr/bin/env bash
# DHCP integration tests: dhcp_harness in a server netns, real clients in a client netns,
# joined by a veth pair. Addresses from 198.18.16.0/20 (RFC 2544), only inside the namespaces.
#   (f) malformed datagrams are dropped and counted; the server keeps serving
#   (b) busybox udhcpc gets an address from the range
#   (c) dhclient gets an address (the same one: same MAC, same client)
#   (d) a reserved MAC gets its reserved address (outside the range) and hostname
#   (a) perfdhcp (acting as a relay, giaddr = its address) completes DORA with no drops, and a
#       burst queued while the server was stopped is answered in full
#   (e) proxy mode: a captured PXE DISCOVER gets a boot file and no address, port 4011 answers
#   (g) router solicitations within 3 s of the last multicast RA are answered (unicast)
# Usage: run.sh DHCP_HARNESS SOURCE_DIR
set -euo pipefail
harness=$1 srcdir=$2
captures=$srcdir/../../data/captures
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 0; }

tag=$$
srv=pd-dhcp-s-$tag cli=pd-dhcp-c-$tag
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -f "$tmp/dh.pid" ] && kill "$(cat "$tmp/dh.pid")" 2>/dev/null || true
  ip netns del "$srv" 2>/dev/null || true
  ip netns del "$cli" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; echo "--- harness log"; tail -n 40 "$tmp"/*.log; exit 1; }

ip netns add "$srv"
ip netns add "$cli"
ip link add "pds$tag" type veth peer name "pdc$tag"
ip link set "pds$tag" netns "$srv"
ip link set "pdc$tag" netns "$cli"
ip -n "$srv" link set "pds$tag" name srv0
ip -n "$cli" link set "pdc$tag" name cli0
ip -n "$srv" link set lo up
ip -n "$cli" link set lo up
ip -n "$srv" addr add 198.18.16.1/20 dev srv0
ip -n "$srv" link set srv0 up
ip -n "$cli" link set cli0 up

start_harness() {  # name, args...
  local name=$1
  shift
  ip netns exec "$srv" "$harness" --interface srv0 --server 198.18.16.1 "$@" \
    >"$tmp/$name.stats" 2>"$tmp/$name.log" &
  harness_pid=$!
  pids+=("$harness_pid")
  for _ in $(seq 50); do
    grep -q "dhcp_harness ready" "$tmp/$name.log" && return 0
    kill -0 "$harness_pid" 2>/dev/null || break
    sleep 0.1
  done
  fail "harness $name did not start: $(cat "$tmp/$name.log")"
}
stop_harness() {  # name -> prints stats JSON
  kill -TERM "$harness_pid"
  wait "$harness_pid" || true
  cat "$tmp/$1.stats"
}
stat_of() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$@"; }

cat >"$tmp/udhcpc.sh" <<SCRIPT
#!/bin/sh
[ "\$1" = bound ] && echo "\$ip \${hostname:-}" > $tmp/udhcpc.out
exit 0
SCRIPT
chmod +x "$tmp/udhcpc.sh"
run_udhcpc() {
  rm -f "$tmp/udhcpc.out"
  ip netns exec "$cli" timeout 20 udhcpc -f -q -n -i cli0 -s "$tmp/udhcpc.sh" -t 5 -T 1 \
    >"$tmp/udhcpc.log" 2>&1 || fail "udhcpc: $(cat "$tmp/udhcpc.log")"
  cat "$tmp/udhcpc.out"
}
in_range() {  # ip: 198.18.17.0 .. 198.18.31.250
  python3 -c "import ipaddress,sys; a=ipaddress.ip_address(sys.argv[1]); \
sys.exit(0 if ipaddress.ip_address('198.18.17.0') <= a <= ipaddress.ip_address('198.18.31.250') else 1)" "$1"
}

reserved_mac=02:00:5e:10:00:42
start_harness full --range-start 198.18.17.0 --range-end 198.18.31.250 --netmask 255.255.240.0 \
  --router 198.18.16.1 --dns 198.18.16.1 --domain lab.test --lease-time 600 \
  --reserve "$reserved_mac=198.18.16.42=node-42" --save-delay-us 2000 --log-level warn

# (f) malformed first; everything after it proves the server kept serving.
ip netns exec "$cli" ip addr add 198.18.16.2/20 dev cli0
ip netns exec "$cli" python3 "$srcdir/pxe_client.py" garbage 198.18.16.1 67
ip netns exec "$cli" ip addr flush dev cli0

# (b) udhcpc
read -r ip1 _ < <(run_udhcpc)
in_range "$ip1" || fail "udhcpc got $ip1, not in the range"
echo "ok (b) udhcpc got $ip1"

# (c) dhclient: same MAC, so the same address back.
ip netns exec "$cli" timeout 30 dhclient -4 -1 -v -sf /bin/true -pf "$tmp/dh.pid" \
  -lf "$tmp/dh.leases" cli0 >"$tmp/dhclient.log" 2>&1 || fail "dhclient: $(cat "$tmp/dhclient.log")"
kill "$(cat "$tmp/dh.pid")" 2>/dev/null || true
rm -f "$tmp/dh.pid"
ip2=$(sed -n 's/^ *fixed-address \(.*\);/\1/p' "$tmp/dh.leases" | tail -n1)
[ "$ip2" = "$ip1" ] || fail "dhclient got '$ip2', expected the client's address $ip1"
echo "ok (c) dhclient got $ip2 (same client, same address)"

# (d) reservation
orig_mac=$(ip netns exec "$cli" cat /sys/class/net/cli0/address)
ip -n "$cli" link set cli0 address "$reserved_mac"
read -r ip3 host3 < <(run_udhcpc)
[ "$ip3" = 198.18.16.42 ] || fail "reserved MAC got $ip3"
[ "$host3" = node-42 ] || fail "reserved MAC got hostname '$host3'"
ip -n "$cli" link set cli0 address "$orig_mac"
echo "ok (d) reserved MAC got $ip3 hostname $host3"

# (a) perfdhcp as a relay: giaddr = 198.18.16.2, listens on 67 for the server's replies.
ip netns exec "$cli" ip addr add 198.18.16.2/20 dev cli0
ip netns exec "$cli" perfdhcp -4 -l cli0 -r 200 -n 2000 -R 2000 -W 2000000 198.18.16.1 \
  >"$tmp/perfdhcp.log" 2>&1 || fail "perfdhcp: $(tail -n 30 "$tmp/perfdhcp.log")"
python3 - "$tmp/perfdhcp.log" <<'PY' || fail "perfdhcp: $(cat "$tmp/perfdhcp.log")"
import re, sys
text = open(sys.argv[1]).read()
sent = [int(x) for x in re.findall(r"sent packets: (\d+)", text)]
recv = [int(x) for x in re.findall(r"received packets: (\d+)", text)]
drops = [int(x) for x in re.findall(r"drops: (\d+)", text)]
rate = re.search(r"[Rr]ate: ([\d.]+)", text)
print("perfdhcp: sent %s received %s drops %s rate %s" % (sent, recv, drops,
      rate.group(1) if rate else "?"))
assert len(sent) == 2 and sent[0] >= 2000 and sent == recv and sum(drops) == 0, "drops or short"
PY
ip netns exec "$cli" perfdhcp -4 -l cli0 -r 2000 -p 5 -R 1500 -W 2000000 198.18.16.1 \
  >"$tmp/perfdhcp-max.log" 2>&1 || true
grep -E "sent packets|received packets|drops|[Rr]ate" "$tmp/perfdhcp-max.log" | sed 's/^/  max-rate run: /'
# (a2) a burst longer than the server reads per wake-up (4 x 32 datagrams), all queued while the
# server is stopped, then silence: 400 junk datagrams (dropped, nothing sent back that could
# wake the socket) and 200 DISCOVERs, every one answered without a retransmission.
burst=$(ip netns exec "$cli" python3 "$srcdir/pxe_client.py" burst 198.18.16.2 198.18.16.1 \
  400 200 "$harness_pid")
echo "  burst: $burst"
python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r["offers"] == r["sent"] else 1)' \
  "$burst" || fail "a queued burst was not answered in full: $burst"
ip netns exec "$cli" ip addr flush dev cli0
echo "ok (a) perfdhcp DORA x2000 at 200/s, no drops; a queued burst answered in full"

stop_harness full >"$tmp/full.json"
cat "$tmp/full.json"
[ "$(stat_of "$tmp/full.json" dropped_malformed)" -ge 3 ] || fail "malformed not counted"
[ "$(stat_of "$tmp/full.json" persist_errors)" = 0 ] || fail "persist errors"
batches=$(stat_of "$tmp/full.json" persist_batches)
saved=$(stat_of "$tmp/full.json" leases_saved)
echo "ok (f) malformed counted; $saved leases saved in $batches batches"

# (e) proxy mode
start_harness proxy --mode proxy
out=$(ip netns exec "$cli" python3 "$srcdir/pxe_client.py" discover \
  "$captures/proxy-uefi-native-dhcp.pcap" cli0 67 68) || fail "no proxy offer"
echo "proxy offer: $out"
python3 -c "
import json,sys; r=json.loads(sys.argv[1])
assert r['msg_type']==2 and r['yiaddr']=='0.0.0.0' and r['siaddr']=='198.18.16.1', r
assert r['file']=='ipxe.efi' and r['vendor_class']=='PXEClient' and r['uuid_echoed'], r
assert not r['has_175'], r" "$out" || fail "bad proxy offer"
out=$(ip netns exec "$cli" python3 "$srcdir/pxe_client.py" discover \
  "$captures/proxy-bios-dhcp.pcap" cli0 67 68) || fail "no proxy offer for iPXE"
python3 -c "
import json,sys; r=json.loads(sys.argv[1])
assert r['file']=='http://198.18.16.1:8080/boot.ipxe' and not r['has_175'], r" "$out" \
  || fail "bad iPXE proxy offer: $out"
ip netns exec "$cli" ip addr add 198.18.16.77/20 dev cli0
out=$(ip netns exec "$cli" python3 "$srcdir/pxe_client.py" request4011 \
  "$captures/proxy-uefi-native-dhcp.pcap" cli0 198.18.16.1 4011) || fail "no 4011 ACK"
echo "port 4011 ack: $out"
python3 -c "
import json,sys; r=json.loads(sys.argv[1])
assert r['msg_type']==5 and r['file']=='ipxe.efi' and r['yiaddr']=='0.0.0.0', r" "$out" \
  || fail "bad 4011 ACK"
ip netns exec "$cli" ip addr flush dev cli0
# A plain client gets nothing from a proxy.
if ip netns exec "$cli" timeout 10 udhcpc -f -q -n -i cli0 -s "$tmp/udhcpc.sh" -t 2 -T 1 \
  >/dev/null 2>&1; then
  fail "proxy mode answered a plain DHCP client"
fi
stop_harness proxy >"$tmp/proxy.json"
cat "$tmp/proxy.json"
[ "$(stat_of "$tmp/proxy.json" proxy_offers)" -ge 2 ] || fail "proxy offers not counted"
[ "$(stat_of "$tmp/proxy.json" proxy_acks)" -ge 1 ] || fail "proxy acks not counted"
[ "$(stat_of "$tmp/proxy.json" offers)" = 0 ] || fail "proxy mode made address offers"
echo "ok (e) proxy mode: offer without address, 4011 ACK, plain client ignored"

# (g) IPv6 router solicitations within 3 s of the last multicast RA (here: the one sent at
# start) are answered at once, by unicast (RFC 4861 §6.2.6); iPXE waits for an RA before it
# fetches its script, so a dropped one cost a booting machine ~0.8 s.
wait_ll() {  # wait_ll NS: until the link-local address of NS's interface is past DAD
  for _ in $(seq 1 50); do
    ip -n "$1" -6 addr show scope link | grep -q "inet6 fe80" &&
      ! ip -n "$1" -6 addr show scope link | grep -q tentative && return 0
    sleep 0.1
  done
  fail "no link-local address in $1"
}
# Earlier steps flushed cli0's addresses: down/up gives it a link-local address again.
ip -n "$cli" link set cli0 down
ip -n "$cli" link set cli0 up
wait_ll "$srv"
wait_ll "$cli"
start_harness ra --range-start 198.18.17.0 --range-end 198.18.17.50 --netmask 255.255.240.0 --ra
ip netns exec "$cli" python3 - <<'PY' || fail "router solicitations not answered"
import socket, time
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"cli0")
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
idx = socket.if_nametoindex("cli0")
for i in range(2):
    t0 = time.monotonic()
    s.sendto(bytes([133, 0, 0, 0, 0, 0, 0, 0]), ("ff02::2", 0, 0, idx))
    while True:
        left = 1.0 - (time.monotonic() - t0)
        if left <= 0:
            raise SystemExit(f"solicitation {i}: no router advertisement within 1 s")
        s.settimeout(left)
        data, addr = s.recvfrom(1500)
        if data and data[0] == 134:
            break
    print(f"solicitation {i}: RA from {addr[0]} after {time.monotonic() - t0:.3f} s")
PY
stop_harness ra >/dev/null
echo "ok (g) two router solicitations right after start: each answered within 1 s"
echo "PASS"
