#!/usr/bin/python3
"""Regenerates docs/benchmarks.md and the PNG plots from bench/results/*.json (bench/run calls
this). Every number in the document comes from those files; nothing is typed in by hand."""
import argparse
import json
import re
import os
import statistics
import sys

# What each DHCP server does to make a lease durable (from their sources/docs, not measured).
DURABILITY = {
    "paddock": "SQLite WAL, synchronous=FULL, group commit: the lease is fsynced before the ACK",
    "kea": "memfile: appends each lease to its CSV file, no fsync",
    "dnsmasq": "rewrites its whole lease file and fsyncs it (lease_update_file) after changes",
}
SUITES = ["dhcp", "tftp", "http", "render", "storm", "registry", "agent", "lab"]


def f(x, nd=2):
    if x is None:
        return "–"
    if isinstance(x, (int,)) and not isinstance(x, bool):
        return str(x)
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{nd}f}"


def ms(x):
    return "–" if x is None else f"{x * 1e3:.1f}"


def verdict(t):
    if t.get("met") is None:
        return "(informational)"
    return "**met**" if t["met"] else "**MISSED**"


def plots(results, plot_dir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}
    os.makedirs(plot_dir, exist_ok=True)
    out = {}
    storm = results.get("storm")
    if storm and storm.get("status") == "ok":
        for r in storm["runs"]:
            n = r["n"]
            fig, ax = plt.subplots(figsize=(8, 4.5))
            names = r["phase_names"]
            booted = sorted(m["booted"] for m in r["per_machine"] if m["booted"] >= 0)
            ax.step(booted, range(1, len(booted) + 1), where="post", label="booted (cumulative)",
                    color="black", linewidth=2)
            for i, name in enumerate(names):
                ends = sorted(m["phases"][i][1] for m in r["per_machine"] if m["phases"][i][1] >= 0)
                ax.step(ends, range(1, len(ends) + 1), where="post", label=f"{name} done",
                        linewidth=1)
            if r.get("link_limit_seconds"):
                ax.axvline(r["link_limit_seconds"], color="red", linestyle="--",
                           label="link-rate limit")
            ax.set_xlabel("seconds since power-on")
            ax.set_ylabel("machines")
            ax.set_title(f"Boot storm, N={n}, {storm['link']} link")
            ax.legend(fontsize=7, loc="lower right")
            p = os.path.join(plot_dir, f"storm-{n}-over-time.png")
            fig.tight_layout()
            fig.savefig(p, dpi=90)
            plt.close(fig)
            out[f"storm-{n}"] = p
            fig, ax = plt.subplots(figsize=(8, 4))
            data = []
            for i, name in enumerate(names):
                data.append([m["phases"][i][1] - m["phases"][i][0] for m in r["per_machine"]
                             if m["phases"][i][1] >= 0])
            ax.boxplot(data, labels=names, showfliers=True)
            ax.set_yscale("log")
            ax.set_ylabel("seconds (log)")
            ax.set_title(f"Boot storm N={n}: phase durations per machine")
            p = os.path.join(plot_dir, f"storm-{n}-phases.png")
            fig.tight_layout()
            fig.savefig(p, dpi=90)
            plt.close(fig)
            out[f"storm-{n}-phases"] = p
    tftp = results.get("tftp")
    if tftp and tftp.get("status") == "ok":
        fig, ax = plt.subplots(figsize=(9, 4.5))
        keys = list(tftp["summary"].keys())
        servers = list(next(iter(tftp["summary"].values())).keys())
        w = 0.8 / len(servers)
        for j, s in enumerate(servers):
            vals = [tftp["summary"][k][s]["makespan_s"] or 0 for k in keys]
            ax.bar([i + j * w for i in range(len(keys))], vals, w, label=s)
        ax.set_xticks([i + 0.4 - w / 2 for i in range(len(keys))])
        ax.set_xticklabels(keys, rotation=35, ha="right", fontsize=7)
        ax.set_yscale("log")
        ax.set_ylabel("makespan, s (median, log)")
        ax.set_title("TFTP transfer time")
        ax.legend(fontsize=8)
        p = os.path.join(plot_dir, "tftp-makespan.png")
        fig.tight_layout()
        fig.savefig(p, dpi=90)
        plt.close(fig)
        out["tftp"] = p
    dhcp = results.get("dhcp")
    if dhcp and dhcp.get("status") == "ok":
        fig, ax = plt.subplots(figsize=(6, 3.5))
        servers = list(dhcp["summary"].keys())
        for j, s in enumerate(servers):
            vals = [t["saturating"]["dora_per_s"] for t in dhcp["trials"] if t["server"] == s]
            ax.scatter([j] * len(vals), vals, label=s)
        ax.set_xticks(range(len(servers)))
        ax.set_xticklabels(servers)
        ax.set_ylabel("DORA/s (each trial)")
        ax.set_title(f"perfdhcp, offered {dhcp['offered_rate']}/s")
        p = os.path.join(plot_dir, "dhcp-rate.png")
        fig.tight_layout()
        fig.savefig(p, dpi=90)
        plt.close(fig)
        out["dhcp"] = p
    http = results.get("http")
    if http and http.get("status") == "ok":
        fig, ax = plt.subplots(figsize=(6, 3.5))
        for s in ("paddock", "nginx"):
            xs = [t["clients"] for t in http["trials"] if t["server"] == s]
            ys = [t["gbit_per_s"] for t in http["trials"] if t["server"] == s]
            ax.scatter(xs, ys, label=s)
        ax.set_xscale("log")
        ax.set_xlabel("concurrent clients")
        ax.set_ylabel("Gbit/s (each trial)")
        ax.set_title("HTTP 64 MB asset")
        ax.legend()
        p = os.path.join(plot_dir, "http-throughput.png")
        fig.tight_layout()
        fig.savefig(p, dpi=90)
        plt.close(fig)
        out["http"] = p
    return out


def wrk_seconds(r):
    """wrk's -d of a suite (older result files only have it in the recorded command)."""
    if r.get("wrk_seconds"):
        return r["wrk_seconds"]
    for c in r.get("commands", []):
        m = re.search(r" wrk .*-d (\d+)s", c)
        if m:
            return int(m.group(1))
    return None


def load_line(r):
    l0, l1 = r.get("load_start", [0])[0], r.get("load_end", [0])[0]
    n = r["machine"]["nproc"]
    s = f"load average (1 min) {l0:.2f} at start, {l1:.2f} at end"
    if r.get("machine_busy_cores") is not None:
        s += f"; the {n} cores were {r['machine_busy_cores']:.2f} busy on average"
    fc = r.get("foreign_cores")
    if fc is not None:
        s += (f"; other processes (not this benchmark, its servers or clients) used {fc:.2f} "
              "cores on average")
    if r.get("contended"):
        why = ("other processes used more than 0.2 cores" if fc is not None else
               "load above 1.5 (older runs: the load also counts this suite's own clients)")
        s = (f"**CONTENDED RUN: {s}** ({why}; absolute numbers are distorted, ratios less "
             "so)")
    return s


def agent_section(L, r):
    """The node agent vs Debian's cloud-init on one Kubernetes-node cloud-config."""
    L.append("## Node agent (paddock-agent vs cloud-init)")
    L.append("")
    ci = r.get("cloud_init", {})
    L.append(f"{load_line(r)}. Input: `{r['input']}`; {r.get('input_note')}. paddock-agent "
             "`apply --root` into a fresh scratch root per run (busybox, base accounts, tzdata, "
             f"as the agent's integration test builds it), median of {r['n_apply']} runs per "
             "mode, modes interleaved; with `--run-commands chroot` bootcmd/runcmd run in the "
             "root with chroot, with `none` nothing runs (each command is logged as skipped).")
    L.append("")
    L.append("| what | median ms | min ms | max ms | peak RSS KiB | exit codes |")
    L.append("|---|---|---|---|---|---|")
    for mode, v in r["apply"].items():
        L.append(f"| paddock-agent apply --run-commands {mode} | {ms(v['median_s'])} | "
                 f"{ms(v['min_s'])} | {ms(v['max_s'])} | {f(v.get('max_rss_kib'))} | "
                 f"{', '.join(str(x) for x in v['rcs'])} |")
    st = r["startup"]
    L.append(f"| `{st['command']}` (start-up, median of {st['n']}) | {ms(st['median_s'])} | "
             f"{ms(st['min_s'])} | – | {f(st.get('max_rss_kib'))} | {st['rc']} |")
    if ci.get("stages_s"):
        L.append(f"| cloud-init {ci.get('version', '')}, 4 stages, 1 run | "
                 f"{ms(ci['total_s'])} | – | – | – | {ci['rc']} |")
    L.append("")
    L.append(f"Binary: {r['binary_bytes']:,} bytes ({r['binary_bytes'] / 2**20:.2f} MiB; "
             f"`file`: {r['binary_file'].split(', BuildID')[0]}). Peak RSS is "
             "`/usr/bin/time -f %M` of one extra run (it includes the commands the agent waited "
             "for).")
    L.append("")
    if ci.get("skipped"):
        L.append(f"cloud-init: {ci['skipped']}.")
        L.append("")
    elif ci.get("stages_s"):
        for mode, v in r["apply"].items():
            a = v["median_s"]
            L.append(f"- cloud-init time / paddock-agent apply (`--run-commands {mode}`) time: "
                     f"**{f(ci['total_s'] / a if a else None)}×**")
        L.append("")
        L.append("cloud-init ran once inside a throwaway overlay of `/` in "
                 "private mount + UTS namespaces (the host is not changed), NoCloud seed, "
                 "network config disabled, as `tests/integration/agent/compare_cloud_init.sh` "
                 "does. Stages (seconds):")
        L.append("")
        L.append("| " + " | ".join(ci["stages_s"]) + " | total |")
        L.append("|" + "---|" * (len(ci["stages_s"]) + 1))
        L.append("| " + " | ".join(f(x, 3) for x in ci["stages_s"].values()) +
                 f" | {f(ci['total_s'], 3)} |")
        L.append("")
        if ci.get("status"):
            L.append(f"`cloud-init status`: **{ci['status']}**" +
                     (f"; detail: `{ci['detail'].splitlines()[0][:300]}`" if ci.get("detail")
                      else "") + ". cloud-init also runs its default module list (locale, "
                     "apt-configure, grub-dpkg, …), which the agent does not have.")
            L.append("")
        if ci.get("blame"):
            L.append("Slowest cloud-init steps (`cloud-init analyze blame`):")
            L.append("")
            L.append("| step | seconds |")
            L.append("|---|---|")
            for b in ci["blame"][:12]:
                L.append(f"| {b['step']} | {f(b['seconds'], 3)} |")
            L.append("")
    mods = {m: v.get("modules_us", {}) for m, v in r["apply"].items()}
    names = list(dict.fromkeys(n for d in mods.values() for n in d))
    if names:
        L.append("paddock-agent's own per-module log of its median run (µs):")
        L.append("")
        L.append("| module | " + " | ".join(f"--run-commands {m}" for m in mods) + " |")
        L.append("|---|" + "---|" * len(mods))
        for n in names:
            L.append(f"| {n} | " + " | ".join(f(d.get(n)) for d in mods.values()) + " |")
        L.append("")


def registry_plot(r, plot_dir):
    """Warm-cache pull throughput and p99 latency per peer and client count (big image)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    os.makedirs(plot_dir, exist_ok=True)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.5))
    for peer in ("paddock", "distribution"):
        rows = [t for t in r["trials"] if t["phase"] == "warm" and t["image"] == "big"
                and t["peer"] == peer]
        a1.scatter([t["clients"] for t in rows], [t["mb_per_s"] for t in rows], label=peer)
        a2.scatter([t["clients"] for t in rows], [t["p99_s"] for t in rows], label=peer)
    for ax, lab in ((a1, "MB/s (each trial)"), (a2, "p99 pull time, s (each trial)")):
        ax.set_xscale("log")
        ax.set_xticks(r["concurrency"])
        ax.set_xticklabels([str(c) for c in r["concurrency"]])
        ax.minorticks_off()
        ax.set_xlabel("parallel pullers")
        ax.set_ylabel(lab)
        ax.legend(fontsize=8)
    a1.set_title("Warm pulls: throughput")
    a2.set_title("Warm pulls: p99 latency")
    p = os.path.join(plot_dir, "registry-warm.png")
    fig.tight_layout()
    fig.savefig(p, dpi=90)
    plt.close(fig)
    return p


def registry_section(L, r, plot, rel):
    """paddock's pull-through cache vs distribution's proxy mode (bench/registry_suite.py)."""
    L.append("## Registry pull-through cache (paddock vs distribution's proxy mode)")
    L.append("")
    im = r["images"]
    big, small = im["big"], im["small"]
    pv = r.get("peer_versions", {})
    L.append(
        f"{load_line(r)}. Upstream: Debian's docker-registry {pv.get('docker-registry', '')} "
        f"holding two images this suite builds as OCI layouts and pushes with skopeo "
        f"{pv.get('skopeo', '')}: `{big['repo']}:{big['tag']}` "
        f"({len(big['layers'])} layers of random, incompressible data, "
        f"{big['bytes'] / 1e6:.1f} MB in all) and `{small['repo']}:{small['tag']}` (a busybox "
        f"rootfs, {small['bytes'] / 1e6:.2f} MB). Peers, both in front of that upstream: "
        "**paddock** (`registry.upstreams: [{name: docker.io, url: <upstream>}]`, tag_ttl 5m, "
        "requests carry `?ns=docker.io` as containerd's do) and **distribution** (a second "
        "docker-registry with `proxy: remoteurl: <upstream>`; it proxies exactly one remote and "
        "ignores `?ns=`). Both log at warn level (no access log). Client: one puller process "
        "per client (`bench/registry_suite.py pull`: keep-alive HTTP/1.1, manifest by tag, "
        "then config and layers in order, each checked against its digest and size); "
        "**cold** = a freshly started peer with an empty cache, every client pulling once at "
        f"the same moment; **warm** = pulls repeated for {r['warm_seconds']:g} s per trial "
        f"after the cache was filled. {r['rounds']} rounds, peers interleaved with rotated "
        "order; medians. skopeo (a real client) also pulls both images from each peer once "
        "per round into `dir:`, and every blob is compared with the original layout: "
        + ("**all identical**" if all(c["ok"] for c in r["skopeo"]) else
           "**SOME DIFFERED**: " + "; ".join(f"{c['peer']} {c['image']}: {c['detail']}"
                                            for c in r["skopeo"] if not c["ok"]))
        + ". MB = 10^6 bytes; server CPU = the peer's cgroup over the trial (for paddock cold "
        "pulls this includes fetching, hashing and storing; the upstream's CPU is not counted).")
    L.append("")
    sk = {}
    for c in r["skopeo"]:
        sk.setdefault((c["peer"], c["image"]), []).append(c["seconds"])
    if sk:
        L.append("skopeo copy (warm cache, median s): " + ", ".join(
            f"{p} {i} {f(sorted(v)[len(v) // 2], 3)}" for (p, i), v in sk.items()) + ".")
        L.append("")
    L.append("| phase | image | clients | peer | pulls | MB/s | ratio | pull p50 s | pull p99 s | "
             "manifest p50 ms | server CPU ms/MB | upstream requests (GET/HEAD manifest, "
             "GET/HEAD blob) | errors | saturated side |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for phase in ("cold", "warm"):
        for img, by_c in r["summary"][phase].items():
            for c, by in by_c.items():
                ref = by["distribution"]["mb_per_s"]
                for peer, v in by.items():
                    u = v.get("upstream") or {}
                    up = (f"{f(u.get('manifest_get'))}/{f(u.get('manifest_head'))}, "
                          f"{f(u.get('blob_get'))}/{f(u.get('blob_head'))}") if u else "–"
                    L.append(
                        f"| {phase} | {img} | {c} | {peer} | {f(v['pulls'])} | "
                        f"{f(v['mb_per_s'])} | "
                        f"{f(v['mb_per_s'] / ref if ref and v['mb_per_s'] else None)} | "
                        f"{f(v['p50_s'], 3)} | {f(v['p99_s'], 3)} | {ms(v['manifest_p50_s'])} | "
                        f"{f(v['server_cpu_ms_per_mb'])} | {up} | {v['errors']} | "
                        f"{'; '.join(v['saturated'])} |")
    L.append("")
    L.append("Every column is the median over rounds of one trial's figure (pulls = completed "
             "pulls in the trial, all clients; p99 of few pulls is close to the slowest). "
             "Upstream requests are counted from the upstream's access log per trial. Ratio = "
             "paddock's MB/s over distribution's in the same row group.")
    L.append("")
    if r.get("findings"):
        for x in r["findings"]:
            L.append(f"- {x}")
        L.append("")
    if plot:
        L.append(f"![Registry warm pulls]({rel(plot)})")
        L.append("")


def lab_plot(r, plot_dir):
    """Per-phase bars (median, whisker to max) for each server of the lab suite."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    cols = [("paddock (timeline)", x["phases"]) for x in r["runs"]
            if x.get("phases") and x["server"] == "paddock"]
    cols += [(f"{x['server']} (serial)", x["serial_phases"]) for x in r["runs"]
             if x.get("serial_phases")]
    if not cols:
        return None
    os.makedirs(plot_dir, exist_ok=True)
    names = r["phase_names"]
    fig, ax = plt.subplots(figsize=(9, 4))
    w = 0.8 / len(cols)
    for j, (label, d) in enumerate(cols):
        med = [d[k].get("median") or 0 for k in names]
        mx = [d[k].get("max") or 0 for k in names]
        xs = [i + j * w for i in range(len(names))]
        ax.bar(xs, med, w, label=f"{label}, median")
        ax.errorbar(xs, med, yerr=[[0] * len(med), [m - d for m, d in zip(mx, med)]],
                    fmt="none", ecolor="black", capsize=3, linewidth=1)
    ax.set_xticks([i + 0.4 - w / 2 for i in range(len(names))])
    ax.set_xticklabels(names)
    ax.set_yscale("log")  # the kernel's boot under TCG is 100x the network phases
    ax.set_ylabel("seconds per machine, log (bar median, whisker max)")
    ax.set_title(f"QEMU lab: {r['n']} machines booted at once (TCG on "
                 f"{r['runs'][0].get('machine_cores')} cores)")
    ax.legend(fontsize=8)
    p = os.path.join(plot_dir, "lab-phases.png")
    fig.tight_layout()
    fig.savefig(p, dpi=90)
    plt.close(fig)
    return p


def lab_section(L, r, plot, rel):
    """N QEMU machines PXE-booting at once (bench/lab_suite.py)."""
    L.append("## Real machines (QEMU lab)")
    L.append("")
    ib = r.get("image_bytes", {})
    L.append(f"{load_line(r)}. `bench/lab_suite.py`: {r['n']} QEMU machine(s) started at "
             f"the same moment ({r['qemu']}), each on its own tap of a bridge in a private "
             "namespace, PXE-boot the test node image (`images/build-test-image.sh`: "
             + ", ".join(f"{k} {v:,} B" for k, v in ib.items())
             + f"; {r.get('image', '')}), which does DHCP, reports `GET /node/booted` and powers "
             "off. paddock serves DHCP (full), HTTP and TFTP; its phases come from "
             "`paddock timeline MAC --json` plus the serial console (timestamped per line) for "
             "the guest-only steps. The peer, where present, is the e2e stand-in (dnsmasq "
             "DHCP/TFTP/RA + python http.server): no timeline, so its phases come from the "
             "serial console alone. No peer targets: this measures paddock under real "
             "firmware.")
    L.append("")
    L.append(f"**Bottleneck: emulation.** {r['bottleneck']}. For paddock's own limits see "
             "the boot storm above.")
    L.append("")
    L.append("| server | N | booted | all booted s | QEMU CPU s/boot | QEMU cores | server CPU "
             "ms/boot | machine busy cores | saturated |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for x in r["runs"]:
        if x.get("error"):
            L.append(f"| {x['server']} | {x['n']} | – | – | – | – | – | – | failed: "
                     f"{x['error']} |")
            continue
        L.append(f"| {x['server']} | {x['n']} | {x['booted']}/{x['n']} | "
                 f"{f(x['all_booted_seconds'])} | {f(x['qemu_cpu_s_per_boot'])} | "
                 f"{f(x['qemu_cores'])} | {f(x['server_cpu_ms_per_boot'], 1)} | "
                 f"{f(x['machine_busy_cores'])} of {x['machine_cores']} | {x['saturated']} |")
    L.append("")
    cols = []  # (heading, distributions): paddock's timeline, then every run's serial view
    for x in r["runs"]:
        if x.get("phases") and x["server"] == "paddock":
            cols.append(("paddock (timeline)", x["phases"]))
    for x in r["runs"]:
        if x.get("serial_phases"):
            cols.append((f"{x['server']} (serial)", x["serial_phases"]))
    if cols:
        L.append("Phases per machine, seconds, median / max over the N machines. \"timeline\" = "
                 "paddock's `timeline --json` events for the server-side boundaries (DISCOVER, "
                 "ACK, request start/end, node.booted) and the serial console for the guest-only "
                 "ones; \"serial\" = the serial console alone, the only view of the stand-in, "
                 "also computed for paddock so the two servers compare like for like. In the "
                 "serial view the DHCP row is iPXE's whole \"Configuring (net0 …)… ok\" line "
                 "(link-up, DHCP and the IPv6 router advertisement), the iPXE row is from that "
                 "\"ok\" to the script request, and downloads end when iPXE prints \"ok\".")
        L.append("")
        L.append("| phase | " + " | ".join(f"{h} median | max" for h, _ in cols) + " |")
        L.append("|---|" + "---|---|" * len(cols))
        for k in r["phase_names"] + ["total"]:
            label = (r["phase_labels"].get(k, k) if k != "total"
                     else "**total (QEMU start -> booted)**")
            L.append(f"| {label} | " + " | ".join(
                f"{f(d[k].get('median'), 2)} | {f(d[k].get('max'), 2)}" for _, d in cols) + " |")
        L.append("")
    pd = next((x for x in r["runs"] if x["server"] == "paddock" and x.get("node_dhcp_s")), None)
    if pd and pd["node_dhcp_s"].get("count"):
        nd = pd["node_dhcp_s"]
        L.append(f"The node's own DHCP after /init (udhcpc; paddock's second DISCOVER -> ACK in "
                 f"the timeline): median {f(nd['median'], 3)} s, max {f(nd['max'], 3)} s.")
        L.append("")
    if plot:
        L.append(f"![QEMU lab phases]({rel(plot)})")
        L.append("")


def render_cost_lines(L, r):
    """Where a render's CPU goes (paddock's threads) against nginx and the client, and the rate
    the two cores allow at that cost."""
    pd = [t for t in r["trials"] if t["server"] == "paddock" and t.get("thread_cpu_s")]
    ng = [t for t in r["trials"] if t["server"] == "nginx"]
    if not pd or not ng:
        return
    per = lambda t, v: v / t["requests"] * 1e6 if t["requests"] else None  # noqa: E731
    threads = sorted({k for t in pd for k in t["thread_cpu_s"]})
    th = {k: statistics.median([per(t, t["thread_cpu_s"].get(k, 0.0)) for t in pd])
          for k in threads}
    io = th.get("paddock")
    client_pd = statistics.median([per(t, t["client_cpu_s"]) for t in pd])
    client_ng = statistics.median([per(t, t["client_cpu_s"]) for t in ng])
    srv_ng = statistics.median([t["server_cpu_us_per_req"] for t in ng])
    srv_pd = statistics.median([t["server_cpu_us_per_req"] for t in pd])
    catch = statistics.median([t.get("catch_up_s", 0.0) for t in pd])
    dropped = [t.get("events_dropped") for t in pd]
    cores = any_machine(r)["nproc"]
    L.append("Where the CPU of a request goes (medians over trials, µs per request): paddock "
             + ", ".join(f"`{k}` {f(v)}" for k, v in th.items())
             + f" (io thread = `paddock`: HTTP, rendering, signing the token); nginx "
             f"{f(srv_ng)} in all; "
             f"the wrk client {f(client_pd)} against paddock, {f(client_ng)} against nginx. "
             f"paddock's recorder finished its writes {f(catch)} s after the clients stopped "
             "(that CPU is counted) and dropped "
             + ("no event" if dropped and all(d == 0 for d in dropped) else
                f"events (per trial: {dropped})") + ". Client and server share "
             f"{cores} cores, so a rate is bounded by {cores} s of CPU per second ÷ (server + "
             f"client µs per request): about {f(cores * 1e6 / (srv_ng + client_ng), 0)} req/s "
             f"for nginx and {f(cores * 1e6 / (srv_pd + client_pd), 0)} for paddock at these "
             f"costs. paddock's io thread alone costs {f(io / srv_ng if io and srv_ng else None)}"
             "× nginx's whole request; the recorder's share is bookkeeping nginx does not do: "
             "one timeline row and the machine's record per script. paddock serves from one "
             "io thread, so it cannot use a second core for HTTP while the client leaves one "
             "free.")
    L.append("")


def any_machine(r):
    return r.get("machine") or {"nproc": os.cpu_count()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--docs", required=True)
    a = ap.parse_args()
    results = {}
    for s in SUITES:
        p = os.path.join(a.results, f"{s}.json")
        if os.path.exists(p):
            results[s] = json.load(open(p))
    if not results:
        sys.exit("no results")
    docs_dir = os.path.dirname(os.path.abspath(a.docs))
    plot_files = plots(results, os.path.join(a.results, "plots"))
    rel = lambda p: os.path.relpath(p, docs_dir)  # noqa: E731
    any_r = next(iter(results.values()))
    m = any_r["machine"]
    L = []
    L.append("# paddock benchmarks")
    L.append("")
    L.append("Generated by `bench/report.py` from `bench/results/*.json`, written by "
             "`bench/run` (no number here is typed by hand; each suite's start time is under "
             "\"Exact commands\"). Reproduce: `sudo bench/run` "
             "(all suites) or `sudo bench/run dhcp tftp` (some); `bench/run --help`.")
    L.append("")
    L.append(f"Machine: {m['nproc']} cores, {m['cpu']}, kernel {m['kernel']}, {m['mem_gib']} GiB."
             " Client and server share these cores, so beside every rate is the server's CPU "
             "time per unit of work (its cpuacct cgroup, which includes every process it forks) "
             "and which side was saturated.")
    L.append("")
    contended = [s for s, r in results.items() if r.get("contended") and r.get("status") == "ok"]
    if contended:
        L.append(f"> **Contended run.** Other processes shared the cores during: "
                 f"{', '.join(contended)} (see each suite's first line); absolute rates are "
                 "lower and noisier than on an idle machine. Peers were interleaved with rotated "
                 "order, so ratios are fairer than absolutes.")
        L.append("")
    L.append("## Targets (issue 5)")
    L.append("")
    L.append("| target | measured ratio paddock/peer | threshold | verdict |")
    L.append("|---|---|---|---|")
    for s, r in results.items():
        for t in r.get("targets", []):
            th = t.get("threshold")
            th = "–" if th is None else ("≤ " if t.get("lower_is_better") else "≥ ") + f"{th}"
            L.append(f"| {t['name']} | {f(t.get('ratio'))} | {th} | {verdict(t)} |")
        if r.get("status") != "ok":
            L.append(f"| {s} | – | – | {r.get('status')}: {r.get('note') or r.get('error')} |")
    L.append("")

    r = results.get("dhcp")
    if r and r.get("status") == "ok":
        L.append("## DHCP: perfdhcp DORA")
        L.append("")
        L.append(f"{load_line(r)}. {r['rounds']} rounds, order rotated. perfdhcp acts as a relay "
                 f"(giaddr) over a veth; each trial starts the server fresh with an empty lease "
                 f"store and uses new MACs. Saturating run: offered {r['offered_rate']}/s for "
                 f"{r['duration']} s. Latency: a separate run at 200/s (moderate).")
        L.append("")
        L.append("| server | durability | DORA/s (median) | ratio to kea | server CPU µs/DORA | "
                 "drops (sat.) | DISCOVER→OFFER + REQUEST→ACK avg ms @200/s | same, max ms | "
                 "avg ms saturating | saturated side |")
        L.append("|---|---|---|---|---|---|---|---|---|---|")
        k = r["summary"]["kea"]["dora_per_s"]
        for s, v in r["summary"].items():
            L.append(f"| {s} | {DURABILITY.get(s, r['durability'].get(s, ''))} | {f(v['dora_per_s'])} | "
                     f"{f(v['dora_per_s'] / k if k else None)} | {f(v['server_cpu_us_per_dora'])} | "
                     f"{f(v['drops_saturating'])} | {f(v['avg_delay_ms_moderate'])} | "
                     f"{f(v['max_delay_ms_moderate'])} | {f(v['avg_delay_ms_saturating'])} | "
                     f"{'; '.join(v['saturated'])} |")
        L.append("")
        # Where the CPU went and where unanswered messages were lost (per trial, saturating).
        rows = [t for t in r["trials"] if "udp" in t.get("saturating", {})]
        if rows:
            L.append("Per saturating trial: server CPU by thread (µs per DORA), and datagrams "
                     "dropped because a socket's receive buffer was full (Udp.RcvbufErrors), on "
                     "the server's side and on perfdhcp's. `net.core.rmem_default` is raised to "
                     "4 MiB during this suite for every peer: perfdhcp plays every client through "
                     "one socket, and with the stock 208 KiB a burst of replies (paddock sends a "
                     "group commit's ACKs at once) overflowed it, so the server's replies were "
                     "counted as its drops. Catch-up = seconds the server kept using CPU after "
                     "perfdhcp stopped (that CPU is counted in µs/DORA).")
            L.append("")
            L.append("| server | DORA/s | CPU µs/DORA by thread | RcvbufErrors server | "
                     "RcvbufErrors client | catch-up s | timeline events dropped |")
            L.append("|---|---|---|---|---|---|---|")
            for t in rows:
                sat = t["saturating"]
                acks = sat.get("acks") or 0
                th = ", ".join(f"{k} {v / acks * 1e6:.0f}" for k, v in
                               sorted(sat.get("thread_cpu_s", {}).items(), key=lambda kv: -kv[1])
                               ) if acks else ""
                L.append(f"| {t['server']} | {f(sat['dora_per_s'])} | {th} | "
                         f"{sat['udp']['server'].get('Udp.RcvbufErrors', '')} | "
                         f"{sat['udp']['client'].get('Udp.RcvbufErrors', '')} | "
                         f"{f(sat.get('catch_up_s'))} | "
                         f"{'–' if sat.get('events_dropped') is None else sat['events_dropped']} |")
            L.append("")
        if "dhcp" in plot_files:
            L.append(f"![DHCP rate per trial]({rel(plot_files['dhcp'])})")
            L.append("")

    r = results.get("tftp")
    if r and r.get("status") == "ok":
        L.append("## TFTP")
        L.append("")
        L.append(f"{load_line(r)}. Client: atftp with `--option \"blksize 1432\" --option "
                 "\"tsize 0\"`, and `--option \"windowsize 8\"` in the windowsize rows (dnsmasq "
                 "and tftpd-hpa ignore windowsize and answer lock-step). Files: "
                 + ", ".join(f"{k} {v:,} B" for k, v in r["sizes"].items())
                 + f". {r['rounds']} rounds, order rotated; medians. The 32 MB file is "
                 "fetched by 1 client only (200 × 32 MB = 6.4 GB per server and mode did not fit "
                 "the time box on 2 shared cores).")
        L.append("")
        L.append("| case | server | makespan s | per-client p50 s | p99 s | MB/s | server CPU "
                 "ms/MB | failed | saturated side |")
        L.append("|---|---|---|---|---|---|---|---|---|")
        for case, by in r["summary"].items():
            for s, v in by.items():
                L.append(f"| {case} | {s} | {f(v['makespan_s'], 3)} | {f(v['p50_s'], 3)} | "
                         f"{f(v['p99_s'], 3)} | {f(v['mb_per_s'])} | "
                         f"{f(v['server_cpu_ms_per_mb'])} | {v['failed']} | "
                         f"{v['saturated'][0] if v['saturated'] else ''} |")
        L.append("")
        if "tftp" in plot_files:
            L.append(f"![TFTP makespan]({rel(plot_files['tftp'])})")
            L.append("")

    r = results.get("http")
    if r and r.get("status") == "ok":
        L.append("## HTTP assets (64 MB file)")
        L.append("")
        L.append(f"{load_line(r)}. wrk `-d {wrk_seconds(r)}s --latency --timeout 60s`, one "
                 "connection per client, keep-alive. Latency = time to receive the whole 64 MB "
                 "response (only completed responses count; see the count). nginx: Debian "
                 "nginx-light, `worker_processes auto` (2), sendfile, access log on. paddock: "
                 "one io thread, sendfile, every request recorded to its timeline. "
                 "Server + client CPU s/GB is the whole machine's cost of a GB: the kernel's "
                 "network work (softirq, about 40% of all CPU here) is charged to whichever task "
                 "runs when it fires, so part of it moves between the server's and the client's "
                 "figure.")
        L.append("")
        L.append("| clients | server | Gbit/s | ratio to nginx | completed | p50 s | p99 s | "
                 "server CPU s/GB | server + client CPU s/GB | saturated side |")
        L.append("|---|---|---|---|---|---|---|---|---|---|")
        for c, by in r["summary"].items():
            ng = by["nginx"]["gbit_per_s"]
            for s, v in by.items():
                L.append(f"| {c} | {s} | {f(v['gbit_per_s'])} | "
                         f"{f(v['gbit_per_s'] / ng if ng else None)} | {f(v['requests'])} | "
                         f"{f(v['p50_s'], 3)} | {f(v['p99_s'], 3)} | "
                         f"{f(v['server_cpu_s_per_gb'], 3)} | "
                         f"{f(v.get('machine_cpu_s_per_gb'), 3)} | {'; '.join(v['saturated'])} |")
        L.append("")
        if "http" in plot_files:
            L.append(f"![HTTP throughput]({rel(plot_files['http'])})")
            L.append("")

    r = results.get("render")
    if r and r.get("status") == "ok":
        L.append("## iPXE script rendering")
        L.append("")
        L.append(f"{load_line(r)}. paddock with {r['machines']} declared machines in "
                 f"{r['groups']} groups; wrk `-c {r['connections']} -d {wrk_seconds(r)}s` with a "
                 "Lua script cycling through every machine's `/ipxe?mac=..` (each render signs "
                 "a one-time boot token and records one timeline event). nginx serves a static "
                 f"file of the same size ({r['script_bytes']} B, a script paddock rendered), asked for "
                 "through the same Lua client with the same query strings.")
        L.append("")
        L.append("| server | req/s | ratio to nginx | p50 ms | p99 ms | server CPU µs/req | "
                 "non-2xx | saturated side |")
        L.append("|---|---|---|---|---|---|---|---|")
        ng = r["summary"]["nginx"]["rps"]
        for s, v in r["summary"].items():
            L.append(f"| {s} | {f(v['rps'])} | {f(v['rps'] / ng if ng else None)} | "
                     f"{ms(v['p50_s'])} | {ms(v['p99_s'])} | {f(v['server_cpu_us_per_req'])} | "
                     f"{v['non_2xx']} | {'; '.join(v['saturated'])} |")
        L.append("")
        render_cost_lines(L, r)

    r = results.get("storm")
    if r and r.get("status") == "ok":
        L.append("## Boot storm (paddock-storm)")
        L.append("")
        L.append(f"{load_line(r)}. `bench/storm/` (see `bench/storm/storm.h` for exactly what is "
                 "simulated): each machine does the PXE ROM's DHCP (60, 93, 94, 97), TFTP of "
                 "undionly.kpxe (blksize 1432), iPXE's DHCP (77 \"iPXE\", 175), GET /boot.ipxe, "
                 "GET /ipxe?mac=.., the kernel and initrd, and GET /node/booted, from its own MAC "
                 "and (after the ACK) its own leased address. CPU-bound phases of a real boot "
                 "(POST, decompression) are not simulated. The veth is limited by "
                 f"`tc ... tbf rate {r['link']} burst 256kb latency 50ms` in both directions. "
                 "Assets are smaller than a real OS so that N=1,000 fits in minutes: "
                 + ", ".join(f"{k} {v:,} B (random)" for k, v in r["asset_bytes"].items())
                 + ". Link-rate limit = N × bytes per boot (payload) ÷ link rate; Ethernet/IP/TCP "
                 "headers add ~4 % on the wire, so a ratio of ~1.04 is the practical floor.")
        L.append("")
        L.append("| N | booted | failed | all booted s | link limit s | ratio | retries "
                 "dhcp/tftp/http | bytes/boot | server CPU s/boot | saturated side |")
        L.append("|---|---|---|---|---|---|---|---|---|---|")
        for x in r["runs"]:
            rt = x["retries"]
            L.append(f"| {x['n']} | {x['booted']} | {x['failed']} | {f(x['all_booted_seconds'])} | "
                     f"{f(x.get('link_limit_seconds'))} | {f(x.get('ratio_to_link_limit'))} | "
                     f"{rt['dhcp']}/{rt['tftp']}/{rt['http']} | {f(x['bytes_per_boot'])} | "
                     f"{f(x['server_cpu_s_per_boot'], 3)} | {x['saturated']} |")
        L.append("")
        L.append("The ratio compares the time until every machine booted with the link-rate "
                 "limit; when machines failed, the time is when the simulator gave up on them and "
                 "the ratio is not a pass (the target needs no machine failing).")
        L.append("")
        L.append("Kernel counters in the namespaces after each storm (UDP RcvbufErrors = datagrams "
                 "dropped because a socket's receive buffer was full):")
        L.append("")
        L.append("| N | side | " + " | ".join(
            k for k in next(iter(r["runs"]))["kernel_counters"]["server"]) + " |"
            if r["runs"] and "kernel_counters" in r["runs"][0] else "| N | side |")
        if r["runs"] and "kernel_counters" in r["runs"][0]:
            keys = list(r["runs"][0]["kernel_counters"]["server"])
            L.append("|---|---|" + "---|" * len(keys))
            for x in r["runs"]:
                for side in ("server", "client"):
                    c = x["kernel_counters"][side]
                    L.append(f"| {x['n']} | {side} | " + " | ".join(str(c[k]) for k in keys) +
                             " |")
        L.append("")
        for x in r["runs"]:
            L.append(f"Phase durations, N={x['n']} (seconds per machine):")
            L.append("")
            L.append("| phase | count | p50 | p90 | p99 | max |")
            L.append("|---|---|---|---|---|---|")
            for name, d in x["phases"].items():
                L.append(f"| {name} | {d['count']} | {f(d.get('p50'), 3)} | {f(d.get('p90'), 3)} |"
                         f" {f(d.get('p99'), 3)} | {f(d.get('max'), 3)} |")
            t = x["total"]
            L.append(f"| **total** | {t['count']} | {f(t.get('p50'), 3)} | {f(t.get('p90'), 3)} |"
                     f" {f(t.get('p99'), 3)} | {f(t.get('max'), 3)} |")
            L.append("")
            if x["errors"]:
                L.append("Failures: " + "; ".join(f"{k}: {v}" for k, v in x["errors"].items()))
                L.append("")
            for key in (f"storm-{x['n']}", f"storm-{x['n']}-phases"):
                if key in plot_files:
                    L.append(f"![{key}]({rel(plot_files[key])})")
                    L.append("")

    r = results.get("lab")
    if r and r.get("runs"):
        lab_section(L, r, lab_plot(r, os.path.join(a.results, "plots")), rel)
    elif r:
        L.append("## Real machines (QEMU lab)")
        L.append("")
        L.append(f"Failed: {r.get('error')}.")
        L.append("")

    for s in ("registry", "agent"):
        r = results.get(s)
        if s == "agent" and r and r.get("status") == "ok":
            agent_section(L, r)
        elif s == "registry" and r and r.get("status") == "ok":
            registry_section(L, r, registry_plot(r, os.path.join(a.results, "plots")), rel)
        elif r:
            L.append(f"## {s}")
            L.append("")
            L.append(f"Not yet available: {r.get('note') or r.get('error')}.")
            L.append("")

    L.append("## How the benchmarks are built")
    L.append("")
    L.append("- `bench/run` (Python) creates two network namespaces per suite joined by a veth "
             "(server `srv0` 198.19.0.1/16, client `cli0` 198.19.0.2/16), starts each server "
             "with its own config file inside the server namespace, runs the real client in the "
             "client namespace, and deletes everything on exit (atexit + signal handlers). No "
             "service installed by a Debian package is used; nginx, kea, tftpd-hpa and dnsmasq "
             "are started by hand. atftpd conflicts with tftpd-hpa as a package, so its .deb is "
             "unpacked under /var/cache/paddock/atftpd and run from there.")
    L.append("- Each server runs in its own cpuacct cgroup; its CPU time per unit of work is the "
             "cgroup's usage over the measurement. Client CPU comes from wait4 rusage. A side "
             "using ≥ 0.9 of a core is called saturated (or both, when the pair uses ≥ 1.8 of "
             "the 2 cores).")
    L.append("- Peers are interleaved: round r runs the servers starting at offset r of the list, "
             "so no server always runs first or last. Tables show medians over the rounds.")
    L.append("- The load average (1 min) is recorded at the start and end of every suite, and the "
             "CPU of every other user process (not the benchmark, its servers or clients) over "
             "the suite; when those used more than 0.2 cores on average the suite is marked "
             "contended (results from before this rule: a load average above 1.5).")
    L.append("- `bench/storm/` (`paddock-storm`) is a standalone CMake project using only POSIX "
             "sockets and threads (one thread per machine, one DHCP receive thread "
             "demultiplexing by xid + chaddr). The top-level CMakeLists.txt does not include "
             "it; `tests/integration/bench/CMakeLists.txt` pulls it into the main tree for the "
             "smoke test, and `bench/run` builds it in `build-bench/tools` when "
             "`PADDOCK_STORM` is unset.")
    L.append("- The agent suite uses no namespace of its own for paddock-agent (`apply --root` "
             "writes only into a scratch directory under /var/tmp); Debian's cloud-init runs "
             "inside a throwaway overlay of `/` in private mount + UTS namespaces "
             "(`unshare -mu`), so the host is not changed. `--quick` skips cloud-init.")
    L.append("- The lab suite (`bench/lab_suite.py`) boots real firmware under QEMU/TCG in a "
             "namespace with a bridge (198.18.X.0/24) and one tap per machine; QEMU, paddock "
             "and the stand-in are killed and the namespace deleted on every exit. "
             "`bench/run --lab-n N lab` (or `PADDOCK_LAB_N`) sets N; `--quick` boots one "
             "machine without the peer.")
    L.append("- Smoke test: `ctest -R integration.bench_smoke` runs `bench/run --quick` (tiny "
             "sizes, one round) and checks only that every suite ran and produced sane numbers.")
    L.append("")
    L.append("## Versions")
    L.append("")
    L.append("| package | version |")
    L.append("|---|---|")
    for k, v in any_r["versions"].items():
        L.append(f"| {k} | {v} |")
    L.append("")
    L.append("## Exact commands")
    L.append("")
    L.append("Namespaces, veths and addresses (198.19.0.0/16) are created by `bench/run`; "
             "temporary paths vary per run.")
    L.append("")
    for s, r in results.items():
        if r.get("commands"):
            L.append(f"### {s} ({r.get('started', '')}, {r.get('seconds')} s)")
            L.append("")
            L.append("```")
            L.extend(r["commands"][:40])
            L.append("```")
            L.append("")
    open(a.docs, "w").write("\n".join(L))
    print(f"report: wrote {a.docs} and {len(plot_files)} plots")


if __name__ == "__main__":
    main()
