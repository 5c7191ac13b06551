"""One function per measurement. Each takes a started path and returns plain numbers; the report
turns repetitions into medians and ratios. CPU comes from /proc/<pid>/stat (utime + stime of
the whole process, all threads), memory from VmRSS in /proc/<pid>/status."""

import json
import os
import re
import socket
import subprocess
import time

TICK = os.sysconf("SC_CLK_TCK")
PING = b"*1\r\n$4\r\nPING\r\n"


def cpu_seconds(pids):
    total = 0.0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14, 15)
    return total


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"^VmRSS:\s+(\d+)", f.read(), re.M).group(1))


# How long a busy iperf3 server is asked again before the measurement fails.
BUSY_RETRY_S = 5.0

# What the one iperf3 server answers while it still tears the previous test down (its last
# connection's close can reach it through a tunnel after the client has exited), or just after a
# late connection of the previous test reached it as a new control connection: the server then
# fails a test or two with "Bad file descriptor" on its side, which the client sees as its control
# socket closing. Seen once in a CI run (iperf3 3.12), on stunnel's and HAProxy's paths as well.
TRANSIENT = ("server is busy", "control socket has closed unexpectedly")


def transient(error):
    """`True` for an iperf3 error worth asking again (see TRANSIENT)."""
    return any(t in (error or "") for t in TRANSIENT)


def throughput(path, mode, seconds):
    """iperf3 through the path: `up` (client sends), `down` (-R), `p8` (-P 8, client sends)."""
    argv = ["iperf3", "-c", "127.0.0.1", "-p", str(path.ports["iperf"]), "-J"]
    argv += ["-n", seconds] if isinstance(seconds, str) else ["-t", str(seconds)]
    argv += {"up": [], "down": ["-R"], "p8": ["-P", "8"]}[mode]
    pids = list(path.pids("iperf").values())
    # A TRANSIENT answer is asked again for up to BUSY_RETRY_S; any other error is final.
    busy_until = time.monotonic() + BUSY_RETRY_S
    while True:
        before = cpu_seconds(pids)
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        cpu = cpu_seconds(pids) - before
        result = json.loads(out.stdout or "{}")
        error = result.get("error") or (out.stderr.strip() if out.returncode != 0 else "")
        if transient(error) and time.monotonic() < busy_until:
            time.sleep(0.2)
            continue
        break
    if out.returncode != 0 or "error" in result:
        raise RuntimeError(f"iperf3 {mode}: {error}")
    received = result["end"]["sum_received"]
    return {"gbit_s": received["bits_per_second"] / 1e9, "bytes": received["bytes"], "cpu_s": cpu}


def _benchmark(port, clients, requests, timeout):
    argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(clients),
            "-n", str(requests), "-t", "ping_mbulk", "--csv"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    rows = [line.replace('"', "").split(",") for line in out.stdout.splitlines()]
    row = next((r for r in rows if r[0] == "PING_MBULK"), None)
    errors = [line for line in out.stderr.splitlines() if "rror" in line or "Could not" in line]
    return out.returncode, row, errors


def latency(path, requests):
    """Round-trip p50/p99/mean in µs: `redis-benchmark -c 1 -n N -t ping_mbulk` (one connection),
    and the tunnel processes' CPU per round trip. redis-benchmark's histogram has 8 µs steps at
    this size, so its mean is the finer figure; the CPU shows how much of the added time is the
    tunnels' own work rather than waiting for the scheduler to wake them."""
    pids = list(path.pids("redis").values())
    before = cpu_seconds(pids)
    rc, row, errors = _benchmark(path.ports["redis"], 1, requests, 60)
    cpu = cpu_seconds(pids) - before
    if rc != 0 or row is None:
        raise RuntimeError(f"redis-benchmark -c 1: exit {rc}, {errors[:3]}")
    return {"p50_us": float(row[4]) * 1000, "p99_us": float(row[6]) * 1000, "mean_us": float(row[2]) * 1000,
            "cpu_us": cpu / requests * 1e6}


def _ping(port, timeout=10.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(PING)
    reply = b""
    while not reply.endswith(b"\r\n"):
        chunk = s.recv(64)
        if not chunk:
            raise RuntimeError(f"PING on port {port}: the connection closed after {reply!r}")
        reply += chunk
        if len(reply) > 1024:
            raise RuntimeError(f"PING on port {port}: no line end in the first 1 KiB of the reply: {reply[:80]!r}")
    if reply != b"+PONG\r\n":
        raise RuntimeError(f"unexpected reply {reply!r}")
    return s


def setup(path, count):
    """New local connection → first reply (connect, PING, +PONG, close), p50/p99 in µs."""
    port = path.ports["redis"]
    for _ in range(5):
        _ping(port).close()
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        s = _ping(port)
        times.append((time.perf_counter() - t0) * 1e6)
        s.close()
    times.sort()
    return {"p50_us": times[len(times) // 2], "p99_us": times[min(len(times) - 1, int(len(times) * 0.99))]}


def idle_memory(path, count, restart):
    """RSS growth of the tunnel processes per idle connection, each proven end to end with a
    PING first; client and server side separately and together (KB = 1000 bytes per connection).
    The path's processes are restarted first (`restart()`): memory an earlier measurement freed
    stays in the allocator and would hide the cost of new connections. The baseline is taken
    after one warm-up connection, so TLS session caches and lazy statics are not counted."""
    pids = path.pids("redis")
    if not pids:
        return {}
    restart()
    pids = path.pids("redis")
    _ping(path.ports["redis"]).close()
    time.sleep(0.3)
    base = {side: rss_kib(pid) for side, pid in pids.items()}
    socks = []
    try:
        for _ in range(count):
            socks.append(_ping(path.ports["redis"]))
        time.sleep(0.5)
        held = {side: rss_kib(pid) for side, pid in pids.items()}
    finally:
        for s in socks:
            s.close()
    out = {f"{side}_kb": (held[side] - base[side]) * 1.024 / count for side in pids}
    out["total_kb"] = sum(out.values())
    time.sleep(0.5)
    return out


# INFO commandstats is a few KiB; a reply past this is not one.
INFO_CAP = 1 << 20


def redis_pings(port):
    """PING calls redis has served so far (INFO commandstats, asked directly, not tunnelled).
    Ends with an error, never a hang, when redis closes the connection, answers something other
    than a bulk string, or sends more than INFO_CAP bytes (each recv waits at most 5 s)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"INFO commandstats\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError(f"redis on port {port} closed the connection during INFO commandstats "
                                   f"after {len(data)} bytes: {data[:80]!r}")
            data += chunk
            head, sep, rest = data.partition(b"\r\n")
            if sep and not head.startswith(b"$"):
                raise RuntimeError(f"redis on port {port} answered INFO commandstats with {head[:80]!r}")
            if sep and len(rest) >= int(head[1:]):
                break
            if len(data) > INFO_CAP:
                raise RuntimeError(f"redis on port {port}: INFO commandstats reply over {INFO_CAP} bytes")
    m = re.search(rb"cmdstat_ping:calls=(\d+)", data)
    return int(m.group(1)) if m else 0


def concurrent(path, upstream_redis, clients, requests):
    """`redis-benchmark -c <clients>`: requests/s, and errors = PINGs redis never saw plus error
    lines redis-benchmark printed (a connection that fails or resets prints one)."""
    before = redis_pings(upstream_redis)
    try:
        rc, row, errors = _benchmark(path.ports["redis"], clients, requests, 120)
    except subprocess.TimeoutExpired:
        rc, row, errors = -1, None, ["timed out"]
    served = redis_pings(upstream_redis) - before
    return {"rps": float(row[1]) if row else 0.0,
            "errors": max(0, requests - served) + len(errors) + (1 if rc != 0 else 0)}
