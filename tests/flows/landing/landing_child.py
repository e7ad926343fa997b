"""A landing run in a child process that pauses at a hook, so a test can kill -9 it there.

    python tests/flows/landing/landing_child.py '{"warehouse": {...}, "dir": "...", "at": "copy"|"commit",
                                          "strategy": "direct", "partition": null}'

Prints PAUSED when it stops (mid-COPY: the third chunk is ready and the first two were sent, so
Postgres holds all of the first, as libpq keeps the tail of the latest message until the next
send; or after every write of the transaction, just before COMMIT), then blocks on stdin.
"""

from __future__ import annotations

import json
import sys

from assetgraph.warehouse import Warehouse
from flows.landing.file_sources import LocalDirectorySource
from flows.landing.engine import LandingOptions, land_new_files, replace_partition
from flows.signups.assets import signups_spec


def pause(*_: object) -> None:
    print("PAUSED", flush=True)
    sys.stdin.read()  # until the parent kills us
    raise SystemExit(3)


def main() -> None:
    cfg = json.loads(sys.argv[1])
    chunks = {"n": 0}

    def on_chunk(_stats: object) -> None:
        chunks["n"] += 1
        if chunks["n"] == 3:
            pause()

    hooks = {"on_chunk": on_chunk} if cfg["at"] == "copy" else {"before_commit": pause}
    options = LandingOptions(strategy=cfg.get("strategy", "direct"), **hooks)
    warehouse = Warehouse(**cfg["warehouse"])
    source = LocalDirectorySource(cfg["dir"])
    if cfg.get("partition"):
        replace_partition(warehouse, signups_spec({}), source, cfg["partition"], options)
    else:
        land_new_files(warehouse, signups_spec({}), source, options)
    print("FINISHED", flush=True)


if __name__ == "__main__":
    main()
