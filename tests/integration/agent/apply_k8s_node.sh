#!/usr/bin/env bash
# apply_k8s_node.sh AGENT USER_DATA: runs `paddock-agent apply` on a Kubernetes-node
# cloud-config into a scratch root, then checks every file it should have written, the state
# archive round trip with the real tar, and that a dry run changes nothing.
set -euo pipefail
agent=$1 userdata=$2
work=$(mktemp -d /tmp/pd-agent-it-XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
fail() { echo "FAIL: $*" >&2; exit 1; }
check_file() {  # path mode uid content-substring
  local p=$root$1
  [ -e "$p" ] || fail "$1 missing"
  local got; got=$(stat -c '%a %u' "$p")
  [ "$got" = "$2 $3" ] || fail "$1: mode/uid $got, want $2 $3"
  [ -z "${4:-}" ] || grep -qF -- "$4" "$p" || fail "$1 lacks '$4'"
}

# A root with what a minimal node image has: a shell (busybox), the base accounts, tzdata.
mkdir -p "$root"/{bin,etc,root,var/log,usr/share/zoneinfo/Europe}
cp /bin/busybox "$root/bin/"
for a in sh ls echo cat hostname false; do ln -s busybox "$root/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\nadm:x:4:\nsudo:x:27:\nshadow:x:42:\n' >"$root/etc/group"
printf 'root:*:19000:0:99999:7:::\n' >"$root/etc/shadow"
cp /usr/share/zoneinfo/Europe/Berlin "$root/usr/share/zoneinfo/Europe/"

# Dry run first: prints a plan, changes nothing.
before=$(find "$root" | sort | md5sum)
"$agent" apply --file "$userdata" --root "$root" --dry-run >"$work/plan" 2>"$work/dry.log"
[ "$(find "$root" | sort | md5sum)" = "$before" ] || fail "dry run changed the root"
grep -q '^write /etc/kubernetes/kubelet-config.yaml 0600' "$work/plan" || fail "plan lacks kubelet config"
grep -q '^symlink /etc/localtime -> /usr/share/zoneinfo/Europe/Berlin' "$work/plan" || fail "plan lacks tz"

start=$(date +%s%N)
"$agent" apply --file "$userdata" --root "$root" >"$work/out" 2>"$work/apply.log" || {
  cat "$work/apply.log"; fail "apply exited non-zero"; }
end=$(date +%s%N)
echo "apply took $(( (end - start) / 1000 )) us"
cat "$work/apply.log"

check_file /etc/hostname 644 0 node1
check_file /etc/hosts 644 0 "127.0.1.1 node1.cluster.paddock.test node1"
grep -q '^kadmin:x:1001:.*:Kubernetes Admin:/home/kadmin:/bin/sh$' "$root/etc/passwd" || fail passwd
grep -q '^etcd:x:1[0-9][0-9]:.*:/var/lib/etcd:/usr/sbin/nologin$' "$root/etc/passwd" || fail "system user"
grep -q '^sudo:x:27:paddock,kadmin$' "$root/etc/group" || fail "sudo group"
grep -q '^docker:x:' "$root/etc/group" || fail "docker group not created"
grep -q '^kadmin:\$6\$rounds=4096\$saltsalt\$' "$root/etc/shadow" || fail "kadmin hash (unlocked)"
grep -q '^paddock:!' "$root/etc/shadow" || fail "default user locked"
check_file /etc/shadow 640 0
[ "$(stat -c %g "$root/etc/shadow")" = 42 ] || fail "shadow group"
check_file /etc/sudoers.d/90-cloud-init-users 440 0 "kadmin ALL=(ALL) NOPASSWD:ALL"
check_file /home/kadmin/.ssh 700 1001
check_file /home/kadmin/.ssh/authorized_keys 600 1001 "admin@paddock"
check_file /home/paddock/.ssh/authorized_keys 600 1000 "admin@paddock"
check_file /root/.ssh/authorized_keys 600 0 'Please login as the user \"paddock\"'
check_file /etc/ssh/ssh_host_ed25519_key 600 0 "BEGIN OPENSSH PRIVATE KEY"
check_file /etc/ssh/ssh_host_ed25519_key.pub 644 0 "ssh-ed25519 "
check_file /etc/ssh/ssh_host_rsa_key 600 0 "BEGIN OPENSSH PRIVATE KEY"
check_file /etc/ssh/ssh_host_rsa_key.pub 644 0 "ssh-rsa "
if command -v ssh-keygen >/dev/null; then  # the written key pair is usable and consistent
  [ "$(ssh-keygen -y -f "$root/etc/ssh/ssh_host_ed25519_key" | cut -d' ' -f2)" = \
    "$(cut -d' ' -f2 "$root/etc/ssh/ssh_host_ed25519_key.pub")" ] || fail "ed25519 pair mismatch"
fi
check_file /etc/ssl/certs/ca-certificates.crt 644 0 "BEGIN CERTIFICATE"
check_file /usr/local/share/ca-certificates/cloud-init-ca-cert-1.crt 644 0 "BEGIN CERTIFICATE"
[ "$(cat "$root/etc/timezone")" = Europe/Berlin ] || fail timezone
[ "$(readlink "$root/etc/localtime")" = /usr/share/zoneinfo/Europe/Berlin ] || fail localtime
check_file /etc/kubernetes/kubelet-config.yaml 600 0 "cgroupDriver: systemd"
check_file /etc/sysctl.d/99-kubernetes.conf 644 0 "net.ipv4.ip_forward = 1"
[ "$(cat "$root/etc/modules-load.d/k8s.conf")" = $'overlay\nbr_netfilter' ] || fail "gz+b64"
check_file /usr/local/bin/kubelet-wrapper 755 0 "echo kubelet-wrapper"
[ "$(cat "$root/etc/motd")" = $'node1: managed by paddock\nsecond line' ] || fail "text + append"
check_file /home/kadmin/.kube/config 640 1001 "kind: Config"
# Commands ran chrooted in the root, in order, and a failing one did not stop the rest.
[ "$(cat "$root/run/bootcmd.marker")" = bootcmd-ran ] || fail bootcmd
grep -q '^runcmd 1: ' "$root/var/log/runcmd.log" || fail "runcmd 1"
grep -q '^runcmd 3 after a failure$' "$root/var/log/runcmd.log" || fail "runcmd 3"
grep -q 'runcmd: kubelet-config.yaml' "$work/apply.log" || fail "runcmd output not logged"
grep -q 'node1 up after' "$work/apply.log" || fail final_message
grep -q '"mode":"reboot"' "$root/run/paddock/power_state.json" || fail power_state
[ ! -e /run/bootcmd.marker ] || ! grep -q bootcmd-ran /run/bootcmd.marker || fail "host touched"

# State: save the host keys and the kubelet config, restore into a fresh root, read with tar.
"$agent" state save --root "$root" --paths '/etc/ssh/ssh_host_*,/etc/kubernetes' \
  --out "$work/state.tar" >/dev/null
tar -tvf "$work/state.tar" >"$work/list"
grep -q 'etc/ssh/ssh_host_ed25519_key$' "$work/list" || fail "tar listing"
mkdir "$work/root2"
"$agent" state restore --root "$work/root2" --in "$work/state.tar" 2>/dev/null
cmp "$root/etc/ssh/ssh_host_ed25519_key" "$work/root2/etc/ssh/ssh_host_ed25519_key" || fail restore
[ "$(stat -c %a "$work/root2/etc/ssh/ssh_host_ed25519_key")" = 600 ] || fail "restored mode"
# A truncated archive is refused and nothing is written.
head -c 1500 "$work/state.tar" >"$work/cut.tar"
mkdir "$work/root3"
if "$agent" state restore --root "$work/root3" --in "$work/cut.tar" 2>/dev/null; then
  fail "truncated archive accepted"
fi
[ -z "$(ls -A "$work/root3")" ] || fail "truncated archive wrote files"

# Invalid YAML: a clear error naming line and column, exit 1, other parts still applied.
printf '#cloud-config\nhostname: x\n  bad: [\n' >"$work/bad.yaml"
if "$agent" apply --file "$work/bad.yaml" --root "$work/root3" 2>"$work/bad.log"; then
  fail "invalid YAML accepted"
fi
grep -q 'invalid YAML at line 3, column' "$work/bad.log" || { cat "$work/bad.log"; fail "YAML error text"; }
echo "PASS"
