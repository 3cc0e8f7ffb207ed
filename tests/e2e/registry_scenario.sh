#!/usr/bin/env bash
# End-to-end proof of the registry cache (issue 4): diskless QEMU guests PXE-boot the containerd
# variant of the test image (images/build-test-image.sh: PADDOCK_IMAGE_AGENT +
# PADDOCK_IMAGE_CONTAINERD) from paddock, and containerd pulls an image through paddock's cache
# and runs it.
#
#   upstream: Debian's docker-registry on 127.0.0.1:5000 inside the test's netns, holding
#             docker.io/library/pdtest:v1, built here (busybox rootfs + a per-run nonce in
#             /hello.txt, OCI layout -> skopeo copy). paddock's only upstream is
#             `docker.io -> http://127.0.0.1:5000`: nothing leaves the namespace.
#   machine 1 boots; paddock-agent applies paddock's default vendor-data (hosts.toml for docker.io
#             and others pointing at http://<paddock>:8080; nothing configured by the test);
#             containerd starts; `ctr image pull --hosts-dir ...` goes
#             through paddock (cold: paddock fetches each blob from the upstream once);
#             `ctr run --rm` prints the nonce on the serial console.
#   upstream stopped (docker-registry killed).
#   machine 2 (another MAC) boots and pulls + runs the same image: only paddock's cache has it.
#             tag_ttl is 1s, so paddock must try the upstream for the tag, fail, and serve the
#             cached tag (the stale path a room hits when its uplink is down).
# Checks: both guests print the nonce from inside the container; the upstream's access log
# shows every blob fetched exactly once; paddock logged one "blob fetched" per blob (none for
# machine 2) and "serving cached" for machine 2's tag lookup.
#
#   tests/e2e/registry_scenario.sh    (PADDOCK_BIN; E2E_IMAGE_DIR = a containerd+agent image,
#                                      or PADDOCK_AGENT_BIN to build one into the run dir)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_require curl docker-registry skopeo
e2e_init registry
if [[ -z ${E2E_IMAGE_DIR:-} ]]; then
  [[ -x ${PADDOCK_AGENT_BIN:-} ]] || e2e_die "set E2E_IMAGE_DIR or PADDOCK_AGENT_BIN"
  E2E_IMAGE_DIR="$E2E_DIR/image"
  PADDOCK_IMAGE_AGENT=$PADDOCK_AGENT_BIN PADDOCK_IMAGE_CONTAINERD=1 \
    "$E2E_SRC_DIR/images/build-test-image.sh" "$E2E_IMAGE_DIR" >&2
fi
[[ -s $E2E_IMAGE_DIR/containerd.cpio.zst ]] ||
  e2e_die "$E2E_IMAGE_DIR is not a containerd image (PADDOCK_IMAGE_CONTAINERD=1)"
export E2E_GUEST_TIMEOUT=${E2E_GUEST_TIMEOUT:-300}
# containerd blocks in getrandom() until the guest kernel's RNG is seeded: ~15 s under TCG
# without a hardware RNG.
E2E_QEMU_EXTRA=(-device virtio-rng-pci)
MEM=${E2E_REGISTRY_MEM:-1024}
IMAGE_REPO=library/pdtest
IMAGE_TAG=v1
IMAGE_REF=docker.io/$IMAGE_REPO:$IMAGE_TAG
UPSTREAM=127.0.0.1:5000  # inside the netns

e2e_netns_create 2
mac1=$(e2e_mac 1)
mac2=$(e2e_mac 2)
nsx() { ip netns exec "$E2E_NS" "$@"; }

# --- upstream: docker-registry with an access log ------------------------------------------------
cat >"$E2E_DIR/registry.yml" <<EOF
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $E2E_DIR/registry-data
http:
  addr: $UPSTREAM
EOF
# Not through nsx(): $! must be docker-registry itself (ip netns exec execs it), so it can be
# stopped mid-test.
ip netns exec "$E2E_NS" docker-registry serve "$E2E_DIR/registry.yml" \
  </dev/null >"$E2E_DIR/logs/upstream.log" 2>&1 &
upstream_pid=$!
e2e_track $upstream_pid
e2e_wait_http "http://$UPSTREAM/v2/" docker-registry "$upstream_pid"

# --- the image: busybox rootfs + nonce, as an OCI layout, copied into the upstream -------------
# (the recipe of tests/integration/registry/make_oci_image.sh, with a command that prints the
# nonce, so the marker can only come from this run's image running as a container.)
nonce="pdtest-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
make_image() {  # make_image LAYOUT_DIR TAG
  local out=$1 tag=$2 work="$E2E_DIR/image-work"
  mkdir -p "$out/blobs/sha256" "$work/rootfs/bin"
  cp /bin/busybox "$work/rootfs/bin/busybox"
  ln -sf busybox "$work/rootfs/bin/sh"
  ln -sf busybox "$work/rootfs/bin/cat"
  echo "$nonce" >"$work/rootfs/hello.txt"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/rootfs" \
    -cf "$work/layer.tar" .
  python3 - "$out" "$tag" "$work/layer.tar" <<'PY'
import gzip, hashlib, json, os, sys
out, tag, layer_tar = sys.argv[1:4]
def put(data):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(out, "blobs", "sha256", d), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + d, "size": len(data)}
raw = open(layer_tar, "rb").read()
layer = put(gzip.compress(raw, compresslevel=6, mtime=0))
cmd = "echo E2E-CONTAINER: $(cat /hello.txt) pid=$$"
config = put(json.dumps({
    "architecture": "amd64", "os": "linux",
    "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh", "-c", cmd]},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]},
}).encode())
manifest = put(json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": dict(mediaType="application/vnd.oci.image.config.v1+json", **config),
    "layers": [dict(mediaType="application/vnd.oci.image.layer.v1.tar+gzip", **layer)],
}).encode())
json.dump({"imageLayoutVersion": "1.0.0"}, open(os.path.join(out, "oci-layout"), "w"))
json.dump({"schemaVersion": 2, "manifests": [dict(
    mediaType="application/vnd.oci.image.manifest.v1+json",
    annotations={"org.opencontainers.image.ref.name": tag}, **manifest)]},
    open(os.path.join(out, "index.json"), "w"))
print(manifest["digest"], config["digest"], layer["digest"])
PY
}
read -r manifest_digest config_digest layer_digest < <(make_image "$E2E_DIR/oci" "$IMAGE_TAG")
nsx skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$E2E_DIR/oci:$IMAGE_TAG" \
  "docker://$UPSTREAM/$IMAGE_REPO:$IMAGE_TAG" >&2
blobs=("$config_digest" "$layer_digest")
e2e_log "upstream docker-registry on $UPSTREAM (netns) holds $IMAGE_REPO:$IMAGE_TAG" \
  "(manifest $manifest_digest, nonce $nonce)"
upstream_mark=$(($(wc -l <"$E2E_DIR/logs/upstream.log") + 1))

# --- paddock: boot + registry -------------------------------------------------------------------
# No user-data or vendor-data template: with the registry on, paddock's default vendor-data
# writes /etc/containerd/certs.d/<ns>/hosts.toml pointing at its own /v2/ (the agent applies
# it), so this test also proves nodes need no manual mirror setup.
mirror="http://$E2E_IP:8080"
e2e_paddock_config full "$mac1=ctr-node-1" "$mac2=ctr-node-2" |
  awk -v ref="$IMAGE_REF" '
    $0 == "    initrds: [initrd.cpio.gz]" { print "    initrds: [initrd.cpio.gz, containerd.cpio.zst]"; next }
    $0 == "    args: console=ttyS0 panic=1" { print $0 " paddock.ctr.image=" ref; next }
    { print }' >"$E2E_DIR/paddock.yaml"
cat >>"$E2E_DIR/paddock.yaml" <<EOF
registry:
  enabled: true
  cache_dir: $E2E_DIR/registry-cache
  tag_ttl: 1s
  allow_unlisted: false
  upstreams:
    - name: docker.io
      url: http://$UPSTREAM
EOF
grep -q "containerd.cpio.zst" "$E2E_DIR/paddock.yaml" && grep -q "paddock.ctr.image" "$E2E_DIR/paddock.yaml" ||
  e2e_die "could not adapt the generated config"
e2e_paddock_start "$E2E_DIR/paddock.yaml"

# Progress: the guest's containerd lines as they arrive (the phase line of e2e_wait_guests says
# only "report" for all of them).
# tail --pid ends with the guest's QEMU, and grep and sed with it.
follow() {  # follow NAME (after e2e_qemu_start NAME)
  tail --pid="${E2E_GUEST_PID[$1]}" -n +1 -F "$E2E_DIR/logs/$1.serial" 2>/dev/null |
    grep --line-buffered -aE 'PADDOCK-NODE: (root to tmpfs|agent start|containerd)|PADDOCK-CTR: (pulled|run|out)' |
    sed -u "s/^ *\([0-9.]*\) *[0-9.]* | /[$1 +\1s] /" >&2 &
  e2e_track $!
}

serial() { grep -a "$2" "$E2E_DIR/logs/$1.serial" || true; }
check_guest() {  # check_guest NAME: the container ran from this run's image
  local name=$1 hosts
  serial "$name" 'PADDOCK-AGENT: exit=0' | grep -q . || e2e_die "$name: the agent failed"
  hosts=$(serial "$name" 'PADDOCK-CTR: hosts docker.io')
  [[ $hosts == *"[host.\"$mirror\"]"* ]] ||
    e2e_die "$name: no hosts.toml for docker.io pointing at $mirror (got: ${hosts:-none})"
  serial "$name" "PADDOCK-CTR: out E2E-CONTAINER: $nonce pid=1" | grep -q . ||
    e2e_die "$name: the container did not print the nonce (as PID 1)"
  serial "$name" 'PADDOCK-CTR: run exit=0' | grep -q . || e2e_die "$name: ctr run failed"
}
upstream_blob_gets() {  # upstream_blob_gets DIGEST -> GETs of the blob in the upstream's log
  tail -n +"$upstream_mark" "$E2E_DIR/logs/upstream.log" |
    grep -c "\"GET /v2/$IMAGE_REPO/blobs/$1 HTTP" || true
}
fetched() {  # fetched DIGEST -> paddock's "blob fetched" lines for it
  grep -c "blob fetched: ns=docker.io repo=$IMAGE_REPO digest=$1" "$E2E_DIR/logs/paddock.log" ||
    true
}
# paddock's /metrics (Prometheus text), once the daemon serves it: the sum of NAME's samples
# whose labels contain SUBSTRING; "" when this paddock has no /metrics.
metrics_snapshot() {  # metrics_snapshot FILE: 1 (and no FILE) without registry metrics
  if nsx curl -s -f --max-time 5 -o "$1" "$mirror/metrics" && grep -q '^paddock_registry_' "$1"; then
    return 0
  fi
  rm -f "$1"
  return 1
}
metric() {  # metric FILE NAME [SUBSTRING]
  [[ -s $1 ]] || return 0
  awk -v n="$2" -v sub_="${3:-}" '
    index($0, n) == 1 && (substr($0, length(n) + 1, 1) == " " || substr($0, length(n) + 1, 1) == "{") &&
      index($0, sub_) { s += $NF } END { printf "%d\n", s }' "$1"
}
blob_size() { stat -c %s "$E2E_DIR/oci/blobs/sha256/${1#sha256:}"; }
ctr_time() {  # ctr_time NAME WHAT -> seconds= value of PADDOCK-CTR: WHAT
  serial "$1" "PADDOCK-CTR: $2" | grep -o 'seconds=[0-9.]*' | head -1 | cut -d= -f2
}

# --- machine 1: cold pull through paddock ------------------------------------------------------
e2e_qemu_start node1 bios "$mac1" tap0 virtio "$MEM"
follow node1
e2e_wait_guests node1 || e2e_die "machine 1 did not finish"
check_guest node1
for d in "${blobs[@]}"; do
  n=$(upstream_blob_gets "$d")
  [[ $n == 1 ]] || e2e_die "upstream served blob $d $n times (want exactly 1)"
  n=$(fetched "$d")
  [[ $n == 1 ]] || e2e_die "paddock logged $n fetches of blob $d (want 1)"
done
m1="$E2E_DIR/logs/metrics-1.txt"
metrics_snapshot "$m1" || true
if [[ -s $m1 ]]; then
  repo_label="repo=\"$IMAGE_REPO\""
  want_bytes=$(($(blob_size "$config_digest") + $(blob_size "$layer_digest")))
  [[ $(metric "$m1" paddock_registry_upstream_fetches_total) == 2 ]] ||
    e2e_die "/metrics: upstream fetches $(metric "$m1" paddock_registry_upstream_fetches_total), want 2"
  [[ $(metric "$m1" paddock_registry_upstream_bytes_total "$repo_label") == "$want_bytes" ]] ||
    e2e_die "/metrics: upstream bytes $(metric "$m1" paddock_registry_upstream_bytes_total "$repo_label"), want $want_bytes"
  (($(metric "$m1" paddock_registry_blob_misses_total "$repo_label") >= 1)) ||
    e2e_die "/metrics: no blob misses for machine 1's cold pull"
  e2e_log "/metrics after machine 1: upstream fetches 2, $want_bytes bytes from the upstream," \
    "blob misses $(metric "$m1" paddock_registry_blob_misses_total "$repo_label")," \
    "hits $(metric "$m1" paddock_registry_blob_hits_total "$repo_label")"
else
  e2e_log "this paddock serves no registry /metrics; checked its log and the upstream's only"
fi
e2e_log "machine 1: pulled in $(ctr_time node1 pulled) s and ran the image through paddock;" \
  "upstream served each of the ${#blobs[@]} blobs once"

# --- stop the upstream --------------------------------------------------------------------------
kill -TERM "$upstream_pid"
wait "$upstream_pid" 2>/dev/null || true
if nsx curl -s -o /dev/null --max-time 2 "http://$UPSTREAM/v2/"; then
  e2e_die "upstream still answers after kill"
fi
upstream_lines=$(wc -l <"$E2E_DIR/logs/upstream.log")
paddock_mark=$(($(wc -l <"$E2E_DIR/logs/paddock.log") + 1))
e2e_log "upstream stopped"

# --- machine 2: the same image from the cache only ----------------------------------------------
e2e_qemu_start node2 bios "$mac2" tap1 virtio "$MEM"
follow node2
e2e_wait_guests node2 || e2e_die "machine 2 did not finish"
check_guest node2
for d in "${blobs[@]}"; do
  n=$(fetched "$d")
  [[ $n == 1 ]] || e2e_die "paddock fetched blob $d again for machine 2 ($n fetches in all)"
done
tail -n +"$paddock_mark" "$E2E_DIR/logs/paddock.log" |
  grep -q "repo=$IMAGE_REPO tag=$IMAGE_TAG: upstream unreachable.*serving cached $manifest_digest" ||
  e2e_die "paddock did not log serving the cached tag with the upstream down"
[[ $(wc -l <"$E2E_DIR/logs/upstream.log") == "$upstream_lines" ]] ||
  e2e_die "the upstream's log grew after it was stopped"
if [[ -s $m1 ]]; then
  m2="$E2E_DIR/logs/metrics-2.txt"
  metrics_snapshot "$m2" || e2e_die "/metrics vanished"
  [[ $(metric "$m2" paddock_registry_upstream_fetches_total) == 2 ]] ||
    e2e_die "/metrics: upstream fetches $(metric "$m2" paddock_registry_upstream_fetches_total) after machine 2, want still 2"
  hits=$(($(metric "$m2" paddock_registry_blob_hits_total "$repo_label") -
    $(metric "$m1" paddock_registry_blob_hits_total "$repo_label")))
  ((hits >= 2)) || e2e_die "/metrics: machine 2 made $hits blob hits, want >= 2"
  (($(metric "$m2" paddock_registry_stale_tags_served_total "$repo_label") >= 1)) ||
    e2e_die "/metrics: no stale tag served with the upstream down"
  served=$(($(metric "$m2" paddock_registry_cache_bytes_served_total "$repo_label") -
    $(metric "$m1" paddock_registry_cache_bytes_served_total "$repo_label")))
  ((served >= $(blob_size "$layer_digest"))) ||
    e2e_die "/metrics: machine 2 got $served bytes from the cache, less than the layer"
  e2e_log "/metrics after machine 2: upstream fetches still 2, +$hits blob hits," \
    "+$served bytes from the cache, stale tags served" \
    "$(metric "$m2" paddock_registry_stale_tags_served_total "$repo_label")"
fi
e2e_log "machine 2: pulled in $(ctr_time node2 pulled) s from the cache alone (upstream down," \
  "cached tag served) and ran the image"

e2e_check_timeline node1 node.booted || e2e_die "machine 1 timeline incomplete"
e2e_check_timeline node2 node.booted || e2e_die "machine 2 timeline incomplete"
# Each machine's pulls in its own timeline (paddock maps the client address to the MAC through
# its leases): machine 1's blobs came from the upstream, machine 2's from the cache, and its tag
# was served stale.
timeline_pulls() {  # timeline_pulls NAME -> "blob:<outcomes> manifest:<outcomes>" (sorted)
  python3 - "$(e2e_timeline_json "$1")" "$IMAGE_REPO" <<'PY2'
import json, sys
events, repo = json.load(open(sys.argv[1])), sys.argv[2]
out = {"registry.blob": [], "registry.manifest": []}
for e in events:
    if e.get("phase") in out:
        d = e.get("detail") or {}
        d = json.loads(d) if isinstance(d, str) else d
        # Blobs: the GETs. Manifests: any method (containerd resolves the tag with HEAD).
        if d.get("repo") == repo and (e["phase"] == "registry.manifest" or d.get("method") == "GET"):
            out[e["phase"]].append(d.get("outcome", "?"))
print("blob:" + ",".join(sorted(out["registry.blob"])),
      "manifest:" + ",".join(sorted(set(out["registry.manifest"]))))
PY2
}
if [[ -s ${m1:-} ]]; then  # the same daemon version brought /metrics and the pull events
  pulls1=$(timeline_pulls node1)
  pulls2=$(timeline_pulls node2)
  e2e_log "timeline pulls: node1 $pulls1; node2 $pulls2"
  [[ $pulls1 =~ ^blob:(miss|inflight),(miss|inflight)\  ]] ||
    e2e_die "machine 1's timeline: want its 2 blob GETs fetched from the upstream ($pulls1)"
  [[ $pulls2 == "blob:hit,hit manifest:"*stale* ]] ||
    e2e_die "machine 2's timeline: want 2 blob hits and a stale tag ($pulls2)"
fi
e2e_report
for name in node1 node2; do
  e2e_log "$name: pull $(ctr_time "$name" pulled) s, run $(ctr_time "$name" 'run exit=0') s;" \
    "$(serial "$name" 'PADDOCK-NODE: containerd ready' | sed 's/.*| //')"
done
e2e_log "PASS registry"
