"""Asset and check identifiers: small frozen values with paired string converters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Union

from assetgraph.errors import InvalidAssetKey

__all__ = ["AssetKey", "CheckKey", "CoercibleToAssetKey"]

_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True, order=True)
class AssetKey:
    """`AssetKey(("raw", "signups"))`, shown to users as `raw/signups`."""

    parts: tuple[str, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.parts, tuple):
            object.__setattr__(self, "parts", tuple(self.parts))
        if not self.parts:
            raise InvalidAssetKey(self.parts, "a key needs at least one part")
        for part in self.parts:
            if not isinstance(part, str) or not _PART.match(part):
                raise InvalidAssetKey(
                    "/".join(map(str, self.parts)),
                    f"part {part!r} must be letters, digits, '_', '-' or '.'",
                )

    @classmethod
    def from_user_string(cls, text: str) -> "AssetKey":
        if not isinstance(text, str) or not text.strip():
            raise InvalidAssetKey(text, "empty key")
        return cls(tuple(text.strip().split("/")))

    def to_user_string(self) -> str:
        return "/".join(self.parts)

    @classmethod
    def from_coercible(cls, value: "CoercibleToAssetKey") -> "AssetKey":
        if isinstance(value, AssetKey):
            return value
        if isinstance(value, str):
            return cls.from_user_string(value)
        if isinstance(value, (list, tuple)):
            return cls(tuple(value))
        raise InvalidAssetKey(value, "expected an AssetKey, 'a/b' string or sequence of parts")

    @property
    def name(self) -> str:
        return self.parts[-1]

    def __str__(self) -> str:
        return self.to_user_string()


CoercibleToAssetKey = Union[AssetKey, str, Iterable[str]]


@dataclass(frozen=True, order=True)
class CheckKey:
    """A check on an asset, shown as `marts/van_source_code_assignments:van_id_unique`."""

    asset: AssetKey
    name: str

    def __post_init__(self) -> None:
        if not self.name or ":" in self.name:
            raise InvalidAssetKey(self.name, "a check name must be non-empty and contain no ':'")

    @classmethod
    def from_user_string(cls, text: str) -> "CheckKey":
        asset, sep, name = text.rpartition(":")
        if not sep:
            raise InvalidAssetKey(text, "a check key looks like 'asset/key:check_name'")
        return cls(AssetKey.from_user_string(asset), name)

    def to_user_string(self) -> str:
        return f"{self.asset.to_user_string()}:{self.name}"

    def __str__(self) -> str:
        return self.to_user_string()
