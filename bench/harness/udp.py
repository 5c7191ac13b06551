"""UDP rows: `iperf3 -u` at a fixed offered rate through each UDP-capable path, interleaved
like the TCP metrics: **direct**; **porthole** (`porthole udp` on the same local port number as
the path's `porthole tcp`, since iperf3 -u keeps a TCP control connection → TLS →
porthole-gateway → UDP to the iperf3 server; CONNECT-UDP over HTTP/1.1, told `--http3 off`);
**porthole-h3** (the same against a gateway with QUIC: each datagram a QUIC DATAGRAM frame); **socat**, the baseline: a socat relay pair
(UDP and TCP, two hops, no TLS) — what relaying datagrams through two processes costs here.
`PORTHOLE_BENCH_UDP_RATE` (iperf3 -b, default 100M) sets the offered rate.

Per run: datagrams/s received by the server and the loss iperf3 reports, at RATE with LEN-byte
datagrams; ratios are porthole/socat and porthole/direct from the medians of the same run."""

import json
import os
import statistics
import subprocess
import time

from . import env, metrics

RATE = os.environ.get("PORTHOLE_BENCH_UDP_RATE", "100M")
LEN = 1200


class Socat:
    """socat UDP+TCP relay pair: local port → middle port → the iperf3 server."""

    name = "socat"

    def __init__(self, up):
        self.up = up
        self.port = None

    def start(self, procs):
        mid, local = env.free_port(), env.free_port()
        for name, listen, to in (("socat-server", mid, self.up.iperf), ("socat-client", local, mid)):
            for proto in ("UDP4", "TCP4"):
                procs.start(f"{name}-{proto.lower()}", [
                    "socat", f"{proto}-LISTEN:{listen},bind=127.0.0.1,reuseaddr,fork", f"{proto}:127.0.0.1:{to}"])
        env.wait_port(mid)
        env.wait_port(local)
        self.port = local


def run_iperf_udp(port, seconds):
    """One `iperf3 -u` client run; {datagrams_s, loss_pct}."""
    argv = ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-u", "-b", RATE, "-l", str(LEN), "-J"]
    argv += ["-n", seconds] if isinstance(seconds, str) else ["-t", str(seconds)]
    # The one iperf3 server may still be tearing the previous test down: ask again for up to
    # BUSY_RETRY_S (metrics.TRANSIENT).
    busy_until = time.monotonic() + metrics.BUSY_RETRY_S
    while True:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=90)
        result = json.loads(out.stdout or "{}")
        if not (metrics.transient(result.get("error")) and time.monotonic() < busy_until):
            break
        time.sleep(0.2)
    if out.returncode != 0 or "error" in result:
        raise RuntimeError(f"iperf3 -u: {result.get('error') or out.stderr.strip()}")
    s = result["end"]["sum"]
    received = s["packets"] - s["lost_packets"]
    return {"datagrams_s": received / s["seconds"], "loss_pct": s["lost_percent"], "packets": s["packets"]}


def summarize(runs):
    """{path: [run…]} → {row: {path: {median, min, max, n}}}."""
    out = {}
    for path, rs in runs.items():
        for key in ("datagrams_s", "loss_pct"):
            v = [r[key] for r in rs]
            if v:
                out.setdefault(key, {})[path] = {"median": statistics.median(v), "min": min(v), "max": max(v),
                                                  "n": len(v)}
    return out


def table(summary, paths):
    """The UDP rows, as the main table's cells are written."""
    from .report import _cell
    rows = [("datagrams_s", f"UDP datagrams/s received, {RATE}bit/s offered, {LEN} B"),
            ("loss_pct", f"UDP loss % at {RATE}bit/s offered")]
    head = ["metric", *paths, "porthole/socat", "porthole/direct"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, label in rows:
        row = summary.get(key, {})
        if not row:
            continue
        o = row.get("porthole")

        def ratio(base):
            b = row.get(base)
            return f"{o['median'] / b['median']:.2f}×" if o and b and b["median"] else "—"

        lines.append("| " + " | ".join([label, *(_cell(row.get(p)) for p in paths), ratio("socat"),
                                          ratio("direct")]) + " |")
    return "\n".join(lines)
