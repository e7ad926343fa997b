"""Signup exports under an S3 prefix land exactly like a local folder.

S3 itself cannot run here, so this is the one place the tests use a stand-in: moto's in-process
S3 (`mock_aws`), which answers boto3's real requests (pagination, streaming bodies, errors) from
memory. Everything after the bytes arrive (parsing, COPY, ledger) is the real loader on the
real embedded Postgres.
"""

from __future__ import annotations

import gzip
import hashlib

import moto
import pytest

from assetgraph.definitions import AssetContext
from flows.landing.errors import SourceError, SourceNotFoundError
from flows.landing.file_sources import sha256_of
from flows.landing.sources import open_source
from flows.landing.s3_source import parse_s3_url
from flows.signups.assets import signups
from tests.flows.signup_helpers import row, scalar, write_csv



@pytest.fixture
def s3(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with moto.mock_aws():
        import boto3

        client = boto3.client("s3")
        client.create_bucket(Bucket="exports")
        yield client


def _run(wh):
    return signups(AssetContext(key=signups.key, run_id="test-run", warehouse=wh, partition=None))


@pytest.mark.parametrize(
    "url, parsed",
    [("s3://b/signups/", ("b", "signups/")), ("s3://b/signups", ("b", "signups/")), ("s3://b", ("b", "")),
     ("s3://b/a/b/", ("b", "a/b/"))],
)
def test_parse_s3_url(url, parsed):
    assert parse_s3_url(url) == parsed


def test_a_url_without_bucket_is_a_clear_error():
    with pytest.raises(SourceError, match="names no bucket"):
        parse_s3_url("s3:///signups/")


def test_signups_from_an_s3_prefix(s3, warehouse, tmp_path, monkeypatch):
    local = tmp_path / "a.csv"
    write_csv(local, [row(1), row(2), row(3)])
    s3.upload_file(str(local), "exports", "signups/a.csv")
    s3.put_object(Bucket="exports", Key="signups/b.csv.gz", Body=gzip.compress(local.read_bytes().replace(b"s_00000", b"s_10000")))
    for ignored in ("signups/notes.txt", "signups/.hidden.csv", "signups/c.csv.part", "signups/old/d.csv", "other/e.csv"):
        s3.put_object(Bucket="exports", Key=ignored, Body=local.read_bytes())
    monkeypatch.setenv("SIGNUPS_DIR", "s3://exports/signups/")

    source = open_source("s3://exports/signups/")
    assert [f.name for f in source.list_files()] == ["a.csv", "b.csv.gz"]
    assert sha256_of(source, "a.csv") == hashlib.sha256(local.read_bytes()).hexdigest()

    assert _run(warehouse).row_count == 6
    files = scalar(warehouse, "select string_agg(distinct _source_file, ',' order by _source_file) from raw.signups")
    assert files == "a.csv,b.csv.gz"  # names relative to the prefix, like a local folder
    assert _run(warehouse).row_count == 0  # the same objects are not landed twice
    assert scalar(warehouse, "select count(*) from raw.signups") == 6


def test_many_objects_are_paginated(s3):
    for i in range(1005):  # S3 lists at most 1,000 keys per page
        s3.put_object(Bucket="exports", Key=f"p/{i:04d}.csv", Body=b"x")
    names = [f.name for f in open_source("s3://exports/p/").list_files()]
    assert len(names) == 1005 and names[0] == "0000.csv" and names[-1] == "1004.csv"


def test_a_missing_bucket_or_object_is_a_clear_error(s3):
    with pytest.raises(SourceNotFoundError, match="s3://nope/signups/"):
        open_source("s3://nope/signups/").list_files()
    with pytest.raises(SourceError, match="cannot open gone.csv under s3://exports/signups/: S3 answered NoSuchKey"):
        open_source("s3://exports/signups/").open("gone.csv")
