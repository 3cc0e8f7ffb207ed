#!/usr/bin/env bash
# make_oci_image.sh OUT_DIR TAG [EXTRA_MB]: builds an OCI image layout by hand: one layer with
# a busybox rootfs (Debian's busybox-static), plus, with EXTRA_MB > 0, a second layer holding
# that many MiB of random data (for mid-blob failure tests). Prints nothing; the layout is
# what `skopeo copy oci:OUT_DIR:TAG ...` reads.
set -euo pipefail
out=$1 tag=$2 extra_mb=${3:-0}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out/blobs/sha256" "$work/rootfs/bin"
cp /bin/busybox "$work/rootfs/bin/busybox"
ln -s busybox "$work/rootfs/bin/sh"
echo "paddock registry test image $tag" > "$work/rootfs/hello.txt"

layer() {  # layer DIR -> prints "<gz digest> <gz size> <diff id>"
  local dir=$1 f=$work/layer.tar
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$dir" -cf "$f" .
  local diff
  diff=$(sha256sum "$f" | cut -d' ' -f1)
  gzip -n -1 -f "$f"
  local dg
  dg=$(sha256sum "$f.gz" | cut -d' ' -f1)
  mv "$f.gz" "$out/blobs/sha256/$dg"
  echo "$dg $(stat -c %s "$out/blobs/sha256/$dg") $diff"
}

read -r l1 s1 d1 < <(layer "$work/rootfs")
layers="{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$l1\",\"size\":$s1}"
diffs="\"sha256:$d1\""
if [ "$extra_mb" -gt 0 ]; then
  mkdir -p "$work/big"
  head -c "$((extra_mb * 1024 * 1024))" /dev/urandom > "$work/big/random.bin"
  read -r l2 s2 d2 < <(layer "$work/big")
  layers="$layers,{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$l2\",\"size\":$s2}"
  diffs="$diffs,\"sha256:$d2\""
fi

put() {  # put FILE -> moves it into blobs, prints "<digest> <size>"
  local dg
  dg=$(sha256sum "$1" | cut -d' ' -f1)
  local size
  size=$(stat -c %s "$1")
  mv "$1" "$out/blobs/sha256/$dg"
  echo "$dg $size"
}
printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' \
  "$diffs" > "$work/config.json"
read -r cd cs < <(put "$work/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
  "$cd" "$cs" "$layers" > "$work/manifest.json"
read -r md ms < <(put "$work/manifest.json")
printf '{"imageLayoutVersion":"1.0.0"}' > "$out/oci-layout"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
  "$md" "$ms" "$tag" > "$out/index.json"
