"""One keep-alive HTTP connection per sync worker, on the standard library's `http.client`.

Why not `requests` (which parsons uses)? Measured against the simulator with 20 ms latency and
3 workers, `requests.Session.request` adds about 1.2 ms of Python per call (it re-reads the
proxy environment on every request, merges settings and runs hooks); `http.client` on a
persistent connection adds about 0.2 ms. At a 20 ms floor that is the difference between 0.85x
and 0.92x of the 150 req/s ceiling (see benchmarks/bench_sync.py). parsons' `VAN` client still
supplies the base URL, the basic-auth header and its headers (sync/everyaction/client.py).

What `requests` did for us and this module keeps, resolved once per connection instead of
once per call:
- a timeout on connect and on every read (`timeout` seconds of silence);
- `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` (a CONNECT tunnel for https, absolute-form request
  targets for plain http), with `user:password@` proxy credentials (the proxy itself is spoken
  to in plain HTTP, as with most proxies; an `https://` proxy URL is not supported);
- certificate verification against `REQUESTS_CA_BUNDLE` / `SSL_CERT_FILE` or certifi's bundle.

Errors are `TransportTimeout` (no answer within the timeout) and `TransportConnectionError`
(refused, reset, closed before the answer); after either the connection is dropped and the
next request opens a new one. Their messages name the exception type only, never a header.
"""

from __future__ import annotations

import base64
import http.client
import json as jsonlib
import os
import socket
import ssl
import urllib.request
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import unquote, urlencode, urlsplit

from sync.errors import SyncConfigError

__all__ = ["Response", "Transport", "TransportError", "TransportTimeout", "TransportConnectionError"]


class TransportError(Exception):
    """The request got no HTTP answer. The server may or may not have acted on it."""

    def __init__(self, method: str, path: str, cause: BaseException) -> None:
        self.method, self.path, self.cause_type = method, path, type(cause).__name__
        super().__init__(f"{method} {path}: {self.cause_type}")


class TransportTimeout(TransportError):
    pass


class TransportConnectionError(TransportError):
    pass


@dataclass(frozen=True)
class Response:
    status_code: int
    headers: Mapping[str, str]  # case-insensitive (the parsed `http.client` message)
    content: bytes

    def json(self) -> Any:
        return jsonlib.loads(self.content)


def _proxy_for(url: str) -> str | None:
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    proxy = proxy if "://" in proxy else "http://" + proxy
    if not proxy.startswith("http://"):
        raise SyncConfigError(f"{parts.scheme.upper()}_PROXY", "only http:// proxy URLs are supported")
    return proxy


def _proxy_auth(proxy: str | None) -> dict[str, str]:
    parts = urlsplit(proxy or "")
    if not parts.username:
        return {}
    pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
    return {"Proxy-Authorization": "Basic " + base64.b64encode(pair).decode()}


def _ssl_context() -> ssl.SSLContext:
    cafile = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
    if not cafile:
        try:
            import certifi

            cafile = certifi.where()
        except ImportError:  # pragma: no cover - certifi comes with requests
            cafile = None
    return ssl.create_default_context(cafile=cafile)


class Transport:
    """Sends requests relative to `base_url` on one persistent connection (not thread-safe:
    one per worker)."""

    def __init__(self, base_url: str, headers: Mapping[str, str], timeout: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) base URL: {parts.scheme}://{parts.hostname}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._base_path = parts.path if parts.path.endswith("/") else parts.path + "/"
        self._origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
        self._headers = {"Accept": "application/json", **headers}
        self._timeout = timeout
        self._proxy = _proxy_for(base_url)
        self._proxy_headers = _proxy_auth(self._proxy)
        self._context = _ssl_context() if self._https else None
        self._conn: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._proxy is None:
            if self._https:
                return http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout, context=self._context)
            return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        proxy = urlsplit(self._proxy)
        proxy_port = proxy.port or (443 if proxy.scheme == "https" else 80)
        if not self._https:  # plain http through a proxy: absolute-form targets (see _target)
            return http.client.HTTPConnection(proxy.hostname, proxy_port, timeout=self._timeout)
        conn = http.client.HTTPSConnection(proxy.hostname, proxy_port, timeout=self._timeout, context=self._context)
        conn.set_tunnel(self._host, self._port, headers=self._proxy_headers)
        return conn

    def _target(self, path: str, params: Mapping[str, str] | None) -> str:
        target = self._base_path + path.lstrip("/")
        if params:
            target += "?" + urlencode(params)
        if self._proxy is not None and not self._https:
            return self._origin + target
        return target

    def request(
        self, method: str, path: str, *, json: Any = None, params: Mapping[str, str] | None = None
    ) -> Response:
        """Send one request (no retry here: the caller decides what a failure means)."""
        headers = dict(self._headers)
        body = None
        if json is not None:
            body = jsonlib.dumps(json).encode()
            headers["Content-Type"] = "application/json"
        if self._proxy is not None and not self._https:
            headers.update(self._proxy_headers)
        target = self._target(path, params)
        try:
            if self._conn is None:
                self._conn = self._connect()
            self._conn.request(method, target, body=body, headers=headers)
            r = self._conn.getresponse()
            content = r.read()
        except (socket.timeout, TimeoutError) as exc:
            self.close()
            raise TransportTimeout(method, "/" + path.lstrip("/"), exc) from None
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise TransportConnectionError(method, "/" + path.lstrip("/"), exc) from None
        if r.will_close:
            self.close()
        return Response(r.status, r.headers, content)

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
