"""The local EveryAction simulator for dev and tests: `server` (a real HTTP server on
127.0.0.1 with EveryAction's answers, faults on demand; `python -m sync.simulator`) and
`dev` (start one for `make nightly` when EVERYACTION_API_URL is unset). Imports nothing on
import."""

__all__ = ["dev", "server"]
