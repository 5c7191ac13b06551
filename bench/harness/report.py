"""Repetitions → medians with spread → ratios against stunnel → targets → a printed table and
a JSON file. Ratios are porthole/stunnel from the medians of the same run."""

import statistics

# key, label, better ("hi"/"lo"), target: (kind, value) or None.
#   ratio_ge / ratio_le: porthole/stunnel; abs_le: porthole's own value.
ROWS = [
    ("tput_up", "throughput 1 stream, up (Gbit/s)", "hi", ("ratio_ge", 2.0)),
    ("tput_down", "throughput 1 stream, down -R (Gbit/s)", "hi", ("ratio_ge", 2.0)),
    ("tput_p8", "throughput 8 streams -P 8 (Gbit/s)", "hi", ("ratio_ge", 2.0)),
    ("cpu_per_gb", "CPU-seconds per GB, both tunnel procs", "lo", ("ratio_le", 0.5)),
    ("lat_p50", "round trip p50 (µs)", "lo", None),
    ("lat_p99", "round trip p99 (µs)", "lo", None),
    ("added_p50", "added round trip p50 over direct (µs)", "lo", ("ratio_le", 0.5)),
    ("added_p99", "added round trip p99 over direct (µs)", "lo", None),
    ("added_mean", "added round trip mean over direct (µs)", "lo", None),
    ("lat_cpu", "tunnel CPU per round trip, both procs (µs)", "lo", None),
    ("setup_p50", "new connection → first reply p50 (µs)", "lo", ("ratio_le", 0.5)),
    ("setup_p99", "new connection → first reply p99 (µs)", "lo", None),
    ("idle_client", "idle RSS per connection, client (KB)", "lo", None),
    ("idle_server", "idle RSS per connection, server (KB)", "lo", None),
    ("idle_total", "idle RSS per connection, both (KB)", "lo", ("abs_le", 40.0)),
    ("conc_rps", "concurrent connections: requests/s", "hi", ("ratio_ge", 3.0)),
    ("conc_errors", "concurrent connections: errors", "lo", ("abs_le", 0)),
]


def flatten(m):
    """One repetition's raw results for one path → the scalar series of ROWS."""
    out = {}
    t = m.get("throughput", {})
    for mode in ("up", "down", "p8"):
        if mode in t:
            out[f"tput_{mode}"] = t[mode]["gbit_s"]
    if t and all(mode in t for mode in ("up", "down", "p8")):
        gb = sum(t[mode]["bytes"] for mode in t) / 1e9
        cpu = sum(t[mode]["cpu_s"] for mode in t)
        if cpu > 0:
            out["cpu_per_gb"] = cpu / gb
    if "latency" in m:
        out["lat_p50"], out["lat_p99"] = m["latency"]["p50_us"], m["latency"]["p99_us"]
        if "mean_us" in m["latency"]:
            out["lat_mean"] = m["latency"]["mean_us"]
        if m["latency"].get("cpu_us"):
            out["lat_cpu"] = m["latency"]["cpu_us"]
    if "setup" in m:
        out["setup_p50"], out["setup_p99"] = m["setup"]["p50_us"], m["setup"]["p99_us"]
    if m.get("idle"):
        out["idle_client"], out["idle_server"] = m["idle"]["client_kb"], m["idle"]["server_kb"]
        out["idle_total"] = m["idle"]["total_kb"]
    if "concurrent" in m:
        out["conc_rps"], out["conc_errors"] = m["concurrent"]["rps"], m["concurrent"]["errors"]
    return out


def summarize(reps, paths):
    """{key: {path: {median, min, max, n}}}, with added latency taken per repetition."""
    series = {}
    for rep in reps:
        flat = {p: flatten(rep.get(p, {})) for p in paths}
        direct = flat.get("direct", {})
        for p in paths:
            for q in ("p50", "p99", "mean"):
                if f"lat_{q}" in flat[p] and f"lat_{q}" in direct:
                    flat[p][f"added_{q}"] = flat[p][f"lat_{q}"] - direct[f"lat_{q}"]
            for key, value in flat[p].items():
                series.setdefault(key, {}).setdefault(p, []).append(value)
    return {key: {p: {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}
                  for p, v in by_path.items()} for key, by_path in series.items()}


def verdicts(summary, login):
    out = []
    for key, label, _, target in ROWS:
        if target is None:
            continue
        kind, value = target
        ours = summary.get(key, {}).get("porthole")
        peer = summary.get(key, {}).get("stunnel")
        if kind == "abs_le":
            got = None if ours is None else (ours["max"] if key == "conc_errors" else ours["median"])
            ok = got is not None and got <= value
            text = f"porthole {'n/a' if got is None else f'{got:.4g}'} ≤ {value}"
        else:
            got = None if not ours or not peer or peer["median"] == 0 else ours["median"] / peer["median"]
            ok = got is not None and (got >= value if kind == "ratio_ge" else got <= value)
            sign = "≥" if kind == "ratio_ge" else "≤"
            text = f"{'n/a' if got is None else f'{got:.2f}'}× {sign} {value}×"
            floor = summary.get(key, {}).get("plain")
            if not ok and floor and peer and peer["median"]:
                text += f" (two plain forwarders, no TLS: {floor['median'] / peer['median']:.2f}×)"
        out.append({"metric": key, "label": label, "target": text, "ratio_or_value": got, "pass": ok})
    if login is not None:
        ok = login.get("launches") == 1 and login.get("replied") == login.get("connections")
        out.append({"metric": "login_launches", "label": f"{login.get('connections')} connections waiting on one login",
                    "target": f"browser launches {login.get('launches')} = 1, replies {login.get('replied')}/{login.get('connections')}",
                    "ratio_or_value": login.get("launches"), "pass": ok})
    return out


def _cell(s):
    if s is None:
        return "—"
    whole = all(float(s[k]).is_integer() for k in ("median", "min", "max"))
    fmt = (lambda x: f"{x:.0f}") if whole or abs(s["median"]) >= 100 else (lambda x: f"{x:.2f}")
    if s["n"] == 1 or s["min"] == s["max"]:
        return fmt(s["median"])
    return f"{fmt(s['median'])} [{fmt(s['min'])}–{fmt(s['max'])}]"


def table(summary, paths, checks):
    """The markdown table (medians, [min–max] over repetitions) and the target lines."""
    has_both = "porthole" in paths and "stunnel" in paths
    has_h3 = "porthole" in paths and "porthole-h3" in paths
    head = ["metric", *paths] + (["porthole/stunnel"] if has_both else []) + (["h3/http1.1"] if has_h3 else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, label, _, _ in ROWS:
        row = summary.get(key, {})
        if not row:
            continue
        cells = [label] + [_cell(row.get(p)) for p in paths]
        if has_both:
            o, s = row.get("porthole"), row.get("stunnel")
            cells.append(f"{o['median'] / s['median']:.2f}×" if o and s and s["median"] else "—")
        if has_h3:
            h, o = row.get("porthole-h3"), row.get("porthole")
            cells.append(f"{h['median'] / o['median']:.2f}×" if h and o and o["median"] else "—")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for c in checks:
        lines.append(f"{'PASS' if c['pass'] else 'MISS'}  {c['label']}: {c['target']}")
    return "\n".join(lines)
