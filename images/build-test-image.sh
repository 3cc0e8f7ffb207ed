#!/usr/bin/env bash
# Builds paddock's test node image from Debian packages: OUTDIR/vmlinuz and OUTDIR/initrd.cpio.gz.
#
#   images/build-test-image.sh [OUTDIR]      (default OUTDIR: $PADDOCK_CACHE/images/test-node)
#
# Kernel: the ABI package that linux-image-amd64 depends on, fetched with `apt-get download` and
# never installed; only vmlinuz and the modules the node needs (plus their dependencies, read
# from modules.dep) are extracted. Initramfs: busybox-static and an /init that brings up the
# network with DHCP, reports `GET /node/booted?mac=..&token=..&uptime=..` to the server named by
# paddock.server= on the kernel command line, prints
#   PADDOCK-NODE: booted mac=<mac> ip=<ip> uptime=<s>
#   E2E-MARKER: OK
# on the serial console and powers off (on any failure: `E2E-MARKER: FAIL <reason>`, power off).
#
# Everything is cached under ${PADDOCK_CACHE:-/var/cache/paddock}, keyed by the package versions
# and this script's content, so a second run takes about a second. Needs root only for
# apt-get update when the package lists are empty. Extra modules for later images:
# PADDOCK_IMAGE_EXTRA_MODULES="overlay veth ..." (names as in modules.dep, without .ko).
#
# Agent variant: PADDOCK_IMAGE_AGENT=/path/to/paddock-agent (the static binary) adds it as
# /bin/paddock-agent, base accounts in /etc, and has /init run `paddock-agent boot --no-power`
# right after DHCP (before the booted report), then print
#   PADDOCK-AGENT: exit=<status>   and   PADDOCK-AGENT: file <path> <content>
# for /etc/hostname /etc/ssh/ssh_host_ed25519_key /var/lib/node/id. With paddock.watch=N on the
# kernel command line the agent runs resident (`--watch N`) until the guest runs busybox
# `poweroff`/`reboot`/`halt`; /init then stops it with SIGTERM, waits for its shutdown state
# upload and prints the files again. Without the variable the image is built exactly as before.
#
# Containerd variant: PADDOCK_IMAGE_CONTAINERD=1 (usually with PADDOCK_IMAGE_AGENT) adds Debian's
# containerd, ctr, containerd-shim-runc-v2 and runc (apt-get download, never installed) and the
# shared libraries they need (ldd) as a second initrd, OUTDIR/containerd.cpio.zst (zstd; cached
# by package versions and recipe, so editing /init does not recompress it), plus the overlay
# module. The profile lists both: `initrds: [initrd.cpio.gz, containerd.cpio.zst]`. /init first
# copies the root into a tmpfs and switch_roots into it (runc cannot pivot_root out of the
# initramfs rootfs), and after DHCP and the agent mounts cgroup2, starts containerd and prints
#   PADDOCK-CTR: hosts <ns> <hosts.toml, one line>   (every /etc/containerd/certs.d/*/hosts.toml)
# With paddock.ctr.image=REF on the kernel command line it then runs
# `ctr image pull --hosts-dir /etc/containerd/certs.d REF` and `ctr run --rm REF` (the image's
# own command), prints the container's output as `PADDOCK-CTR: out <line>`, and
#   PADDOCK-CTR: pulled <ref> seconds=<s>   PADDOCK-CTR: run exit=<status> seconds=<s>
# (a failed pull or run is `E2E-MARKER: FAIL ...`). Guests need about 1 GB of RAM and
# `-device virtio-rng-pci` (else containerd waits ~15 s for the RNG under TCG).
set -euo pipefail

CACHE=${PADDOCK_CACHE:-/var/cache/paddock}
OUT=${1:-$CACHE/images/test-node}
MODULES=(virtio_pci virtio_net e1000 ${PADDOCK_IMAGE_EXTRA_MODULES:-})
containerd_variant=${PADDOCK_IMAGE_CONTAINERD:-}
[[ $containerd_variant == 0 ]] && containerd_variant=""
# virtio_rng: containerd blocks in getrandom() until the kernel's RNG is seeded, which takes
# about 15 s under TCG without a hardware RNG (guests get -device virtio-rng-pci).
if [[ -n $containerd_variant ]]; then MODULES+=(overlay virtio_rng); fi
SELF=$(readlink -f "${BASH_SOURCE[0]}")

log() { printf 'build-test-image: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

mkdir -p "$CACHE/debs" "$CACHE/kernel" "$CACHE/images"
# Two builds at once (parallel ctest, the lab) share the cache: serialise them.
exec 9>"$CACHE/.build-test-image.lock"
flock 9

# --- Which packages ------------------------------------------------------------------------------
abi_package() {
  apt-cache depends linux-image-amd64 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}
kpkg=$(abi_package || true)
if [[ -z $kpkg ]]; then
  log "package lists empty; running apt-get update"
  apt-get update -qq || die "apt-get update failed"
  kpkg=$(abi_package || true)
fi
[[ -n $kpkg ]] || die "cannot resolve the kernel ABI package of linux-image-amd64"
kver_pkg=$(apt-cache show --no-all-versions "$kpkg" | awk '/^Version:/ { print $2; exit }')
[[ -n $kver_pkg ]] || die "no version for $kpkg"

# busybox-static: the installed one (scripts/setup.sh installs it), else a downloaded copy.
bb_ver=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || true)
if [[ -n $bb_ver && -x /bin/busybox ]]; then
  busybox=/bin/busybox
else
  bb_ver=$(apt-cache show --no-all-versions busybox-static | awk '/^Version:/ { print $2; exit }')
  busybox=""
fi

script_sum=$(sha256sum "$SELF" | cut -c1-12)
agent_bin=${PADDOCK_IMAGE_AGENT:-}
agent_sum=()
if [[ -n $agent_bin ]]; then
  [[ -x $agent_bin ]] || die "PADDOCK_IMAGE_AGENT=$agent_bin is not an executable"
  agent_sum=("agent=$(sha256sum "$agent_bin" | cut -c1-16)")
fi
ctd_sum=()
if [[ -n $containerd_variant ]]; then
  # One apt-cache call for both (each call parses every package list: seconds under load).
  read -r ctd_ver runc_ver < <(apt-cache show --no-all-versions containerd runc |
    awk '/^Package:/ { p = $2 } /^Version:/ { v[p] = $2 } END { print v["containerd"], v["runc"] }')
  [[ -n $ctd_ver && -n $runc_ver ]] || die "cannot resolve the containerd and runc packages"
  ctd_sum=("containerd=$ctd_ver" "runc=$runc_ver")
fi
key=$(printf '%s\n' "$kpkg=$kver_pkg" "busybox-static=$bb_ver" "$script_sum" "${MODULES[*]}" \
  "${agent_sum[@]}" "${ctd_sum[@]}" | sha256sum | cut -c1-16)
built="$CACHE/images/.built/$key"

install_out() {
  mkdir -p "$OUT"
  if [[ $(readlink -f "$OUT") != $(readlink -f "$built") ]]; then
    cp -f "$built/vmlinuz" "$built/initrd.cpio.gz" "$built/image.env" "$OUT/"
    [[ -z $containerd_variant ]] || cp -f "$built/containerd.cpio.zst" "$OUT/"
  fi
  log "image ready in $OUT ($(du -h "$OUT/vmlinuz" | cut -f1) kernel," \
    "$(du -h "$OUT/initrd.cpio.gz" | cut -f1) initrd${containerd_variant:+, $(du -h \
    "$OUT/containerd.cpio.zst" | cut -f1) containerd initrd}; $kpkg $kver_pkg)"
}

if [[ -s $built/vmlinuz && -s $built/initrd.cpio.gz ]] &&
  [[ -z $containerd_variant || -s $built/containerd.cpio.zst ]]; then
  log "cached image $key"
  install_out
  exit 0
fi

# --- Download (cached per version) ---------------------------------------------------------------
fetch_deb() {  # fetch_deb PACKAGE VERSION -> prints the .deb path
  local pkg=$1 ver=$2 f
  for f in "$CACHE/debs/${pkg}_"*.deb; do
    [[ -e $f ]] || continue
    [[ $(dpkg-deb -f "$f" Version) == "$ver" ]] && { echo "$f"; return; }
  done
  log "downloading $pkg $ver"
  (cd "$CACHE/debs" && apt-get download -q "$pkg=$ver" >&2) || die "apt-get download $pkg failed"
  for f in "$CACHE/debs/${pkg}_"*.deb; do
    [[ $(dpkg-deb -f "$f" Version) == "$ver" ]] && { echo "$f"; return; }
  done
  die "downloaded $pkg but found no .deb of version $ver"
}

kdeb=$(fetch_deb "$kpkg" "$kver_pkg")
if [[ -z $busybox ]]; then
  bbdeb=$(fetch_deb busybox-static "$bb_ver")
  bbdir=$(mktemp -d)
  dpkg-deb --fsys-tarfile "$bbdeb" | tar -x -C "$bbdir" ./bin/busybox
  busybox=$bbdir/bin/busybox
fi

# --- Kernel and modules (extracted once per kernel version) --------------------------------------
# The package has no modules.dep (depmod runs at install time) and kmod may not be installed, so
# build one from each module's .modinfo "depends=" field: unpack every module once into a
# scratch dir, keep the dependency list, vmlinuz and nothing else.
kdir="$CACHE/kernel/${kpkg}_${kver_pkg}"
if [[ ! -e $kdir/.complete ]]; then
  log "extracting vmlinuz and indexing module dependencies of $(basename "$kdeb")"
  rm -rf "$kdir"
  mkdir -p "$kdir"
  scratch=$(mktemp -d "$CACHE/kernel/.scratch.XXXXXX")
  dpkg-deb --fsys-tarfile "$kdeb" |
    tar -x -C "$scratch" --wildcards './boot/vmlinuz-*' './lib/modules/*'
  mv "$scratch"/boot "$kdir/"
  kv=$(ls "$scratch/lib/modules" | head -1)
  mkdir -p "$kdir/lib/modules/$kv"
  cp "$scratch/lib/modules/$kv/modules.builtin" "$kdir/lib/modules/$kv/" 2>/dev/null || true
  (cd "$scratch/lib/modules/$kv" && find kernel -name '*.ko*' | LC_ALL=C sort >"$kdir/files.txt" &&
    grep -a -o -H 'depends=[A-Za-z0-9_,-]*' -r kernel |
    awk -F: '!seen[$1]++ { print }' >"$kdir/depends.txt")
  # modules.dep shape: "path: dep-path dep-path" (direct dependencies only).
  awk -F: '
    FNR == NR { n = $0; sub(/.*\//, "", n); sub(/\.ko.*/, "", n); gsub(/-/, "_", n); path[n] = $0; next }
    { d = $2; sub(/^depends=/, "", d); deps[$1] = d }
    END {
      for (n in path) {
        p = path[n]; line = p ":"; k = split(deps[p], a, ",")
        for (i = 1; i <= k; i++) { g = a[i]; gsub(/-/, "_", g); if (g in path) line = line " " path[g] }
        print line
      }
    }' "$kdir/files.txt" "$kdir/depends.txt" | LC_ALL=C sort >"$kdir/lib/modules/$kv/modules.dep"
  rm -rf "$scratch"
  touch "$kdir/.complete"
fi
vmlinuz=$(ls "$kdir"/boot/vmlinuz-* | head -1)
kver=${vmlinuz##*/vmlinuz-}
moddir="$kdir/lib/modules/$kver"
[[ -s $moddir/modules.dep ]] || die "no module index for $kdeb"

# Resolve the wanted modules and their dependencies into a load order (dependencies first).
# modules.dep lines: "kernel/a/b.ko[.xz]: dep1.ko dep2.ko ..." (direct dependencies).
declare -A seen=()
order=()
resolve() {
  local name=$1 line path deps d
  line=$(grep -E "/${name//_/[-_]}\.ko(\.[a-z]+)?:" "$moddir/modules.dep" | head -1 || true)
  if [[ -z $line ]]; then
    grep -qE "/${name}\.ko" "$moddir/modules.builtin" 2>/dev/null && return 0
    die "module $name is neither in modules.dep nor built in"
  fi
  path=${line%%:*}
  [[ -n ${seen[$path]:-} ]] && return 0
  read -r -a deps <<<"${line#*:}"
  for d in "${deps[@]}"; do
    d=${d##*/}
    d=${d%%.ko*}
    resolve "$d"
  done
  seen[$path]=1
  order+=("$path")
}
for m in "${MODULES[@]}"; do resolve "${m//-/_}"; done

missing=()
for p in "${order[@]}"; do [[ -s $moddir/$p ]] || missing+=("./lib/modules/$kver/$p"); done
if ((${#missing[@]})); then
  log "extracting ${#missing[@]} modules"
  dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$kdir" "${missing[@]}"
fi

# --- Containerd initrd (containerd variant; cached apart from the main initrd) -------------------
# Binaries from Debian's containerd and runc packages plus the shared libraries ldd names for
# them (libc, libseccomp, the loader; copied from this Debian host, their package versions are
# part of the key). zstd: the Debian kernel has CONFIG_RD_ZSTD=y; -9 takes the 92 MB of Go
# binaries to about 29 MB in well under a minute (-19 is minutes for 2 % less).
build_containerd_layer() {  # build_containerd_layer OUTFILE
  local out=$1 dir lib
  dir=$(mktemp -d)
  dpkg-deb --fsys-tarfile "$ctd_deb" |
    tar -x -C "$dir" ./usr/bin/containerd ./usr/bin/ctr ./usr/bin/containerd-shim-runc-v2
  dpkg-deb --fsys-tarfile "$runc_deb" | tar -x -C "$dir" ./usr/sbin/runc
  for lib in $(ldd "$dir"/usr/bin/* "$dir"/usr/sbin/runc |
    awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/.*ld-linux/ { print $1 }' | sort -u); do
    mkdir -p "$dir$(dirname "$lib")"
    cp -L "$lib" "$dir$lib"
  done
  [[ -e $dir/lib64/ld-linux-x86-64.so.2 ]] || die "ldd named no loader for containerd"
  (cd "$dir" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
    zstd -q -9 -T2 >"$out.tmp.$$"
  mv "$out.tmp.$$" "$out"
  rm -rf "$dir"
}
if [[ -n $containerd_variant ]]; then
  ctd_deb=$(fetch_deb containerd "$ctd_ver")
  runc_deb=$(fetch_deb runc "$runc_ver")
  libs_ver=$(dpkg-query -W -f='${Package}=${Version} ' libc6 libseccomp2 2>/dev/null || true)
  layer_key=$(printf '%s\n' "containerd=$ctd_ver" "runc=$runc_ver" "$libs_ver" \
    "$(declare -f build_containerd_layer)" | sha256sum | cut -c1-16)
  ctd_layer="$CACHE/images/.layers/containerd-$layer_key.cpio.zst"
  if [[ ! -s $ctd_layer ]]; then
    log "building the containerd initrd (containerd $ctd_ver, runc $runc_ver)"
    mkdir -p "$CACHE/images/.layers"
    build_containerd_layer "$ctd_layer"
  fi
fi

# --- Initramfs -----------------------------------------------------------------------------------
stage=$(mktemp -d)
trap 'rm -rf "$stage" ${bbdir:+"$bbdir"}' EXIT
log "building initramfs (busybox $bb_ver, ${#order[@]} modules)"
mkdir -p "$stage"/{bin,dev,proc,sys,run,tmp,etc/udhcpc,lib/modules}
cp "$busybox" "$stage/bin/busybox"
for applet in $("$stage/bin/busybox" --list); do
  [[ $applet == busybox ]] || ln -s busybox "$stage/bin/$applet"
done
ln -s bin "$stage/sbin"
: >"$stage/etc/modules.order"
for p in "${order[@]}"; do
  base=${p##*/}
  case $base in
    *.ko.xz) xz -dc "$moddir/$p" >"$stage/lib/modules/${base%.xz}"; base=${base%.xz} ;;
    *.ko.zst) zstd -qdc "$moddir/$p" >"$stage/lib/modules/${base%.zst}"; base=${base%.zst} ;;
    *.ko.gz) gzip -dc "$moddir/$p" >"$stage/lib/modules/${base%.gz}"; base=${base%.gz} ;;
    *) cp "$moddir/$p" "$stage/lib/modules/$base" ;;
  esac
  echo "$base" >>"$stage/etc/modules.order"
done

cat >"$stage/etc/udhcpc/default.script" <<'EOF'
#!/bin/sh
# udhcpc hook: configure the interface and remember the lease for /init.
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
    { echo "ip=$ip"; echo "mask=$mask"; echo "router=$router"; echo "serverid=$serverid"
      echo "lease=$lease"; } >/run/dhcp.env ;;
esac
exit 0
EOF

cat >"$stage/init" <<'EOF'
#!/bin/sh
# paddock test node: DHCP, report "booted" to paddock, print the marker, power off.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /run /tmp

up() { cut -d' ' -f1 /proc/uptime; }
done_() { sync; poweroff -f; sleep 10; }
fail() {
  echo "PADDOCK-NODE: failure uptime=$(up)"
  ip addr 2>&1 | sed 's/^/PADDOCK-NODE:   /'
  echo "E2E-MARKER: FAIL $*"
  done_
}
echo "PADDOCK-NODE: init uptime=$(up)"

for m in $(cat /etc/modules.order); do
  insmod "/lib/modules/$m" || echo "PADDOCK-NODE: insmod $m failed"
done

server="" token="" want_mac=""
for w in $(cat /proc/cmdline); do
  case "$w" in
    paddock.server=*) server=${w#*=} ;;
    paddock.token=*) token=${w#*=} ;;
    paddock.mac=*) want_mac=${w#*=} ;;
  esac
done
[ -n "$server" ] || fail "no paddock.server= on the kernel command line"
want_mac=$(echo "$want_mac" | tr 'A-F-' 'a-f:')

# The NIC: the one with paddock.mac if given, else the first non-loopback one.
iface="" i=0
while [ -z "$iface" ] && [ $i -lt 100 ]; do
  for d in /sys/class/net/*; do
    n=${d##*/}
    [ "$n" = lo ] || [ ! -e "$d/address" ] && continue
    if [ -z "$want_mac" ] || [ "$(cat "$d/address")" = "$want_mac" ]; then iface=$n; break; fi
  done
  [ -n "$iface" ] || { sleep 0.1; i=$((i + 1)); }
done
[ -n "$iface" ] || fail "no network interface${want_mac:+ with mac $want_mac}"
mac=$(cat "/sys/class/net/$iface/address")

# Debian's udhcpc neither raises the link nor gives up on a down link: do both here.
ip link set lo up
ip link set "$iface" up
i=0
while [ "$(cat "/sys/class/net/$iface/carrier" 2>/dev/null)" != 1 ]; do
  i=$((i + 1))
  [ $i -gt 200 ] && fail "no carrier on $iface"
  sleep 0.1
done
echo "PADDOCK-NODE: link $iface up mac=$mac uptime=$(up)"

timeout 30 udhcpc -s /etc/udhcpc/default.script -i "$iface" -n -q -t 5 -T 2 \
  -V paddock-test-node -x hostname:paddock-node || fail "dhcp on $iface failed"
[ -s /run/dhcp.env ] || fail "dhcp gave no lease"
. /run/dhcp.env
echo "PADDOCK-NODE: dhcp ip=$ip server=$serverid uptime=$(up)"

uptime=$(up)
# busybox 1.35's `wget -T` crashes: bound it with timeout(1) instead.
if ! timeout 20 wget -q -O /tmp/booted \
  "$server/node/booted?mac=$mac&token=$token&uptime=${uptime%%.*}"; then
  fail "GET $server/node/booted failed"
fi
echo "PADDOCK-NODE: booted mac=$mac ip=$ip uptime=$uptime"
echo "E2E-MARKER: OK"
done_
EOF
chmod 755 "$stage/init" "$stage/etc/udhcpc/default.script"

if [[ -n $agent_bin ]]; then
  cp "$agent_bin" "$stage/bin/paddock-agent"
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$stage/etc/passwd"
  printf 'root:x:0:\n' >"$stage/etc/group"
  printf 'root:*:19000:0:99999:7:::\n' >"$stage/etc/shadow"
  chmod 600 "$stage/etc/shadow"
  mkdir -p "$stage/root" "$stage/var/log"
  cat >"$stage/etc/paddock-agent-boot.sh" <<'AGENT'
# Sourced by /init after DHCP (agent variant of the test image).
echo "PADDOCK-NODE: agent start uptime=$(up)"
agent_files() {
  for f in /etc/hostname /etc/ssh/ssh_host_ed25519_key /var/lib/node/id /etc/e2e-* \
    /home/*/.ssh/authorized_keys; do
    echo "PADDOCK-AGENT: file $f $(cat "$f" 2>/dev/null | head -c 200 | tr '\n' ' ')"
  done
}
watch=""
for w in $(cat /proc/cmdline); do case "$w" in paddock.watch=*) watch=${w#*=} ;; esac; done
if [ -z "$watch" ]; then
  /bin/paddock-agent boot --no-power
  echo "PADDOCK-AGENT: exit=$?"
  agent_files
else
  # paddock.watch=N: the agent stays resident (--watch N, state uploads while running). This
  # init then plays a real init's shutdown: busybox poweroff/reboot/halt signal PID 1 (USR2,
  # TERM, USR1); it sends the agent SIGTERM (+SIGCONT, as systemd does) and waits for the
  # agent's shutdown upload to finish before the kernel powers off.
  stop=""
  trap 'stop=1' USR1 USR2 TERM
  { /bin/paddock-agent boot --no-power --watch "$watch"; echo "PADDOCK-AGENT: exit=$?"; } 2>&1 |
    tee /run/agent.log &
  tee_pid=$!
  done_re='^paddock-agent: (ready|failed) |^PADDOCK-AGENT: exit='
  until grep -qE "$done_re" /run/agent.log 2>/dev/null; do sleep 0.2; done
  echo "PADDOCK-AGENT: resident watch=$watch pid=$(pidof paddock-agent)"
  agent_files
  while [ -z "$stop" ] && kill -0 "$tee_pid" 2>/dev/null; do wait "$tee_pid"; done
  echo "PADDOCK-NODE: shutdown uptime=$(up)"
  for p in $(pidof paddock-agent); do kill -TERM "$p"; kill -CONT "$p"; done
  wait "$tee_pid"
  agent_files
fi
AGENT
  # Run it right before the booted report (the first line "uptime=$(up)").
  awk '!done && $0 == "uptime=$(up)" { print "[ -f /etc/paddock-agent-boot.sh ] && . /etc/paddock-agent-boot.sh"; done = 1 } { print }' \
    "$stage/init" >"$stage/init.new"
  mv "$stage/init.new" "$stage/init"
  chmod 755 "$stage/init"
  grep -q paddock-agent-boot.sh "$stage/init" || die "cannot hook the agent into /init"
fi

if [[ -n $containerd_variant ]]; then
  mkdir -p "$stage/etc/containerd/certs.d" "$stage/var/lib" "$stage/var/log"
  cat >"$stage/etc/containerd/config.toml" <<'TOML'
# paddock test node: containerd for `ctr` only (no CRI, no kubelet here). Registry mirrors come
# from /etc/containerd/certs.d/<ns>/hosts.toml (written from paddock's node configs).
version = 2
root = "/var/lib/containerd"
state = "/run/containerd"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing"]
[grpc]
  address = "/run/containerd/containerd.sock"
[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = "/etc/containerd/certs.d"
TOML
  cat >"$stage/etc/paddock-tmpfs-root.sh" <<'ROOT'
# Sourced first by /init (containerd variant). The initramfs root is the kernel's rootfs, which
# pivot_root(2) cannot leave, so runc could not start a container from it: copy the root into a
# tmpfs and switch_root there (busybox switch_root frees the old root's files), as a disk-booted
# system's initramfs does with its real root.
if [ ! -e /.paddock-tmpfs-root ]; then
  mount -t proc proc /proc
  echo "PADDOCK-NODE: root to tmpfs uptime=$(cut -d' ' -f1 /proc/uptime)"
  umount /proc
  mkdir -p /newroot
  mount -t tmpfs -o mode=0755,size=90% root /newroot || echo "PADDOCK-NODE: tmpfs root failed"
  for e in /* /.[!.]*; do
    case "$e" in /newroot | /proc | /sys | /dev) continue ;; esac
    [ -e "$e" ] || [ -L "$e" ] && cp -a "$e" /newroot/
  done
  mkdir -p /newroot/proc /newroot/sys /newroot/dev
  : >/newroot/.paddock-tmpfs-root
  exec switch_root /newroot /init
fi
ROOT
  cat >"$stage/etc/paddock-containerd.sh" <<'CTD'
# Sourced by /init after DHCP and the agent (containerd variant of the test image).
export PATH=/bin:/usr/bin:/usr/sbin
elapsed() { awk -v a="$1" -v b="$(up)" 'BEGIN { printf "%.1f", b - a }'; }
echo "PADDOCK-NODE: containerd start uptime=$(up)"
mkdir -p /sys/fs/cgroup /var/lib/containerd /run/containerd
mount -t cgroup2 cgroup2 /sys/fs/cgroup || fail "cannot mount cgroup2"
containerd --config /etc/containerd/config.toml >/var/log/containerd.log 2>&1 &
# Wait for the socket before asking: every ctr call is a 23 MB Go program that costs the single
# TCG vCPU seconds, time containerd itself needs to start.
i=0
until [ -S /run/containerd/containerd.sock ] && ctr version >/dev/null 2>&1; do
  i=$((i + 1))
  if [ $i -gt 300 ]; then
    tail -n 20 /var/log/containerd.log | sed 's/^/PADDOCK-CTR:   /'
    fail "containerd did not answer within 60 s"
  fi
  sleep 0.2
done
echo "PADDOCK-NODE: containerd ready uptime=$(up)"
for h in /etc/containerd/certs.d/*/hosts.toml; do
  [ -f "$h" ] || continue
  ns=${h%/hosts.toml}
  echo "PADDOCK-CTR: hosts ${ns##*/} $(grep -v '^[[:space:]]*$' "$h" | tr '\n' ' ' | tr -s ' ')"
done
ctr_image=""
for w in $(cat /proc/cmdline); do case "$w" in paddock.ctr.image=*) ctr_image=${w#*=} ;; esac; done
if [ -n "$ctr_image" ]; then
  t=$(up)
  if ! timeout 240 ctr image pull --hosts-dir /etc/containerd/certs.d "$ctr_image" \
    >/run/ctr-pull.log 2>&1; then
    tr -d '\033' </run/ctr-pull.log | tail -n 15 | sed 's/^/PADDOCK-CTR:   /'
    fail "ctr image pull $ctr_image"
  fi
  echo "PADDOCK-CTR: pulled $ctr_image seconds=$(elapsed "$t")"
  t=$(up)
  timeout 120 ctr run --rm "$ctr_image" paddock-e2e </dev/null >/run/ctr-run.log 2>&1
  rc=$?
  sed 's/^/PADDOCK-CTR: out /' /run/ctr-run.log
  echo "PADDOCK-CTR: run exit=$rc seconds=$(elapsed "$t")"
  if [ $rc -ne 0 ]; then
    tail -n 20 /var/log/containerd.log | sed 's/^/PADDOCK-CTR:   /'
    fail "ctr run $ctr_image exited $rc"
  fi
fi
CTD
  # The tmpfs switch first (right after PATH), containerd after the agent, before the report.
  awk '$0 == "export PATH=/bin" && !a { print; print ". /etc/paddock-tmpfs-root.sh"; a = 1; next }
    !b && $0 == "uptime=$(up)" { print "[ -f /etc/paddock-containerd.sh ] && . /etc/paddock-containerd.sh"; b = 1 }
    { print }' "$stage/init" >"$stage/init.new"
  mv "$stage/init.new" "$stage/init"
  chmod 755 "$stage/init"
  grep -q paddock-tmpfs-root.sh "$stage/init" && grep -q paddock-containerd.sh "$stage/init" ||
    die "cannot hook containerd into /init"
fi

tmp="$CACHE/images/.built/.tmp-$key-$$"
rm -rf "$tmp"
mkdir -p "$tmp"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
  gzip -9n >"$tmp/initrd.cpio.gz"
cp "$vmlinuz" "$tmp/vmlinuz"
[[ -z $containerd_variant ]] || cp "$ctd_layer" "$tmp/containerd.cpio.zst"
cat >"$tmp/image.env" <<EOF
kernel_package=$kpkg
kernel_package_version=$kver_pkg
kernel_release=$kver
busybox_version=$bb_ver
modules="${order[*]##*/}"
key=$key
EOF
[[ -z $containerd_variant ]] ||
  printf 'containerd_version=%s\nrunc_version=%s\ncontainerd_initrd=containerd.cpio.zst\n' \
    "$ctd_ver" "$runc_ver" >>"$tmp/image.env"
rm -rf "$built"
mv "$tmp" "$built"
install_out
