"""One exception base for the Civis migration; subclasses name the Civis object they concern."""

from __future__ import annotations

from assetgraph.errors import AssetGraphError

__all__ = ["CivisMigrationError", "CivisObjectError"]


class CivisMigrationError(AssetGraphError):
    """Base of every error the Civis migration raises on purpose."""


class CivisObjectError(CivisMigrationError):
    """Something is wrong with one Civis object: the message names it (`sql script 12 "name"`)."""

    def __init__(self, kind: str, object_id: object, name: str, reason: str) -> None:
        self.kind = kind
        self.object_id = object_id
        self.name = name
        self.reason = reason
        label = f'{kind} {object_id}' + (f' "{name}"' if name else "")
        super().__init__(f"{label}: {reason}")
