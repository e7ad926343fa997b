"""The local export folder: which files it lists, and the checksum the load ledger records."""

from __future__ import annotations

import hashlib
import os

import pytest

from flows.landing.file_sources import _HASH_CHUNK, LocalDirectorySource, sha256_of


@pytest.mark.parametrize("size", [0, 1, _HASH_CHUNK, 2 * _HASH_CHUNK + 13])
def test_the_checksum_is_the_sha256_of_the_whole_file(tmp_path, size):
    data = os.urandom(size)
    (tmp_path / "signups_2026-11-01.csv").write_bytes(data)
    assert sha256_of(LocalDirectorySource(tmp_path), "signups_2026-11-01.csv") == hashlib.sha256(data).hexdigest()


def test_partial_hidden_and_unmatched_files_are_not_listed(tmp_path):
    for name in ("signups_2026-11-01.csv", "signups_2026-11-02.csv.gz", "signups_2026-11-03.csv.part", ".hidden.csv", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.csv").mkdir()
    listed = [f.name for f in LocalDirectorySource(tmp_path).list_files()]
    assert listed == ["signups_2026-11-01.csv", "signups_2026-11-02.csv.gz"]


def test_a_name_outside_the_folder_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not a file name inside"):
        LocalDirectorySource(tmp_path).open("../etc.csv")
