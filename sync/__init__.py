"""The EveryAction sync: `assets` (the `sync/van_source_codes` asset), `everyaction` (client and
transport), `engine` (run and ledger), `simulator` (the local EveryAction), `status`, `errors`."""

__all__ = ["assets", "engine", "errors", "everyaction", "simulator", "status"]
