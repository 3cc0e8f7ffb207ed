#!/bin/bash
# compare_cloud_init.sh USER_DATA [AGENT]: runs Debian's cloud-init (all four stages, NoCloud seed) on
# USER_DATA inside a throwaway overlay of / (private mount + UTS namespaces: the host is not
# changed), prints stage timings and `cloud-init analyze blame`; with AGENT also times
# `paddock-agent apply` on the same input in a scratch busybox root. Needs root and cloud-init
# (scripts/setup.sh). Not a ctest: it takes minutes. Remove power_state from the input first.

set -euo pipefail
if [ -z "${PD_IN_NS:-}" ]; then
  exec env PD_IN_NS=1 unshare -mu --propagation private "$0" "$@"
fi
userdata=$(realpath "$1") agent=${2:-}
B=$(mktemp -d /tmp/pd-agent-ci-XXXXXX)
trap 'umount -R $B/m 2>/dev/null || true; umount -R $B 2>/dev/null || true; rm -rf $B' EXIT
mount -t tmpfs tmpfs $B
mkdir -p $B/u $B/w $B/m
mount -t overlay overlay -o lowerdir=/,upperdir=$B/u,workdir=$B/w $B/m
mount --bind /proc $B/m/proc
mount --rbind /dev $B/m/dev
mount --rbind /sys $B/m/sys
mkdir -p $B/m/var/lib/cloud/seed/nocloud $B/m/run
mount -t tmpfs tmpfs $B/m/run
cp "$userdata" $B/m/var/lib/cloud/seed/nocloud/user-data
printf 'instance-id: iid-bench\nlocal-hostname: node1\n' > $B/m/var/lib/cloud/seed/nocloud/meta-data
rm -rf $B/m/var/lib/cloud/instance $B/m/var/lib/cloud/instances $B/m/var/log/cloud-init*
printf 'datasource_list: [NoCloud, None]\nnetwork: {config: disabled}\n' > $B/m/etc/cloud/cloud.cfg.d/99-bench.cfg
chroot $B/m /bin/bash -c '
  t0=$(date +%s%N)
  cloud-init init --local >/tmp/ci1.log 2>&1; t1=$(date +%s%N)
  cloud-init init >/tmp/ci2.log 2>&1; t2=$(date +%s%N)
  cloud-init modules --mode config >/tmp/ci3.log 2>&1; t3=$(date +%s%N)
  cloud-init modules --mode final >/tmp/ci4.log 2>&1; t4=$(date +%s%N)
  echo "cloud-init local $(( (t1-t0)/1000000 )) ms, init $(( (t2-t1)/1000000 )) ms, config $(( (t3-t2)/1000000 )) ms, final $(( (t4-t3)/1000000 )) ms, total $(( (t4-t0)/1000000 )) ms"
  cloud-init status --long 2>&1 | head -20
  grep -E "WARNING|ERROR|Traceback" /var/log/cloud-init.log | head -20
  cloud-init analyze blame -i /var/log/cloud-init.log 2>/dev/null | head -30
  echo --- results:
  cat /etc/hostname; grep kadmin /etc/passwd; ls -l /etc/ssh/ssh_host_ed25519_key /home/kadmin/.ssh/authorized_keys /etc/kubernetes/kubelet-config.yaml /usr/local/bin/kubelet-wrapper; cat /etc/modules-load.d/k8s.conf /etc/motd /var/log/runcmd.log; readlink /etc/localtime
'
if [ -n "$agent" ]; then
  r=$B/agent-root
  mkdir -p $r/{bin,etc,root,var/log,usr/share/zoneinfo/Europe}
  cp /bin/busybox $r/bin/ && for a in sh ls echo cat hostname false; do ln -s busybox $r/bin/$a; done
  printf 'root:x:0:0:root:/root:/bin/sh\n' >$r/etc/passwd
  printf 'root:x:0:\nadm:x:4:\nsudo:x:27:\n' >$r/etc/group
  cp /usr/share/zoneinfo/Europe/Berlin $r/usr/share/zoneinfo/Europe/
  t0=$(date +%s%N)
  "$agent" apply --file "$userdata" --root $r 2>/dev/null || true
  t1=$(date +%s%N)
  echo "paddock-agent apply: $(( (t1-t0)/1000 )) us"
fi
