#!/usr/bin/python3
"""Lab suite of bench/run: N real (emulated) machines PXE-boot from paddock at once.

Imported by bench/run (suite_lab(q, b), where b is bench/run's module: its log, cpu_busy,
loadavg, cgroup CPU accounting (Netns.start/stop), _NAMESPACES cleanup and COMMANDS are reused).

What it does, all inside one network namespace of its own (pd-bench-lab-<pid>):
  - builds or reuses the test node image (images/build-test-image.sh, cached in
    /var/cache/paddock/images/test-node: Debian's kernel + a busybox initramfs that does DHCP,
    reports GET /node/booted and powers off);
  - a bridge br0 with 198.18.X.1/24 and a ULA IPv6 address (paddock sends one RA, so iPXE does
    not wait 16 s for IPv6), one tap per machine;
  - `paddock serve` (full DHCP, TFTP, HTTP) on br0, as scripts/lab.sh configures it;
  - N QEMU machines started at the same moment: SeaBIOS + QEMU's iPXE ROM (virtio-net), TCG
    (`-accel tcg,tb-size=64`, 256 MiB, one vCPU) so host RAM stays small;
  - each serial console is read by a thread that timestamps every line (first and last byte);
  - when every guest printed E2E-MARKER (and powered off), `paddock timeline MAC --json` per
    machine gives the server side of each phase.

Phases per machine (seconds; t0 = QEMU started):
  firmware   t0 -> first DHCPDISCOVER (emulated POST, iPXE ROM start-up)
  dhcp       first DISCOVER -> first ACK (iPXE's DHCP)
  ipxe       ACK -> GET /boot.ipxe (iPXE finishes configuring net0: IPv6 RA, routes)
  script     GET /boot.ipxe -> kernel request starts (chained /ipxe?mac=.. rendered)
  download   kernel request start -> initrd response end (kernel + initrd over HTTP)
  unpack     initrd done -> "Linux version" on serial (iPXE hands over, kernel decompresses)
  kernel     "Linux version" -> "PADDOCK-NODE: init" (kernel start to /init)
  booted     /init -> node.booted (the node's own DHCP, then GET /node/booted)
  total      t0 -> node.booted
The stand-in peer (dnsmasq DHCP/TFTP + python http.server, tests/e2e "standin") records no
timeline: its phases come from the serial console alone (iPXE's "Configuring ... ok", its
"http://.../vmlinuz... ok" lines), which is also computed for paddock as a cross-check; there
"dhcp" is iPXE's whole "Configuring (net0 ..)... ok" line (link-up, DHCP and IPv6 RA).

TCG emulation is CPU-bound: N guests on a 2-core host saturate it, so these figures measure
paddock under real firmware with emulation as the bottleneck, not paddock's own limits (see the
storm suite for those). The JSON records the machine's busy cores, QEMU's and paddock's CPU.

N: bench/run --lab-n N, else $PADDOCK_LAB_N, else 4 (--quick: 1, no peer).
"""
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import threading
import time

IPXE_DIR = "/usr/lib/ipxe"
IMAGE_DIR = "/var/cache/paddock/images/test-node"
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1b[=>]")
PHASES = ["firmware", "dhcp", "ipxe", "script", "download", "unpack", "kernel", "booted"]
PHASE_LABELS = {
    "firmware": "firmware (QEMU start -> DHCPDISCOVER)",
    "dhcp": "DHCP (DISCOVER -> ACK)",
    "ipxe": "iPXE config done (ACK -> GET /boot.ipxe)",
    "script": "script (/boot.ipxe, /ipxe?mac= -> kernel request)",
    "download": "kernel + initrd download",
    "unpack": "iPXE hand-over + decompress (initrd done -> 'Linux version')",
    "kernel": "kernel start -> /init",
    "booted": "/init -> booted (node DHCP + report)",
}
GUEST_TIMEOUT = 300


class Lab:
    """One namespace with a bridge and taps; closed by bench/run's cleanup on every exit."""

    def __init__(self, b, n, tag):
        pid = os.getpid()
        self.b, self.procs, self.qemus = b, [], []
        self.ns = f"pd-bench-lab-{tag}-{pid}"
        byte = pid % 250 + 2
        self.net = f"198.18.{byte}"
        self.ip = f"{self.net}.1"
        self.ip6 = f"fd00:e2e:{byte:x}::1"
        b.sh(f"ip netns add {self.ns}")
        b._NAMESPACES.append(self)
        ns = self.ns
        for cmd in (f"ip netns exec {ns} sysctl -qw net.ipv6.conf.default.disable_ipv6=1",
                    f"ip netns exec {ns} sysctl -qw net.ipv6.conf.all.disable_ipv6=0",
                    f"ip -n {ns} link set lo up",
                    f"ip -n {ns} link add br0 type bridge stp_state 0 forward_delay 0",
                    f"ip netns exec {ns} sysctl -qw net.ipv6.conf.br0.disable_ipv6=0",
                    f"ip -n {ns} addr add {self.ip}/24 dev br0",
                    f"ip -n {ns} addr add {self.ip6}/64 dev br0 nodad",
                    f"ip -n {ns} link set br0 up"):
            b.sh(cmd)
        for i in range(n):
            b.sh(f"ip -n {ns} tuntap add dev tap{i} mode tap")
            b.sh(f"ip -n {ns} link set tap{i} master br0 up")
        b.COMMANDS.append(f"ip netns add {ns}; bridge br0 {self.ip}/24 + {self.ip6}/64; "
                          f"tap0..tap{n - 1} on br0")

    def start(self, cmd, name):
        return self.b.Netns.start(self, self.ns, cmd, name)  # cgroup CPU accounting, logs

    def stop(self, p):
        self.b.Netns.stop(self, p)

    def close(self):
        for g in self.qemus:
            if g.proc.poll() is None:
                try:
                    os.killpg(g.proc.pid, 9)
                except OSError:
                    pass
                g.proc.wait()
        self.qemus = []
        for p in list(self.procs):
            try:
                self.stop(p)
            except Exception:
                pass
        subprocess.run(["ip", "netns", "del", self.ns], stderr=subprocess.DEVNULL)


class Guest:
    """A QEMU machine; its serial console (stdout) is read by a thread timestamping lines."""

    def __init__(self, lab, name, mac, tap, logdir):
        self.name, self.mac = name, mac
        self.lines = []  # (start_s, end_s, text), seconds since t0
        self.log = open(os.path.join(logdir, f"{name}.serial"), "w")
        cmd = ["ip", "netns", "exec", lab.ns, "timeout", str(GUEST_TIMEOUT),
               "qemu-system-x86_64", "-name", name, "-accel", "tcg,tb-size=64", "-m", "256",
               "-smp", "1", "-nographic", "-no-reboot", "-boot", "order=n,reboot-timeout=1000",
               "-netdev", f"tap,id=n0,ifname={tap},script=no,downscript=no",
               "-device", f"virtio-net-pci,netdev=n0,mac={mac}"]
        if name.endswith("-1"):
            lab.b.COMMANDS.append(" ".join(cmd))
        self.t0 = time.time()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=open(os.path.join(logdir, f"{name}.qemu.log"), "w"),
                                     start_new_session=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        fd, buf, start = self.proc.stdout.fileno(), b"", None
        while True:
            chunk = os.read(fd, 65536)
            now = time.time() - self.t0
            if not chunk:
                break
            if start is None:
                start = now
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                text = ANSI.sub(b"", line).replace(b"\r", b"").decode("utf-8", "replace")
                self.lines.append((start, now, text))
                self.log.write(f"{start:8.3f} {now:8.3f} | {text}\n")
                start = now if buf else None
        self.log.close()

    def first(self, pattern, which="end"):
        rx = re.compile(pattern)
        for s, e, text in list(self.lines):
            if rx.search(text):
                return s if which == "start" else e
        return None

    def state(self):
        if self.first(r"E2E-MARKER: OK") is not None:
            return "ok"
        f = self.first(r"E2E-MARKER: FAIL")
        if f is not None:
            return "fail"
        return "running" if self.proc.poll() is None else "fail"


def paddock_config(lab, d, tftp, guests):
    cfg = f"""# bench/lab_suite.py (the same as scripts/lab.sh)
server:
  address: {lab.ip}
  interface: br0
  data_dir: {d}/data
  log_level: info
dhcp:
  mode: full
  range: {{ start: {lab.net}.100, end: {lab.net}.199 }}
  netmask: 255.255.255.0
  lease_time: 1h
  router_advertisement: true
tftp:
  enabled: true
  root: {tftp}
http:
  address: 0.0.0.0
  port: 8080
  assets: {IMAGE_DIR}
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
machines:
""" + "".join(f"  - mac: {g[1]}\n    hostname: {g[0]}\n" for g in guests)
    path = os.path.join(d, "paddock.yaml")
    open(path, "w").write(cfg)
    return path


def start_standin(lab, d):
    """dnsmasq (DHCP, TFTP, RA) + python http.server: tests/e2e/lib.sh e2e_standin_start full."""
    web = os.path.join(d, "web")
    os.makedirs(os.path.join(web, "assets"), exist_ok=True)
    os.makedirs(os.path.join(web, "node"), exist_ok=True)
    for f in ("vmlinuz", "initrd.cpio.gz"):
        os.symlink(os.path.join(IMAGE_DIR, f), os.path.join(web, "assets", f))
    open(os.path.join(web, "node", "booted"), "w").write("ok\n")
    ip = lab.ip
    open(os.path.join(web, "boot.ipxe"), "w").write(
        "#!ipxe\n"
        f"kernel http://{ip}:8080/assets/vmlinuz initrd=initrd.cpio.gz console=ttyS0 panic=1 "
        f"paddock.server=http://{ip}:8080 paddock.token=standin paddock.mac=${{net0/mac}}\n"
        f"initrd http://{ip}:8080/assets/initrd.cpio.gz\nboot\n")
    conf = os.path.join(d, "dnsmasq.conf")
    open(conf, "w").write("\n".join([
        "port=0", "user=root", "group=root", "no-resolv", "no-hosts", "interface=br0",
        "bind-interfaces", "no-ping", "enable-tftp", f"tftp-root={IPXE_DIR}",
        f"dhcp-leasefile={d}/dnsmasq.leases", "dhcp-match=set:ipxe,175", "enable-ra",
        "dhcp-range=::,constructor:br0,ra-only", "ra-param=br0,60,0",
        f"dhcp-range={lab.net}.100,{lab.net}.199,255.255.255.0,10m",
        "dhcp-boot=tag:!ipxe,undionly.kpxe", f"dhcp-boot=tag:ipxe,http://{ip}:8080/boot.ipxe",
        "dhcp-option=tag:ipxe,encap:175,176,1b"]) + "\n")
    dn = lab.start(["dnsmasq", "--keep-in-foreground", f"--conf-file={conf}",
                    f"--pid-file={d}/dnsmasq.pid"], "lab-dnsmasq")
    http = lab.start(["python3", "-m", "http.server", "8080", "--bind", ip, "--directory", web],
                     "lab-http")
    return [dn, http]


def timeline(b, cfg, mac):
    """The machine's latest boot from paddock's store; retried while node.booted is not yet
    written (the daemon stores events in batches)."""
    events = []
    for _ in range(20):
        r = subprocess.run([b.PADDOCK, "timeline", "--config", cfg, mac, "--last", "--json"],
                           capture_output=True, text=True)
        if r.returncode == 0:
            events = sorted(json.loads(r.stdout), key=lambda e: e["time_us"])
            if any(e["phase"] == "node.booted" for e in events):
                break
        time.sleep(0.25)
    return events


def _path(e):
    d = e.get("detail")
    return str(d.get("path", "")) if isinstance(d, dict) else ""


def phases_from_timeline(g, events):
    """Phase boundaries (seconds since the guest's t0) from paddock's timeline + serial."""
    rel = lambda us: us / 1e6 - g.t0  # noqa: E731

    def ev(phase, sub=None):
        return [e for e in events if e["phase"] == phase and (sub is None or sub in _path(e))]
    disc, ack = ev("dhcp.discover"), ev("dhcp.ack")
    kern, initrd, booted = ev("http.request", "vmlinuz"), ev("http.request", "initrd"), \
        ev("node.booted")
    script = ev("http.request", "boot.ipxe")
    if not (disc and ack and script and kern and initrd and booted):
        return None
    dl_end = max(rel(e["time_us"] + (e.get("duration_us") or 0)) for e in kern + initrd)
    marks = [0.0, rel(disc[0]["time_us"]), rel(ack[0]["time_us"]), rel(script[0]["time_us"]),
             rel(kern[0]["time_us"]),
             dl_end, g.first(r"Linux version", "start"), g.first(r"PADDOCK-NODE: init"),
             rel(booted[0]["time_us"])]
    return marks


def phases_from_serial(g):
    """The same boundaries from the serial console alone (works for any server)."""
    marks = [0.0, g.first(r"Configuring \(net0", "start"), g.first(r"Configuring \(net0.*ok"),
             g.first(r"https?://\S*boot\.ipxe", "start"),
             g.first(r"https?://\S*vmlinuz", "start"),
             g.first(r"https?://\S*initrd\S*\.\.\..*ok"), g.first(r"Linux version", "start"),
             g.first(r"PADDOCK-NODE: init"), g.first(r"PADDOCK-NODE: booted")]
    return None if any(m is None for m in marks) else marks


def durations(marks):
    if not marks or any(m is None for m in marks):
        return None
    d = {p: round(marks[i + 1] - marks[i], 3) for i, p in enumerate(PHASES)}
    d["total"] = round(marks[-1], 3)
    return d


def dist(rows, key):
    xs = [r[key] for r in rows if r]
    if not xs:
        return {"count": 0}
    return {"count": len(xs), "median": round(statistics.median(xs), 3),
            "min": round(min(xs), 3), "max": round(max(xs), 3)}


def boot_run(b, q, n, server, work):
    d = os.path.join(work, f"lab-{server}-{n}")
    os.makedirs(d, exist_ok=True)
    lab = Lab(b, n, f"{server[0]}{n}")
    try:
        names = [(f"node-{i + 1}", "52:54:00:1b:%02x:%02x" % (n, i + 1)) for i in range(n)]
        if server == "paddock":
            tftp = os.path.join(d, "tftp")  # real copies: Debian's ipxe.efi is a symlink
            os.makedirs(tftp, exist_ok=True)
            for f in ("undionly.kpxe", "ipxe.efi"):
                shutil.copy(os.path.join(IPXE_DIR, f), tftp)
            cfg = paddock_config(lab, d, tftp, names)
            srv = [lab.start([b.PADDOCK, "serve", "--config", cfg], "lab-paddock")]
            b.wait_http(lab.ns, f"http://{lab.ip}:8080/healthz", srv[0])
        else:
            cfg, srv = None, start_standin(lab, d)
            b.wait_http(lab.ns, f"http://{lab.ip}:8080/boot.ipxe", srv[1])
        srv_cpu0 = sum(b.cpu_of(p) for p in srv)
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy0, w0, load0 = b.cpu_busy(), time.time(), b.loadavg()
        b.log(f"lab: {server}: booting {n} machines at once (TCG)")
        guests = [Guest(lab, name, mac, f"tap{i}", d) for i, (name, mac) in enumerate(names)]
        lab.qemus = guests
        deadline = time.time() + GUEST_TIMEOUT + 10
        done_at = {}
        while time.time() < deadline:
            for g in guests:
                if g.name not in done_at and g.state() != "running":
                    done_at[g.name] = time.time() - w0
            if len(done_at) == n and all(g.proc.poll() is not None for g in guests):
                break
            time.sleep(0.2)
        for g in guests:
            if g.proc.poll() is None:
                os.killpg(g.proc.pid, 9)
            g.proc.wait()
            g.thread.join(5)
        wall = time.time() - w0
        busy = b.cpu_busy() - busy0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        qemu_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
        srv_cpu = sum(b.cpu_of(p) for p in srv) - srv_cpu0
        per = []
        for g in guests:
            st = g.state()
            ev = timeline(b, cfg, g.mac) if cfg else []
            tl = durations(phases_from_timeline(g, ev)) if ev else None
            se = durations(phases_from_serial(g))
            counts = {}
            for e in ev:
                counts[e["phase"]] = counts.get(e["phase"], 0) + 1
            node_dhcp = None  # the node's own DHCP (udhcpc after /init), server side
            disc = [e for e in ev if e["phase"] == "dhcp.discover"]
            acks = [e for e in ev if e["phase"] == "dhcp.ack"]
            if len(disc) >= 2 and len(acks) >= 2:
                node_dhcp = round((acks[-1]["time_us"] - disc[-1]["time_us"]) / 1e6, 3)
            per.append({"name": g.name, "mac": g.mac, "state": st, "node_dhcp_s": node_dhcp,
                        "timeline": [{k: e.get(k) for k in ("time_us", "phase", "duration_us",
                                                            "bytes", "ok")} |
                                     {"path": _path(e)} for e in ev],
                        "phases": tl or se, "source": "timeline" if tl else "serial",
                        "serial_phases": se, "timeline_events": counts,
                        "serial_lines": len(g.lines)})
            if st != "ok":
                tail = "\n".join(t for _, _, t in g.lines[-15:])
                b.log(f"lab: {g.name} did not boot ({st}); serial tail:\n{tail}")
        lab.qemus = []
        booted = [p for p in per if p["state"] == "ok" and p["phases"]]
        ncpu = os.cpu_count() or 1
        res = {
            "server": server, "n": n, "booted": len(booted), "failed": n - len(booted),
            "all_booted_seconds": round(max(p["phases"]["total"] for p in booted), 2)
            if len(booted) == n else None,
            "wall_seconds": round(wall, 2), "per_machine": per,
            "phases": {k: dist([p["phases"] for p in booted], k) for k in PHASES + ["total"]},
            "serial_phases": {k: dist([p["serial_phases"] for p in booted], k)
                              for k in PHASES + ["total"]},
            "node_dhcp_s": dist([{"v": p["node_dhcp_s"]} for p in booted
                                 if p["node_dhcp_s"] is not None], "v"),
            "qemu_cpu_s": round(qemu_cpu, 2),
            "qemu_cpu_s_per_boot": round(qemu_cpu / n, 2),
            "qemu_cores": round(qemu_cpu / wall, 2) if wall else None,
            "server_cpu_s": round(srv_cpu, 3),
            "server_cpu_ms_per_boot": round(srv_cpu * 1e3 / n, 1),
            "machine_busy_cores": round(busy / wall, 2) if wall else None,
            "machine_cores": ncpu, "load_start": load0, "load_end": b.loadavg(),
        }
        bc = res["machine_busy_cores"] or 0
        res["saturated"] = (
            f"host CPU ({bc:.2f} of {ncpu} cores busy; QEMU/TCG {res['qemu_cores']:.2f} cores, "
            f"{server} {srv_cpu:.2f} s CPU in all)" if bc >= 0.9 * ncpu else
            f"not saturated ({bc:.2f} of {ncpu} cores busy; QEMU/TCG {res['qemu_cores']:.2f} "
            f"cores)")
        b.log(f"lab: {server} N={n}: {len(booted)}/{n} booted, all in "
              f"{res['all_booted_seconds']} s; {res['saturated']}")
        return res
    finally:
        lab.close()
        if lab in b._NAMESPACES:
            b._NAMESPACES.remove(lab)


def suite_lab(q, b):
    n = getattr(q, "lab_n", None) or int(os.environ.get("PADDOCK_LAB_N") or (1 if q.quick else 4))
    b.sh(f"{os.path.join(b.ROOT, 'images/build-test-image.sh')} {IMAGE_DIR} >/dev/null 2>&1")
    b.COMMANDS.append(f"images/build-test-image.sh {IMAGE_DIR}")
    runs = [boot_run(b, q, n, "paddock", b.WORK)]
    if not q.quick and os.environ.get("PADDOCK_LAB_PEER", "1") != "0":
        try:
            runs.append(boot_run(b, q, n, "standin", b.WORK))
        except Exception as e:  # the peer is optional; its failure does not fail the suite
            b.log(f"lab: stand-in run failed: {type(e).__name__}: {e}")
            runs.append({"server": "standin", "n": n, "error": f"{type(e).__name__}: {e}"})
    p = runs[0]
    res = {"n": n, "runs": runs, "phase_names": PHASES, "phase_labels": PHASE_LABELS,
           "qemu": "qemu-system-x86_64 -accel tcg,tb-size=64 -m 256 -smp 1, SeaBIOS + "
                   "QEMU's iPXE ROM, virtio-net",
           "image": open(os.path.join(IMAGE_DIR, "image.env")).read().split("\n")[0],
           "image_bytes": {f: os.path.getsize(os.path.join(IMAGE_DIR, f))
                           for f in ("vmlinuz", "initrd.cpio.gz")},
           "bottleneck": "TCG emulation is CPU-bound and every guest competes for the "
                         f"host's {os.cpu_count()} cores (QEMU used {p['qemu_cpu_s']:.1f} s CPU "
                         f"for {n} boot(s), paddock {p['server_cpu_s']:.2f} s): the times are "
                         "the emulator's, not paddock's",
           "targets": [{"name": f"QEMU lab: {n} machines booted from paddock (no failures)",
                        "ratio": p["booted"] / n, "threshold": 1.0,
                        "met": p["booted"] == n}]}
    if p["booted"] != n:
        res["status"] = "failed"
        res["error"] = f"{p['failed']} of {n} machines did not boot"
    return res
