"""Where export files come from: a small interface (list the files, open one as bytes) so a
local directory and an S3 prefix (`s3_source.py`) are interchangeable; `sources.open_source`
picks one for a location.

A source names each file by a path relative to its root; that name is what lands in
`_source_file` and in the load ledger, so it must be stable between runs.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, Sequence, runtime_checkable

from flows.landing.errors import SourceNotFoundError

__all__ = [
    "SourceFile",
    "FileSource",
    "LocalDirectorySource",
    "DEFAULT_PATTERNS",
    "sha256_of",
]

DEFAULT_PATTERNS: tuple[str, ...] = ("*.csv", "*.csv.gz")


@dataclass(frozen=True)
class SourceFile:
    name: str  # relative to the source root, '/'-separated
    size: int | None = None


@runtime_checkable
class FileSource(Protocol):
    """What the landing code needs from a place holding files."""

    def describe(self) -> str:
        """Where the files are, for logs (no credentials)."""
        ...

    def list_files(self) -> list[SourceFile]:
        """The files to consider, sorted by name."""
        ...

    def open(self, name: str) -> BinaryIO:
        """A binary stream of the file's bytes as stored (compressed or not); caller closes it."""
        ...


class LocalDirectorySource:
    """Files directly inside one directory (not recursive) matching `patterns`. Hidden files and
    partial downloads (`.part`, `.tmp`, `.crdownload`) are ignored."""

    _PARTIAL = (".part", ".tmp", ".crdownload", ".partial")

    def __init__(self, root: str | os.PathLike[str], patterns: Sequence[str] = DEFAULT_PATTERNS) -> None:
        self.root = Path(root)
        self.patterns = tuple(patterns)

    def describe(self) -> str:
        return str(self.root)

    def list_files(self) -> list[SourceFile]:
        if not self.root.is_dir():
            raise SourceNotFoundError(str(self.root))
        found = []
        for entry in os.scandir(self.root):
            name = entry.name
            if name.startswith(".") or name.endswith(self._PARTIAL) or not entry.is_file():
                continue
            if any(fnmatch.fnmatch(name, p) for p in self.patterns):
                found.append(SourceFile(name=name, size=entry.stat().st_size))
        return sorted(found, key=lambda f: f.name)

    def open(self, name: str) -> BinaryIO:
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            raise ValueError(f"{name!r} is not a file name inside {self.root}")
        return open(self.root / name, "rb")


def sha256_of(source: FileSource, name: str) -> str:
    """The checksum of a file's stored bytes (what the load ledger records)."""
    digest = hashlib.sha256()
    buffer = bytearray(_HASH_CHUNK)
    view = memoryview(buffer)
    with source.open(name) as fh:
        while n := fh.readinto(buffer):
            digest.update(view[:n])
    return digest.hexdigest()


# Read and hash in 8 MiB steps, not hashlib.file_digest's 256 KiB: each step gives the GIL up
# twice (the read, the hash), and while dbt parses in another thread every hand-back waits up
# to the 5 ms switch interval. Measured on the 1M-row night (147 MB of exports): 1.8 s in
# 256 KiB steps, against 0.14 s with no other thread.
_HASH_CHUNK = 8 << 20
