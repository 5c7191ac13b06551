"""The ways through, all on loopback. Each path exposes a local port for the iperf3 upstream and
one for the redis upstream, and the pids of its tunnel processes (client side, server side) for
each, so CPU and memory are counted for exactly the processes that carry that traffic.

Shape of every tunnelled path: local listener → TLS → remote daemon → upstream.
"""

import base64
import os
import socket
import time

from . import env
from .pki import service_account


class Upstreams:
    """One iperf3 server and one redis-server shared by every path."""

    def __init__(self, procs):
        self.iperf = env.free_port()
        self.redis = env.free_port()
        procs.start("iperf3-server", ["iperf3", "-s", "-B", "127.0.0.1", "-p", str(self.iperf)])
        procs.start("redis", ["redis-server", "--port", str(self.redis), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--maxclients", "20000"])
        env.wait_port(self.iperf)
        env.wait_port(self.redis)


class Direct:
    """No tunnel: the client talks to the upstream itself (the floor every tunnel adds to)."""

    name = "direct"

    def __init__(self, up):
        self.ports = {"iperf": up.iperf, "redis": up.redis}

    def start(self, procs, pki):
        pass

    def restart(self, procs, pki):
        pass

    def pids(self, route):
        return {}


class Porthole:
    """`porthole tcp` (one per route, service account) → TLS → porthole-gateway → upstream."""

    name = "porthole"
    extra_config = ""
    udp_flags = ("--http3", "off")

    def __init__(self, up):
        self.up = up
        self.ports = {}
        self.procs = {}

    def restart(self, procs, pki):
        """Fresh processes (so a measurement sees no memory an earlier one left to the allocator)."""
        for p in self.procs.values():
            procs.stop(p)
        self.procs = {}
        self.start(procs, pki, self.issuer)

    def start(self, procs, pki, idp_issuer="http://127.0.0.1:9"):
        # Files and logs are named after the path: porthole and porthole-h3 run side by side.
        self.issuer = idp_issuer
        self.gw_port = env.free_port()
        self.url = f"https://127.0.0.1:{self.gw_port}"
        signing = base64.b64encode((pki / "signing.pem").read_bytes()).decode()
        config = procs.workdir / f"{self.name}-gateway.yaml"
        config.write_text(f"""# Written by bench/harness/paths.py. Pomerium's key names.
address: 127.0.0.1:{self.gw_port}
certificate_file: {pki / 'server.crt'}
certificate_key_file: {pki / 'server.key'}
signing_key: {signing}
idp_provider: oidc
idp_provider_url: {idp_issuer}
idp_client_id: porthole-gateway
idp_client_secret: porthole-gateway-secret
idp_scopes: [openid, profile, email, groups]
{self.extra_config}routes:
  - from: tcp+https://iperf.bench.local:5201
    to: tcp://127.0.0.1:{self.up.iperf}
    allow_any_authenticated_user: true
  - from: tcp+https://redis.bench.local:6379
    to: tcp://127.0.0.1:{self.up.redis}
    allow_any_authenticated_user: true
  - from: udp+https://iperf.bench.local:5201
    to: udp://127.0.0.1:{self.up.iperf}
    allow_any_authenticated_user: true
""")
        gw = procs.start(f"{self.name}-gateway", [str(env.RELEASE / "porthole-gateway"), "--config", str(config)])
        procs.wait_line(gw, "porthole-gateway listening on")
        self.procs["gateway"] = gw
        token = procs.workdir / f"{self.name}-service-account.jwt"
        token.write_text(service_account(pki / "signing.pem", self.url))
        token.chmod(0o600)
        for route in ("iperf", "redis"):
            c = self.client(procs, pki, f"{route}.bench.local:{5201 if route == 'iperf' else 6379}",
                            f"{self.name}-{route}", ["--service-account-file", str(token)])
            self.procs[route] = c
            self.ports[route] = int(procs.wait_line(c, "listening on").rsplit(":", 1)[1])
        # `porthole udp` on the iperf client's port number: iperf3 -u keeps a TCP control connection.
        # `porthole udp` tries HTTP/3 first with no probe: on this path (no QUIC) that would cost
        # the first run 3 s of datagrams, so it is told HTTP/1.1; porthole-h3 leaves it on auto.
        u = self.client(procs, pki, "udp+https://iperf.bench.local:5201", f"{self.name}-udp",
                        ["--service-account-file", str(token), "--listen", f"127.0.0.1:{self.ports['iperf']}",
                         *self.udp_flags], kind="udp")
        procs.wait_line(u, "listening on")
        self.procs["udp"] = u
        self.ports["iperf_udp"] = self.ports["iperf"]

    def client(self, procs, pki, destination, name, extra, env_extra=None, kind="tcp"):
        """Starts one `porthole tcp` (or `udp`) client, on a free loopback port unless `extra` says."""
        listen = [] if "--listen" in extra else ["--listen", "127.0.0.1:0"]
        argv = [str(env.RELEASE / "porthole"), kind, destination, "--pomerium-url", self.url,
                "--alternate-ca-path", str(pki / "ca.crt"), *listen, *extra]
        # A private token cache, so the bench never reads or writes the user's keychain.
        cache = procs.workdir / f"{name}-cache"
        cache.mkdir(exist_ok=True)
        child_env = dict(os.environ, PORTHOLE_TOKEN_STORE="file", PORTHOLE_CACHE_DIR=str(cache),
                         **(env_extra or {}))
        return procs.start(name, argv, env=child_env)

    def pids(self, route):
        return {"client": self.procs[route].pid, "server": self.procs["gateway"].pid}


class PortholeH3(Porthole):
    """The same, with the gateway's HTTP/3 on (`codec_type: http3`): `porthole tcp` sees its
    `Alt-Svc` and tunnels over QUIC (HTTP/3 CONNECT) instead of TLS over TCP."""

    name = "porthole-h3"
    extra_config = "codec_type: http3\n"
    udp_flags = ()

    def start(self, procs, pki, idp_issuer="http://127.0.0.1:9"):
        super().start(procs, pki, idp_issuer)
        # Checked on a first connection: a silent fallback would measure HTTP/1.1 twice.
        socket.create_connection(("127.0.0.1", self.ports["redis"]), timeout=10).close()
        log = self.procs["redis"].bench_log
        end = time.monotonic() + 15
        while "connected via" not in log.read_text(errors="replace") and time.monotonic() < end:
            time.sleep(0.05)
        if "connected via HTTP/3" not in log.read_text(errors="replace"):
            raise RuntimeError(f"porthole did not use HTTP/3:\n{log.read_text(errors='replace')[-1000:]}")


class Stunnel:
    """stunnel4 client (`client = yes`, verifies the server) → TLS → stunnel4 server → upstream."""

    name = "stunnel"

    def __init__(self, up):
        self.up = up
        self.ports = {}

    def start(self, procs, pki):
        server, client = ["foreground = yes", "pid ="], ["foreground = yes", "pid ="]
        for route, upstream in (("iperf", self.up.iperf), ("redis", self.up.redis)):
            mid, local = env.free_port(), env.free_port()
            server += [f"[{route}]", f"accept = 127.0.0.1:{mid}", f"connect = 127.0.0.1:{upstream}",
                       f"cert = {pki / 'server.crt'}", f"key = {pki / 'server.key'}"]
            client += [f"[{route}]", "client = yes", f"accept = 127.0.0.1:{local}",
                       f"connect = 127.0.0.1:{mid}", "verifyChain = yes", f"CAfile = {pki / 'ca.crt'}",
                       "checkHost = localhost", "sni = localhost"]
            self.ports[route] = local
        (procs.workdir / "stunnel-server.conf").write_text("\n".join(server) + "\n")
        (procs.workdir / "stunnel-client.conf").write_text("\n".join(client) + "\n")
        self.server = procs.start("stunnel-server", ["stunnel4", str(procs.workdir / "stunnel-server.conf")])
        self.client = procs.start("stunnel-client", ["stunnel4", str(procs.workdir / "stunnel-client.conf")])
        for port in self.ports.values():
            env.wait_port(port)

    def pids(self, route):
        return {"client": self.client.pid, "server": self.server.pid}

    def restart(self, procs, pki):
        """Fresh processes (so a measurement sees no memory an earlier one left to the allocator)."""
        procs.stop(self.client)
        procs.stop(self.server)
        self.ports = {}
        self.start(procs, pki)


class Haproxy:
    """HAProxy in TCP mode: client side `server … ssl verify required` → TLS → `bind … ssl crt`."""

    name = "haproxy"
    tls = True
    # As Debian ships it (16 KiB buffers).
    tune = []

    def __init__(self, up):
        self.up = up
        self.ports = {}

    def start(self, procs, pki):
        head = ["global", "  maxconn 4000", *self.tune, "defaults", "  mode tcp", "  timeout connect 5s",
                "  timeout client 1h", "  timeout server 1h"]
        server, client = list(head), list(head)
        for route, upstream in (("iperf", self.up.iperf), ("redis", self.up.redis)):
            mid, local = env.free_port(), env.free_port()
            bind_tls = f" ssl crt {pki / 'server.pem'}" if self.tls else ""
            dial_tls = (f" ssl verify required ca-file {pki / 'ca.crt'} sni str(localhost) verifyhost localhost"
                        if self.tls else "")
            server += [f"frontend {route}", f"  bind 127.0.0.1:{mid}{bind_tls}",
                       f"  default_backend {route}", f"backend {route}", f"  server up 127.0.0.1:{upstream}"]
            client += [f"frontend {route}", f"  bind 127.0.0.1:{local}", f"  default_backend {route}",
                       f"backend {route}", f"  server gw 127.0.0.1:{mid}{dial_tls}"]
            self.ports[route] = local
        (procs.workdir / f"{self.name}-server.cfg").write_text("\n".join(server) + "\n")
        (procs.workdir / f"{self.name}-client.cfg").write_text("\n".join(client) + "\n")
        self.server = procs.start(f"{self.name}-server", ["haproxy", "-db", "-f", str(procs.workdir / f"{self.name}-server.cfg")])
        self.client = procs.start(f"{self.name}-client", ["haproxy", "-db", "-f", str(procs.workdir / f"{self.name}-client.cfg")])
        for port in self.ports.values():
            env.wait_port(port)

    def pids(self, route):
        return {"client": self.client.pid, "server": self.server.pid}

    def restart(self, procs, pki):
        """Fresh processes (so a measurement sees no memory an earlier one left to the allocator)."""
        procs.stop(self.client)
        procs.stop(self.server)
        self.ports = {}
        self.start(procs, pki)


class Plain(Haproxy):
    """The floor, not a competitor: the same two hops with no TLS at all — two HAProxy TCP
    forwarders with 64 KiB buffers (Porthole's relay size). What moving the bytes through two
    processes costs on this machine before any cryptography; a tunnel can approach it, not beat it."""

    name = "plain"
    tls = False
    tune = ["  tune.bufsize 65536"]


ALL = {"direct": Direct, "porthole": Porthole, "porthole-h3": PortholeH3, "stunnel": Stunnel, "haproxy": Haproxy, "plain": Plain}
