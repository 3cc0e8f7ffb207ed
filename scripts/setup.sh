#!/usr/bin/env bash
# Installs everything paddock needs to build, test and run its virtual lab on Debian 12.
# Idempotent: packages already present are left alone. Needs root (apt-get).
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake ninja-build ccache pkg-config clang clang-format
  libboost1.81-dev libboost-url1.81-dev libcurl4-openssl-dev libssl-dev nlohmann-json3-dev
  libyaml-cpp-dev libkainjow-mustache-dev libspdlog-dev libfmt-dev libcli11-dev
  libexpected-dev libsqlite3-dev libarchive-dev libgtest-dev libgmock-dev libbenchmark-dev
  libclang-rt-14-dev
)
# Real peers and clients used by the integration and end-to-end tests.
TEST_PKGS=(
  qemu-system-x86 ipxe-qemu ipxe ovmf dnsmasq-base busybox-static cpio iproute2 procps
  kea-admin udhcpc isc-dhcp-client atftp tftp-hpa curl tcpdump sqlite3 python3 zstd iptables
  docker-registry skopeo containerd runc tinyproxy
  openssh-client  # paddock: ssh-keygen makes per-machine SSH host keys (daemon/host_keys.cc)
  cloud-init  # agent: tests/integration/agent/compare_cloud_init.sh (reference peer)
  kea-dhcp4-server nginx-light tftpd-hpa wrk python3-matplotlib  # bench/ peers (services stay stopped)
)

missing=()
for p in "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${#missing[@]} packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Peers such as nginx, kea, tftpd-hpa, containerd and docker-registry ship services; tests run
  # their own instances in namespaces, so none may start on the host during the install.
  policy=/usr/sbin/policy-rc.d
  had_policy=0
  [ -e "$policy" ] && had_policy=1
  if ((!had_policy)); then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: all packages present"
