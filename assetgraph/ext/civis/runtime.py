"""What migrated Civis Python assets call at run time: secrets and params.

Civis handed a script its credentials as `<NAME>_USERNAME` / `<NAME>_PASSWORD` environment
variables. A migrated script asks `secret("NAME")` instead, which follows the project's rule
(the same as `sync/client.py`): the environment variable `NAME`, else a Prefect Secret block
named `name` in kebab case (`VAN_API` -> `van-api`) when a Prefect server is configured.
The username, where a script needs one, is `NAME_USER` or the block's `username` field.
"""

from __future__ import annotations

import os
from typing import Any

from assetgraph.ext.civis.errors import CivisMigrationError

__all__ = ["secret", "MissingSecretError"]


class MissingSecretError(CivisMigrationError):
    def __init__(self, name: str, part: str) -> None:
        self.secret_name = name
        self.part = part
        where = f"{name}_USER" if part == "username" else name
        super().__init__(
            f"secret {name!r} ({part}) is not set: set the environment variable {where} "
            f"or create a Prefect Secret block {_block_name(name)!r}"
        )


def _block_name(name: str) -> str:
    return name.lower().replace("_", "-")


def _block_value(name: str) -> Any:
    if not os.environ.get("PREFECT_API_URL"):
        return None
    try:
        from prefect.blocks.system import Secret

        return Secret.load(_block_name(name)).get()
    except Exception:  # no such block: fall through to the clear error below
        return None


def secret(name: str, part: str = "password") -> str:
    """The credential `name`: its password (default) or its username."""
    env = f"{name}_USER" if part == "username" else name
    value = os.environ.get(env, "")
    if not value:
        block = _block_value(name)
        if isinstance(block, dict):
            block = block.get(part)
        elif part == "username":
            block = None
        value = "" if block is None else str(block)
    if not value:
        raise MissingSecretError(name, part)
    return value
