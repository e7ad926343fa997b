"""Pick the file source for a location: a local directory, or an `s3://bucket/prefix/` URL.

Kept apart from `file_sources` (the interface and the local directory) and `s3_source` so that
neither of those imports the other.
"""

from __future__ import annotations

import os
from typing import Sequence

from flows.landing.file_sources import DEFAULT_PATTERNS, FileSource, LocalDirectorySource
from flows.landing.s3_source import S3PrefixSource

__all__ = ["open_source"]


def open_source(location: str | os.PathLike[str], patterns: Sequence[str] = DEFAULT_PATTERNS) -> FileSource:
    """A source for a directory path, or for an `s3://bucket/prefix/` URL."""
    text = os.fspath(location)
    if text.startswith("s3://"):
        return S3PrefixSource(text, patterns)
    return LocalDirectorySource(text, patterns)
