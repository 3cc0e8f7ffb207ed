#!/usr/bin/env bash
# TFTP integration tests: tftp_harness (tftp::Server) against real clients (atftp, tftp-hpa's
# tftp, curl) across a veth pair between two network namespaces this script creates:
#   pd-tftp-s-$$ : veth "s" 198.18.5.1/24, the server
#   pd-tftp-c-$$ : veth "c" 198.18.5.2/24, the clients
# Every received file is compared (sha256) with its source.
#
# usage: tftp_integration.sh HARNESS CASE   (CASE: clients rollover concurrent security loss
#                                            malformed all)
# Needs root. Exit 77 = skipped (missing tool or privilege).
set -euo pipefail

harness=$(readlink -f "$1")
case_name=${2:-all}

for tool in ip atftp tftp curl sha256sum python3; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for ip netns"; exit 77; }

ns_s=pd-tftp-s-$$
ns_c=pd-tftp-c-$$
srv_ip=198.18.5.1
work=$(mktemp -d /tmp/pd-tftp-it-XXXXXX)
root=$work/root
harness_pid=

cleanup() {
  local rc=$?
  if [ -n "$harness_pid" ] && kill -0 "$harness_pid" 2>/dev/null; then
    kill "$harness_pid" 2>/dev/null || true
    wait "$harness_pid" 2>/dev/null || true
  fi
  # Background clients of this script (the netns is going away anyway).
  jobs -p | xargs -r kill 2>/dev/null || true
  ip netns del "$ns_c" 2>/dev/null || true
  ip netns del "$ns_s" 2>/dev/null || true
  if [ $rc -ne 0 ]; then
    echo "--- harness log (tail)"; tail -n 40 "$work/harness.log" 2>/dev/null || true
  fi
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
in_c() { ip netns exec "$ns_c" "$@"; }
in_s() { ip netns exec "$ns_s" "$@"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
now_ms() { date +%s%3N; }

setup_net() {
  ip netns add "$ns_s"
  ip netns add "$ns_c"
  ip -n "$ns_s" link set lo up
  ip -n "$ns_c" link set lo up
  ip link add "pdts$$" netns "$ns_s" type veth peer name "pdtc$$" netns "$ns_c"
  ip -n "$ns_s" link set "pdts$$" name s
  ip -n "$ns_c" link set "pdtc$$" name c
  ip -n "$ns_s" addr add $srv_ip/24 dev s
  ip -n "$ns_c" addr add 198.18.5.2/24 dev c
  ip -n "$ns_s" link set s up
  ip -n "$ns_c" link set c up
}

make_files() {
  mkdir -p "$root/sub" "$work/out"
  # The real iPXE binaries when present (what every booting machine reads), else stand-ins.
  for f in ipxe.efi undionly.kpxe snponly.efi; do
    if [ -f /usr/lib/ipxe/$f ]; then cp /usr/lib/ipxe/$f "$root/$f"; else
      head -c 1048576 /dev/urandom >"$root/$f"; fi
  done
  head -c 1432 /dev/urandom >"$root/exact-1432.bin"   # one full block: ends with a 0-byte block
  head -c 3000 /dev/urandom >"$root/sub/small.bin"
  head -c 0 /dev/urandom >"$root/empty.bin"
  echo "root:x:0:0:secret" >"$work/outside-secret"
  ln -s "$work/outside-secret" "$root/escape-link"
}

start_server() {  # extra harness flags...
  : >"$work/events.jsonl"
  ip netns exec "$ns_s" "$harness" --bind $srv_ip --port 69 --root "$root" --events "$work/events.jsonl" \
    --stats "$work/stats.json" --log-level info "$@" >"$work/harness.out" 2>"$work/harness.log" &
  harness_pid=$!
  for _ in $(seq 100); do
    grep -q READY "$work/harness.out" 2>/dev/null && return 0
    kill -0 "$harness_pid" 2>/dev/null || fail "harness exited: $(cat "$work/harness.log")"
    sleep 0.05
  done
  fail "harness not ready"
}

stop_server() {
  kill -TERM "$harness_pid"
  wait "$harness_pid" || fail "harness exit status $?"
  harness_pid=
}

stat_of() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" \
  "$work/stats.json" "$1"; }

check_same() {  # name received-file
  [ -f "$2" ] || fail "$1: nothing received"
  [ "$(sha "$root/$1")" = "$(sha "$2")" ] || fail "$1: sha256 differs ($2)"
}

# --- (a) (b) (c): atftp, tftp-hpa, curl ----------------------------------------------------------
case_clients() {
  start_server
  local f
  for f in ipxe.efi undionly.kpxe sub/small.bin exact-1432.bin empty.bin; do
    local o=$work/out/$(echo "$f" | tr / _)
    # atftp with blksize + windowsize (RFC 7440), then with tsize.
    rm -f "$o"; in_c atftp -g -r "$f" -l "$o" --option "blksize 1432" --option "windowsize 8" \
      $srv_ip 69 >/dev/null 2>&1 || fail "atftp windowsize $f"
    check_same "$f" "$o"
    rm -f "$o"; in_c atftp -g -r "$f" -l "$o" --option "tsize 0" $srv_ip 69 >/dev/null 2>&1 \
      || fail "atftp tsize $f"
    check_same "$f" "$o"
    # tftp-hpa: plain RFC 1350 (its client has no blksize flag), binary mode, also verbose.
    rm -f "$o"; (cd "$work/out" && in_c tftp -m binary $srv_ip -c get "$f" "$o") >/dev/null \
      || fail "tftp-hpa $f"
    check_same "$f" "$o"
    rm -f "$o"; (cd "$work/out" && in_c tftp -v -m binary $srv_ip -c get "$f" "$o") \
      >>"$work/tftp-v.log" || fail "tftp-hpa -v $f"
    check_same "$f" "$o"
    # curl: default options (tsize + blksize 512) and with --tftp-blksize.
    rm -f "$o"; in_c curl -sS -o "$o" "tftp://$srv_ip/$f" || fail "curl $f"
    check_same "$f" "$o"
    rm -f "$o"; in_c curl -sS --tftp-blksize 1432 -o "$o" "tftp://$srv_ip/$f" \
      || fail "curl --tftp-blksize $f"
    check_same "$f" "$o"
  done
  grep -q "Received" "$work/tftp-v.log" || fail "tftp -v printed no transfer summary"
  # blksize above the link's MTU is clamped: 1500 - 32 = 1468.
  rm -f "$work/out/big"; in_c atftp -g -r ipxe.efi -l "$work/out/big" --option "blksize 8192" \
    --option "windowsize 4" $srv_ip 69 >/dev/null 2>&1 || fail "atftp blksize 8192"
  check_same ipxe.efi "$work/out/big"
  stop_server
  python3 - "$work/events.jsonl" <<'EOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
assert len(ev) >= 31, len(ev)
assert all(e["phase"] == "tftp.transfer" for e in ev)
bad = [e for e in ev if not e["ok"]]
assert not bad, bad
blk = {e["detail"]["blksize"] for e in ev if e["detail"]["file"] == "ipxe.efi"}
assert 1468 in blk, blk                                    # clamped to the veth MTU
assert any(e["detail"]["windowsize"] == 8 for e in ev)     # atftp negotiated windowsize
assert all(e["detail"]["peer"].startswith("198.18.5.2:") for e in ev)
assert all(e["mac"] == "00:00:00:00:00:00" for e in ev)  # harness has no MAC resolver
print("events ok:", len(ev))
EOF
  [ "$(stat_of transfers_failed)" = 0 ] || fail "transfers failed: $(cat "$work/stats.json")"
  [ "$(stat_of cache_hits)" -gt 0 ] || fail "cache never hit"
  echo "clients: ok ($(stat_of transfers_ok) transfers)"
}

# --- (d) 40 MB at blksize 512: block numbers wrap past 65535 -------------------------------------
case_rollover() {
  head -c $((40 * 1024 * 1024)) /dev/urandom >"$root/big40.bin"
  head -c $((32 * 1024 * 1024)) /dev/urandom >"$root/big32.bin"
  # Cache only small files, so the big ones go through pread.
  start_server --cache-max-file 4194304
  local t0 t1
  t0=$(now_ms)
  in_c curl -sS -o "$work/out/big40-curl" "tftp://$srv_ip/big40.bin" || fail "curl 40 MB"
  t1=$(now_ms); echo "40 MB, curl, blksize 512 lockstep (81921 blocks): $((t1 - t0)) ms"
  check_same big40.bin "$work/out/big40-curl"
  t0=$(now_ms)
  in_c atftp -g -r big40.bin -l "$work/out/big40-atftp" --option "blksize 512" \
    --option "windowsize 8" $srv_ip 69 >/dev/null 2>&1 || fail "atftp 40 MB"
  t1=$(now_ms); echo "40 MB, atftp, blksize 512 windowsize 8: $((t1 - t0)) ms"
  check_same big40.bin "$work/out/big40-atftp"
  # Timing: 32 MB, blksize 1432, lockstep vs windowsize 8 (and 16).
  local w
  for w in 1 8 16; do
    rm -f "$work/out/big32"
    t0=$(now_ms)
    in_c atftp -g -r big32.bin -l "$work/out/big32" --option "blksize 1432" \
      --option "windowsize $w" $srv_ip 69 >/dev/null 2>&1 || fail "atftp 32 MB w$w"
    t1=$(now_ms); echo "32 MB, atftp, blksize 1432 windowsize $w: $((t1 - t0)) ms"
    check_same big32.bin "$work/out/big32"
  done
  rm -f "$work/out/big32"
  t0=$(now_ms)
  in_c curl -sS --tftp-blksize 1432 -o "$work/out/big32" "tftp://$srv_ip/big32.bin" \
    || fail "curl 32 MB"
  t1=$(now_ms); echo "32 MB, curl, blksize 1432 lockstep: $((t1 - t0)) ms"
  check_same big32.bin "$work/out/big32"
  stop_server
  [ "$(stat_of transfers_failed)" = 0 ] || fail "failures: $(cat "$work/stats.json")"
  grep -E "sent [0-9]+ bytes" "$work/harness.log" | sed "s/.*file=/  /"
  echo "rollover: ok"
}

# --- (e) 200 concurrent transfers ----------------------------------------------------------------
case_concurrent() {
  start_server
  local i files=(ipxe.efi undionly.kpxe snponly.efi sub/small.bin)
  local t0 t1
  # One shell in the client namespace starts all 200 clients, then waits for each (ip netns
  # exec per client would cost more than the transfers).
  cat >"$work/clients.sh" <<EOF2
files=(${files[*]})
pids=()
for i in \$(seq 0 199); do
  f=\${files[\$((i % 4))]}
  if ((i % 2)); then
    curl -sS --tftp-blksize 1432 -o "$work/out/c\$i" "tftp://$srv_ip/\$f" &
  else
    atftp -g -r "\$f" -l "$work/out/c\$i" --option "blksize 1432" --option "windowsize 4" \\
      $srv_ip 69 >/dev/null 2>&1 &
  fi
  pids+=(\$!)
done
failed=0
for p in "\${pids[@]}"; do wait "\$p" || failed=\$((failed + 1)); done
echo \$failed >"$work/clients.failed"
EOF2
  t0=$(now_ms)
  in_c bash "$work/clients.sh"
  local failed
  failed=$(cat "$work/clients.failed")
  t1=$(now_ms)
  [ $failed = 0 ] || fail "$failed of 200 clients failed"
  # One sha256sum run for all 200 outputs (a process per file is slow on a busy machine).
  local -A want got
  for i in 0 1 2 3; do want[$i]=$(sha "$root/${files[$i]}"); done
  while read -r sum file; do got[$file]=$sum; done < <(cd "$work/out" && sha256sum c*)
  for i in $(seq 0 199); do
    [ "${got[c$i]:-}" = "${want[$((i % 4))]}" ] || fail "c$i (${files[$((i % 4))]}): sha256 differs"
  done
  echo "concurrent: 200 transfers in $((t1 - t0)) ms wall (client start-up included)"
  # 300 truly simultaneous transfers from one process (all RRQs first, one selector loop).
  in_c python3 "$(dirname "$0")/many_clients.py" $srv_ip undionly.kpxe 300 \
    "$(sha "$root/undionly.kpxe")" \
    || fail "simultaneous transfers"
  stop_server
  [ "$(stat_of transfers_ok)" = 500 ] || fail "stats: $(cat "$work/stats.json")"
  [ "$(stat_of active_transfers)" = 0 ] || fail "transfers left active"
  python3 - "$work/events.jsonl" <<'EOF2'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
d = sorted(e["duration_us"] / 1000 for e in ev)
print(f"per-transfer duration ms: median {d[len(d) // 2]:.0f}, p90 {d[int(len(d) * .9)]:.0f}, max {d[-1]:.0f}")
# Peak overlap: transfers in flight at once (events carry end time and duration).
marks = sorted([(e["time_us"] - e["duration_us"], 1) for e in ev] + [(e["time_us"], -1) for e in ev])
peak = cur = 0
for _, step in marks:
    cur += step
    peak = max(peak, cur)
print(f"peak transfers in flight: {peak}")
assert peak >= 250, peak
EOF2
  echo "concurrent: ok (cache hits $(stat_of cache_hits))"
}

# --- (f) root escapes ----------------------------------------------------------------------------
case_security() {
  start_server
  local name i=0
  for name in "../outside-secret" "/etc/passwd" "escape-link" "sub/../../outside-secret"; do
    i=$((i + 1))
    if in_c atftp -g -r "$name" -l "$work/out/esc$i" $srv_ip 69 >"$work/esc$i.log" 2>&1; then
      fail "atftp got $name"
    fi
    grep -qi "access violation" "$work/esc$i.log" || fail "no TFTP access violation for $name: $(cat "$work/esc$i.log")"
    [ ! -s "$work/out/esc$i" ] || fail "bytes served for $name"
  done
  # tftp-hpa and curl too (curl --path-as-is keeps the "..").
  (cd "$work/out" && in_c tftp -m binary $srv_ip -c get ../outside-secret "$work/out/hpa") \
    >"$work/hpa.log" 2>&1 || true
  grep -qi "access violation" "$work/hpa.log" || fail "tftp-hpa: $(cat "$work/hpa.log")"
  [ ! -s "$work/out/hpa" ] || fail "tftp-hpa received bytes"
  if in_c curl -sS --path-as-is -o "$work/out/curl-esc" "tftp://$srv_ip/../outside-secret" \
    2>"$work/curl.log"; then fail "curl got ../outside-secret"; fi
  [ ! -s "$work/out/curl-esc" ] || fail "curl received bytes"
  # A WRQ is refused too (read-only).
  echo data >"$work/upload"
  if in_c atftp -p -l "$work/upload" -r upload $srv_ip 69 >/dev/null 2>&1; then
    fail "WRQ accepted"
  fi
  [ ! -e "$root/upload" ] || fail "WRQ wrote a file"
  # Missing file: ERROR 1.
  in_c atftp -g -r nope.bin -l "$work/out/nope" $srv_ip 69 >"$work/nope.log" 2>&1 || true
  grep -qi "not found" "$work/nope.log" || fail "missing file: $(cat "$work/nope.log")"
  stop_server
  [ "$(stat_of access_violations)" = 6 ] || fail "stats: $(cat "$work/stats.json")"
  [ "$(stat_of write_refused)" = 1 ] || fail "stats: $(cat "$work/stats.json")"
  [ "$(stat_of bytes_sent)" = 0 ] || fail "bytes were sent"
  grep -q "refused" "$work/harness.log" || fail "refusals not logged"
  python3 - "$work/events.jsonl" <<'EOF'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
assert len(ev) == 8, ev
assert all(not e["ok"] and e["bytes"] == 0 and e["detail"]["outcome"] == "refused" for e in ev)
EOF
  echo "security: ok"
}

# --- (g) 10 % packet loss each way -----------------------------------------------------------------
case_loss() {
  command -v iptables >/dev/null || { echo "SKIP: iptables not installed (tc netem is not in this kernel)"; exit 77; }
  start_server --timeout-ms 200 --retries 20
  # Drop 10 % of the server's DATA/OACK (not from port 69) and 10 % of the clients' ACKs to the
  # transfer ports (not to port 69). tc netem would be the usual tool; the iptables statistic
  # match does the same here and works where sch_netem is not built.
  in_s iptables -A OUTPUT -o s -p udp ! --sport 69 -m statistic --mode random \
    --probability 0.1 -j DROP
  # The ACK of the OACK (opcode 4, block 0) is spared: atftp aborts on a second OACK ("tftp:
  # unexpected OACK", tftp_file.c: more than one OACK is only expected in multicast mode), so a
  # lost ACK 0 failed the client in ~1 run of 10 although the server retransmitted correctly.
  # A lost OACK itself is still retransmitted and tested. u32 matches the first 4 bytes of the
  # UDP payload (IP header length from the first byte, + 8 for the UDP header).
  if ! in_s iptables -A INPUT -i s -p udp ! --dport 69 -m u32 ! --u32 "0>>22&0x3C@8=0x00040000" \
    -m statistic --mode random --probability 0.1 -j DROP 2>/dev/null; then
    echo "note: iptables u32 match unavailable; a lost ACK 0 may abort atftp"
    in_s iptables -A INPUT -i s -p udp ! --dport 69 -m statistic --mode random \
      --probability 0.1 -j DROP
  fi
  local t0 t1
  t0=$(now_ms)
  in_c atftp --tftp-timeout 1 -g -r ipxe.efi -l "$work/out/l1" --option "blksize 1432" \
    --option "windowsize 8" $srv_ip 69 >"$work/atftp-loss.log" 2>&1 || fail "atftp windowsize under loss: $(tail -5 "$work/atftp-loss.log")"
  check_same ipxe.efi "$work/out/l1"
  # curl asks for "timeout 6" (RFC 2349), which the server honours: 6 s per lost packet. Without
  # options the server's own 200 ms timer drives the recovery.
  in_c curl -sS --tftp-no-options -o "$work/out/l2" "tftp://$srv_ip/undionly.kpxe" \
    || fail "curl under loss"
  check_same undionly.kpxe "$work/out/l2"
  (cd "$work/out" && in_c tftp -m binary $srv_ip -c get sub/small.bin "$work/out/l3") \
    >/dev/null || fail "tftp-hpa under loss"
  check_same sub/small.bin "$work/out/l3"
  t1=$(now_ms)
  echo "3 transfers under 10% loss each way: $((t1 - t0)) ms"
  stop_server
  [ "$(stat_of retransmits)" -gt 0 ] || fail "no retransmissions recorded under loss"
  grep -E "sent [0-9]+ bytes" "$work/harness.log" | sed "s/.*file=/  /"
  echo "loss: ok (retransmits $(stat_of retransmits), dropped by iptables: $(in_s iptables -L -v -n | awk '/DROP/ {s += $1} END {print s}'))"
}

# --- (h) malformed datagrams ---------------------------------------------------------------------
case_malformed() {
  start_server
  in_c python3 - $srv_ip <<'EOF'
import socket, sys, os
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for p in [b"", b"\x00", b"\xff\xff", b"\x00\x01", b"\x00\x01file", b"\x00\x01f\x00bogus\x00",
          b"\x00\x01f\x00octet\x00blksize\x00", b"\x00\x03\x00\x01data", b"\x00\x05",
          b"\x00\x06blksize\x00", os.urandom(1400), b"\x00\x01" + b"A" * 60000 + b"\x00octet\x00"]:
    s.sendto(p, (sys.argv[1], 69))
EOF
  sleep 0.3
  kill -0 "$harness_pid" || fail "server died"
  in_c curl -sS -o "$work/out/after" "tftp://$srv_ip/ipxe.efi" || fail "curl after garbage"
  check_same ipxe.efi "$work/out/after"
  stop_server
  [ "$(stat_of malformed)" -ge 9 ] || fail "malformed count: $(cat "$work/stats.json")"
  [ "$(stat_of transfers_ok)" = 1 ] || fail "stats: $(cat "$work/stats.json")"
  echo "malformed: ok ($(stat_of malformed) dropped)"
}

setup_net
make_files
if [ "$case_name" = all ]; then
  for c in clients rollover concurrent security loss malformed; do "case_$c"; done
else
  "case_$case_name"
fi
echo "PASS: tftp $case_name"
