"""Development helpers: the local EveryAction simulator that `make nightly` syncs against."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from sync.simulator.server import Simulator

__all__ = ["start_local_simulator"]

SEED = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds" / "source_code_map.csv"


def start_local_simulator(warehouse: object | None = None) -> Simulator:
    """Start the simulator with the seed's codes; any positive VAN ID is a person (created
    now, so the first code applied becomes their Origin Source Code). Sets the EVERYACTION_*
    variables of this process to point at it."""
    with open(SEED, newline="") as fh:
        codes = {int(row["source_code_id"]) for row in csv.DictReader(fh)}
    sim = Simulator(api_key="local-dev-key", codes=codes, auto_people=True)
    sim.start()
    os.environ["EVERYACTION_API_URL"] = sim.base_url
    os.environ["EVERYACTION_API_KEY"] = "local-dev-key"
    os.environ.setdefault("EVERYACTION_DB", "EveryAction")
    return sim
