#!/usr/bin/env bash
# Registry pull-through cache against real parts, all on 127.0.0.1:
#   upstream: Debian's docker-registry (distribution 2.8) with its own config and temp storage,
#             optionally behind upstream_front.py (throttle, token auth, CDN redirects);
#   client:   skopeo (and curl for header-level checks);
#   proxy:    Debian's tinyproxy for the upstream side;
#   images:   built here (busybox rootfs layer, plus a 24 MiB random layer) as OCI layouts and
#             pushed with skopeo.
# Usage: registry_test.sh HARNESS SRCDIR
set -euo pipefail
harness=$1 src=$2
work=$(mktemp -d /tmp/pd-registry-it-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$work"/*.log; do echo "--- $f"; tail -n 30 "$f"; done; exit 1; }
ok() { echo "ok: $*"; }
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_http() {  # wait_http URL
  for _ in $(seq 1 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
  fail "no answer from $1"
}
wait_file() { for _ in $(seq 1 100); do [ -s "$1" ] && return 0; sleep 0.1; done; fail "no $1"; }
skopeo_() { skopeo --insecure-policy "$@"; }

# --- upstream registry -------------------------------------------------------------------------
UPORT=$(free_port)
cat > "$work/registry.yml" <<YML
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $work/registry-data
http:
  addr: 127.0.0.1:$UPORT
YML
start_registry() {
  docker-registry serve "$work/registry.yml" >> "$work/registry.log" 2>&1 &
  REG_PID=$!
  pids+=("$REG_PID")
  wait_http "http://127.0.0.1:$UPORT/v2/"
}
start_registry

bash "$src/make_oci_image.sh" "$work/img1" v1 0
bash "$src/make_oci_image.sh" "$work/img2" big 24
skopeo_ copy -q --dest-tls-verify=false "oci:$work/img1:v1" "docker://127.0.0.1:$UPORT/test/busybox:v1"
skopeo_ copy -q --dest-tls-verify=false "oci:$work/img2:big" "docker://127.0.0.1:$UPORT/test/big:big"
manifest1=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$work/img1/index.json")
layer1=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]+"/blobs/sha256/"+sys.argv[2][7:])); print(m["layers"][0]["digest"])' "$work/img1" "$manifest1")
config1=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]+"/blobs/sha256/"+sys.argv[2][7:])); print(m["config"]["digest"])' "$work/img1" "$manifest1")
manifest2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$work/img2/index.json")
big=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]+"/blobs/sha256/"+sys.argv[2][7:])); print(m["layers"][1]["digest"])' "$work/img2" "$manifest2")
ok "upstream docker-registry on :$UPORT holds test/busybox:v1 ($manifest1) and test/big:big"

# --- paddock harness ---------------------------------------------------------------------------
start_paddock() {  # start_paddock NAME ROOT ARGS... -> sets PPORT, PAD_PID
  local name=$1 root=$2
  shift 2
  rm -f "$work/$name.port"
  "$harness" serve --root "$root" --port-file "$work/$name.port" "$@" >> "$work/$name.log" 2>&1 &
  PAD_PID=$!
  pids+=("$PAD_PID")
  wait_file "$work/$name.port"
  PPORT=$(cat "$work/$name.port")
}
stop_paddock() { kill "$PAD_PID"; wait "$PAD_PID" 2>/dev/null || true; }
count_upstream_gets() {  # count_upstream_gets LOGFILE FROM_LINE PATTERN
  tail -n +"$2" "$1" | grep -c "\"GET $3 HTTP" || true
}

start_paddock p1 "$work/cache1" --upstream "up.test=http://127.0.0.1:$UPORT" --default-ns up.test
P="127.0.0.1:$PPORT"

# /v2/ base
hdr=$(curl -s -D - -o /dev/null "http://$P/v2/")
grep -q "^HTTP/1.1 200" <<<"$hdr" || fail "/v2/ not 200"
grep -qi "^Docker-Distribution-API-Version: registry/2.0" <<<"$hdr" || fail "/v2/ API header"
ok "GET /v2/ 200 with Docker-Distribution-API-Version"

# Pull by tag through the cache; layers byte-identical.
skopeo_ copy -q --src-tls-verify=false "docker://$P/test/busybox:v1" "oci:$work/out1:v1"
cmp "$work/out1/blobs/sha256/${layer1#sha256:}" "$work/img1/blobs/sha256/${layer1#sha256:}" ||
  fail "layer differs"
cmp "$work/out1/blobs/sha256/${manifest1#sha256:}" "$work/img1/blobs/sha256/${manifest1#sha256:}" ||
  fail "manifest differs"
ok "skopeo pull by tag through the cache: manifest and layer byte-identical"

# Pull by digest.
skopeo_ copy -q --src-tls-verify=false "docker://$P/test/busybox@$manifest1" "oci:$work/out2:d"
cmp "$work/out2/blobs/sha256/${layer1#sha256:}" "$work/img1/blobs/sha256/${layer1#sha256:}" ||
  fail "layer differs (digest pull)"
ok "skopeo pull by digest"

# Header-level checks with curl.
msize=$(stat -c %s "$work/img1/blobs/sha256/${manifest1#sha256:}")
hdr=$(curl -s -I -H "Accept: application/vnd.oci.image.manifest.v1+json" "http://$P/v2/test/busybox/manifests/v1")
grep -qi "^Docker-Content-Digest: $manifest1" <<<"$hdr" || fail "HEAD manifest digest: $hdr"
grep -qi "^Content-Length: $msize" <<<"$hdr" || fail "HEAD manifest length: $hdr"
grep -qi "^Content-Type: application/vnd.oci.image.manifest.v1+json" <<<"$hdr" || fail "type: $hdr"
curl -s -r 100-1123 -o "$work/range.bin" -D "$work/range.hdr" "http://$P/v2/test/busybox/blobs/$layer1"
grep -q "^HTTP/1.1 206" "$work/range.hdr" || fail "range not 206"
grep -qi "^Content-Range: bytes 100-1123/" "$work/range.hdr" || fail "Content-Range"
cmp "$work/range.bin" <(tail -c +101 "$work/img1/blobs/sha256/${layer1#sha256:}" | head -c 1024) ||
  fail "range bytes differ"
code=$(curl -s -o "$work/err.json" -w '%{http_code}' "http://$P/v2/test/busybox/blobs/sha256:$(printf '0%.0s' $(seq 64))")
[ "$code" = 404 ] && grep -q '"BLOB_UNKNOWN"' "$work/err.json" || fail "unknown blob: $code $(cat "$work/err.json")"
code=$(curl -s -o "$work/err.json" -w '%{http_code}' "http://$P/v2/test/busybox/blobs/sha256:../../x")
[ "$code" = 400 ] && grep -q '"DIGEST_INVALID"' "$work/err.json" || fail "bad digest: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$P/v2/test/busybox/manifests/v1?ns=127.0.0.1:$UPORT")
[ "$code" = 503 ] || fail "unlisted ns 127.0.0.1:$UPORT should go to https and fail, got $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$P/v2/test/busybox/manifests/v1?ns=up.test")
[ "$code" = 200 ] || fail "ns=up.test: $code"
tags=$(curl -s "http://$P/v2/test/busybox/tags/list")
[ "$tags" = '{"name":"test/busybox","tags":["v1"]}' ] || fail "tags/list: $tags"
ok "HEAD manifest digest/length/type, blob Range 206, JSON errors, ?ns= routing, tags/list"

# containerd as the client, configured by the hosts.toml paddock renders (its own daemon with
# private root/state/socket; the CRI plugin is off). The cache's default namespace is not
# up.test here, so success means containerd's ?ns=up.test picked the upstream.
if command -v containerd > /dev/null && command -v ctr > /dev/null; then
  stop_paddock
  start_paddock p1 "$work/cache1b" --upstream "up.test=http://127.0.0.1:$UPORT"
  P="127.0.0.1:$PPORT"
  "$harness" hosts --mirror "http://$P" --dir "$work/certs.d" up.test
  grep -q "^\[host.\"http://$P\"\]" "$work/certs.d/up.test/hosts.toml" || fail "hosts.toml"
  cat > "$work/containerd.toml" <<TOML
version = 2
root = "$work/ctd/root"
state = "$work/ctd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$work/ctd/sock"
[ttrpc]
  address = "$work/ctd/ttrpc.sock"
[debug]
  address = ""
[metrics]
  address = ""
TOML
  containerd --config "$work/containerd.toml" > "$work/containerd.log" 2>&1 &
  CTD_PID=$!
  pids+=("$CTD_PID")
  for _ in $(seq 1 100); do [ -S "$work/ctd/sock" ] && break; sleep 0.1; done
  timeout 120 ctr --address "$work/ctd/sock" content fetch --hosts-dir "$work/certs.d" \
    up.test/test/busybox:v1 > "$work/ctr.out" 2>&1 || fail "ctr content fetch: $(tail -3 "$work/ctr.out")"
  ctr --address "$work/ctd/sock" content get "$layer1" | cmp - "$work/img1/blobs/sha256/${layer1#sha256:}" ||
    fail "containerd's layer differs"
  { kill "$CTD_PID"; wait "$CTD_PID"; } 2>/dev/null || true
  ok "ctr content fetch through hosts.toml (?ns=up.test): layer byte-identical"
fi
stop_paddock

# --- ten concurrent cold pulls => one upstream fetch per blob ---------------------------------
start_paddock p2 "$work/cache2" --upstream "up.test=http://127.0.0.1:$UPORT" --default-ns up.test
P="127.0.0.1:$PPORT"
mark=$(($(wc -l < "$work/registry.log") + 1))
cpids=()
for i in $(seq 1 10); do
  skopeo_ copy -q --src-tls-verify=false "docker://$P/test/big:big" "oci:$work/c$i:big" \
    > "$work/c$i.out" 2>&1 &
  cpids+=($!)
done
for p in "${cpids[@]}"; do wait "$p" || fail "a concurrent pull failed"; done
for i in $(seq 1 10); do
  cmp -s "$work/c$i/blobs/sha256/${big#sha256:}" "$work/img2/blobs/sha256/${big#sha256:}" ||
    fail "client $i big layer differs"
done
sleep 0.5
n_big=$(count_upstream_gets "$work/registry.log" "$mark" "/v2/test/big/blobs/$big")
n_all=$(count_upstream_gets "$work/registry.log" "$mark" "/v2/test/big/blobs/sha256:[0-9a-f]*")
[ "$n_big" = 1 ] || fail "big layer fetched $n_big times from upstream"
[ "$n_all" = 3 ] || fail "expected 3 blob GETs upstream (config + 2 layers), saw $n_all"
n_man=$(count_upstream_gets "$work/registry.log" "$mark" "/v2/test/big/manifests/[^ ]*")
[ "$n_man" = 1 ] || fail "expected one upstream manifest GET, saw $n_man"
ok "10 concurrent cold pulls: $n_all upstream blob GETs for 3 blobs (big layer: $n_big), $n_man manifest GET"
stop_paddock
grep "^stats" "$work/p2.log" | sed 's/^/   /'

# --- upstream killed mid-blob ------------------------------------------------------------------
FPORT=$(free_port)
kill_front() { { kill -9 "$FRONT_PID"; wait "$FRONT_PID"; } 2>/dev/null || true; }
start_front() {
  python3 "$src/upstream_front.py" --backend "$UPORT" --port "$FPORT" \
    --port-file "$work/front.port" "$@" >> "$work/front.log" 2>&1 &
  FRONT_PID=$!
  pids+=("$FRONT_PID")
  wait_http "http://127.0.0.1:$FPORT/v2/"
}
rm -f "$work/front.port"
start_front --rate $((4 * 1024 * 1024))
start_paddock p3 "$work/cache3" --upstream "up.test=http://127.0.0.1:$FPORT" --default-ns up.test
P="127.0.0.1:$PPORT"
curl -s -o "$work/killed.bin" "http://$P/v2/test/big/blobs/$big" &
cpid=$!
for _ in $(seq 1 100); do
  [ "$(stat -c %s "$work/killed.bin" 2>/dev/null || echo 0)" -gt 4000000 ] && break
  sleep 0.1
done
got=$(stat -c %s "$work/killed.bin")
kill_front
rc=0
wait "$cpid" || rc=$?
[ "$rc" != 0 ] || fail "client saw success after the upstream died (got $(stat -c %s "$work/killed.bin") bytes)"
sleep 0.5
[ ! -e "$work/cache3/blobs/sha256/${big:7:2}/${big#sha256:}" ] || fail "partial blob published"
[ -z "$(ls -A "$work/cache3/tmp")" ] || fail "temp file left behind: $(ls "$work/cache3/tmp")"
ok "upstream killed after ${got} bytes: curl exit $rc, nothing published, no temp left"
start_front
curl -s -f -o "$work/retry.bin" "http://$P/v2/test/big/blobs/$big" || fail "retry failed"
cmp "$work/retry.bin" "$work/img2/blobs/sha256/${big#sha256:}" || fail "retry bytes differ"
[ -e "$work/cache3/blobs/sha256/${big:7:2}/${big#sha256:}" ] || fail "retry not cached"
ok "next pull refetched and succeeded"

# --- cached tag served with the upstream gone -------------------------------------------------
skopeo_ copy -q --src-tls-verify=false "docker://$P/test/busybox:v1" "oci:$work/s1:v1"
stop_paddock
kill_front
start_paddock p3 "$work/cache3" --upstream "up.test=http://127.0.0.1:$FPORT" --default-ns up.test \
  --tag-ttl 0
P="127.0.0.1:$PPORT"
skopeo_ copy -q --src-tls-verify=false "docker://$P/test/busybox:v1" "oci:$work/s2:v1" ||
  fail "stale tag not served"
cmp "$work/s2/blobs/sha256/${layer1#sha256:}" "$work/img1/blobs/sha256/${layer1#sha256:}"
ok "upstream down, cache restarted: tag served from cache"
stop_paddock
grep -q "stale=[1-9]" "$work/p3.log" || fail "stale not counted"

# --- token-auth upstream with CDN redirects ---------------------------------------------------
start_front --token "puller:s3cret" --redirect-blobs
start_paddock p4 "$work/cache4" --upstream "up.test=http://127.0.0.1:$FPORT,puller,s3cret" \
  --default-ns up.test
P="127.0.0.1:$PPORT"
mark=$(($(wc -l < "$work/front.log") + 1))
skopeo_ copy -q --src-tls-verify=false "docker://$P/test/busybox:v1" "oci:$work/t1:v1" ||
  fail "pull through token upstream"
cmp "$work/t1/blobs/sha256/${layer1#sha256:}" "$work/img1/blobs/sha256/${layer1#sha256:}"
ntok=$(tail -n +"$mark" "$work/front.log" | grep -c "^TOKEN" || true)
ncdn=$(tail -n +"$mark" "$work/front.log" | grep -c " cdn$" || true)
! tail -n +"$mark" "$work/front.log" | grep -q "LEAKED-AUTH" || fail "Authorization sent to the CDN"
[ "$ntok" = 1 ] || fail "expected one token grant (cached per scope), saw $ntok"
[ "$ncdn" -ge 2 ] || fail "blobs did not go through the redirect ($ncdn)"
ok "token auth: $ntok token grant, $ncdn blobs via cross-origin redirect, no Authorization leaked"
stop_paddock
kill_front

# --- the upstream side through an HTTP proxy (Debian's tinyproxy) ----------------------------
TPORT=$(free_port)
cat > "$work/tinyproxy.conf" <<CONF
Port $TPORT
Listen 127.0.0.1
Timeout 60
LogFile "$work/tinyproxy.log"
LogLevel Info
MaxClients 20
Allow 127.0.0.1
CONF
tinyproxy -d -c "$work/tinyproxy.conf" >> "$work/tinyproxy.out" 2>&1 &
TP_PID=$!
pids+=("$TP_PID")
for _ in $(seq 1 100); do
  curl -s -o /dev/null -x "http://127.0.0.1:$TPORT" "http://127.0.0.1:$UPORT/v2/" && break
  sleep 0.1
done
start_paddock p6 "$work/cache6" --upstream "up.test=http://127.0.0.1:$UPORT" --default-ns up.test \
  --proxy "http://127.0.0.1:$TPORT"
P="127.0.0.1:$PPORT"
skopeo_ copy -q --src-tls-verify=false "docker://$P/test/busybox:v1" "oci:$work/x1:v1" ||
  fail "pull through the proxy"
cmp "$work/x1/blobs/sha256/${layer1#sha256:}" "$work/img1/blobs/sha256/${layer1#sha256:}"
grep -q "GET http://127.0.0.1:$UPORT/v2/test/busybox/blobs/$layer1 " "$work/tinyproxy.log" ||
  fail "the layer did not go through the proxy"
stop_paddock
# With the proxy gone a cold cache cannot reach the upstream: nothing bypasses the proxy.
kill "$TP_PID"; wait "$TP_PID" 2>/dev/null || true
start_paddock p7 "$work/cache7" --upstream "up.test=http://127.0.0.1:$UPORT" --default-ns up.test \
  --proxy "http://127.0.0.1:$TPORT"
P="127.0.0.1:$PPORT"
skopeo_ copy -q --retry-times 0 --src-tls-verify=false "docker://$P/test/busybox:v1" \
  "oci:$work/x2:v1" 2>/dev/null && fail "pulled with the proxy down: the proxy was bypassed"
stop_paddock
ok "upstream via HTTP proxy: blobs fetched through tinyproxy; proxy down -> cold pull fails"

# --- air-gapped: import a layout (dir and tar) and warm from an upstream ----------------------
"$harness" import --root "$work/cache5" --target "airgap.local/imp/busybox:v1" "$work/img1" \
  >> "$work/tools.log" 2>&1 || fail "import dir"
tar -C "$work/img2" -cf "$work/img2.tar" .
"$harness" import --root "$work/cache5" --target "airgap.local/imp/big:x" "$work/img2.tar" \
  >> "$work/tools.log" 2>&1 || fail "import tar"
"$harness" pull --root "$work/cache5" --upstream "up.test=http://127.0.0.1:$UPORT" \
  "up.test/test/busybox:v1" >> "$work/tools.log" 2>&1 || fail "warm pull"
start_paddock p5 "$work/cache5" --closed --default-ns airgap.local \
  --upstream "airgap.local=http://127.0.0.1:1" --upstream "up.test=http://127.0.0.1:1"
P="127.0.0.1:$PPORT"
skopeo_ copy -q --src-tls-verify=false "docker://$P/imp/busybox:v1" "oci:$work/a1:v1" ||
  fail "imported dir image not served"
skopeo_ copy -q --src-tls-verify=false "docker://$P/imp/big:big" "oci:$work/a2:big" ||
  fail "imported tar image not served"
cmp "$work/a2/blobs/sha256/${big#sha256:}" "$work/img2/blobs/sha256/${big#sha256:}"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$P/v2/test/busybox/manifests/v1?ns=up.test")
[ "$code" = 200 ] || fail "warmed image not served offline: $code"
ok "import (dir + tar) and warm pull; served with every upstream unreachable"
stop_paddock
echo "PASS"
