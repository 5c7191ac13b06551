"""Porthole's benchmark harness: every path (direct, porthole, stunnel, haproxy) measured in one
run, interleaved, with ratios against stunnel. `bench/run --help` for the options.

Layout: `env` (packages, limits, build, processes) → `pki` (certificates, service-account JWT)
→ `paths` (one class per way through: start, ports, tunnel pids) → `metrics` (one function per
measurement) → `login` (the one-login-for-50-connections check) → `report` (medians, targets,
table, JSON) → `main` (the order of it all).
"""
