# shellcheck shell=bash
# paddock end-to-end harness: a network namespace with a bridge and taps, a boot server in it
# (paddock, or a dnsmasq + python stand-in), QEMU guests with real firmware (SeaBIOS + iPXE ROM,
# OVMF + iPXE EFI ROM, OVMF's own PXE), serial consoles with per-line timestamps, and a cleanup
# trap that kills only what it started and deletes its namespaces, also on failure and Ctrl-C.
#
# Source it from bash (set -euo pipefail is fine), then:
#   e2e_init NAME                       run dir, unique namespace + subnet, cleanup trap
#   e2e_netns_create NTAPS              netns + br0 (198.18.X.1/24, ULA v6) + tap0..tapN-1
#   e2e_site_dhcp_start                 proxy scenario: the site's address-only DHCP server
#                                       (dnsmasq, + RA) in a second netns, bridged onto br0
#   e2e_paddock_config MODE [MAC:NAME ...] > FILE   generated paddock.yaml (full | proxy)
#   e2e_paddock_start CONFIG            paddock serve in the namespace; waits for its HTTP port
#   e2e_standin_start MODE              dnsmasq + python http.server instead of paddock
#   e2e_qemu_start NAME FW MAC TAP [NIC] [MEM]   FW: bios | uefi | uefi-native; NIC virtio|e1000
#   e2e_wait_guests [NAME ...]          waits for the guests to exit; 0 if all printed the marker
#   e2e_check_timeline NAME SPEC...     paddock timeline for the guest's MAC holds every SPEC
#   e2e_report [NAME ...]               phase times per guest (serial timestamps + timeline)
#
# Environment: PADDOCK_BIN (paddock binary), E2E_IMAGE_DIR (vmlinuz + initrd.cpio.gz; built by
# images/build-test-image.sh when unset), E2E_GUEST_TIMEOUT (s, default 180), E2E_KEEP=1 keeps
# the run dir, E2E_WORKDIR (parent of run dirs, default /tmp), E2E_NS_PREFIX (default pd-e2e).

E2E_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_SRC_DIR=$(cd "$E2E_LIB_DIR/../.." && pwd)
E2E_PY="python3 $E2E_LIB_DIR/e2e.py"
OVMF_CODE=${OVMF_CODE:-/usr/share/ovmf/OVMF.fd}
IPXE_DIR=${IPXE_DIR:-/usr/lib/ipxe}

E2E_PIDS=()            # every process we started (killed by pid in e2e_cleanup)
E2E_NAMESPACES=()      # every namespace we created
declare -A E2E_GUEST_PID=() E2E_GUEST_MAC=() E2E_GUEST_FW=() E2E_GUEST_T0=()
E2E_GUESTS=()
E2E_SERVER=""          # paddock | standin
E2E_QEMU_EXTRA=()      # extra QEMU arguments for every guest (e.g. -device virtio-rng-pci)
E2E_PADDOCK_CONFIG=""

e2e_log() { printf '[e2e %6.1fs] %s\n' "$(e2e_now_rel)" "$*" >&2; }
e2e_die() { e2e_log "FAIL: $*"; exit 1; }
e2e_now() { printf '%s' "$EPOCHREALTIME"; }
e2e_now_rel() { awk -v a="$EPOCHREALTIME" -v b="${E2E_START:-$EPOCHREALTIME}" 'BEGIN{printf "%.1f", a-b}'; }

# Skips (exit 77, ctest SKIP_RETURN_CODE) when the machine cannot run the tests at all.
e2e_require() {
  local missing=()
  [[ $(id -u) == 0 ]] || e2e_skip "needs root (network namespaces, taps)"
  [[ -c /dev/net/tun ]] || e2e_skip "needs /dev/net/tun"
  for c in ip qemu-system-x86_64 python3 "$@"; do command -v "$c" >/dev/null || missing+=("$c"); done
  ((${#missing[@]} == 0)) || e2e_skip "missing: ${missing[*]} (run scripts/setup.sh)"
}
e2e_skip() { echo "SKIP: $*" >&2; exit 77; }

e2e_init() {
  local name=$1
  E2E_START=$EPOCHREALTIME
  E2E_NAME=$name
  # Unique per run: the namespace carries our PID, the subnet a byte derived from it, so two runs
  # (even of the same scenario) coexist.
  E2E_ID=$$
  E2E_NS="${E2E_NS_PREFIX:-pd-e2e}-$E2E_ID"
  E2E_NET_BYTE=$((E2E_ID % 250 + 2))
  E2E_NET="198.18.$E2E_NET_BYTE"
  E2E_IP="$E2E_NET.1"
  E2E_IP6="fd00:e2e:$(printf '%x' "$E2E_NET_BYTE")::1"
  E2E_DIR=$(mktemp -d "${E2E_WORKDIR:-/tmp}/paddock-e2e-$name.XXXXXX")
  mkdir -p "$E2E_DIR/logs"
  trap e2e_cleanup EXIT
  trap 'e2e_log "interrupted"; exit 130' INT
  trap 'e2e_log "terminated"; exit 143' TERM
  e2e_log "run $name: netns $E2E_NS, subnet $E2E_NET.0/24, logs in $E2E_DIR/logs"
}

e2e_cleanup() {
  local rc=$? pid ns
  trap - EXIT INT TERM
  for pid in "${E2E_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${E2E_PIDS[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  for ns in "${E2E_NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  if ((rc != 0)) && [[ -d ${E2E_DIR:-} ]]; then
    e2e_log "failed (rc=$rc); logs kept in $E2E_DIR/logs"
    e2e_dump_logs
  elif [[ -n ${E2E_DIR:-} && ${E2E_KEEP:-0} != 1 ]]; then
    rm -rf "$E2E_DIR"
  fi
  exit "$rc"
}

# On failure: the tail of every log, so ctest's output alone explains it.
e2e_dump_logs() {
  local f
  for f in "$E2E_DIR"/logs/*; do
    [[ -f $f && $f != *.pcap ]] || continue
    echo "----- ${f##*/} (last 40 lines)" >&2
    tail -n 40 "$f" >&2
  done
}

e2e_track() { E2E_PIDS+=("$1"); }

e2e_netns_create() {
  local ntaps=${1:-1} i ns=$E2E_NS
  ip netns add "$ns"
  E2E_NAMESPACES+=("$ns")
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=0
  ip -n "$ns" link set lo up
  ip -n "$ns" link add br0 type bridge stp_state 0 forward_delay 0
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.br0.disable_ipv6=0
  ip -n "$ns" addr add "$E2E_IP/24" dev br0
  ip -n "$ns" addr add "$E2E_IP6/64" dev br0 nodad
  ip -n "$ns" link set br0 up
  for ((i = 0; i < ntaps; i++)); do
    ip -n "$ns" tuntap add dev "tap$i" mode tap
    ip -n "$ns" link set "tap$i" master br0 up
  done
}

# The site's own DHCP server for proxy mode: addresses only (no boot options) and the IPv6 RA,
# on 198.18.X.2 in a second namespace whose veth is a port of br0.
e2e_site_dhcp_start() {
  local site="${E2E_NS}s" conf="$E2E_DIR/site-dnsmasq.conf"
  ip netns add "$site"
  E2E_NAMESPACES+=("$site")
  ip netns exec "$site" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
  ip -n "$site" link set lo up
  ip -n "$E2E_NS" link add vsite type veth peer name site0 netns "$site"
  ip -n "$E2E_NS" link set vsite master br0 up
  ip netns exec "$site" sysctl -qw net.ipv6.conf.site0.disable_ipv6=0
  ip -n "$site" addr add "$E2E_NET.2/24" dev site0
  ip -n "$site" addr add "fd00:e2e:$(printf '%x' "$E2E_NET_BYTE")::2/64" dev site0 nodad
  ip -n "$site" link set site0 up
  cat >"$conf" <<EOF
port=0
user=root
group=root
no-resolv
no-hosts
interface=site0
bind-interfaces
log-dhcp
no-ping
enable-ra
dhcp-range=::,constructor:site0,ra-only
ra-param=site0,60,0
dhcp-range=$E2E_NET.100,$E2E_NET.199,255.255.255.0,10m
dhcp-leasefile=$E2E_DIR/site.leases
EOF
  ip netns exec "$site" dnsmasq --keep-in-foreground --conf-file="$conf" \
    --pid-file="$E2E_DIR/site-dnsmasq.pid" </dev/null >"$E2E_DIR/logs/site-dnsmasq.log" 2>&1 &
  e2e_track $!
  e2e_log "site DHCP server (dnsmasq, address-only + RA) on $E2E_NET.2"
}

e2e_image() {
  if [[ -z ${E2E_IMAGE_DIR:-} ]]; then
    E2E_IMAGE_DIR="$E2E_DIR/image"
    "$E2E_SRC_DIR/images/build-test-image.sh" "$E2E_IMAGE_DIR" >&2
  fi
  [[ -s $E2E_IMAGE_DIR/vmlinuz && -s $E2E_IMAGE_DIR/initrd.cpio.gz ]] ||
    e2e_die "no test image in $E2E_IMAGE_DIR"
}

# The TFTP root: Debian's /usr/lib/ipxe/ipxe.efi is a symlink to /boot/ipxe.efi, outside the
# root, which paddock (rightly) refuses to follow; serve real copies from the run dir instead.
# E2E_TFTP_ROOT=/usr/lib/ipxe tests the package directory as it is.
e2e_tftp_root() {
  if [[ -n ${E2E_TFTP_ROOT:-} ]]; then echo "$E2E_TFTP_ROOT"; return; fi
  if [[ ! -d $E2E_DIR/tftp ]]; then
    mkdir -p "$E2E_DIR/tftp"
    cp -L "$IPXE_DIR/undionly.kpxe" "$IPXE_DIR/ipxe.efi" "$IPXE_DIR/snponly.efi" "$E2E_DIR/tftp/"
  fi
  echo "$E2E_DIR/tftp"
}

# e2e_paddock_config full|proxy [MAC=HOSTNAME ...]
e2e_paddock_config() {
  local mode=$1 m
  shift
  e2e_image
  cat <<EOF
# generated by tests/e2e/lib.sh for run $E2E_NAME ($E2E_NS)
server:
  address: $E2E_IP
  interface: br0
  data_dir: $E2E_DIR/data
  log_level: ${E2E_LOG_LEVEL:-debug}
dhcp:
  mode: $mode
EOF
  if [[ $mode == full ]]; then
    cat <<EOF
  range:
    start: $E2E_NET.100
    end: $E2E_NET.199
  netmask: 255.255.255.0
  lease_time: 10m
  router_advertisement: true
EOF
  else
    # The site's server (dnsmasq) sends the RA in proxy mode.
    echo "  router_advertisement: false"
  fi
  cat <<EOF
tftp:
  enabled: true
  root: $(e2e_tftp_root)
  port: 69
http:
  address: 0.0.0.0
  port: 8080
  assets: $E2E_IMAGE_DIR
boot:
  bios: undionly.kpxe
  efi64: ipxe.efi
profiles:
  test-node:
    kernel: vmlinuz
    initrds: [initrd.cpio.gz]
    args: console=ttyS0 panic=1
groups:
  - name: default
    profile: test-node
EOF
  if (($#)); then
    echo "machines:"
    for m in "$@"; do
      printf '  - mac: %s\n    hostname: %s\n' "${m%%=*}" "${m#*=}"
    done
  fi
}

e2e_wait_http() {
  local url=$1 what=$2 pid=$3 i
  for ((i = 0; i < 100; i++)); do
    ip netns exec "$E2E_NS" curl -s -o /dev/null --max-time 1 "$url" && return 0
    kill -0 "$pid" 2>/dev/null || e2e_die "$what exited during start-up"
    sleep 0.1
  done
  e2e_die "$what did not answer $url within 10 s"
}

e2e_paddock_start() {
  local config=$1
  [[ -x ${PADDOCK_BIN:-} ]] || e2e_die "PADDOCK_BIN not set or not executable"
  E2E_SERVER=paddock
  E2E_PADDOCK_CONFIG=$config
  mkdir -p "$E2E_DIR/data"
  cp "$config" "$E2E_DIR/logs/paddock.yaml"
  ip netns exec "$E2E_NS" "$PADDOCK_BIN" serve --config "$config" \
    </dev/null >"$E2E_DIR/logs/paddock.log" 2>&1 &
  E2E_PADDOCK_PID=$!
  e2e_track $E2E_PADDOCK_PID
  e2e_wait_http "http://$E2E_IP:8080/boot.ipxe" "paddock serve" "$E2E_PADDOCK_PID"
  e2e_log "paddock serve up (pid $E2E_PADDOCK_PID, http://$E2E_IP:8080)"
}

# The stand-in server of notes/pxe-in-qemu.md: dnsmasq (DHCP, TFTP, RA) + a static HTTP server
# with the same URL layout as paddock (/boot.ipxe, /assets/..., /node/booted). Validates the image
# and the harness without paddock.
e2e_standin_start() {
  local mode=$1 web="$E2E_DIR/web" conf="$E2E_DIR/dnsmasq.conf"
  e2e_image
  E2E_SERVER=standin
  mkdir -p "$web/assets" "$web/node"
  ln -sf "$E2E_IMAGE_DIR/vmlinuz" "$E2E_IMAGE_DIR/initrd.cpio.gz" "$web/assets/"
  echo ok >"$web/node/booted"
  cat >"$web/boot.ipxe" <<EOF
#!ipxe
echo E2E-IPXE: script via http mac=\${net0/mac} ip=\${net0/ip} platform=\${platform}
kernel http://$E2E_IP:8080/assets/vmlinuz initrd=initrd.cpio.gz console=ttyS0 panic=1 paddock.server=http://$E2E_IP:8080 paddock.token=standin paddock.mac=\${net0/mac}
initrd http://$E2E_IP:8080/assets/initrd.cpio.gz
boot
EOF
  {
    printf '%s\n' port=0 user=root group=root no-resolv no-hosts interface=br0 bind-interfaces \
      log-dhcp no-ping enable-tftp "tftp-root=$IPXE_DIR" "dhcp-leasefile=$E2E_DIR/dnsmasq.leases" \
      dhcp-match=set:ipxe,175
    if [[ $mode == full ]]; then
      printf '%s\n' enable-ra dhcp-range=::,constructor:br0,ra-only ra-param=br0,60,0 \
        "dhcp-range=$E2E_NET.100,$E2E_NET.199,255.255.255.0,10m" \
        dhcp-match=set:efi64,option:client-arch,7 dhcp-match=set:efi64,option:client-arch,9 \
        "dhcp-boot=tag:!ipxe,tag:!efi64,undionly.kpxe" "dhcp-boot=tag:!ipxe,tag:efi64,ipxe.efi" \
        "dhcp-boot=tag:ipxe,http://$E2E_IP:8080/boot.ipxe" "dhcp-option=tag:ipxe,encap:175,176,1b"
    else
      printf '%s\n' "dhcp-range=$E2E_NET.0,proxy,255.255.255.0" \
        'pxe-service=tag:!ipxe,x86PC,"paddock",undionly.kpxe' \
        'pxe-service=tag:!ipxe,X86-64_EFI,"paddock",ipxe.efi' \
        'pxe-service=tag:!ipxe,BC_EFI,"paddock",ipxe.efi' \
        "dhcp-boot=tag:ipxe,http://$E2E_IP:8080/boot.ipxe,bootsrv,$E2E_IP"
    fi
  } >"$conf"
  ip netns exec "$E2E_NS" dnsmasq --keep-in-foreground --conf-file="$conf" \
    --pid-file="$E2E_DIR/dnsmasq.pid" </dev/null >"$E2E_DIR/logs/dnsmasq.log" 2>&1 &
  e2e_track $!
  ip netns exec "$E2E_NS" python3 -m http.server 8080 --bind "$E2E_IP" --directory "$web" \
    </dev/null >"$E2E_DIR/logs/http.log" 2>&1 &
  local http_pid=$!
  e2e_track $http_pid
  e2e_wait_http "http://$E2E_IP:8080/boot.ipxe" "stand-in HTTP server" "$http_pid"
  e2e_log "stand-in server up (dnsmasq $mode + python http.server)"
}

# e2e_qemu_start NAME FW MAC TAP [NIC] [MEM]
e2e_qemu_start() {
  local name=$1 fw=$2 mac=$3 tap=$4 nic=${5:-virtio} mem=${6:-512} dev fwargs=() t0
  case $nic in
    virtio) dev=virtio-net-pci ;;
    e1000) dev=e1000 ;;
    *) e2e_die "unknown NIC $nic" ;;
  esac
  dev+=",netdev=n0,mac=$mac"
  case $fw in
    bios) fwargs=(-boot order=n,reboot-timeout=1000) ;;
    uefi) fwargs=(-bios "$OVMF_CODE"); dev+=",bootindex=1" ;;
    # romfile= drops QEMU's iPXE ROM: OVMF's own PXE client loads ipxe.efi over TFTP.
    uefi-native) fwargs=(-bios "$OVMF_CODE"); dev+=",bootindex=1,romfile=" ;;
    *) e2e_die "unknown firmware $fw" ;;
  esac
  local log="$E2E_DIR/logs/$name.serial" fifo="$E2E_DIR/$name.fifo"
  mkfifo "$fifo"
  t0=$(e2e_now)
  $E2E_PY ts "$t0" <"$fifo" >"$log" &
  e2e_track $!
  ip netns exec "$E2E_NS" timeout "${E2E_GUEST_TIMEOUT:-180}" qemu-system-x86_64 \
    -name "$name" -accel tcg -m "$mem" -smp 1 -nographic -no-reboot \
    -uuid "$(cat /proc/sys/kernel/random/uuid)" "${fwargs[@]}" \
    -netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" -device "$dev" \
    "${E2E_QEMU_EXTRA[@]}" </dev/null >"$fifo" 2>"$E2E_DIR/logs/$name.qemu.log" &
  E2E_GUEST_PID[$name]=$!
  e2e_track $!
  E2E_GUEST_MAC[$name]=$mac
  E2E_GUEST_FW[$name]=$fw
  E2E_GUEST_T0[$name]=$t0
  E2E_GUESTS+=("$name")
  e2e_log "guest $name: $fw/$nic mac=$mac on $tap (qemu pid $!)"
}

e2e_guest_state() {  # ok | fail:<reason> | running
  local name=$1 log="$E2E_DIR/logs/$1.serial"
  if grep -q 'E2E-MARKER: OK' "$log" 2>/dev/null; then echo ok; return; fi
  local f
  f=$(grep -m1 -o 'E2E-MARKER: FAIL.*' "$log" 2>/dev/null || true)
  if [[ -n $f ]]; then echo "fail:${f#E2E-MARKER: FAIL }"; return; fi
  if kill -0 "${E2E_GUEST_PID[$name]}" 2>/dev/null; then echo running; else echo "fail:exited without marker"; fi
}

# Waits until every named guest (default: all) has exited; prints progress lines. Returns the
# number of guests that did not print E2E-MARKER: OK.
e2e_wait_guests() {
  local names=("$@") name state last="" line failed=0
  ((${#names[@]})) || names=("${E2E_GUESTS[@]}")
  while :; do
    local running=0
    line=""
    for name in "${names[@]}"; do
      state=$(e2e_guest_state "$name")
      [[ $state == running ]] && running=$((running + 1))
      line+="$name=$(e2e_guest_phase "$name" "$state") "
    done
    if [[ $line != "$last" ]]; then e2e_log "${line% }"; last=$line; fi
    ((running)) || break
    sleep 0.5
  done
  for name in "${names[@]}"; do
    wait "${E2E_GUEST_PID[$name]}" 2>/dev/null || true
    state=$(e2e_guest_state "$name")
    if [[ $state != ok ]]; then
      e2e_log "guest $name: ${state#fail:}"
      failed=$((failed + 1))
    fi
  done
  return "$failed"
}

# A one-word phase for progress output, from the last recognisable serial line.
e2e_guest_phase() {
  local name=$1 state=$2 log="$E2E_DIR/logs/$1.serial"
  case $state in ok) echo OK; return ;; fail:*) echo FAIL; return ;; esac
  if grep -q 'PADDOCK-NODE: dhcp' "$log" 2>/dev/null; then echo report
  elif grep -q 'PADDOCK-NODE: init' "$log" 2>/dev/null; then echo /init
  elif grep -q 'Linux version' "$log" 2>/dev/null; then echo kernel
  elif grep -qE 'vmlinuz|boot\.ipxe' "$log" 2>/dev/null; then echo http
  elif grep -qE 'Configuring|DHCP|PXE' "$log" 2>/dev/null; then echo dhcp
  else echo firmware; fi
}

e2e_timeline_json() {  # e2e_timeline_json NAME -> path of the saved timeline JSON
  local name=$1 out="$E2E_DIR/logs/$1.timeline.json"
  if [[ ! -s $out ]]; then
    "$PADDOCK_BIN" timeline --config "$E2E_PADDOCK_CONFIG" "${E2E_GUEST_MAC[$name]}" --json \
      >"$out" 2>"$E2E_DIR/logs/$name.timeline.err" || {
      e2e_log "paddock timeline ${E2E_GUEST_MAC[$name]} failed: $(head -c 300 "$E2E_DIR/logs/$name.timeline.err")"
      rm -f "$out"
      return 1
    }
  fi
  echo "$out"
}

# e2e_check_timeline NAME SPEC... (see e2e.py check). Standin server: no timeline, returns 0.
e2e_check_timeline() {
  local name=$1 json
  shift
  [[ $E2E_SERVER == paddock ]] || return 0
  # The daemon stores events in batches: give the last ones (node.booted) a moment to land.
  local _try
  for _try in 1 2 3 4 5 6; do
    rm -f "$E2E_DIR/logs/$name.timeline.json"
    if json=$(e2e_timeline_json "$name") && $E2E_PY check "$json" "$@" >/dev/null 2>&1; then break; fi
    sleep 0.5
  done
  [[ -n $json ]] || return 1
  $E2E_PY check "$json" "$@" | sed "s/^/[$name] /" >&2
  return "${PIPESTATUS[0]}"
}

# Expected timeline of a guest by firmware and DHCP mode (the phases every boot must show).
e2e_expected_phases() {
  local fw=$1 mode=$2
  local http=(http.request~boot.ipxe boot.script~/ipxe http.request~vmlinuz http.request~initrd
    node.booted)
  if [[ $mode == full ]]; then
    case $fw in
      bios | uefi)  # iPXE ROM DHCP, then the node's own DHCP after the initrd
        echo dhcp.discover dhcp.offer dhcp.request dhcp.ack "${http[@]}" \
          "dhcp.ack*2" "dhcp.discover@after=http.request" ;;
      uefi-native)  # OVMF PXE DHCP, TFTP ipxe.efi, iPXE DHCP, then the node's own DHCP
        echo "dhcp.discover*3" "dhcp.offer*3" "dhcp.request*3" "dhcp.ack*3" \
          tftp.transfer~ipxe.efi "${http[@]}" "dhcp.discover@after=http.request" ;;
    esac
  else
    case $fw in
      bios | uefi) echo proxy.offer "${http[@]}" ;;
      uefi-native) echo "proxy.offer*2" proxy.ack tftp.transfer~ipxe.efi "${http[@]}" ;;
    esac
  fi
}

e2e_report() {
  local names=("$@") name json
  ((${#names[@]})) || names=("${E2E_GUESTS[@]}")
  echo "phase times, seconds since QEMU start (timeline events where paddock served):" >&2
  for name in "${names[@]}"; do
    json=""
    [[ $E2E_SERVER == paddock ]] && json=$(e2e_timeline_json "$name" 2>/dev/null || true)
    $E2E_PY report "$name" "${E2E_GUEST_FW[$name]}" "${E2E_GUEST_T0[$name]}" \
      "$E2E_DIR/logs/$name.serial" $json >&2 || true
  done
}

e2e_mac() {  # e2e_mac INDEX -> a MAC unique to this run
  printf '52:54:00:e2:%02x:%02x' "$E2E_NET_BYTE" "$1"
}
