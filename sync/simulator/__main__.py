"""`python -m sync.simulator --port 0 --people 1000`: the local EveryAction (see `server.py`)."""

from sync.simulator.server import main

main()
