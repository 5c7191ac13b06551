"""50 connections waiting on one login: a `porthole tcp` with no service account, a stand-in
browser (`porthole-test-browser`, which walks the test IdP's login form and counts launches),
and 50 local connections opened at once. One login at a time per proxy means one launch."""

import json
import os
import threading
import time

from . import env
from .metrics import _ping


def start_idp(procs):
    """`node crates/testkit/node/idp.mjs --ignore-stdin`; returns its issuer URL."""
    out = open(procs.workdir / "idp.out", "wb")
    procs.start("idp", ["node", "crates/testkit/node/idp.mjs", "--ignore-stdin"], stdout=out)
    end = time.monotonic() + 20
    while time.monotonic() < end:
        text = (procs.workdir / "idp.out").read_text()
        if text.strip():
            return json.loads(text.splitlines()[0])["issuer"]
        time.sleep(0.05)
    raise RuntimeError("the test IdP printed no issuer within 20 s")


def browser_launches(porthole, procs, pki, connections):
    """Opens `connections` connections at once through a fresh, logged-out client."""
    launches = procs.workdir / "browser-launches.txt"
    launches.write_text("")
    client = porthole.client(
        procs, pki, "redis.bench.local:6379", "porthole-login",
        ["--browser-cmd", str(env.RELEASE / "porthole-test-browser"), "--login-timeout", "60s"],
        env_extra={"PORTHOLE_TEST_LAUNCHES": str(launches), "PORTHOLE_TEST_CA": str(pki / "ca.crt"),
                   "PORTHOLE_TEST_EMAIL": "alice@example.com"})
    try:
        port = int(procs.wait_line(client, "listening on").rsplit(":", 1)[1])
        ok, failures = [], []

        def one():
            try:
                _ping(port, timeout=60).close()
                ok.append(1)
            except Exception as e:  # noqa: BLE001 — any failure counts, with its reason
                failures.append(str(e))

        t0 = time.perf_counter()
        threads = [threading.Thread(target=one) for _ in range(connections)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
    finally:
        procs.stop(client)
    count = len([line for line in launches.read_text().splitlines() if line.strip()])
    return {"launches": count, "replied": len(ok), "connections": connections,
            "seconds": elapsed, "failures": failures[:3]}
