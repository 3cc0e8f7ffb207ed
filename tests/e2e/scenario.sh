#!/usr/bin/env bash
# One end-to-end scenario: boots QEMU guests with real firmware from paddock (or, with
# --standin, from the dnsmasq + python stand-in server) inside a private network namespace.
#
#   tests/e2e/scenario.sh [--standin] bios|uefi|uefi-native|proxy|parallel4
#
# Passes when every guest prints E2E-MARKER: OK on its serial console and, with paddock, when
# `paddock timeline` for every guest's MAC holds every phase its firmware must go through.
# Environment: PADDOCK_BIN, E2E_IMAGE_DIR (see lib.sh). Exit 77 = skipped (not root, no tun).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

server=paddock
if [[ ${1:-} == --standin ]]; then
  server=standin
  shift
fi
scenario=${1:?usage: scenario.sh [--standin] bios|uefi|uefi-native|proxy|parallel4}

e2e_require dnsmasq curl
e2e_init "$scenario"

# guests: NAME:FW:NIC:MEM
mode=full
case $scenario in
  bios) guests=(bios1:bios:virtio:512) ;;
  uefi) guests=(uefi1:uefi:virtio:512) ;;
  uefi-native) guests=(uefin1:uefi-native:virtio:512) ;;
  proxy)
    mode=proxy
    guests=(bios1:bios:virtio:512 uefin1:uefi-native:virtio:512)
    ;;
  parallel4)
    guests=(bios1:bios:virtio:256 bios2:bios:e1000:256 uefi1:uefi:virtio:256
      uefin1:uefi-native:virtio:256)
    # Four TCG guests share the cores: about 34 s on an idle 2-core machine, but several times
    # that when other builds run, so allow more before calling a slow guest failed.
    export E2E_GUEST_TIMEOUT=${E2E_GUEST_TIMEOUT:-300}
    ;;
  *) e2e_die "unknown scenario $scenario" ;;
esac

e2e_netns_create "${#guests[@]}"
[[ $mode == proxy ]] && e2e_site_dhcp_start

machines=()
for i in "${!guests[@]}"; do
  IFS=: read -r name _ _ _ <<<"${guests[i]}"
  machines+=("$(e2e_mac $((i + 1)))=$name")
done
if [[ $server == paddock ]]; then
  e2e_paddock_config "$mode" "${machines[@]}" >"$E2E_DIR/paddock.yaml"
  e2e_paddock_start "$E2E_DIR/paddock.yaml"
else
  e2e_standin_start "$mode"
fi

t_start=$EPOCHREALTIME
for i in "${!guests[@]}"; do
  IFS=: read -r name fw nic mem <<<"${guests[i]}"
  e2e_qemu_start "$name" "$fw" "$(e2e_mac $((i + 1)))" "tap$i" "$nic" "$mem"
done

failed=0
e2e_wait_guests || failed=$?
wall=$(awk -v a="$EPOCHREALTIME" -v b="$t_start" 'BEGIN { printf "%.1f", a - b }')
e2e_log "$((${#guests[@]} - failed))/${#guests[@]} guests reached the marker; wall ${wall} s"

bad_timeline=0
for g in "${guests[@]}"; do
  IFS=: read -r name fw _ _ <<<"$g"
  # shellcheck disable=SC2046
  e2e_check_timeline "$name" $(e2e_expected_phases "$fw" "$mode") || bad_timeline=$((bad_timeline + 1))
done
e2e_report

if ((failed || bad_timeline)); then
  e2e_die "$failed guest(s) without marker, $bad_timeline timeline(s) incomplete"
fi
e2e_log "PASS $scenario ($server)"
