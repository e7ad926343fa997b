"""Keep secret values out of an export: pure functions over one API body.

The Civis API hands out credentials as ids (`credentialId`, credential params' arguments), so a
normal body holds no secret. Bodies still carry text people typed: a literal password in a
string argument, `CREDENTIALS 'aws_secret_access_key=...'` in an UNLOAD, `PASSWORD = "..."` in a
Python source. Those values are replaced by `REDACTED`; integers (credential ids) and names stay.
Each replacement is reported by where it was (`arguments.DB_PASSWORD`, `sql`), never by value.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["REDACTED", "redact"]

REDACTED = "<redacted by assetgraph civis export>"

# a field whose name says it holds a secret (compared lowercased, without _ and -)
_SECRET_NAME = re.compile(r"password|passwd|secret|token|apikey|privatekey|accesskey|sessionkey")
# ... except fields that only hold ids, names or flags about a secret
_SAFE_NAME = re.compile(r"(id|ids|name|names|type|updatedat|createdat|set|present)$")

_TEXT_PATTERNS = (
    # key=value inside a credentials string or URL: 'aws_access_key_id=..;aws_secret_access_key=..',
    # ...?user=x&password=.. (not a keyword argument such as password=os.environ[...])
    re.compile(
        r"(?<=[;'\"&?])(?P<head>(?:aws_secret_access_key|aws_session_token|secret_access_key|token|password)=)"
        r"(?P<value>[^;'\"\s&]+)",
        re.IGNORECASE,
    ),
    # Redshift COPY/UNLOAD options and CREATE/ALTER USER: SECRET_ACCESS_KEY '...', PASSWORD '...'
    re.compile(
        r"(?P<head>\b(?:secret_access_key|session_token|password|master_symmetric_key)\s+)"
        r"(?P<value>'[^']*')",
        re.IGNORECASE,
    ),
    # a string literal given to a secret-looking name in code: DB_PASSWORD = "hunter2",
    # {"api_key": "..."}, os.environ["DB_PASSWORD"] = "..."
    re.compile(
        r"(?P<head>\b[A-Za-z_][A-Za-z0-9_]*(?:password|passwd|secret|token|api_key|apikey)"
        r"[A-Za-z0-9_]*['\"]?\]?\s*[:=]\s*)(?P<value>'[^'\n]*'|\"[^\"\n]*\")",
        re.IGNORECASE,
    ),
    # the same in a shell command line: export DB_PASSWORD=hunter2 (not =$VAR, not =os.environ[..])
    re.compile(
        r"(?P<head>\b[A-Z][A-Z0-9_]*(?:PASSWORD|SECRET|TOKEN|API_KEY)[A-Z0-9_]*=)"
        r"(?P<value>[^\s'\"$\[(][^\s'\"\[(]*)(?=\s|$|;)",
    ),
)


def _secret_field(name: str) -> bool:
    norm = re.sub(r"[_\-\s]", "", name).lower()
    return bool(_SECRET_NAME.search(norm)) and not _SAFE_NAME.search(norm)


def _redact_text(text: str) -> tuple[str, bool]:
    changed = False

    def swap(match: re.Match[str]) -> str:
        nonlocal changed
        value = match.group("value")
        if REDACTED in value or not value.strip("'\""):
            return match.group(0)
        changed = True
        quote = value[0] if value[0] in "'\"" else ""
        return f"{match.group('head')}{quote}{REDACTED}{quote}"

    for pattern in _TEXT_PATTERNS:
        text = pattern.sub(swap, text)
    return text, changed


def redact(body: Any, where: str = "") -> tuple[Any, tuple[str, ...]]:
    """A copy of `body` with secret values replaced, and the places where that happened."""
    found: list[str] = []

    def walk(value: Any, path: str) -> Any:
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                sub = f"{path}.{key}" if path else str(key)
                if isinstance(item, str) and item and _secret_field(str(key)):
                    found.append(sub)
                    out[key] = REDACTED
                else:
                    out[key] = walk(item, sub)
            return out
        if isinstance(value, list):
            return [walk(item, f"{path}[{i}]") for i, item in enumerate(value)]
        if isinstance(value, str):
            text, changed = _redact_text(value)
            if changed:
                found.append(path or "(text)")
            return text
        return value

    return walk(body, where), tuple(found)
