#!/usr/bin/env bash
# The real cloud-init (Debian's, installed by scripts/setup.sh) boots from paddock's NoCloud seed.
#
# `paddock serve` runs in a network namespace; a profile's ipxe_template puts
# `ds=nocloud-net;s={{server_url}}/nocloud/{{mac_hyphen}}/{{token}}/` on the kernel command line.
# (Not `ds=nocloud;s=http://...`: cloud-init 22.4 (Debian 12) then takes the seed in the network
# stage but with dsmode "local", logs "[net] Exiting. datasource ... in local mode" and runs no
# init module: no hostname, no write_files, no users. `ds=nocloud-net` means dsmode "net".)
# The test renders the machine's iPXE script, takes the kernel command line from it and runs
# `cloud-init init` (the network stage, where NoCloud follows an http seed) inside a throwaway
# overlay of / in private mount + UTS namespaces, in paddock's network namespace: the host's
# files and hostname are never touched. A full Debian + cloud-init guest is too slow under TCG;
# this is the same cloud-init code on the same documents.
#
# cloud-init reads the kernel command line from /proc/cmdline, but in a container
# (util.is_container(), true under docker) from /proc/1/cmdline; util.get_cmdline() lets the
# DEBUG_PROC_CMDLINE environment variable override both, which is what the test uses.
#
# Checks: cloud-init fetched meta-data and user-data from the seed URL (its log and paddock's),
# set the hostname from paddock's meta-data (local-hostname) and wrote the files of paddock's
# rendered user-data; with a wrong token paddock answers 403, cloud-init finds no datasource
# and nothing is applied.
#
#   cloudinit_test.sh PADDOCK_BIN
set -euo pipefail
PADDOCK=$1
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (netns, mount namespaces)"; exit 77; }
command -v cloud-init >/dev/null || { echo "SKIP: cloud-init not installed"; exit 77; }
command -v unshare >/dev/null || { echo "SKIP: needs unshare"; exit 77; }

NS=pd-cloudinit-$$
WORK=$(mktemp -d /tmp/pd-cloudinit.XXXXXX)
PID=""
cleanup() {
  local rc=$?
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null || true; fi
  ip netns del "$NS" 2>/dev/null || true
  if [ "$rc" != 0 ]; then
    for f in "$WORK"/paddock.log "$WORK"/ci-*/cloud-init.out "$WORK"/ci-*/cloud-init.log; do
      [ -f "$f" ] && { echo "--- $f (last 30 lines)"; tail -n 30 "$f"; }
    done
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "ok: $*"; }
nsc() { ip netns exec "$NS" "$@"; }

ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" addr add 198.18.43.1/32 dev lo
SERVER=http://198.18.43.1:8080
MAC=52:54:00:43:00:01
MACH=52-54-00-43-00-01

mkdir -p "$WORK/assets" "$WORK/templates"
echo kernel >"$WORK/assets/vmlinuz"
cat >"$WORK/templates/ipxe" <<'TMPL'
#!ipxe
kernel {{kernel}} console=ttyS0 ds=nocloud-net;s={{server_url}}/nocloud/{{mac_hyphen}}/{{token}}/
boot
TMPL
cat >"$WORK/templates/user-data" <<'TMPL'
#cloud-config
write_files:
  - path: /etc/paddock-ci/role
    content: "role={{metadata.role}} host={{hostname}}\n"
  - path: /etc/paddock-ci/b64
    encoding: b64
    content: cGFkZG9jay1jbG91ZC1pbml0
    permissions: "0600"
TMPL
# An empty vendor-data: paddock answers 404 for a document without a template, and cloud-init
# 22.4's read_seeded retries a failed vendor-data 10 times, 1 s apart, before going on.
printf '#cloud-config\n# vendor-data from paddock\n' >"$WORK/templates/vendor-data"
cat >"$WORK/paddock.yaml" <<YAML
server:
  address: 198.18.43.1
  data_dir: $WORK/data
  log_level: debug
dhcp:
  mode: off
tftp:
  enabled: false
http:
  port: 8080
  assets: $WORK/assets
profiles:
  cloud:
    kernel: vmlinuz
    ipxe_template: $WORK/templates/ipxe
    templates:
      user-data: $WORK/templates/user-data
      vendor-data: $WORK/templates/vendor-data
machines:
  - mac: "$MAC"
    hostname: ci-node-1
groups:
  - name: default
    profile: cloud
    metadata: {role: worker}
YAML
"$PADDOCK" check --config "$WORK/paddock.yaml" >/dev/null || fail "config rejected"
ip netns exec "$NS" "$PADDOCK" serve --config "$WORK/paddock.yaml" >"$WORK/paddock.log" 2>&1 &
PID=$!
for _ in $(seq 100); do
  nsc curl -sf "$SERVER/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
nsc curl -sf "$SERVER/healthz" >/dev/null || fail "paddock did not come up"

# The machine's kernel command line, as iPXE would pass it.
nsc curl -sf "$SERVER/ipxe?mac=$MACH&arch=x86_64&platform=pcbios" >"$WORK/script" || fail "/ipxe"
cmdline=$(sed -n 's/^kernel [^ ]* //p' "$WORK/script")
seed_re="s|.*ds=nocloud-net;s=$SERVER/nocloud/$MACH/\([0-9a-f]*\)/.*|\1|p"
token=$(printf '%s\n' "$cmdline" | sed -n "$seed_re")
[ ${#token} -ge 32 ] || fail "no NoCloud seed URL with a token in the script: $(cat "$WORK/script")"
pass "iPXE script carries ds=nocloud-net;s=$SERVER/nocloud/$MACH/<token>/"

# run_cloud_init NAME CMDLINE: cloud-init's network stage in a throwaway overlay of /; leaves
# $WORK/ci-NAME/{cloud-init.out,cloud-init.log,rc,hostname-file,hostname-kernel,files/}.
run_cloud_init() {
  local d=$WORK/ci-$1
  mkdir -p "$d/files" "$d/b"
  cat >"$d/overlay.sh" <<'SH'
set -eu
d=$1 cmdline=$2 B=$1/b
mount -t tmpfs tmpfs "$B"
mkdir -p "$B/u" "$B/w" "$B/m"
mount -t overlay overlay -o "lowerdir=/,upperdir=$B/u,workdir=$B/w" "$B/m"
mount --bind /proc "$B/m/proc"
mount --rbind /dev "$B/m/dev"
mount --rbind /sys "$B/m/sys"
mount -t tmpfs tmpfs "$B/m/run"
mount -t tmpfs tmpfs "$B/m/tmp"
rm -rf "$B/m/var/lib/cloud" "$B/m/var/log/cloud-init.log" "$B/m/var/log/cloud-init-output.log" \
  "$B/m/etc/paddock-ci"
# No resolver: nothing may leave the namespace (there is no route out of it anyway).
: >"$B/m/etc/resolv.conf"
echo before-cloud-init >"$B/m/etc/hostname"
hostname before-cloud-init
# Only NoCloud (no EC2/GCE probing), no network configuration, and just the init-stage
# modules this test checks (the ssh module would spend seconds generating host keys on 2 busy
# cores; users and the other modules are compared with the agent in bench/run's agent suite).
cat >"$B/m/etc/cloud/cloud.cfg.d/99-paddock-test.cfg" <<'CFG'
datasource_list: [NoCloud]
network: {config: disabled}
cloud_init_modules: [write_files, set_hostname, update_hostname]
CFG
set +e
chroot "$B/m" env DEBUG_PROC_CMDLINE="$cmdline" cloud-init init >"$d/cloud-init.out" 2>&1
echo $? >"$d/rc"
set -e
cp "$B/m/var/log/cloud-init.log" "$d/cloud-init.log" 2>/dev/null || : >"$d/cloud-init.log"
cp "$B/m/etc/hostname" "$d/hostname-file"
hostname >"$d/hostname-kernel"
[ -d "$B/m/etc/paddock-ci" ] && cp -a "$B/m/etc/paddock-ci/." "$d/files/"
exit 0
SH
  nsc unshare -mu --propagation private bash "$d/overlay.sh" "$d" "$2" ||
    fail "$1: overlay run failed"
}

# --- the right token: cloud-init takes meta-data and user-data from paddock -------------------
t0=$(date +%s%N)
run_cloud_init good "$cmdline"
t1=$(date +%s%N)
d=$WORK/ci-good
[ "$(cat "$d/rc")" = 0 ] ||
  fail "cloud-init init exited $(cat "$d/rc"): $(tail -5 "$d/cloud-init.out")"
for doc in meta-data user-data vendor-data; do
  grep -q "Read from $SERVER/nocloud/$MACH/$token/$doc (200" "$d/cloud-init.log" ||
    fail "cloud-init did not read $doc from the seed"
  grep -q "GET /nocloud/$MACH/$token/$doc 200" "$WORK/paddock.log" ||
    fail "paddock did not log serving $doc"
done
grep -q "Loaded datasource DataSourceNoCloudNet .*$SERVER/nocloud/$MACH/$token/\]\[dsmode=net\]" \
  "$d/cloud-init.log" ||
  fail "cloud-init did not take the seed in net mode: $(grep -m3 "datasource" "$d/cloud-init.log")"
for doc in meta-data user-data vendor-data; do
  grep -q "timeline: mac=$MAC .* nocloud.fetch .*\"document\":\"$doc\"" "$WORK/paddock.log" ||
    fail "no nocloud.fetch of $doc on the machine's timeline"
done
pass "cloud-init fetched meta-data, user-data and vendor-data from paddock's seed (timeline too)"
[ "$(cat "$d/hostname-file")" = ci-node-1 ] || fail "/etc/hostname: $(cat "$d/hostname-file")"
[ "$(cat "$d/hostname-kernel")" = ci-node-1 ] || fail "hostname: $(cat "$d/hostname-kernel")"
[ "$(hostname)" != ci-node-1 ] || fail "the host's hostname changed"
pass "hostname ci-node-1 from paddock's meta-data (file and kernel, UTS namespace only)"
[ "$(cat "$d/files/role" 2>&1)" = "role=worker host=ci-node-1" ] ||
  fail "write_files role: $(cat "$d/files/role" 2>&1)"
[ "$(cat "$d/files/b64" 2>&1)" = paddock-cloud-init ] ||
  fail "write_files b64: $(cat "$d/files/b64" 2>&1)"
[ "$(stat -c %a "$d/files/b64")" = 600 ] ||
  fail "write_files permissions: $(stat -c %a "$d/files/b64")"
[ ! -e /etc/paddock-ci ] || fail "files leaked to the host's /etc"
pass "write_files of paddock's rendered user-data applied ($(((t1 - t0) / 1000000)) ms)"

# --- a wrong token: 403, no datasource, nothing applied ---------------------------------------
bad=$(printf '%s' "$token" | tr '0-9a-f' '1-9a-f0')
code=$(nsc curl -s -o /dev/null -w '%{http_code}' "$SERVER/nocloud/$MACH/$bad/meta-data")
[ "$code" = 403 ] || fail "seed with a wrong token answered $code"
t0=$(date +%s%N)
run_cloud_init bad "${cmdline//$token/$bad}"
t1=$(date +%s%N)
d=$WORK/ci-bad
[ "$(cat "$d/rc")" != 0 ] || fail "cloud-init init succeeded with a wrong token"
grep -q "403" "$d/cloud-init.log" || fail "cloud-init's log shows no 403"
grep -q "Read from $SERVER/nocloud/$MACH/$bad/[a-z-]* (200" "$d/cloud-init.log" &&
  fail "cloud-init read a document with the wrong token"
grep -q "GET /nocloud/$MACH/$bad/meta-data 403" "$WORK/paddock.log" ||
  fail "paddock did not answer 403"
grep -q "mac=$MAC nocloud seed refused (unknown token)" "$WORK/paddock.log" ||
  fail "paddock did not warn about the wrong token"
grep -q "timeline: mac=$MAC .* nocloud.refused FAILED .*\"reason\":\"unknown token\"" \
  "$WORK/paddock.log" || fail "no nocloud.refused alert on the machine's timeline"
grep -q "GET /nocloud/$MACH/$bad/[a-z-]* 200" "$WORK/paddock.log" && fail "paddock served a doc"
[ "$(cat "$d/hostname-file")" = before-cloud-init ] ||
  fail "hostname changed: $(cat "$d/hostname-file")"
[ -z "$(ls -A "$d/files")" ] || fail "files written with a wrong token: $(ls "$d/files")"
pass "wrong token: 403, no datasource, nothing applied ($(((t1 - t0) / 1000000)) ms)"
echo "all cloud-init seed checks passed"
