"""The status of one (VAN ID, source code) in the sync ledger: what the client reports for an
attempt and what the ledger stores. Shared by `sync.everyaction` and `sync.engine`, so neither
package imports the other's internals for it."""

from __future__ import annotations

__all__ = ["Status"]


class Status:
    PENDING = "pending"
    APPLIED = "applied"  # the mart's anti-join relies on this exact value
    NOT_FOUND = "not_found"
    BAD_CODE = "bad_code"
    FAILED = "failed"
    DONE = (APPLIED,)
