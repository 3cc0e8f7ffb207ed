#!/usr/bin/env bash
# Black-box test of `paddock`: config errors with file:line: key.path, serving DHCP + HTTP to
# real clients (busybox udhcpc, curl) in a network namespace, leases surviving kill -9, and
# SIGHUP reload (a good config is applied, a bad one is rejected and the old one keeps serving).
set -euo pipefail
PADDOCK=$1
[ "$(id -u)" = 0 ] || { echo "needs root (netns)"; exit 77; }

NS=pd-daemon-$$
WORK=$(mktemp -d /tmp/pd-daemon.XXXXXX)
PID=""
cleanup() {
  [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- paddock log"; tail -n 40 "$WORK/log" 2>/dev/null || true; exit 1; }
pass() { echo "ok: $*"; }

# --- 1. a bad config is rejected with every error, as file:line:col: key.path: message ---
cat >"$WORK/bad.yaml" <<'YAML'
server:
  address: 198.18.300.1
dhcp:
  mode: full
  lease_time: 1 fortnight
profiles:
  p: {kernel: vmlinuz, initrdz: [x]}
groups:
  - {name: g, profile: nope}
YAML
if "$PADDOCK" check --config "$WORK/bad.yaml" >"$WORK/check.out" 2>&1; then fail "bad config accepted"; fi
cat "$WORK/check.out"
grep -q "bad.yaml:2:[0-9]*: server.address: " "$WORK/check.out" || fail "server.address error"
grep -q "bad.yaml:5:[0-9]*: dhcp.lease_time: " "$WORK/check.out" || fail "lease_time error"
grep -q "bad.yaml:7:[0-9]*: profiles.p.initrdz: " "$WORK/check.out" || fail "unknown key error"
grep -q "groups\[0\].profile" "$WORK/check.out" || fail "unknown profile error"
if "$PADDOCK" serve --config "$WORK/bad.yaml" >/dev/null 2>&1; then fail "serve accepted bad config"; fi
pass "bad config rejected with file:line and key paths"

# --- 2. serve in a namespace: a veth pair, server on one end, clients on the other ---
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add srv0 type veth peer name cli0
ip -n "$NS" addr add 198.18.40.1/24 dev srv0
ip -n "$NS" link set srv0 up
ip -n "$NS" link set cli0 up
mkdir -p "$WORK/assets"
head -c 1000000 /dev/urandom >"$WORK/assets/vmlinuz"
echo initrd >"$WORK/assets/initrd.img"
write_config() {  # write_config ARGS
  cat >"$WORK/paddock.yaml" <<YAML
server:
  address: 198.18.40.1
  interface: srv0
  data_dir: $WORK/data
dhcp:
  mode: full
  range: {start: 198.18.40.100, end: 198.18.40.120}
  netmask: 255.255.255.0
  router_advertisement: false
tftp:
  enabled: false
http:
  port: 8080
  assets: $WORK/assets
profiles:
  node:
    kernel: vmlinuz
    initrds: [initrd.img]
    args: $1
groups:
  - name: default
    profile: node
YAML
}
write_config "console=ttyS0 first"
cp "$WORK/paddock.yaml" "$WORK/good.yaml"
# An air-gapped room loads images offline, before paddock serves them (step 6).
HERE=$(cd "$(dirname "$0")" && pwd)
bash "$HERE/../registry/make_oci_image.sh" "$WORK/img" v1
"$PADDOCK" registry import --config "$WORK/paddock.yaml" "$WORK/img" --as docker.io/test/busybox:v1 ||
  fail "registry import"
start() {
  ip netns exec "$NS" "$PADDOCK" serve --config "$WORK/paddock.yaml" >>"$WORK/log" 2>&1 &
  PID=$!
  for _ in $(seq 50); do
    ip netns exec "$NS" curl -sf http://198.18.40.1:8080/healthz >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  fail "paddock did not come up"
}
start
nsc() { ip netns exec "$NS" "$@"; }
mac=52-54-00-40-00-01
nsc curl -sf "http://198.18.40.1:8080/ipxe?mac=$mac&arch=x86_64&platform=pcbios" >"$WORK/script"
grep -q "first" "$WORK/script" || fail "script lacks profile args"
grep -q "paddock.token=[0-9a-f]\{32\}" "$WORK/script" || fail "script lacks a boot token"
grep -q "initrd=initrd.img" "$WORK/script" || fail "script lacks initrd= for UEFI"
sum_remote=$(nsc curl -sf http://198.18.40.1:8080/assets/vmlinuz | sha256sum)
[ "$sum_remote" = "$(sha256sum <"$WORK/assets/vmlinuz")" ] || fail "asset differs"
code=$(nsc curl -s -o /dev/null -w '%{http_code}' --path-as-is http://198.18.40.1:8080/assets/../paddock.yaml)
[ "$code" = 403 ] || [ "$code" = 404 ] || fail "asset escape answered $code"
pass "HTTP: script, asset, escape refused"

# A real DHCP client on the other end of the veth.
printf '#!/bin/sh\n[ "$1" = bound ] && echo "$ip" >%s\nexit 0\n' "$WORK/leased" >"$WORK/udhcpc.sh"
chmod +x "$WORK/udhcpc.sh"
lease() {
  rm -f "$WORK/leased"
  nsc timeout 20 busybox udhcpc -f -q -n -t 5 -T 1 -i cli0 -s "$WORK/udhcpc.sh" >/dev/null 2>&1 || true
  [ -s "$WORK/leased" ] || fail "udhcpc got no lease"
  cat "$WORK/leased"
}
ip1=$(lease)
case "$ip1" in 198.18.40.1[0-2][0-9]) ;; *) fail "lease $ip1 outside the range" ;; esac
pass "DHCP: udhcpc leased $ip1"

# --- 3. kill -9, restart: the same client gets the same address back (lease was durable) ---
kill -9 "$PID"; wait "$PID" 2>/dev/null || true
start
ip2=$(lease)
[ "$ip1" = "$ip2" ] || fail "address changed across kill -9: $ip1 -> $ip2"
sqlite3 "$WORK/data/paddock.db" "select count(*) from leases where state=1" | grep -qx '[1-9][0-9]*' ||
  fail "no bound lease in the store"
pass "lease survived kill -9 ($ip2)"

# --- 4. the timeline holds the steps, readable while the daemon runs ---
sleep 0.5
"$PADDOCK" timeline --data-dir "$WORK/data" "${mac//-/:}" --json >"$WORK/tl.json"
python3 - "$WORK/tl.json" <<'PY'
import json, sys
ev = json.load(open(sys.argv[1]))
phases = [e["phase"] for e in ev]
assert "boot.script" in phases, phases
reqs = [e for e in ev if e["phase"] == "http.request"]
assert any(e["detail"]["path"] == "/ipxe" and e["detail"]["status"] == 200 for e in reqs), reqs
PY
"$PADDOCK" machines --data-dir "$WORK/data" | grep -q "${mac//-/:}" || fail "machine not listed"
pass "timeline and machines readable"

# --- 5. SIGHUP: a good config is applied; a bad one is rejected and the old one serves on ---
write_config "console=ttyS0 second"
kill -HUP "$PID"; sleep 0.5
nsc curl -sf "http://198.18.40.1:8080/ipxe?mac=$mac" | grep -q second || fail "reload not applied"
cp "$WORK/bad.yaml" "$WORK/paddock.yaml"
kill -HUP "$PID"; sleep 0.5
kill -0 "$PID" || fail "paddock died on a bad reload"
nsc curl -sf "http://198.18.40.1:8080/ipxe?mac=$mac" | grep -q second || fail "bad reload changed config"
grep -q "reload rejected" "$WORK/log" || fail "bad reload not logged"
grep -q "server.address" "$WORK/log" || fail "bad reload errors not listed"
pass "SIGHUP reload: good applied, bad rejected"

# --- 6. the image cache: an imported OCI layout is pulled from the running daemon by skopeo
#        with no upstream reachable (air-gapped room), byte-identical ---
nsc skopeo --insecure-policy copy -q --src-tls-verify=false \
  docker://198.18.40.1:8080/test/busybox:v1 "oci:$WORK/out:v1" || fail "skopeo pull via paddock"
for blob in "$WORK"/img/blobs/sha256/*; do
  cmp -s "$blob" "$WORK/out/blobs/sha256/$(basename "$blob")" || fail "blob $(basename "$blob") differs"
done
"$PADDOCK" registry hosts --config "$WORK/good.yaml" --dir "$WORK/certs.d" docker.io >/dev/null
grep -q 'host."http://198.18.40.1:8080"' "$WORK/certs.d/docker.io/hosts.toml" ||
  fail "hosts.toml does not point at paddock"
pass "registry: imported image pulled through paddock by skopeo; hosts.toml rendered"

# --- 7. SIGTERM stops cleanly ---
kill -TERM "$PID"
for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$PID" 2>/dev/null && fail "paddock did not stop on SIGTERM"
wait "$PID" && rc=0 || rc=$?
PID=""
[ "$rc" = 0 ] || fail "exit code $rc after SIGTERM"
pass "SIGTERM: clean exit"
echo "daemon integration: all passed"
