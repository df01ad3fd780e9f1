"""`ttai.cli.tables`: the widest layout that fits, and never a value cut short."""

from __future__ import annotations

from rich.console import Console

from ttai.cli.tables import Col, Grid, details

LONG = "x" * 90


def drawn(renderable: object, width: int) -> str:
    console = Console(width=width, force_terminal=False, color_system=None)
    with console.capture() as capture:
        console.print(renderable)
    return capture.get()


def grid() -> Grid:
    table = Grid(
        "#", "symbol", "recommendation", Col("price", right=True), "put", Col("note", wrap=True),
        title="ranking", narrow=["#", "symbol", "recommendation", "note"],
    )  # fmt: skip
    table.add_row(1, "AAPL", "strong_select", "317.54", "300 2026-12-31", "a [bold]note[/] here")
    table.add_row(2, "BRK.B", "watchlist", "1234.56", "1100 2027-01-15", "")
    return table


def test_the_widest_layout_that_fits_is_drawn() -> None:
    wide = drawn(grid(), 200)
    assert "put" in wide.split() and "1100 2027-01-15" in wide
    assert "a [bold]note[/] here" in wide  # shown literally, not as markup
    narrow = drawn(grid(), 60)
    assert "put" not in narrow.split() and "strong_select" in narrow and "BRK.B" in narrow
    stacked = drawn(grid(), 30)
    assert "recommendation  strong_select" in stacked and "put" in stacked.split()
    for shown, width in ((wide, 200), (narrow, 60), (stacked, 30)):
        assert "…" not in shown
        assert all(len(line) <= width for line in shown.splitlines()), shown


def test_a_value_wider_than_the_terminal_is_folded_not_cut() -> None:
    table = Grid("id", "reason")
    table.add_row(1, LONG)
    shown = drawn(table, 40)
    assert "…" not in shown and shown.replace("\n", "").replace(" ", "").count("x") == 90
    lines = drawn(details([("reason", LONG), ("short", "ok")], title="t"), 40)
    assert "…" not in lines and lines.replace("\n", "").replace(" ", "").count("x") == 90
