"""`bench/run`: set up every path, measure them interleaved, print the table, write the JSON."""

import argparse
import datetime
import json
import platform
import shutil
import subprocess
import re
import sys
import tempfile
import time
import traceback
from pathlib import Path

from . import env, login, metrics, paths, pki, report, udp

FULL = {"reps": 3, "iperf": 5, "udp": 5, "lat_n": 20000, "setup_n": 1000, "idle_n": 1000,
        "conc_c": 1000, "conc_n": 50000, "login_n": 50}
SMOKE = {"reps": 1, "iperf": "20M", "udp": "1M", "lat_n": 500, "setup_n": 50, "idle_n": 50,
         "conc_c": 50, "conc_n": 2000, "login_n": 50}


ALL_METRICS = ("throughput", "latency", "setup", "idle", "concurrent", "login", "udp")
# Paths that need HAProxy, which may not install: the second peer and the no-TLS floor.
OPTIONAL_PATHS = ("haproxy", "plain")


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, 1 repetition (CI: proves every path works)")
    ap.add_argument("--reps", type=int, help="repetitions (default 3, smoke 1)")
    ap.add_argument("--paths", default="direct,porthole,porthole-h3,stunnel,haproxy,plain", help="comma-separated subset")
    ap.add_argument("--metrics", default=",".join(ALL_METRICS),
                    help="comma-separated subset (for quick iterations; a full run measures all)")
    ap.add_argument("--no-deps", action="store_true", help="do not apt-get install missing packages")
    ap.add_argument("--no-build", action="store_true", help="use the release binaries already built")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (configs, logs)")
    return ap.parse_args(argv)


def measurements(p, up, material, procs):
    """The interleaved measurements, in order: (name, function returning the raw result)."""
    return [
        ("throughput", lambda path: {m: metrics.throughput(path, m, p["iperf"]) for m in ("up", "down", "p8")}),
        ("latency", lambda path: metrics.latency(path, p["lat_n"])),
        ("setup", lambda path: metrics.setup(path, p["setup_n"])),
        ("idle", lambda path: metrics.idle_memory(path, p["idle_n"], lambda: path.restart(procs, material))),
        ("concurrent", lambda path: metrics.concurrent(path, up.redis, p["conc_c"], p["conc_n"])),
    ]


def versions():
    def first(argv):
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=5)
            return (out.stdout + out.stderr).strip().splitlines()[0]
        except Exception:  # noqa: BLE001
            return None
    return {"stunnel": first(["sh", "-c", "stunnel4 -version 2>&1 | grep -m1 '^stunnel'"]),
            "haproxy": first(["haproxy", "-v"]), "iperf3": first(["iperf3", "--version"]),
            "redis-benchmark": first(["redis-benchmark", "--version"]),
            "git": first(["git", "-C", str(env.ROOT), "rev-parse", "--short", "HEAD"])}


def udp_phase(p, up, procs, started_paths, errors):
    """The UDP rows: direct, porthole and the socat pair, interleaved, order rotated."""
    ports = {x.name: x.ports["iperf_udp"] for x in started_paths if "iperf_udp" in x.ports}
    if any(x.name == "direct" for x in started_paths):
        ports = {"direct": up.iperf, **ports}
    if env.have("socat"):
        try:
            relay = udp.Socat(up)
            relay.start(procs)
            ports["socat"] = relay.port
        except Exception as e:  # noqa: BLE001
            errors["socat/start"] = str(e)
    else:
        env.log("socat is not installed: the UDP baseline is skipped")
    names = list(ports)
    runs = {name: [] for name in names}
    for r in range(p["reps"]):
        for name in names[r % len(names):] + names[:r % len(names)]:
            try:
                runs[name].append(udp.run_iperf_udp(ports[name], p["udp"]))
            except Exception as e:  # noqa: BLE001
                errors[f"{name}/udp/rep{r + 1}"] = str(e)
                env.log(f"{name} udp: {e}")
    # Each path's tunnels went the way it measures: a silent fallback would measure HTTP/1.1 twice.
    for x in started_paths:
        client = getattr(x, "procs", {}).get("udp")
        if client is None:
            continue
        want = "HTTP/3" if x.name == "porthole-h3" else "HTTP/1.1"
        via = set(re.findall(r"connected via (HTTP/[0-9.]+)", client.bench_log.read_text(errors="replace")))
        if via != {want}:
            errors[f"{x.name}/udp/transport"] = f"expected every session over {want}, saw {sorted(via)}"
            env.log(f"{x.name} udp: {errors[f'{x.name}/udp/transport']}")
    return runs


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    p = dict(SMOKE if args.smoke else FULL)
    if args.reps:
        p["reps"] = args.reps
    started = time.monotonic()
    if not args.no_deps:
        env.ensure_deps()
    nofile = env.raise_nofile()
    if not args.no_build:
        env.build()
    wanted = [n.strip() for n in args.paths.split(",") if n.strip()]
    chosen = {m.strip() for m in args.metrics.split(",") if m.strip()}
    for name in OPTIONAL_PATHS:
        if name in wanted and not env.have("haproxy"):
            env.log(f"haproxy is not installed: the {name} path is skipped")
            wanted.remove(name)

    workdir = Path(tempfile.mkdtemp(prefix="porthole-bench-"))
    procs = env.Procs(workdir)
    errors, reps, login_result, udp_runs = {}, [], None, {}
    try:
        material = pki.make_pki(workdir)
        up = paths.Upstreams(procs)
        started_paths = []
        for name in wanted:
            path = paths.ALL[name](up)
            try:
                if name == "porthole":
                    try:
                        issuer = login.start_idp(procs)
                    except Exception as e:  # noqa: BLE001
                        errors["porthole/idp"] = str(e)
                        issuer = "http://127.0.0.1:9"
                    path.start(procs, material, idp_issuer=issuer)
                else:
                    path.start(procs, material)
                metrics._ping(path.ports["redis"]).close()
                started_paths.append(path)
            except Exception as e:  # noqa: BLE001 — a broken path is reported, the rest still run
                errors[f"{name}/start"] = str(e)
                env.log(f"{name}: cannot start: {e}")
        names = [path.name for path in started_paths]
        env.log(f"paths: {', '.join(names)}; {p['reps']} repetition(s); ulimit -n {nofile}; work dir {workdir}")
        for r in range(p["reps"]):
            order = started_paths[r % len(started_paths):] + started_paths[:r % len(started_paths)]
            rep = {name: {} for name in names}
            for metric, run in measurements(p, up, material, procs):
                if metric not in chosen:
                    continue
                for path in order:
                    try:
                        rep[path.name][metric] = run(path)
                    except Exception as e:  # noqa: BLE001
                        errors[f"{path.name}/{metric}/rep{r + 1}"] = str(e) or traceback.format_exc(limit=1)
                        env.log(f"{path.name} {metric}: {e}")
            reps.append(rep)
            env.log(f"repetition {r + 1}/{p['reps']} done ({time.monotonic() - started:.0f} s)")
        porthole = next((x for x in started_paths if x.name == "porthole"), None)
        if "udp" in chosen:
            udp_runs = udp_phase(p, up, procs, started_paths, errors)
        if porthole is not None and "login" in chosen:
            try:
                login_result = login.browser_launches(porthole, procs, material, p["login_n"])
                if login_result["failures"]:
                    errors["porthole/login"] = "; ".join(login_result["failures"])
            except Exception as e:  # noqa: BLE001
                errors["porthole/login"] = str(e)
                login_result = {"launches": None, "replied": 0, "connections": p["login_n"]}
    finally:
        procs.stop_all()
        if not args.keep and not errors:
            shutil.rmtree(workdir, ignore_errors=True)

    names = [n for n in wanted if f"{n}/start" not in errors]
    summary = report.summarize(reps, names)
    checks = report.verdicts(summary, login_result)
    text = report.table(summary, names, checks)
    udp_summary = udp.summarize(udp_runs)
    if udp_summary:
        text += "\n\n" + udp.table(udp_summary, list(udp_runs))
    print(text)
    if errors:
        print("\nerrors (logs kept in %s):" % workdir)
        for k, v in errors.items():
            print(f"  {k}: {v.strip().splitlines()[-1] if v.strip() else v}")

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_dir = env.ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    result = {"when": stamp, "mode": "smoke" if args.smoke else "full", "parameters": p,
              "machine": {"cpus": len(__import__("os").sched_getaffinity(0)), "kernel": platform.release(),
                          "nofile": nofile},
              "versions": versions(), "paths": names, "repetitions": reps, "summary": summary,
              "login": login_result, "udp": {"rate": udp.RATE, "len": udp.LEN, "runs": udp_runs,
                                             "summary": udp_summary}, "targets": checks, "errors": errors, "table": text,
              "seconds": round(time.monotonic() - started, 1)}
    # Only a full run of everything is a result worth keeping; a subset is a quick look.
    complete = not args.smoke and set(wanted) >= {"direct", "porthole", "stunnel"} and chosen >= set(ALL_METRICS)
    result["mode"] = "full" if complete else ("smoke" if args.smoke else "subset")
    name = f"{stamp}.json" if complete else ("smoke.json" if args.smoke else "subset.json")
    (out_dir / name).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    if complete:
        (out_dir / "latest.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwrote bench/results/{name} ({result['seconds']} s)")
    # The HAProxy paths (second peer, no-TLS floor) are optional: their failures are reported, not fatal.
    return 1 if any(k.split("/")[0] not in (*OPTIONAL_PATHS, "socat") for k in errors) else 0
