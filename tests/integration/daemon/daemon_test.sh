#!/usr/bin/env bash
# Black-box test of `paddock`: config errors with file:line: key.path, serving DHCP + HTTP to
# real clients (busybox udhcpc, curl) in a network namespace, leases surviving kill -9, and
# SIGHUP reload (a good config is applied, a bad one is rejected and the old one keeps serving),
# the image cache (air-gapped import; a pull through a local upstream from a leased client, seen
# in /metrics and in that machine's timeline).
set -euo pipefail
PADDOCK=$1
[ "$(id -u)" = 0 ] || { echo "needs root (netns)"; exit 77; }

NS=pd-daemon-$$
NSC=pd-daemon-c-$$  # the client machine: its own namespace, so its requests come from its lease
WORK=$(mktemp -d /tmp/pd-daemon.XXXXXX)
PID=""
REG_PID=""
cleanup() {
  [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null || true
  [ -n "$REG_PID" ] && kill -9 "$REG_PID" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  ip netns del "$NSC" 2>/dev/null || true
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

# --- 2. serve in a namespace: a veth pair, server on one end, a client namespace on the other ---
ip netns add "$NS"
ip netns add "$NSC"
ip -n "$NS" link set lo up
ip -n "$NSC" link set lo up
ip -n "$NS" link add srv0 type veth peer name cli0 netns "$NSC"
ip -n "$NS" addr add 198.18.40.1/24 dev srv0
ip -n "$NS" link set srv0 up
CLIENT_MAC=52:54:00:40:00:02
ip -n "$NSC" link set cli0 address "$CLIENT_MAC"
ip -n "$NSC" link set cli0 up
UPORT=5000  # the upstream registry of step 6b, on the server namespace's loopback
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
registry:
  upstreams:
    - {name: docker.io, url: "http://127.0.0.1:$UPORT"}
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
ncl() { ip netns exec "$NSC" "$@"; }
mac=52-54-00-40-00-01
nsc curl -sf "http://198.18.40.1:8080/ipxe?mac=$mac&arch=x86_64&platform=pcbios" >"$WORK/script"
grep -q "first" "$WORK/script" || fail "script lacks profile args"
grep -q "paddock.token=[0-9a-f]\{86\}" "$WORK/script" || fail "script lacks a boot token"
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
  ncl timeout 20 busybox udhcpc -f -q -n -t 5 -T 1 -i cli0 -s "$WORK/udhcpc.sh" >/dev/null 2>&1 || true
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
# One event per script: the render's facts and the HTTP exchange's (no separate http.request).
scripts = [e for e in ev if e["phase"] == "boot.script"]
assert scripts, phases
d = scripts[0]["detail"]
assert d["path"] == "/ipxe" and d["status"] == 200 and d["group"] and d["complete"], d
assert scripts[0]["bytes"] > 0 and scripts[0]["ok"], scripts[0]
assert not any(e["phase"] == "http.request" and e["detail"]["path"] == "/ipxe" for e in ev), ev
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

# --- 6b. a cold image from an upstream (Debian's docker-registry on the server namespace's
#         loopback), pulled twice by skopeo from the leased client: /metrics shows the first
#         pull's misses and upstream bytes, the second's hits and bytes from the cache, and the
#         client's timeline has registry.manifest / registry.blob events saying the same ---
cat >"$WORK/upstream.yml" <<YML
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $WORK/upstream-data}}
http: {addr: 127.0.0.1:$UPORT}
YML
ip netns exec "$NS" docker-registry serve "$WORK/upstream.yml" >>"$WORK/upstream.log" 2>&1 &
REG_PID=$!
for _ in $(seq 100); do nsc curl -sf -o /dev/null "http://127.0.0.1:$UPORT/v2/" && break; sleep 0.1; done
# Tag "fresh": its layers differ from the imported image's (content-addressed: shared layers would hit).
bash "$HERE/../registry/make_oci_image.sh" "$WORK/fresh" fresh 1
nsc skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$WORK/fresh:fresh" \
  "docker://127.0.0.1:$UPORT/test/fresh:v1" || fail "push to the upstream"
ip -n "$NSC" addr add "$ip2/24" dev cli0
metric() {  # metric NAME [LABELS]: the sample's value in /metrics (0 when absent)
  nsc curl -sf http://198.18.40.1:8080/metrics >"$WORK/metrics" || fail "GET /metrics"
  python3 - "$WORK/metrics" "$1" "${2:-}" <<'PY'
import sys
text, name, labels = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3]
key = name + ("{" + labels + "}" if labels else "")
for line in text.splitlines():
    if line.startswith("#"):
        continue
    k, v = line.rsplit(" ", 1)
    if k == key:
        print(v)
        break
else:
    print(0)
PY
}
IMG='ns="docker.io",repo="test/fresh"'
grep -q '^# TYPE paddock_registry_blob_hits_total counter$' <(nsc curl -sf http://198.18.40.1:8080/metrics) ||
  fail "/metrics lacks the registry families"
fetches0=$(metric paddock_registry_upstream_fetches_total)
ncl skopeo --insecure-policy copy -q --src-tls-verify=false \
  docker://198.18.40.1:8080/test/fresh:v1 "oci:$WORK/fresh-out1:v1" || fail "first pull"
m_miss1=$(metric paddock_registry_manifest_misses_total "$IMG")
b_miss1=$(metric paddock_registry_blob_misses_total "$IMG")
b_hit1=$(metric paddock_registry_blob_hits_total "$IMG")
up1=$(metric paddock_registry_upstream_bytes_total "$IMG")
fetches1=$(metric paddock_registry_upstream_fetches_total)
echo "first pull: manifest misses $m_miss1, blob misses $b_miss1, hits $b_hit1, upstream bytes $up1"
[ "$m_miss1" -ge 1 ] || fail "first pull: no manifest miss"
[ "$b_miss1" -ge 2 ] || fail "first pull: $b_miss1 blob misses (config + layer expected)"
[ "$b_hit1" = 0 ] || fail "first pull: $b_hit1 blob hits on a cold cache"
[ "$up1" -gt 0 ] || fail "first pull: no bytes from the upstream"
[ $((fetches1 - fetches0)) -ge 2 ] || fail "first pull: upstream fetches $fetches0 -> $fetches1"
ncl skopeo --insecure-policy copy -q --src-tls-verify=false \
  docker://198.18.40.1:8080/test/fresh:v1 "oci:$WORK/fresh-out2:v1" || fail "second pull"
for blob in "$WORK"/fresh/blobs/sha256/*; do
  cmp -s "$blob" "$WORK/fresh-out2/blobs/sha256/$(basename "$blob")" ||
    fail "blob $(basename "$blob") differs after the second pull"
done
m_miss2=$(metric paddock_registry_manifest_misses_total "$IMG")
m_hit2=$(metric paddock_registry_manifest_hits_total "$IMG")
b_hit2=$(metric paddock_registry_blob_hits_total "$IMG")
cache2=$(metric paddock_registry_cache_bytes_served_total "$IMG")
up2=$(metric paddock_registry_upstream_bytes_total "$IMG")
fetches2=$(metric paddock_registry_upstream_fetches_total)
echo "second pull: manifest hits $m_hit2, blob hits $b_hit2, bytes from cache $cache2"
[ "$m_miss2" = "$m_miss1" ] || fail "second pull: manifest misses $m_miss1 -> $m_miss2"
[ "$m_hit2" -ge 1 ] || fail "second pull: no manifest hit"
[ "$b_hit2" -ge 2 ] || fail "second pull: $b_hit2 blob hits"
[ "$cache2" -gt 0 ] || fail "second pull: no bytes from the cache"
[ "$up2" = "$up1" ] && [ "$fetches2" = "$fetches1" ] || fail "second pull went upstream"
[ "$(metric paddock_dhcp_acks_total)" -ge 1 ] || fail "/metrics: dhcp acks (since the restart)"
[ "$(metric paddock_http_responses_total 'code="2xx"')" -gt 0 ] || fail "/metrics: http 2xx"
[ "$(metric paddock_events_total 'kind="registry"')" -ge 4 ] || fail "/metrics: registry events"
pass "registry: first pull misses ($b_miss1 blobs, $up1 bytes upstream), second hits ($b_hit2 blobs, $cache2 bytes from cache)"

cat >"$WORK/check_tl2.py" <<'PY'
import json, sys
ev = json.load(open(sys.argv[1]))
reg = [e for e in ev if e["phase"].startswith("registry.")]
assert reg, [e["phase"] for e in ev]
for e in reg:
    assert e["detail"]["repo"] == "test/fresh" and e["detail"]["ns"] == "docker.io", e
manifests = [e["detail"]["outcome"] for e in reg if e["phase"] == "registry.manifest"
             and e["detail"]["method"] == "GET"]
blobs = [(e["detail"]["outcome"], e["bytes"]) for e in reg if e["phase"] == "registry.blob"]
print("manifests", manifests, "blobs", blobs)
assert "miss" in manifests and "hit" in manifests, manifests
outcomes = [o for o, _ in blobs]
assert outcomes.count("miss") >= 2 and outcomes.count("hit") >= 2, blobs
assert outcomes.index("hit") > outcomes.index("miss"), blobs
assert all(b > 0 for _, b in blobs), blobs
assert all(e["ok"] for e in reg), reg
PY
# The recorder commits in batches: poll until the last pull's events are in the store.
for _ in $(seq 40); do
  "$PADDOCK" timeline --data-dir "$WORK/data" "$CLIENT_MAC" --json >"$WORK/tl2.json" 2>/dev/null &&
    python3 "$WORK/check_tl2.py" "$WORK/tl2.json" >"$WORK/tl2.out" 2>&1 && break
  sleep 0.25
done
cat "$WORK/tl2.out"
python3 "$WORK/check_tl2.py" "$WORK/tl2.json" >/dev/null 2>&1 || fail "registry events in the client's timeline"
pass "registry: the client's pulls are in its timeline (registry.manifest, registry.blob)"

# --- 7. SIGTERM stops cleanly ---
kill -TERM "$PID"
for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$PID" 2>/dev/null && fail "paddock did not stop on SIGTERM"
wait "$PID" && rc=0 || rc=$?
PID=""
[ "$rc" = 0 ] || fail "exit code $rc after SIGTERM"
pass "SIGTERM: clean exit"
echo "daemon integration: all passed"
