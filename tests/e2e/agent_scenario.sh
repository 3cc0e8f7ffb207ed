#!/usr/bin/env bash
# End-to-end: a BIOS QEMU guest PXE-boots the agent variant of the test image from paddock; its
# /init runs `paddock-agent boot` (images/build-test-image.sh, PADDOCK_IMAGE_AGENT). Boot 1 sets
# the hostname, creates a user, writes a file, and runcmd makes an "SSH host key" and a node id
# under the profile's persist paths; the agent uploads them. The same machine (same MAC) then
# boots again from a fresh RAM disk: the key and the id must be back (restored from paddock's
# state), and the timeline shows both boots' agent phases.
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
TMPL
e2e_paddock_config full "$mac=agent-node" |
  awk -v t="$E2E_DIR/templates/user-data" '
    { print }
    $0 == "    args: console=ttyS0 panic=1" {
      print "    templates:"; print "      user-data: " t
      print "    persist: [/etc/ssh/ssh_host_*, /var/lib/node]"
    }
    $0 == "    profile: test-node" && !meta { print "    metadata: {role: e2e}"; meta = 1 }' \
    >"$E2E_DIR/paddock.yaml"
grep -q "persist:" "$E2E_DIR/paddock.yaml" || e2e_die "could not add persist to the config"
e2e_paddock_start "$E2E_DIR/paddock.yaml"

serial_value() {  # serial_value NAME PATH -> the content the guest printed for PATH
  grep -a -o "PADDOCK-AGENT: file $2 .*" "$E2E_DIR/logs/$1.serial" | head -1 |
    sed "s|^PADDOCK-AGENT: file $2 ||; s/[[:space:]]*\$//"
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

e2e_qemu_start boot2 bios "$mac" tap0 virtio 512
e2e_wait_guests boot2 || failed=$?
((failed == 0)) || e2e_die "boot 2 did not finish"
grep -aq "PADDOCK-AGENT: exit=0" "$E2E_DIR/logs/boot2.serial" || e2e_die "boot 2: agent failed"
key2=$(serial_value boot2 /etc/ssh/ssh_host_ed25519_key)
id2=$(serial_value boot2 /var/lib/node/id)
[[ $key2 == "$key1" ]] || e2e_die "boot 2: host key not restored ($key2 != $key1)"
[[ $id2 == "$id1" ]] || e2e_die "boot 2: node id not restored ($id2 != $id1)"
e2e_log "boot 2: host key and node id restored"

e2e_check_timeline boot2 "agent.credential_issued*2" "agent.ready*2" "agent.state_stored*2" \
  "agent.state_restored*2" "node.booted*2" || e2e_die "timeline incomplete"
"$PADDOCK_BIN" state ls "$mac" --config "$E2E_DIR/paddock.yaml" >&2
e2e_report
e2e_log "PASS agent"
