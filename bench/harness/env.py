"""The machine: Debian packages, file-descriptor limit, release build, free ports, and child
processes that are always stopped (by their own pid) when the run ends."""

import os
import resource
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Benchmarks measure release builds. `PORTHOLE_BENCH_PROFILE=debug` (what CI's smoke run uses)
# reuses the debug binaries `make test` already built: the smoke only proves every path works.
PROFILE = os.environ.get("PORTHOLE_BENCH_PROFILE", "release")
RELEASE = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / PROFILE

# command → Debian package. haproxy is the optional second peer.
REQUIRED = {"stunnel4": "stunnel4", "iperf3": "iperf3", "redis-server": "redis-server",
            "redis-benchmark": "redis-tools", "openssl": "openssl", "node": "nodejs"}
OPTIONAL = {"haproxy": "haproxy", "socat": "socat"}


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def have(cmd):
    return shutil.which(cmd) is not None or os.access(f"/usr/sbin/{cmd}", os.X_OK)


def _apt_install(packages):
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(sudo + ["apt-get", "update", "-qq"], check=False, env=env)
    return subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
                          check=False, env=env).returncode == 0


def ensure_deps():
    """Installs missing Debian packages. Fails on a missing required one; haproxy is optional."""
    missing = sorted({pkg for cmd, pkg in REQUIRED.items() if not have(cmd)})
    if missing:
        log(f"installing Debian packages: {' '.join(missing)}")
        _apt_install(missing)
    still = [cmd for cmd in REQUIRED if not have(cmd)]
    if still:
        raise SystemExit(f"bench: missing commands after apt-get: {', '.join(still)}")
    for cmd, pkg in OPTIONAL.items():
        if not have(cmd):
            log(f"installing optional peer {pkg}")
            if not _apt_install([pkg]):
                log(f"{pkg} did not install; its path is skipped")


def raise_nofile(want=65536):
    """`ulimit -n 65536` (or the hard limit when we may not raise it); children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for limits in ((want, max(hard, want)), (min(want, hard), hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, limits)
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def build():
    flags = ["--release"] if PROFILE == "release" else []
    log(f"cargo build {' '.join(flags)} -p porthole -p porthole-gateway -p porthole-testkit")
    subprocess.run(["cargo", "build", *flags, "-q", "-p", "porthole", "-p", "porthole-gateway",
                    "-p", "porthole-testkit"], cwd=ROOT, check=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port):
    """Whether a socket listens on 127.0.0.1:`port`, from /proc/net/tcp (state 0A), without
    connecting: a probe connection would reach iperf3's server as a test that never starts, and
    the next real test could then be refused while the server resets."""
    want = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as f:
        return any(fields[1] == want and fields[3] == "0A" for fields in (line.split() for line in f))


def wait_port(port, deadline=10.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if _listening(port):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {deadline}s")


class Procs:
    """Every child process of the run, stopped in reverse order by pid (SIGTERM, then SIGKILL)."""

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.running = []

    def start(self, name, argv, env=None, stdout=None):
        """Starts `argv` with stderr (and stdout unless given) in `<workdir>/<name>.log`."""
        logfile = open(self.workdir / f"{name}.log", "wb")
        p = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                             stdout=stdout or logfile, stderr=logfile)
        p.bench_name, p.bench_log = name, self.workdir / f"{name}.log"
        self.running.append(p)
        return p

    def wait_line(self, p, prefix, deadline=15.0):
        """The first line of `p`'s log that starts with `prefix` (rest of the line returned)."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            # Only finished lines: stderr is unbuffered, a line can be read half-written.
            for line in p.bench_log.read_text(errors="replace").split("\n")[:-1]:
                if line.startswith(prefix):
                    return line[len(prefix):].strip()
            if p.poll() is not None:
                break
            time.sleep(0.05)
        tail = p.bench_log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{p.bench_name} did not print {prefix!r} (exit {p.poll()}):\n{tail}")

    def stop(self, p):
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.running:
            self.running.remove(p)

    def stop_all(self):
        for p in reversed(list(self.running)):
            self.stop(p)
