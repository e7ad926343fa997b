"""Masking of personal data: every value that leaves the warehouse through a check result, a
report, an artifact or a log goes through here first.

Rules: emails keep their first letter, the first letter of the domain and the top-level domain
(`jane.doe@example.org` -> `j***@e***.org`); phone numbers keep their last two digits
(`(555) 123-4567` -> `***67`); anything else keeps its first character (`Jane` -> `J***`,
`123456` -> `1***`). Values of columns a suite explicitly reveals (codes, channels) stay as they
are. `scrub_text` masks emails and phone numbers embedded in free text (error messages).
"""

from __future__ import annotations

import re
from typing import Any, Iterable

__all__ = [
    "mask_email",
    "mask_phone",
    "mask_value",
    "mask_samples",
    "scrub_text",
    "EMAIL_RE",
    "PHONE_RE",
]

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# North-American shaped numbers: optional +1, 3-3-4 digits with optional separators/parentheses.
PHONE_RE = re.compile(r"(?<![\w-])(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?![\w-])")
_PHONE_CHARS = re.compile(r"^[\d\s().+-]+$")
_MASK = "***"


def mask_email(value: str) -> str:
    local, _, domain = value.strip().rpartition("@")
    labels = [p for p in domain.split(".") if p]
    if not local or not labels:
        return _MASK
    tld = labels[-1] if len(labels) > 1 else ""
    masked_domain = f"{labels[0][:1]}{_MASK}" + (f".{tld}" if tld else "")
    return f"{local[:1]}{_MASK}@{masked_domain}"


def mask_phone(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    return f"{_MASK}{digits[-2:]}" if len(digits) >= 4 else _MASK


def _looks_like_phone(text: str) -> bool:
    return bool(_PHONE_CHARS.match(text)) and len(re.sub(r"\D", "", text)) >= 7


def mask_value(value: Any, *, reveal: bool = False) -> Any:
    """A JSON-friendly, masked rendering of one value (`reveal=True`: a non-personal column)."""
    if value is None or isinstance(value, bool):
        return value
    if reveal:
        return value if isinstance(value, (int, float, str)) else str(value)
    text = str(value).strip()
    if not text:
        return ""
    if "@" in text and EMAIL_RE.search(text):
        return mask_email(text)
    if isinstance(value, str) and _looks_like_phone(text):
        return mask_phone(text)
    return f"{text[:1]}{_MASK}"


def mask_samples(values: Iterable[Any], *, reveal: bool = False, limit: int = 5) -> list[Any]:
    """Up to `limit` distinct masked values, in first-seen order."""
    out: list[Any] = []
    for v in values:
        m = mask_value(v, reveal=reveal)
        if m not in out:
            out.append(m)
        if len(out) >= limit:
            break
    return out


def scrub_text(text: str | None, secrets: Iterable[str] = ()) -> str:
    """Mask emails and phone numbers inside free text, and blank out the given secrets."""
    if not text:
        return ""
    for secret in secrets:
        if secret:
            text = text.replace(secret, _MASK)
    text = EMAIL_RE.sub(lambda m: mask_email(m.group(0)), text)
    return PHONE_RE.sub(lambda m: mask_phone(m.group(0)), text)
