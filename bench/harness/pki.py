"""A throwaway CA and server certificate (as scripts/demo.sh makes them), the gateway's signing
key, and an ES256 service-account JWT signed with it (openssl's DER signature → JWS r||s)."""

import base64
import json
import subprocess
import time
from pathlib import Path


def _openssl(*args, stdin=None):
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=True).stdout


def make_pki(d):
    """Writes ca.crt, server.crt, server.key, server.pem (cert + key) and signing.pem into `d`."""
    d = Path(d)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-days", "2", "-subj", "/CN=Porthole bench CA",
             "-keyout", str(d / "ca.key"), "-out", str(d / "ca.crt"),
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    _openssl("req", *ec, "-subj", "/CN=localhost", "-keyout", str(d / "server.key"),
             "-out", str(d / "server.csr"))
    (d / "server.ext").write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", str(d / "server.csr"), "-CA", str(d / "ca.crt"),
             "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "2",
             "-extfile", str(d / "server.ext"), "-out", str(d / "server.crt"))
    (d / "server.pem").write_bytes((d / "server.crt").read_bytes() + (d / "server.key").read_bytes())
    (d / "signing.pem").write_bytes(_openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout"))
    return d


def _b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _der_to_raw(der):
    """ECDSA-Sig-Value (SEQUENCE { r INTEGER, s INTEGER }) → 64 bytes r||s."""
    assert der[0] == 0x30, "not a DER SEQUENCE"
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02, "not a DER INTEGER"
        n = der[i + 1]
        out += der[i + 2:i + 2 + n].lstrip(b"\x00").rjust(32, b"\x00")
        i += 2 + n
    return out


def service_account(signing_pem, issuer, sub="bench-service-account", lifetime=6 * 3600):
    """An ES256 JWT the gateway at `issuer` accepts (claims iss, sub, iat, exp)."""
    now = int(time.time())
    header = _b64url(json.dumps({"alg": "ES256", "typ": "JWT"}).encode())
    claims = _b64url(json.dumps({"iss": issuer, "sub": sub, "iat": now, "exp": now + lifetime}).encode())
    signing_input = f"{header}.{claims}".encode()
    der = _openssl("dgst", "-sha256", "-sign", str(signing_pem), stdin=signing_input)
    return f"{header}.{claims}.{_b64url(_der_to_raw(der))}"
