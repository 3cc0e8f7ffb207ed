#!/usr/bin/env bash
# The node agent protocol end to end, with real binaries and no VM: `paddock serve` in a network
# namespace, and `paddock-agent boot --root DIR --no-power` (the agent applies everything under
# a scratch root and chroots runcmd into it, so no mount namespace is needed; the root has
# busybox). Boot 1: hostname, user, write_files, runcmd applied; reports in the timeline; state
# uploaded. Boot 1 again with the same token: refused, agent.token_reused. Boot 2 with a fresh
# token into an EMPTY root: the persisted file and SSH host key are back. `paddock state ls`.
set -euo pipefail
PADDOCK=$1
AGENT=$2
[ "$(id -u)" = 0 ] || { echo "needs root (netns, chroot)"; exit 77; }
command -v busybox >/dev/null || { echo "needs busybox"; exit 77; }

NS=pd-agentsrv-$$
WORK=$(mktemp -d /tmp/pd-agentsrv.XXXXXX)
PID=""
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- paddock log"; tail -n 40 "$WORK/log" 2>/dev/null || true; exit 1; }
pass() { echo "ok: $*"; }
nsc() { ip netns exec "$NS" "$@"; }

ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" addr add 198.18.41.1/32 dev lo
SERVER=http://198.18.41.1:8080
MAC=52:54:00:41:00:01
MACH=52-54-00-41-00-01

mkdir -p "$WORK/assets" "$WORK/templates"
echo kernel >"$WORK/assets/vmlinuz"
cat >"$WORK/templates/user-data" <<'TMPL'
#cloud-config
users:
  - name: alice
    shell: /bin/sh
    ssh_authorized_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB5nKcc0dHDdjZk0Pb0Pc0E2kMW2qjIG7s9n0d2xW6sp alice@test"]
write_files:
  - path: /etc/paddock-test/role
    content: "role={{metadata.role}} host={{hostname}}\n"
runcmd:
  # First boot only: make a "host key" and a node id; later boots must get them back from state.
  - [sh, -c, "mkdir -p /etc/ssh /var/lib/node; [ -f /etc/ssh/ssh_host_ed25519_key ] || echo key-$(date +%s%N)-$$ >/etc/ssh/ssh_host_ed25519_key; [ -f /var/lib/node/id ] || echo id-$(date +%s%N) >/var/lib/node/id"]
  - echo runcmd-done >/var/log/runcmd.out
TMPL
cat >"$WORK/paddock.yaml" <<YAML
server:
  address: 198.18.41.1
  data_dir: $WORK/data
dhcp:
  mode: off
tftp:
  enabled: false
http:
  port: 8080
  assets: $WORK/assets
profiles:
  node:
    kernel: vmlinuz
    args: console=ttyS0
    templates:
      user-data: $WORK/templates/user-data
    persist:
      - /etc/ssh/ssh_host_*
      - /var/lib/node
machines:
  - mac: "$MAC"
    hostname: agent-node-1
groups:
  - name: default
    profile: node
    metadata: {role: worker}
YAML
"$PADDOCK" check --config "$WORK/paddock.yaml" || fail "config rejected"

ip netns exec "$NS" "$PADDOCK" serve --config "$WORK/paddock.yaml" >>"$WORK/log" 2>&1 &
PID=$!
for _ in $(seq 100); do
  nsc curl -sf "$SERVER/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
nsc curl -sf "$SERVER/healthz" >/dev/null || fail "paddock did not come up"

# The kernel command line the machine would get: the paddock.* arguments of the iPXE script.
cmdline() {  # cmdline FILE
  nsc curl -sf "$SERVER/ipxe?mac=$MACH&arch=x86_64&platform=pcbios" >"$WORK/script" ||
    fail "/ipxe"
  grep -o 'paddock\.[a-z]*=[^ ]*' "$WORK/script" | tr '\n' ' ' >"$1"
  grep -q "paddock.token=[0-9a-f]\{86\}" "$1" || fail "no token in script: $(cat "$WORK/script")"
  grep -q "paddock.server=" "$1" || fail "no paddock.server in script"
}
newroot() {  # newroot DIR: a minimal node image
  mkdir -p "$1"/{bin,etc,root,tmp,var/log}
  cp "$(command -v busybox)" "$1/bin/"
  for a in sh mkdir echo date cat; do ln -s busybox "$1/bin/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$1/etc/passwd"
  printf 'root:x:0:\n' >"$1/etc/group"
  printf 'root:*:19000:0:99999:7:::\n' >"$1/etc/shadow"
}
timeline() { "$PADDOCK" timeline "$MAC" --data-dir "$WORK/data" --json >"$WORK/timeline.json"; }
wait_phase() {  # wait_phase PHASE: the recorder writes in batches
  for _ in $(seq 50); do
    timeline && grep -q "\"$1\"" "$WORK/timeline.json" && return 0
    sleep 0.1
  done
  return 1
}

# --- boot 1 ---
cmdline "$WORK/cmdline1"
newroot "$WORK/root1"
nsc "$AGENT" boot --cmdline-file "$WORK/cmdline1" --root "$WORK/root1" --no-power \
  >"$WORK/agent1.log" 2>&1 || { cat "$WORK/agent1.log"; fail "boot 1 exited $?"; }
r=$WORK/root1
grep -qx "agent-node-1" "$r/etc/hostname" || fail "hostname: $(cat "$r/etc/hostname" 2>&1)"
grep -q "^alice:" "$r/etc/passwd" || fail "user alice missing"
grep -rqs "alice@test" "$r/home/alice/.ssh/authorized_keys" || fail "alice's key missing"
grep -qx "role=worker host=agent-node-1" "$r/etc/paddock-test/role" || fail "write_files"
grep -qx "runcmd-done" "$r/var/log/runcmd.out" || fail "runcmd"
key1=$(cat "$r/etc/ssh/ssh_host_ed25519_key")
id1=$(cat "$r/var/lib/node/id")
pass "boot 1 applied hostname, user, key, write_files, runcmd"
wait_phase agent.ready || fail "no agent.ready in the timeline"
wait_phase agent.state_stored || fail "no agent.state_stored in the timeline"
grep -q '"agent.credential_issued"' "$WORK/timeline.json" || fail "no agent.credential_issued"
grep -q '"agent.runcmd_finished"' "$WORK/timeline.json" || fail "no agent.runcmd_finished"
pass "boot 1 reports are in the timeline"

# --- the same token again: refused, and an alert on the machine ---
newroot "$WORK/root1b"
set +e
nsc "$AGENT" boot --cmdline-file "$WORK/cmdline1" --root "$WORK/root1b" --no-power \
  >"$WORK/agent1b.log" 2>&1
rc=$?
set -e
[ "$rc" = 3 ] || { cat "$WORK/agent1b.log"; fail "reused token: exit $rc, want 3"; }
[ ! -e "$WORK/root1b/etc/hostname" ] || fail "reused token still applied something"
wait_phase agent.token_reused || fail "no agent.token_reused in the timeline"
pass "reused token refused (exit 3), agent.token_reused recorded"

# --- boot 2: a fresh token, an empty root: state restored ---
cmdline "$WORK/cmdline2"
cmp -s "$WORK/cmdline1" "$WORK/cmdline2" && fail "the second script reused the token"
newroot "$WORK/root2"
nsc "$AGENT" boot --cmdline-file "$WORK/cmdline2" --root "$WORK/root2" --no-power \
  >"$WORK/agent2.log" 2>&1 || { cat "$WORK/agent2.log"; fail "boot 2 exited $?"; }
[ "$(cat "$WORK/root2/etc/ssh/ssh_host_ed25519_key")" = "$key1" ] || fail "host key not restored"
[ "$(cat "$WORK/root2/var/lib/node/id")" = "$id1" ] || fail "node id not restored"
wait_phase agent.state_restored || fail "no agent.state_restored"
pass "boot 2 restored the SSH host key and the persisted file"

# --- the operator's view ---
"$PADDOCK" state ls "$MAC" --data-dir "$WORK/data" | tee "$WORK/ls"
[ "$(grep -c '^[0-9]' "$WORK/ls")" -ge 2 ] || fail "state ls lists fewer than 2 versions"
"$PADDOCK" state get "$MAC" --data-dir "$WORK/data" -o "$WORK/state.tar"
tar -tf "$WORK/state.tar" >"$WORK/state.list" || fail "tar cannot read the state archive"
grep -q "etc/ssh/ssh_host_ed25519_key" "$WORK/state.list" || fail "state get archive: $(cat "$WORK/state.list")"
pass "paddock state ls / get"

# --- the NoCloud seed for the real cloud-init: boot token in the URL, wrong token refused ---
tok=$(grep -o 'paddock\.token=[0-9a-f]*' "$WORK/cmdline2" | cut -d= -f2)
nsc curl -sf "$SERVER/nocloud/$MACH/$tok/user-data" >"$WORK/seed-user-data" || fail "seed user-data"
grep -q "role={{metadata.role}}" "$WORK/seed-user-data" && fail "seed user-data not rendered"
grep -q "role=worker host=agent-node-1" "$WORK/seed-user-data" || fail "seed user-data content"
nsc curl -sf "$SERVER/nocloud/$MACH/$tok/meta-data" >"$WORK/seed-meta-data" || fail "seed meta"
grep -q "^instance-id: paddock-$MACH" "$WORK/seed-meta-data" || fail "seed meta-data"
code=$(nsc curl -s -o /dev/null -w '%{http_code}' "$SERVER/nocloud/$MACH/0000/user-data")
[ "$code" = 403 ] || fail "seed with a wrong token answered $code"
pass "NoCloud seed served by boot token, wrong token 403"

# --- unauthenticated agent routes (corrupt uploads are covered by daemon_test) ---
code=$(nsc curl -s -o /dev/null -w '%{http_code}' "$SERVER/agent/v1/state")
[ "$code" = 401 ] || fail "unauthenticated state GET answered $code"
pass "unauthenticated state GET is 401"
echo "all agent_server checks passed"
