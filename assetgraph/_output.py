"""Tables for people, lines for pipes: the CLI's output never cuts an asset key short.

- On a terminal: rich tables whose first column (the asset or check key) is never wrapped or
  elided, whatever the width (80 columns included); the other columns fold instead of eliding.
- Piped or redirected: plain lines, one object per line, fields separated by a tab, no
  header, no markup: `assetgraph list | grep marts/van_source_code_assignments` finds it, and
  `cut -f1` gives the keys.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["key_table", "print_lines"]

_KEY_WIDTH = 48  # longer keys (dbt test names in check keys) fold rather than take the table


def _plain(cell: str) -> str:
    try:
        return Text.from_markup(cell).plain
    except Exception:  # not markup after all (a key like raw/x[2026-01-01] is fine either way)
        return cell


def key_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]], width: int,
              right: Sequence[str] = ()) -> Table:
    """A table of `rows` whose first column holds keys, as wide as the longest key up to
    `_KEY_WIDTH` characters (a longer one folds onto a second line, never elided). The other
    columns wrap between words and keep their longest word (up to 10 characters) whole when
    the table still fits in `width`, so a narrow terminal squeezes them, not the keys."""
    table = Table(title=title, title_justify="left")
    key_width = min(max([len(_plain(r[0])) for r in rows] + [len(columns[0])]), _KEY_WIDTH)
    table.add_column(columns[0], overflow="fold", no_wrap=key_width < _KEY_WIDTH, min_width=key_width)
    words = [
        min(max([len(w) for r in rows for w in _plain(r[i]).split()] + [len(w) for w in col.split()]), 10)
        for i, col in enumerate(columns[1:], start=1)
    ]
    fits = key_width + sum(words) + 3 * len(columns) + 1 <= width  # borders and padding
    for col, word in zip(columns[1:], words):
        table.add_column(col, overflow="fold", min_width=word if fits else None,
                         justify="right" if col in right else "left")
    for r in rows:
        table.add_row(*r)
    return table


def _field(value: object) -> str:
    return " ".join(str(value).split()) or "-"  # tabs and newlines inside a field would split it


def print_lines(console: Console, rows: Iterable[Sequence[object]]) -> None:
    """One tab-separated line per row (empty fields as `-`), never wrapped, no markup. Written
    to the console's file directly: rich would expand the tabs into spaces."""
    for row in rows:
        console.file.write("\t".join(_field(v) for v in row) + "\n")
    console.file.flush()
