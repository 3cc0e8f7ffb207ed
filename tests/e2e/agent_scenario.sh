#!/usr/bin/env bash
# End-to-end: a BIOS QEMU guest PXE-boots the agent variant of the test image from paddock; its
# /init runs `paddock-agent boot` (images/build-test-image.sh, PADDOCK_IMAGE_AGENT). Boot 1 sets
# the hostname, creates a user, writes a file, and runcmd makes an "SSH host key" and a node id
# under the profile's persist paths; the agent uploads them. The same machine (same MAC) then
# boots again from a fresh RAM disk: the key and the id must be back (restored from paddock's
# state), and the timeline shows both boots' agent phases.
# Boot 2 also runs the agent resident (paddock.watch=2, added to the profile by a config reload):
# a persisted file changed while it runs reaches paddock as a new state version without a
# reboot, and a last change made right before `poweroff` arrives with the shutdown upload
# (the guest's runcmd starts a helper that waits for the test's go-aheads, files the test puts
# under http.assets). Boot 3 boots the same machine directly (qemu -kernel -append) with boot
# 1's exact kernel command line, i.e. its already-redeemed token: the agent is refused (403,
# exit 3), the timeline gets an agent.token_reused alert, and the machine gets nothing.
#
#   tests/e2e/agent_scenario.sh        (PADDOCK_BIN; E2E_IMAGE_DIR = an agent-variant image, or
#                                       PADDOCK_AGENT_BIN to build one into the run dir)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_require dnsmasq curl
e2e_init agent
if [[ -z ${E2E_IMAGE_DIR:-} ]]; then
  [[ -x ${PADDOCK_AGENT_BIN:-} ]] || e2e_die "set E2E_IMAGE_DIR or PADDOCK_AGENT_BIN"
  E2E_IMAGE_DIR="$E2E_DIR/image"
  PADDOCK_IMAGE_AGENT=$PADDOCK_AGENT_BIN "$E2E_SRC_DIR/images/build-test-image.sh" \
    "$E2E_IMAGE_DIR" >&2
fi
export E2E_GUEST_TIMEOUT=${E2E_GUEST_TIMEOUT:-300}

e2e_netns_create 1
mac=$(e2e_mac 1)
mkdir -p "$E2E_DIR/templates"
cat >"$E2E_DIR/templates/user-data" <<'TMPL'
#cloud-config
users:
  - name: alice
    shell: /bin/sh
    ssh_authorized_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB5nKcc0dHDdjZk0Pb0Pc0E2kMW2qjIG7s9n0d2xW6sp alice@e2e"]
write_files:
  - path: /etc/e2e-role
    content: "role={{metadata.role}}\n"
  - path: /etc/e2e-b64
    encoding: b64
    content: cGFkZG9jay1iNjQ=
  - path: /etc/e2e-gzb64
    encoding: gz+b64
    content: H4sIAAAAAAAAAytITEnJT87WTa/STTIzAQBYtzFSDgAAAA==
  - path: /etc/e2e-append
    content: "first"
  - path: /etc/e2e-append
    content: "+second"
    append: true
runcmd:
  - [sh, -c, "mkdir -p /etc/ssh /var/lib/node; [ -f /etc/ssh/ssh_host_ed25519_key ] || cat /proc/sys/kernel/random/uuid >/etc/ssh/ssh_host_ed25519_key; [ -f /var/lib/node/id ] || cat /proc/sys/kernel/random/uuid >/var/lib/node/id"]
  # Resident-agent boots only: wait for the test's go-ahead files, change a persisted file
  # after each; after the second, freeze the agent (so its interval upload cannot take the
  # change: the shutdown upload must), change the file and power off like an operator would.
  - |
    grep -q paddock.watch= /proc/cmdline && (
      get() { until timeout 5 wget -q -O "/run/$1" "{{server_url}}/assets/$1"; do sleep 1; done; }
      get e2e-step1; cat /run/e2e-step1 >/var/lib/node/watched
      get e2e-step2; kill -STOP $(pidof paddock-agent); cat /run/e2e-step2 >/var/lib/node/watched
      poweroff
    ) </dev/null >/dev/null 2>&1 &
TMPL
# http.assets: a copy of the image in the run dir, so the test can add its go-ahead files.
mkdir -p "$E2E_DIR/assets"
cp "$E2E_IMAGE_DIR/vmlinuz" "$E2E_IMAGE_DIR/initrd.cpio.gz" "$E2E_DIR/assets/"
e2e_paddock_config full "$mac=agent-node" |
  awk -v t="$E2E_DIR/templates/user-data" -v a="$E2E_DIR/assets" '
    $1 == "assets:" { print "  assets: " a; next }
    { print }
    $0 == "    args: console=ttyS0 panic=1" {
      print "    templates:"; print "      user-data: " t
      print "    persist: [/etc/ssh/ssh_host_*, /var/lib/node]"
    }
    $0 == "    profile: test-node" && !meta { print "    metadata: {role: e2e}"; meta = 1 }' \
    >"$E2E_DIR/paddock.yaml"
grep -q "persist:" "$E2E_DIR/paddock.yaml" || e2e_die "could not add persist to the config"
grep -qx "  assets: $E2E_DIR/assets" "$E2E_DIR/paddock.yaml" || e2e_die "could not set http.assets"
e2e_paddock_start "$E2E_DIR/paddock.yaml"

serial_value() {  # serial_value NAME PATH -> the content the guest printed for PATH
  # A kernel message ("[    4.53] ...") can land in the middle of the guest's line on the
  # shared serial console: cut it off.
  grep -a -o "PADDOCK-AGENT: file $2 .*" "$E2E_DIR/logs/$1.serial" | head -1 |
    sed "s|^PADDOCK-AGENT: file $2 ||; s/ *\[ *[0-9]*\.[0-9]*\].*\$//; s/[[:space:]]*\$//"
}

failed=0
e2e_qemu_start boot1 bios "$mac" tap0 virtio 512
e2e_wait_guests boot1 || failed=$?
((failed == 0)) || e2e_die "boot 1 did not finish"
grep -aq "PADDOCK-AGENT: exit=0" "$E2E_DIR/logs/boot1.serial" || e2e_die "boot 1: agent failed"
[[ $(serial_value boot1 /etc/hostname) == agent-node ]] || e2e_die "boot 1: hostname"
key1=$(serial_value boot1 /etc/ssh/ssh_host_ed25519_key)
id1=$(serial_value boot1 /var/lib/node/id)
[[ ${#key1} -ge 36 && ${#id1} -ge 36 ]] || e2e_die "boot 1: no key/id ($key1/$id1)"
[[ $(serial_value boot1 /etc/e2e-role) == role=e2e ]] || e2e_die "boot 1: write_files text"
[[ $(serial_value boot1 /etc/e2e-b64) == paddock-b64 ]] || e2e_die "boot 1: write_files b64"
[[ $(serial_value boot1 /etc/e2e-gzb64) == paddock-gz-b64 ]] || e2e_die "boot 1: write_files gz+b64"
[[ $(serial_value boot1 /etc/e2e-append) == first+second ]] || e2e_die "boot 1: write_files append"
serial_value boot1 /home/alice/.ssh/authorized_keys | grep -q "alice@e2e" ||
  e2e_die "boot 1: user alice's SSH key"
e2e_log "boot 1: agent ready, files in every encoding, user key, host key $key1"

# --- boot 2: the agent stays resident (paddock.watch=2 via a config reload) ---------------------
reloads() { grep -c "reload done" "$E2E_DIR/logs/paddock.log" || true; }
r0=$(reloads)
sed -i 's/^    args: console=ttyS0 panic=1$/& paddock.watch=2/' "$E2E_DIR/paddock.yaml"
grep -q "paddock.watch=2" "$E2E_DIR/paddock.yaml" || e2e_die "could not add paddock.watch"
kill -HUP "$E2E_PADDOCK_PID"
for _ in $(seq 100); do (($(reloads) > r0)) && break; sleep 0.1; done
(($(reloads) > r0)) || e2e_die "paddock did not reload the config"

state_ls() { "$PADDOCK_BIN" state ls "$mac" --config "$E2E_DIR/paddock.yaml" --json; }
newest_version() {
  state_ls | python3 -c 'import json, sys
print(max([v["version"] for v in json.load(sys.stdin)] or [0]))'
}
state_file() {  # state_file VERSION MEMBER -> the member's content in that state version
  "$PADDOCK_BIN" state get "$mac" --config "$E2E_DIR/paddock.yaml" --version "$1" -o - \
    2>/dev/null | tar -xOf - "$2" 2>/dev/null || true
}
guest_running() { [[ $(e2e_guest_state "$1") == running ]]; }
wait_serial() {  # wait_serial NAME PATTERN: until the guest printed it (fails if it stopped)
  until grep -aq "$2" "$E2E_DIR/logs/$1.serial"; do
    guest_running "$1" || return 1
    sleep 0.2
  done
}

e2e_qemu_start boot2 bios "$mac" tap0 virtio 512
wait_serial boot2 "PADDOCK-AGENT: resident watch=2" || e2e_die "boot 2: agent not resident"
wait_serial boot2 "PADDOCK-AGENT: file /home/" || e2e_die "boot 2: no files printed"
key2=$(serial_value boot2 /etc/ssh/ssh_host_ed25519_key)
id2=$(serial_value boot2 /var/lib/node/id)
[[ $key2 == "$key1" ]] || e2e_die "boot 2: host key not restored ($key2 != $key1)"
[[ $id2 == "$id1" ]] || e2e_die "boot 2: node id not restored ($id2 != $id1)"
e2e_log "boot 2: host key and node id restored; agent resident"

v_ready=$(newest_version)
val1="watch-1-$RANDOM$RANDOM"
echo "$val1" >"$E2E_DIR/assets/e2e-step1"
v1=""
for _ in $(seq 600); do  # the guest waits for us, so this only bounds a broken agent
  v=$(newest_version)
  if ((v > v_ready)) && [[ $(state_file "$v" var/lib/node/watched) == "$val1" ]]; then
    v1=$v
    break
  fi
  guest_running boot2 || e2e_die "boot 2: guest stopped before the interval upload"
  sleep 0.2
done
[[ -n $v1 ]] || e2e_die "boot 2: no state version with the change made while running"
e2e_log "boot 2: change while running uploaded as state version $v1 (ready: $v_ready)"

val2="watch-2-$RANDOM$RANDOM"
echo "$val2" >"$E2E_DIR/assets/e2e-step2"
e2e_wait_guests boot2 || failed=$?
((failed == 0)) || e2e_die "boot 2 did not finish"
grep -aq "PADDOCK-NODE: shutdown" "$E2E_DIR/logs/boot2.serial" ||
  e2e_die "boot 2: /init did not run its shutdown (poweroff did not signal it)"
grep -aq "PADDOCK-AGENT: exit=0" "$E2E_DIR/logs/boot2.serial" || e2e_die "boot 2: agent failed"
v2=$(newest_version)
((v2 > v1)) || e2e_die "boot 2: no state version after shutdown (newest $v2)"
[[ $(state_file "$v2" var/lib/node/watched) == "$val2" ]] ||
  e2e_die "boot 2: version $v2 lacks the last change: '$(state_file "$v2" var/lib/node/watched)'"
[[ $(state_file "$v2" etc/ssh/ssh_host_ed25519_key) == "$key1" ]] ||
  e2e_die "boot 2: version $v2 lost the host key"
grep -aq "paddock-agent: state_saved_shutdown ok" "$E2E_DIR/logs/boot2.serial" ||
  e2e_die "boot 2: no shutdown upload on the console"
e2e_check_timeline boot2 "agent.credential_issued*2" "agent.ready*2" "agent.state_stored*4" \
  "agent.state_restored*2" "agent.state_saved_shutdown" "node.booted*2" ||
  e2e_die "timeline incomplete"
shutdown_detail=$(python3 -c 'import json, sys
print([e.get("detail") for e in json.load(open(sys.argv[1]))
       if e["phase"] == "agent.state_saved_shutdown"][-1])' "$(e2e_timeline_json boot2)")
e2e_log "boot 2: state version $v2 has the last change; shutdown save: $shutdown_detail"

# --- boot 3: boot 1's kernel command line again (its token was redeemed): refused -------------
cmdline1=$(grep -a -o "Command line: .*" "$E2E_DIR/logs/boot1.serial" | head -1 |
  sed 's/^Command line: //; s/[[:space:]]*$//')
[[ $cmdline1 == *paddock.token=* && $cmdline1 != *paddock.watch* ]] ||
  e2e_die "boot 1's kernel command line not found on its console ($cmdline1)"
credentials_before=$("$PADDOCK_BIN" timeline --config "$E2E_DIR/paddock.yaml" "$mac" --json |
  grep -o '"agent.credential_issued"' | wc -l)
t3_us=$(($(date +%s%N) / 1000))
qemu_direct_start() {  # qemu_direct_start NAME CMDLINE: qemu -kernel/-initrd/-append, no PXE
  local name=$1 log="$E2E_DIR/logs/$1.serial" fifo="$E2E_DIR/$1.fifo" t0
  mkfifo "$fifo"
  t0=$(e2e_now)
  $E2E_PY ts "$t0" <"$fifo" >"$log" &
  e2e_track $!
  ip netns exec "$E2E_NS" timeout "$E2E_GUEST_TIMEOUT" qemu-system-x86_64 \
    -name "$name" -accel tcg -m 512 -smp 1 -nographic -no-reboot \
    -kernel "$E2E_IMAGE_DIR/vmlinuz" -initrd "$E2E_IMAGE_DIR/initrd.cpio.gz" -append "$2" \
    -netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
    -device "virtio-net-pci,netdev=n0,mac=$mac,romfile=" \
    </dev/null >"$fifo" 2>"$E2E_DIR/logs/$name.qemu.log" &
  E2E_GUEST_PID[$name]=$!
  e2e_track $!
  E2E_GUEST_MAC[$name]=$mac
  E2E_GUEST_FW[$name]=direct
  E2E_GUEST_T0[$name]=$t0
  E2E_GUESTS+=("$name")
  e2e_log "guest $name: direct kernel boot, mac=$mac, boot 1's command line"
}
qemu_direct_start boot3 "$cmdline1"
e2e_wait_guests boot3 || failed=$?
((failed == 0)) || e2e_die "boot 3 did not finish"
serial3=$E2E_DIR/logs/boot3.serial
grep -aqF "Command line: $cmdline1" "$serial3" || e2e_die "boot 3 ran another command line"
grep -aq "paddock-agent: redeem failed: boot token refused: HTTP 403" "$serial3" ||
  e2e_die "boot 3: the agent did not report the refusal (403) on the console"
grep -aq "PADDOCK-AGENT: exit=3" "$serial3" || e2e_die "boot 3: agent exit status is not 3"
[[ -z $(serial_value boot3 /etc/hostname) && -z $(serial_value boot3 /var/lib/node/id) &&
  -z $(serial_value boot3 /etc/e2e-role) ]] || e2e_die "boot 3: the refused machine got files"
grep -aq "mac=$mac boot token refused (token already redeemed)" "$E2E_DIR/logs/paddock.log" ||
  e2e_die "boot 3: paddock did not log the refused token"
# The timeline since boot 3 started: the alert and the 403, and nothing the agent only gets with
# a credential (documents, state, reports).
rm -f "$E2E_DIR/logs/boot3.timeline.json"
for _ in $(seq 50); do
  json=$(e2e_timeline_json boot3) && grep -q '"agent.token_reused"' "$json" && break
  rm -f "$E2E_DIR/logs/boot3.timeline.json"
  sleep 0.2
done
python3 - "$json" "$t3_us" "$credentials_before" <<'PY' >&2 || e2e_die "boot 3: timeline"
import json, sys
events = json.load(open(sys.argv[1]))
if isinstance(events, dict):
    events = events.get("events", [])
since = [e for e in events if e["time_us"] >= int(sys.argv[2])]
def detail(e):
    d = e.get("detail") or {}
    return json.loads(d) if isinstance(d, str) else d
reused = [e for e in since if e["phase"] == "agent.token_reused"]
redeems = [detail(e) for e in since if e["phase"] == "http.request" and
           detail(e).get("path") == "/agent/v1/redeem"]
granted = [e for e in since if e["phase"] == "http.request" and
           (detail(e).get("path") or "").startswith(("/agent/v1/nocloud", "/agent/v1/state"))]
agent_phases = sorted({e["phase"] for e in since if e["phase"].startswith("agent.")})
creds = sum(e["phase"] == "agent.credential_issued" for e in events)
print("boot 3 timeline: agent phases %s, redeem answers %s" %
      (agent_phases, [r.get("status") for r in redeems]))
problems = []
if not reused or any(e.get("ok", True) for e in reused):
    problems.append("no agent.token_reused alert (ok=false)")
if not redeems or any(r.get("status") != 403 for r in redeems):
    problems.append("redeem not answered 403")
if agent_phases != ["agent.token_reused"]:
    problems.append("other agent events after the refusal: %s" % agent_phases)
if granted:
    problems.append("documents/state served: %s" % [detail(e).get("path") for e in granted])
if creds != int(sys.argv[3]):
    problems.append("a credential was issued (%d -> %d)" % (int(sys.argv[3]), creds))
for p in problems:
    print("  " + p)
sys.exit(1 if problems else 0)
PY
((v2 == $(newest_version))) || e2e_die "boot 3: a state version was added"
e2e_log "boot 3: reused token refused (403, exit 3), agent.token_reused alert, nothing served"

"$PADDOCK_BIN" state ls "$mac" --config "$E2E_DIR/paddock.yaml" >&2
e2e_report
e2e_log "PASS agent"
