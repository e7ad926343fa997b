"""What the console shows of a run's logging (the CLI without `--debug`).

Prefect logs a failed task run twice at ERROR, once with the full Python traceback, and its
console handler prints both. The CLI's summary already names every failed asset with one clear
message, so on the console:

- the Prefect engine's own failure records (`prefect.task_runs`, `prefect.flow_runs`, ERROR and
  above) are left out;
- no record prints a traceback (the message line stays).

Only console handlers change. Prefect's API log handler is untouched: the run's logs in the
Prefect UI keep the full traceback, and `assetgraph --debug ...` prints everything as before.
"""

from __future__ import annotations

import logging

__all__ = ["hide_tracebacks_on_console"]

_ENGINE_LOGGERS = ("prefect.task_runs", "prefect.flow_runs")


class _ConsoleFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        engine = record.name in _ENGINE_LOGGERS or record.name.startswith(tuple(n + "." for n in _ENGINE_LOGGERS))
        return not (engine and record.levelno >= logging.ERROR)


class _WithoutTraceback(logging.Formatter):
    """Formats a copy of the record without exception or stack info (the record itself is
    shared with the other handlers, which still get the traceback)."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        if not (record.exc_info or record.exc_text or record.stack_info):
            return self.inner.format(record)
        bare = logging.makeLogRecord(record.__dict__)
        bare.exc_info, bare.exc_text, bare.stack_info = None, None, None
        return self.inner.format(bare)


def _console_handlers() -> list[logging.Handler]:
    handlers = list(logging.getLogger().handlers)
    for name in ("prefect",):
        handlers += logging.getLogger(name).handlers
    return [h for h in handlers if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]


def hide_tracebacks_on_console() -> None:
    """Apply the console rules above to the console handlers configured now. Prefect configures
    its logging lazily, so this makes it do so first. Idempotent."""
    from prefect.logging.configuration import ensure_logging_setup

    ensure_logging_setup()

    for handler in _console_handlers():
        if not any(isinstance(f, _ConsoleFilter) for f in handler.filters):
            handler.addFilter(_ConsoleFilter())
        if not isinstance(handler.formatter, _WithoutTraceback):
            handler.setFormatter(_WithoutTraceback(handler.formatter or logging.Formatter()))
