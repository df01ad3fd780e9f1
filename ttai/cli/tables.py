"""Tables that fit the terminal without cutting a header or a value.

A `Grid` is drawn, at the width of wherever it is printed (an 80-column
terminal, a pipe, which Rich treats as 80 columns unless COLUMNS says
otherwise), as the first of these that fits whole:

1. every column;
2. the `narrow` columns only (the ones worth a row on a small screen);
3. one block per row, `header  value` on each line, long values folded.

Values are never shortened with "…": a layout fits only when every
unwrapped column is as wide as its longest cell. Free-text columns (`wrap`)
may wrap onto more lines, at no less than `WRAP_MIN` characters. Every cell
is shown literally (Rich markup in it is not parsed), and never drives the
terminal: control characters in it (`printable`) are shown as U+FFFD.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Column, Table
from rich.text import Text

WRAP_MIN = 24
UNCONSTRAINED = 10_000
# Two spaces between columns, none at the edges, a rule under the header.
COMPACT: dict[str, Any] = {
    "box": box.SIMPLE_HEAD,
    "show_edge": False,
    "pad_edge": False,
    "collapse_padding": True,
}


@dataclass(frozen=True)
class Col:
    header: str
    right: bool = False  # numbers
    wrap: bool = False  # free text: may wrap, never cut


# C0 (but tab and newline), DEL, C1, and the bidirectional overrides: what would make a
# terminal move the cursor, recolour, retitle, link or reorder text others wrote.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` as data for a terminal: each control character becomes U+FFFD."""
    return _CONTROL.sub("\ufffd", text)


def _cell(value: object) -> Text:
    if isinstance(value, Text):
        return value
    return Text("" if value is None else printable(str(value)))


class Grid:
    """Rows of cells, drawn as the widest layout that fits (see the module docstring)."""

    def __init__(
        self,
        *columns: str | Col,
        title: str | None = None,
        narrow: Sequence[str] | None = None,
    ) -> None:
        self.columns = [c if isinstance(c, Col) else Col(c) for c in columns]
        self.title = title
        headers = [c.header for c in self.columns]
        unknown = set(narrow or ()) - set(headers)
        if unknown:
            raise ValueError(f"narrow names unknown columns: {sorted(unknown)}")
        self.narrow = [headers.index(h) for h in narrow] if narrow else None
        self.rows: list[tuple[list[Text], str | None]] = []

    def add_row(self, *cells: object, style: str | None = None) -> None:
        values = [_cell(c) for c in cells]
        values += [Text("")] * (len(self.columns) - len(values))
        self.rows.append((values, style))

    def _width(self, index: int) -> int:
        """An unwrapped column's width: its widest cell, header included."""
        cells = [Text(self.columns[index].header), *(values[index] for values, _ in self.rows)]
        return max(cell.cell_len for cell in cells)

    def _table(self, indexes: Iterable[int]) -> Table:
        picked = list(indexes)
        table = Table(
            *(
                Column(
                    self.columns[i].header,
                    justify="right" if self.columns[i].right else "left",
                    no_wrap=not self.columns[i].wrap,
                    overflow="fold",
                    # Rich measures a column by its longest word; an unwrapped
                    # column needs its whole widest cell, so say so.
                    min_width=WRAP_MIN if self.columns[i].wrap else self._width(i),
                )
                for i in picked
            ),
            title=_cell(self.title) if self.title else None,
            title_justify="left",
            **COMPACT,
        )
        for values, style in self.rows:
            table.add_row(*(values[i] for i in picked), style=style)
        return table

    def _stacked(self) -> RenderableType:
        blocks: list[RenderableType] = []
        if self.title:
            blocks.append(_cell(self.title))
        for values, style in self.rows:
            block = Table.grid(padding=(0, 2))
            block.add_column(style="bold", no_wrap=True)
            block.add_column(overflow="fold")
            for column, value in zip(self.columns, values, strict=True):
                if value.plain:
                    block.add_row(column.header, value, style=style)
            blocks.extend([Text(""), block])
        return Group(*blocks)

    def layout(self, console: Console, width: int) -> RenderableType:
        # Measured unconstrained: Rich clamps a measurement to the width it is given.
        options = console.options.update_width(UNCONSTRAINED)
        candidates = [range(len(self.columns))]
        if self.narrow:
            candidates.append(self.narrow)  # type: ignore[arg-type]
        for indexes in candidates:
            table = self._table(indexes)
            if Measurement.get(console, options, table).minimum <= width:
                return table
        return self._stacked()

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.layout(console, options.max_width)


def details(rows: Iterable[tuple[str, object]], *, title: str | None = None) -> Table:
    """Label / value lines: labels whole, values wrapped (folded) to the width, never cut."""
    table = Table(
        title=_cell(title) if title else None,
        show_header=False,
        title_justify="left",
        **COMPACT,
    )
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for label, value in rows:
        table.add_row(label, _cell("-" if value is None else value))
    return table
