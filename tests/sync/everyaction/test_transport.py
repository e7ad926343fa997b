"""The sync's HTTP transport (sync/everyaction/transport.py) against the real simulator on 127.0.0.1: what
`requests` used to do for us must still happen — timeouts, a fresh connection after a fault,
certificate verification with a CA bundle, HTTPS through a CONNECT proxy, plain HTTP through a
forward proxy, proxy credentials."""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import ipaddress
import select
import socket
import socketserver
import ssl
import threading
import time
from urllib.parse import urlsplit

import pytest

from sync.everyaction.client import ClientConfig, EveryActionClient
from sync.simulator.server import Faults, Simulator
from sync.everyaction.transport import Transport, TransportConnectionError, TransportTimeout

KEY = "sk-transport-91c2"
CODES = (1001,)


@pytest.fixture
def no_proxy_env(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


@pytest.fixture
def cert(tmp_path):
    """A self-signed certificate for 127.0.0.1: (cert file, key file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_file, key_file


def _tls(sim: Simulator, cert) -> str:
    """Serve the simulator over TLS; its https base URL."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*map(str, cert))
    sim._server.socket = ctx.wrap_socket(sim._server.socket, server_side=True)
    return sim.base_url.replace("http://", "https://")


class _Proxy(socketserver.ThreadingTCPServer):
    """A small HTTP proxy: CONNECT tunnels, and absolute-form requests forwarded one by one.
    `seen` holds (request line, Proxy-Authorization) for each request it received."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.seen: list[tuple[str, str | None]] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(socketserver.StreamRequestHandler):
    def _head(self) -> tuple[str, dict[str, str]] | None:
        line = self.rfile.readline().decode()
        if not line.strip():
            return None
        headers = {}
        while (h := self.rfile.readline().decode()).strip():
            k, _, v = h.partition(":")
            headers[k.strip().lower()] = v.strip()
        self.server.seen.append((line.strip(), headers.get("proxy-authorization")))
        return line, headers

    def handle(self) -> None:
        while (head := self._head()) is not None:
            line, headers = head
            method, target, _ = line.split()
            if method == "CONNECT":
                return self._tunnel(target)
            body = self.rfile.read(int(headers.get("content-length", 0)))
            url = urlsplit(target)
            upstream = http.client.HTTPConnection(url.hostname, url.port)
            headers.pop("proxy-authorization", None)
            upstream.request(method, url.path + (f"?{url.query}" if url.query else ""), body=body, headers=headers)
            r = upstream.getresponse()
            data = r.read()
            out = [f"HTTP/1.1 {r.status} {r.reason}"] + [f"{k}: {v}" for k, v in r.getheaders()
                                                          if k.lower() not in ("connection", "content-length")]
            out.append(f"Content-Length: {len(data)}")
            self.wfile.write(("\r\n".join(out) + "\r\n\r\n").encode() + data)
            upstream.close()

    def _tunnel(self, target: str) -> None:
        host, _, port = target.rpartition(":")
        upstream = socket.create_connection((host, int(port)))
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        sockets = [self.connection, upstream]
        while True:
            ready, _, _ = select.select(sockets, [], [], 5)
            if not ready:
                break
            for s in ready:
                data = s.recv(65536)
                if not data:
                    upstream.close()
                    return
                (upstream if s is self.connection else self.connection).sendall(data)


def test_https_through_a_connect_proxy_with_credentials_and_a_ca_bundle(no_proxy_env, cert):
    proxy = _Proxy()
    with Simulator(KEY, people=[1, 2], codes=CODES) as sim:
        base_url = _tls(sim, cert)
        no_proxy_env.setenv("HTTPS_PROXY", proxy.url.replace("http://", "http://ops:s%40fe@"))
        no_proxy_env.setenv("REQUESTS_CA_BUNDLE", str(cert[0]))
        client = EveryActionClient(ClientConfig(base_url=base_url, api_key=KEY, timeout=5))
        assert client.apply_code(1, 1001).status == "applied"
        assert client.apply_code(2, 1001).status == "applied"
        client.close()
        assert sim.applications == [(1, 1001), (2, 1001)]
    host, port = urlsplit(base_url).hostname, urlsplit(base_url).port
    # one tunnel for both requests (keep-alive), with the proxy's credentials
    (line, auth), = proxy.seen
    assert line.startswith(f"CONNECT {host}:{port} HTTP/1.") and auth == "Basic " + base64.b64encode(b"ops:s@fe").decode()
    proxy.shutdown()


def test_https_rejects_a_certificate_it_cannot_verify(no_proxy_env, cert):
    with Simulator(KEY, people=[1], codes=CODES) as sim:
        base_url = _tls(sim, cert)  # no REQUESTS_CA_BUNDLE: certifi's bundle does not know it
        client = EveryActionClient(
            ClientConfig(base_url=base_url, api_key=KEY, timeout=5, max_attempts=2, backoff_base=0.01))
        result = client.apply_code(1, 1001)
        assert result.status == "failed" and result.error_code == "TransportConnectionError"
        assert sim.requests == [] and sim.applications == []


def test_plain_http_through_a_forward_proxy_unless_no_proxy(no_proxy_env):
    proxy = _Proxy()
    with Simulator(KEY, people=[1, 2], codes=CODES) as sim:
        no_proxy_env.setenv("HTTP_PROXY", proxy.url)
        client = EveryActionClient(ClientConfig(base_url=sim.base_url, api_key=KEY, timeout=5))
        assert client.apply_code(1, 1001).status == "applied"
        assert client.has_code(1, 1001)
        assert proxy.seen == [
            (f"POST {sim.base_url}people/1/codes HTTP/1.1", None),
            (f"GET {sim.base_url}people/1?%24expand=codes HTTP/1.1", None),
        ]
        no_proxy_env.setenv("NO_PROXY", "127.0.0.1")
        direct = EveryActionClient(ClientConfig(base_url=sim.base_url, api_key=KEY, timeout=5))
        assert direct.apply_code(2, 1001).status == "applied"
        assert len(proxy.seen) == 2 and sim.applications == [(1, 1001), (2, 1001)]
    proxy.shutdown()


def test_timeouts_and_resets_raise_and_the_next_request_reconnects(no_proxy_env):
    headers = {"Authorization": "Basic " + base64.b64encode(f"default:{KEY}|1".encode()).decode()}
    with Simulator(KEY, people=[1, 2, 3], codes=CODES, faults=Faults(p_hang=1.0, hang_seconds=5)) as sim:
        transport = Transport(sim.base_url, headers, timeout=0.3)
        t0 = time.monotonic()
        with pytest.raises(TransportTimeout) as info:
            transport.request("POST", "people/1/codes", json={"codeId": 1001})
        assert time.monotonic() - t0 < 2
        assert KEY not in str(info.value) and "Basic" not in str(info.value)
        sim.faults = Faults(p_reset=1.0)
        with pytest.raises(TransportConnectionError):
            transport.request("POST", "people/2/codes", json={"codeId": 1001})
        sim.faults = Faults()
        assert transport.request("POST", "people/3/codes", json={"codeId": 1001}).status_code == 204
        assert transport.request("GET", "people/3", params={"$expand": "codes"}).json()["codes"][0]["codeId"] == 1001
        transport.close()
