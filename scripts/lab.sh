#!/usr/bin/env bash
# paddock's virtual lab: the README's first command. On a fresh Debian 12 machine (as root):
#
#   scripts/lab.sh [--machines N] [--keep]
#
# 1. installs the packages (scripts/setup.sh), 2. builds paddock (build/, Release, ccache),
# 3. builds the test node image (images/build-test-image.sh, cached), 4. creates a private
# network namespace with a bridge and one tap per machine, 5. starts `paddock serve` there with
# the config below, 6. PXE-boots N QEMU machines at once (default 3: two BIOS, one UEFI; real
# SeaBIOS/OVMF firmware with iPXE, under TCG), showing progress, 7. prints each machine's boot
# timeline and phase times, 8. cleans everything up.
#
#   --machines N   boot N machines (mixed BIOS/UEFI; each takes about 14-25 s of one core)
#   --keep         leave paddock running (in the namespace) until Ctrl-C
#
# PADDOCK_BUILD_DIR / PADDOCK_BUILD_TYPE override build/ and RelWithDebInfo (the same tree and
# type as scripts/test.sh, so the two commands share one build).
# Nothing leaves the namespace: its only network is the bridge, 198.18.X.0/24 (RFC 2544 range).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
machines=3
keep=0
while (($#)); do
  case $1 in
    --machines) machines=${2:?--machines needs a number}; shift 2 ;;
    --machines=*) machines=${1#*=}; shift ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "lab: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
[[ $machines =~ ^[1-9][0-9]?$ ]] || { echo "lab: --machines takes 1..99" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "lab: run as root (namespaces, taps, apt-get)" >&2; exit 1; }

step() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }

step "packages (scripts/setup.sh)"
bash "$ROOT/scripts/setup.sh"

build_dir=${PADDOCK_BUILD_DIR:-$ROOT/build}
step "building paddock ($build_dir, ${PADDOCK_BUILD_TYPE:-RelWithDebInfo})"
export CCACHE_DIR=${CCACHE_DIR:-/var/cache/paddock/ccache}
export CCACHE_BASEDIR=$ROOT CCACHE_NOHASHDIR=true
mkdir -p "$CCACHE_DIR"
cmake -S "$ROOT" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="${PADDOCK_BUILD_TYPE:-RelWithDebInfo}" \
  -DPADDOCK_ONLY= >/dev/null
ninja -C "$build_dir" paddock
export PADDOCK_BIN="$build_dir/src/cli/paddock"
[[ -x $PADDOCK_BIN ]] || { echo "lab: $PADDOCK_BIN was not built" >&2; exit 1; }

step "test node image (images/build-test-image.sh)"
export E2E_IMAGE_DIR="${PADDOCK_CACHE:-/var/cache/paddock}/images/test-node"
"$ROOT/images/build-test-image.sh" "$E2E_IMAGE_DIR"

# shellcheck source=../tests/e2e/lib.sh
source "$ROOT/tests/e2e/lib.sh"
export E2E_NS_PREFIX=pd-lab
((keep)) && export E2E_KEEP=1
step "lab network"
e2e_init lab
e2e_netns_create "$machines"

# Machine i: mostly BIOS, every third one UEFI (OVMF + iPXE EFI ROM).
names=() fws=() macs=()
for ((i = 1; i <= machines; i++)); do
  if ((i % 3 == 0)); then fws+=(uefi); else fws+=(bios); fi
  names+=("node-$i")
  macs+=("$(e2e_mac "$i")")
done
mem=512
((machines > 2)) && mem=256

config="$E2E_DIR/paddock.yaml"
{
  cat <<EOF
# The lab's config (scripts/lab.sh); the full schema is examples/paddock.yaml.
server:
  address: $E2E_IP            # paddock's address on the lab bridge
  interface: br0
  data_dir: $E2E_DIR/data     # SQLite: leases, machines, boot timelines
  log_level: info
dhcp:
  mode: full                  # paddock hands out the addresses itself
  range: { start: $E2E_NET.100, end: $E2E_NET.199 }
  netmask: 255.255.255.0
  lease_time: 1h
  router_advertisement: true  # one IPv6 RA, so iPXE skips its 16 s IPv6 wait
tftp:
  enabled: true
  root: /usr/lib/ipxe         # Debian's ipxe package: undionly.kpxe, ipxe.efi
http:
  address: 0.0.0.0
  port: 8080
  assets: $E2E_IMAGE_DIR      # vmlinuz + initrd.cpio.gz from images/build-test-image.sh
boot:
  bios: undionly.kpxe
  efi64: ipxe.efi
profiles:
  test-node:
    kernel: vmlinuz
    initrds: [initrd.cpio.gz]
    args: console=ttyS0 panic=1
groups:
  - name: default             # every machine, known or discovered
    profile: test-node
machines:
EOF
  for ((i = 0; i < machines; i++)); do
    printf '  - mac: %s\n    hostname: %s\n' "${macs[i]}" "${names[i]}"
  done
} >"$config"

step "paddock serve ($config)"
e2e_paddock_start "$config"

step "booting $machines machines at once (TCG: about 14 s each for BIOS, 18 s UEFI, on 2 cores)"
for ((i = 0; i < machines; i++)); do
  e2e_qemu_start "${names[i]}" "${fws[i]}" "${macs[i]}" "tap$i" virtio "$mem"
done
t_start=$EPOCHREALTIME
failed=0
e2e_wait_guests || failed=$?
wall=$(awk -v a="$EPOCHREALTIME" -v b="$t_start" 'BEGIN { printf "%.1f", a - b }')

step "machines"
"$PADDOCK_BIN" machines --config "$config" || true
for ((i = 0; i < machines; i++)); do
  step "timeline of ${names[i]} (${fws[i]}, ${macs[i]})"
  "$PADDOCK_BIN" timeline --config "$config" "${macs[i]}" || true
done
step "phase times"
e2e_report
echo "$((machines - failed))/$machines machines booted; wall ${wall} s" >&2

if ((keep)); then
  step "paddock keeps running (Ctrl-C stops it and removes the lab)"
  cat >&2 <<EOF
  logs:      $E2E_DIR/logs   (paddock.log, <machine>.serial)
  config:    $config
  try:       $PADDOCK_BIN machines --config $config
             ip netns exec $E2E_NS curl http://$E2E_IP:8080/boot.ipxe
  boot more: source $ROOT/tests/e2e/lib.sh (see its header)
EOF
  wait "$E2E_PADDOCK_PID" || true
fi
((failed == 0))
