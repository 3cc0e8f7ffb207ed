#!/usr/bin/env bash
# Runs `bench/run --quick` (every suite, tiny sizes, one round) into a temp dir and checks that
# each suite ran and produced sane numbers: non-zero rates, no failed transfers, every simulated
# machine booted; registry: every pull verified, skopeo's copies identical, and paddock's cold
# pulls fetched each blob from the upstream exactly once. Not timed.
set -euo pipefail
PADDOCK=$1 STORM=$2 SRC=$3
[ "$(id -u)" = 0 ] || { echo "needs root (netns, tc)"; exit 77; }
for tool in perfdhcp kea-dhcp4 dnsmasq in.tftpd atftp nginx wrk tc docker-registry skopeo; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool missing (scripts/setup.sh)"; exit 77; }
done
OUT=$(mktemp -d /tmp/pd-bench-smoke.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
PADDOCK_BIN=$PADDOCK PADDOCK_STORM=$STORM "$SRC/bench/run" --quick --rounds 1 --out "$OUT" \
  --no-docs dhcp tftp http render storm registry agent
/usr/bin/python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
r = {s: json.load(open(os.path.join(out, s + ".json")))
     for s in ("dhcp", "tftp", "http", "render", "storm", "registry", "agent")}
for s in ("dhcp", "tftp", "http", "render", "storm"):
    assert r[s]["status"] == "ok", (s, r[s].get("error"))
    assert len(r[s]["load_start"]) == 3 and len(r[s]["load_end"]) == 3, s
    assert r[s]["commands"], s
g = r["registry"]
assert g["status"] == "ok", g.get("error")
assert g["all_verified"] and g["skopeo"] and all(c["ok"] for c in g["skopeo"]), g["skopeo"]
for t in g["trials"]:
    assert t["n_errors"] == 0 and t["pulls"] > 0 and t["mb_per_s"] > 0, t
    assert t["server_cpu_s"] > 0 and t["p99_s"] >= t["p50_s"] > 0, t
    if t["phase"] == "cold":  # every cold pull reached the upstream for every blob
        assert t["upstream"]["blob_get"] >= t["blobs"], t
        if t["peer"] == "paddock":  # single flight: one upstream fetch per blob, any client count
            assert t["upstream"]["blob_get"] == t["blobs"], t
    elif t["peer"] == "paddock":  # warm: nothing from the upstream (tag within its TTL)
        assert sum(t["upstream"].values()) == 0, t
assert {t["peer"] for t in g["trials"]} == {"paddock", "distribution"}
a = r["agent"]
assert a["status"] == "ok", a.get("error")
assert all(rc == 0 for m in a["apply"].values() for rc in m["rcs"]), a["apply"]
assert a["apply"]["chroot"]["median_s"] > 0 and a["startup"]["median_s"] > 0
assert a["binary_bytes"] > 0 and a["cloud_init"]["skipped"] == "cloud-init skipped in --quick"
for name, v in r["dhcp"]["summary"].items():
    assert v["dora_per_s"] and v["dora_per_s"] > 0, (name, v)
for t in r["dhcp"]["trials"]:
    assert t["saturating"]["acks"] > 0 and t["saturating"]["server_cpu_s"] > 0, t
for t in r["tftp"]["trials"]:
    assert t["ok"] == t["clients"] and t["failed"] == 0, t
    assert t["mb_per_s"] > 0, t
for t in r["http"]["trials"]:
    assert t["requests"] > 0 and t["gbit_per_s"] > 0 and t["non_2xx"] == 0, t
    assert t["server_cpu_s"] > 0, t
for t in r["render"]["trials"]:
    assert t["rps"] > 0 and t["non_2xx"] == 0, t
assert r["render"]["script_bytes"] > 0
for run in r["storm"]["runs"]:
    assert run["machines"] == run["booted"] and run["failed"] == 0, run["errors"]
    assert run["paddock_node_booted_events"] == run["machines"], run
    assert all(m["booted"] > 0 for m in run["per_machine"])
    assert run["ratio_to_link_limit"] > 0 and run["bytes_per_boot"] > 0
print("bench smoke: all suites ran; storm booted %d/%d" %
      (r["storm"]["runs"][0]["booted"], r["storm"]["runs"][0]["machines"]))
PY
