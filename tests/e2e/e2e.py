#!/usr/bin/env python3
"""Helpers for paddock's QEMU end-to-end tests (called by tests/e2e/lib.sh).

  e2e.py ts T0                      stdin: raw serial bytes; stdout: one line per serial line,
                                    "<start> <end> | <text>", seconds since T0 (epoch seconds)
                                    when the line's first and last byte arrived.
  e2e.py check TIMELINE.json SPEC.. every SPEC must hold in the timeline (a JSON array of boot
                                    events); prints what is missing, exits 1 if anything is.
                                    SPEC = PHASE[~PATH-SUBSTRING][*MIN-COUNT][@after=PHASE2]
  e2e.py report NAME FW T0 SERIAL.log [TIMELINE.json]
                                    prints the guest's phase times (seconds since QEMU start).
"""

import json
import os
import re
import sys
import time

ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1b[=>]")


def ts(t0):
    out = sys.stdout
    buf = b""
    start = None
    fd = sys.stdin.fileno()
    while True:
        chunk = os.read(fd, 65536)
        now = time.time()
        if not chunk:
            break
        if start is None:
            start = now
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            text = ANSI.sub(b"", line).replace(b"\r", b"").decode("utf-8", "replace")
            out.write("%8.3f %8.3f | %s\n" % (start - t0, now - t0, text))
            out.flush()
            start = now if buf else None
    if buf:
        text = ANSI.sub(b"", buf).replace(b"\r", b"").decode("utf-8", "replace")
        out.write("%8.3f %8.3f | %s\n" % ((start or now) - t0, time.time() - t0, text))


def load_timeline(path):
    with open(path) as f:
        data = json.load(f)
    # The contract is a flat array of events; tolerate events grouped per boot as well.
    if isinstance(data, dict):
        data = data.get("events") or data.get("boots") or []
    if not isinstance(data, list):
        raise ValueError("timeline is not a JSON array")
    events = []
    for item in data:
        if isinstance(item, dict) and isinstance(item.get("events"), list):
            events.extend(item["events"])
        elif isinstance(item, dict) and "phase" in item:
            events.append(item)
    events.sort(key=lambda e: e.get("time_us", 0))
    return events


def path_of(event):
    detail = event.get("detail") or {}
    if isinstance(detail, str):
        try:
            detail = json.loads(detail)
        except ValueError:
            detail = {}
    return str(detail.get("path") or detail.get("file") or "")


def check(timeline_path, specs):
    events = load_timeline(timeline_path)
    problems = []
    for spec in specs:
        m = re.fullmatch(r"([a-z0-9_.]+)(?:~([^*@]+))?(?:\*(\d+))?(?:@after=([a-z0-9_.]+))?", spec)
        if not m:
            problems.append("bad spec %r" % spec)
            continue
        phase, sub, count, after = m.group(1), m.group(2), int(m.group(3) or 1), m.group(4)
        floor = None
        if after:
            prior = [e["time_us"] for e in events if e.get("phase") == after]
            if not prior:
                problems.append("%s: no %s event to be after" % (spec, after))
                continue
            floor = min(prior)
        hits = [e for e in events if e.get("phase") == phase and e.get("ok", True) and
                (sub is None or sub in path_of(e)) and (floor is None or e["time_us"] > floor)]
        if len(hits) < count:
            problems.append("%s: found %d, want >= %d" % (spec, len(hits), count))
    seen = {}
    for e in events:
        seen[e.get("phase")] = seen.get(e.get("phase"), 0) + 1
    summary = ", ".join("%s x%d" % kv for kv in seen.items())
    if problems:
        print("timeline check FAILED (%d events: %s)" % (len(events), summary))
        for p in problems:
            print("  missing: " + p)
        return 1
    print("timeline ok (%d events: %s)" % (len(events), summary))
    return 0


def first_serial(lines, pattern, which="end"):
    rx = re.compile(pattern)
    for start, end, text in lines:
        if rx.search(text):
            return start if which == "start" else end
    return None


def report(name, fw, t0, serial_path, timeline_path=None):
    lines = []
    with open(serial_path, errors="replace") as f:
        for raw in f:
            m = re.match(r"\s*(-?[\d.]+)\s+(-?[\d.]+) \| (.*)", raw.rstrip("\n"))
            if m:
                lines.append((float(m.group(1)), float(m.group(2)), m.group(3)))
    cols = []

    def add(label, value):
        cols.append("%s %s" % (label, "-" if value is None else "%.2f" % value))

    add("iPXE", first_serial(lines, r"^iPXE (\d|initialising|\(http)", "start"))
    events = []
    if timeline_path and os.path.exists(timeline_path):
        try:
            events = load_timeline(timeline_path)
        except (ValueError, OSError):
            events = []

    def ev(phase, sub=None, last=False, end=False):
        hits = [e for e in events if e.get("phase") == phase and (sub is None or sub in path_of(e))]
        if not hits:
            return None
        e = hits[-1] if last else hits[0]
        t = e["time_us"] + (e.get("duration_us") or 0 if end else 0)
        return t / 1e6 - t0

    if events:
        add("dhcp.discover", ev("dhcp.discover") if ev("dhcp.discover") is not None
            else ev("proxy.offer"))
        add("dhcp.ack", ev("dhcp.ack") if ev("dhcp.ack") is not None else ev("proxy.offer"))
        if ev("tftp.transfer") is not None:
            add("tftp-done", ev("tftp.transfer", end=True))
        add("script", ev("http.request", "boot.ipxe"))
        add("kernel-done", ev("http.request", "vmlinuz", end=True))
        add("initrd-done", ev("http.request", "initrd", end=True))
    else:
        add("ipxe-dhcp-ok", first_serial(lines, r"Configuring.*ok|DHCP.*ok"))
        add("script", first_serial(lines, r"boot\.ipxe\.\.\..*ok"))
        add("kernel-done", first_serial(lines, r"vmlinuz\.\.\..*ok"))
        add("initrd-done", first_serial(lines, r"initrd[^ ]*\.\.\..*ok"))
    add("Linux", first_serial(lines, r"Linux version"))
    add("/init", first_serial(lines, r"PADDOCK-NODE: init"))
    if events:
        acks = [e for e in events if e.get("phase") == "dhcp.ack"]
        add("node-dhcp", (acks[-1]["time_us"] / 1e6 - t0) if len(acks) >= 2 else None)
        add("node.booted", ev("node.booted"))
    else:
        add("node-dhcp", first_serial(lines, r"PADDOCK-NODE: dhcp"))
    marker = first_serial(lines, r"E2E-MARKER: OK")
    add("MARKER", marker)
    print("%-12s %-11s %s" % (name, fw, " | ".join(cols)))
    return 0 if marker is not None else 1


def main(argv):
    if len(argv) >= 2 and argv[1] == "ts":
        ts(float(argv[2]))
        return 0
    if len(argv) >= 3 and argv[1] == "check":
        return check(argv[2], argv[3:])
    if len(argv) >= 6 and argv[1] == "report":
        return report(argv[2], argv[3], float(argv[4]), argv[5], argv[6] if len(argv) > 6 else None)
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
