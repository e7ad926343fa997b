"""Export files under an S3 prefix, behind the same interface as a local directory.

    SIGNUPS_DIR=s3://our-exports/signups/ python -m flows.signups.assets

Files directly under the prefix (not in "sub-folders") whose names match the patterns are
listed, sorted, and opened as streams (nothing is downloaded to disk first). A file's name is its
key relative to the prefix, so the load ledger and `_source_file` read the same as for a local
folder. Credentials come from boto3's usual chain (environment, shared config, an instance or task
role); `AWS_ENDPOINT_URL_S3` points it at an S3-compatible store. No credential or URL query
string ever appears in a message.
"""

from __future__ import annotations

import fnmatch
import io
from typing import Any, BinaryIO, Sequence

from flows.landing.errors import SourceError, SourceNotFoundError
from flows.landing.file_sources import SourceFile

__all__ = ["S3PrefixSource", "parse_s3_url"]

_PARTIAL = (".part", ".tmp", ".crdownload", ".partial")


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` -> ("bucket", "some/prefix/"); the prefix always ends in "/"."""
    if not url.startswith("s3://"):
        raise SourceError(f"{url!r} is not an s3:// URL")
    bucket, _, prefix = url[len("s3://"):].partition("/")
    if not bucket:
        raise SourceError(f"{url!r} names no bucket (expected s3://bucket/prefix/)")
    prefix = prefix.strip("/")
    return bucket, prefix + "/" if prefix else ""


class _Body(io.RawIOBase):
    """A botocore streaming body as a standard readable binary stream (gzip, csv, hashlib)."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self._body.close()
        finally:
            super().close()


class S3PrefixSource:
    """Files directly under `s3://bucket/prefix/` matching `patterns`."""

    def __init__(self, url: str, patterns: Sequence[str] = ("*.csv", "*.csv.gz"), client: Any = None) -> None:
        self.url = url
        self.bucket, self.prefix = parse_s3_url(url)
        self.patterns = tuple(patterns)
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("s3")
        return self._client

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def _error(self, exc: Exception, what: str) -> SourceError:
        from botocore.exceptions import ClientError, NoCredentialsError

        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchBucket", "404"):
                return SourceNotFoundError(self.describe())
            return SourceError(f"{what} {self.describe()}: S3 answered {code or 'an error'}")
        if isinstance(exc, NoCredentialsError):
            return SourceError(f"{what} {self.describe()}: no AWS credentials (environment, profile or role)")
        return SourceError(f"{what} {self.describe()}: {type(exc).__name__}")

    def list_files(self) -> list[SourceFile]:
        from botocore.exceptions import BotoCoreError, ClientError

        found = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix, Delimiter="/"
            )
            for page in pages:
                for obj in page.get("Contents", ()):
                    name = obj["Key"][len(self.prefix):]
                    if not name or name.startswith(".") or name.endswith(_PARTIAL):
                        continue
                    if any(fnmatch.fnmatch(name, p) for p in self.patterns):
                        found.append(SourceFile(name=name, size=int(obj.get("Size", 0))))
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, "cannot list") from None
        return sorted(found, key=lambda f: f.name)

    def open(self, name: str) -> BinaryIO:
        from botocore.exceptions import BotoCoreError, ClientError

        if not name or "/" in name or name in (".", ".."):
            raise ValueError(f"{name!r} is not a file name directly under {self.describe()}")
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.prefix + name)["Body"]
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, f"cannot open {name} under") from None
        return io.BufferedReader(_Body(body), buffer_size=1 << 20)  # type: ignore[return-value]
