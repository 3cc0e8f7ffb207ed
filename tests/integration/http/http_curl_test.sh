#!/usr/bin/env bash
# http_curl_test.sh HARNESS: the HTTP server (http_harness, ServeFile under /assets/) against the
# real curl on 127.0.0.1: ranges, HEAD, ETag/304, a 64 MB file by sha256, 50 concurrent
# downloads, root escapes, HTTP/1.0, and a malformed request after which the server keeps
# serving. Loopback only; everything lives in a temp dir removed on exit.
set -uo pipefail
harness=$1
work=$(mktemp -d /tmp/paddock-http-it-XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

failures=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; failures=$((failures + 1)); }
check() {  # check NAME EXPECTED ACTUAL
  if [ "$2" == "$3" ]; then pass "$1"; else fail "$1: expected '$2', got '$3'"; fi
}

root=$work/root
mkdir -p "$root/sub"
head -c 1000 /dev/urandom >"$root/small.bin"
head -c $((2 * 1024 * 1024)) /dev/urandom >"$root/kernel.bin"
head -c $((64 * 1024 * 1024)) /dev/urandom >"$root/big.bin"
echo '#!ipxe' >"$root/sub/boot.ipxe"
echo "outside the root" >"$work/secret"
ln -s "$work/secret" "$root/link-out"
ln -s ../../secret "$root/sub/rel-out"

"$harness" --root "$root" --port 0 --port-file "$work/port" 2>"$work/server.log" &
pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
port=$(cat "$work/port" 2>/dev/null)
[ -n "$port" ] || { echo "harness did not start"; cat "$work/server.log"; exit 1; }
base=http://127.0.0.1:$port
c() { curl -sS --max-time 30 "$@"; }

# --- ranges (RFC 9110 §14) ---
check "range 0-99 status" 206 "$(c -o "$work/r1" -w '%{http_code}' -r 0-99 "$base/assets/small.bin")"
check "range 0-99 bytes" "$(head -c 100 "$root/small.bin" | sha256sum)" "$(sha256sum <"$work/r1")"
check "range -100 status" 206 "$(c -o "$work/r2" -w '%{http_code}' -r -100 "$base/assets/small.bin")"
check "range -100 bytes" "$(tail -c 100 "$root/small.bin" | sha256sum)" "$(sha256sum <"$work/r2")"
check "range 100- status" 206 "$(c -o "$work/r3" -w '%{http_code}' -r 100- "$base/assets/small.bin")"
check "range 100- bytes" "$(tail -c +101 "$root/small.bin" | sha256sum)" "$(sha256sum <"$work/r3")"
hdr=$(c -D - -o /dev/null -r 100- "$base/assets/small.bin" | tr -d '\r')
check "content-range" "Content-Range: bytes 100-999/1000" "$(grep -i '^content-range:' <<<"$hdr")"
check "range past end => 416" 416 "$(c -o /dev/null -w '%{http_code}' -r 5000- "$base/assets/small.bin")"
hdr=$(c -D - -o /dev/null -r 5000- "$base/assets/small.bin" | tr -d '\r')
check "416 content-range" "Content-Range: bytes */1000" "$(grep -i '^content-range:' <<<"$hdr")"
check "multi-range => 200 whole" "200 1000" \
  "$(c -o /dev/null -w '%{http_code} %{size_download}' -r 0-1,5-6 "$base/assets/small.bin")"

# --- HEAD ---
head_out=$(c -I "$base/assets/big.bin" | tr -d '\r')
check "HEAD status" "HTTP/1.1 200 OK" "$(head -n1 <<<"$head_out")"
check "HEAD length" "Content-Length: $((64 * 1024 * 1024))" "$(grep -i '^content-length:' <<<"$head_out")"
check "HEAD accept-ranges" "Accept-Ranges: bytes" "$(grep -i '^accept-ranges:' <<<"$head_out")"

# --- ETag round trip ---
etag=$(grep -i '^etag:' <<<"$head_out" | cut -d' ' -f2)
[ -n "$etag" ] && pass "ETag present ($etag)" || fail "no ETag"
check "If-None-Match => 304" 304 \
  "$(c -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$base/assets/big.bin")"
check "other If-None-Match => 200" 200 \
  "$(c -o /dev/null -w '%{http_code}' -H 'If-None-Match: "nope"' "$base/assets/small.bin")"
check "If-Range stale => 200 whole" "200 1000" \
  "$(c -o /dev/null -w '%{http_code} %{size_download}' -r 0-9 -H 'If-Range: "stale"' "$base/assets/small.bin")"

# --- 64 MB whole, by sha256 ---
start=$(date +%s%N)
c -o "$work/big.out" "$base/assets/big.bin"
ms=$((($(date +%s%N) - start) / 1000000))
check "64 MB sha256" "$(sha256sum <"$root/big.bin")" "$(sha256sum <"$work/big.out")"
echo "     64 MB in ${ms} ms"
rm -f "$work/big.out"

# --- 50 concurrent downloads of a 2 MB file ---
want=$(sha256sum <"$root/kernel.bin")
mkdir -p "$work/par"
start=$(date +%s%N)
seq 50 | xargs -P 50 -I{} curl -sS --max-time 60 -o "$work/par/{}" "$base/assets/kernel.bin"
ms=$((($(date +%s%N) - start) / 1000000))
good=0
for f in "$work"/par/*; do [ "$(sha256sum <"$f")" == "$want" ] && good=$((good + 1)); done
check "50 concurrent downloads correct" 50 "$good"
echo "     50 x 2 MB in ${ms} ms"
rm -rf "$work/par"

# --- root escapes ---
check "../ escape" 403 \
  "$(c --path-as-is -o /dev/null -w '%{http_code}' "$base/assets/../etc/passwd")"
check "../../ escape" 403 \
  "$(c --path-as-is -o /dev/null -w '%{http_code}' "$base/assets/../../../../etc/passwd")"
check "%2e%2e%2f escape" 403 \
  "$(c --path-as-is -o /dev/null -w '%{http_code}' "$base/assets/%2e%2e%2f%2e%2e%2fetc/passwd")"
check "%2E%2E/ escape" 403 \
  "$(c --path-as-is -o /dev/null -w '%{http_code}' "$base/assets/sub/%2E%2E/%2E%2E/secret")"
check "absolute symlink out" 403 "$(c -o /dev/null -w '%{http_code}' "$base/assets/link-out")"
check "relative symlink out" 403 "$(c -o /dev/null -w '%{http_code}' "$base/assets/sub/rel-out")"
check "NUL byte" 400 "$(c --path-as-is -o /dev/null -w '%{http_code}' "$base/assets/small.bin%00.txt")"
check "missing file" 404 "$(c -o /dev/null -w '%{http_code}' "$base/assets/nope")"
check "inside file still served" '#!ipxe' "$(c "$base/assets/sub/boot.ipxe")"

# --- HTTP/1.0 ---
v10=$(c -0 -D "$work/h10" "$base/assets/small.bin" | sha256sum)
check "HTTP/1.0 body" "$(sha256sum <"$root/small.bin")" "$v10"
check "HTTP/1.0 closes" "Connection: close" "$(tr -d '\r' <"$work/h10" | grep -i '^connection:')"

# --- malformed request over bash /dev/tcp, then the server keeps serving ---
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GARBAGE / NOT-HTTP\r\n\r\n' >&3
IFS= read -r -t 5 status_line <&3
exec 3<&-
check "malformed => 400" "HTTP/1.1 400 Bad Request" "${status_line%$'\r'}"
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /hello HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n' >&3
IFS= read -r -t 5 status_line <&3
exec 3<&-
check "bad Content-Length => 400" "HTTP/1.1 400 Bad Request" "${status_line%$'\r'}"
check "still serving" hello "$(c "$base/hello")"
stats=$(c "$base/stats")
malformed=$(awk '$1 == "malformed" {print $2}' <<<"$stats")
[ "${malformed:-0}" -ge 2 ] && pass "malformed counted ($malformed)" || fail "malformed=$malformed"
kill -0 "$pid" 2>/dev/null && pass "server alive" || fail "server died"

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
