"""starter.py as a person sees it: in a real 80-column terminal (tmux) and piped.

Every command that draws a table runs against a dev server with a worker;
what it shows must fit: no header or value cut short ("…"), no line wider
than the terminal, and the headers whole.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.helpers.ops_stack import OpsStack
from tests.helpers.terminal import in_terminal, piped, starter
from tests.helpers.waiting import eventually
from ttai.domain import market_calendar
from ttai.ops import monitors

WIDTH = 80


@pytest.fixture
def stack(ops_stack: OpsStack) -> OpsStack:
    return ops_stack


def env(stack: OpsStack) -> dict[str, str]:
    return {"TEMPORAL_ADDRESS": stack.address, "TTAI_TASK_QUEUE": stack.task_queue}


def fits(shown: str, *headers: str) -> None:
    assert "…" not in shown, shown
    for line in shown.splitlines():
        assert len(line) <= WIDTH, f"{len(line)} columns: {line!r}\n{shown}"
    words = shown.split()
    for header in headers:
        for word in header.split():
            assert word in words, f"header {header!r} not shown whole:\n{shown}"


async def seen(
    stack: OpsStack, *args: str, headers: tuple[str, ...] = (), pipe: bool = True
) -> str:
    """The command in an 80x40 tmux pane and (`pipe`: run again) piped: both must
    fit; returns what the pane showed."""
    shown = await in_terminal(starter(*args), env(stack), width=WIDTH)
    fits(shown, *headers)
    if pipe:
        code, out, err = await piped(starter(*args), env(stack))
        assert code == 0, err
        fits(out, *headers)
    return shown


async def test_every_table_fits_80_columns(stack: OpsStack) -> None:
    screen = await seen(
        stack, "screen", "AAPL", "MSFT", "KO", "PFE", "JPM", "ZZZZ", "--top", "5",
        headers=("#", "symbol", "recommendation", "put", "credit", "return/yr", "POP",
                 "failed", "reason"),
    )  # fmt: skip
    assert "5/6 analyzed" in screen and "ZZZZ" in screen and "unknown symbol" in screen

    await seen(
        stack, "list", "--limit", "5",
        headers=("workflow ID", "status", "started", "symbol", "recommendation"),
    )  # fmt: skip
    _, out, _ = await piped(starter("list", "--type", "ScreenerWorkflow", "--json"), env(stack))
    screen_id = json.loads(out)[0]["workflow_id"]
    await seen(stack, "status", screen_id)
    await seen(stack, "analyze", "AAPL", "--wait", "--no-notify")

    await seen(stack, "monitors", "start", pipe=False)
    await seen(stack, "alerts", "add", "AAPL", "crosses_up", "10000", "--mode", "rearm",
               "--expires", "2030-01-01T00:00:00Z", "--note", "far away", pipe=False)  # fmt: skip
    await seen(stack, "alerts", "list", headers=("id", "symbol", "condition", "threshold"))

    async def synced() -> bool:
        report = await monitors.monitors_status(stack.conn, "position-sync")
        status = report.monitors[0].status
        return status is not None and status.state.iterations >= 1

    await eventually(synced, what="the first position sync")
    await seen(
        stack, "monitors", "status",
        headers=("monitor", "state", "checks", "next run", "last result / error"),
    )  # fmt: skip
    portfolio = await seen(
        stack, "portfolio", headers=("position", "qty", "DTE", "delta", "unrealized", "day P&L")
    )
    assert "net liquidating value" in portfolio and "buying power" in portfolio
    market = await seen(stack, "market", headers=("NYSE", "next open", "next close"))
    assert "early closes" in market

    session = market_calendar.previous_session(market_calendar.new_york_date(datetime.now(UTC)))
    ran = await seen(stack, "reports", "run", "morning_briefing", "--no-notify",
                     "--as-of", session.open.isoformat(), pipe=False)  # fmt: skip
    assert "reported" in ran
    await seen(stack, "reports", "latest")
    await seen(stack, "schedules", "list", headers=("schedule", "status", "next run (New York)"))
    await seen(stack, "notifications", "list", headers=("id", "status", "tries", "title"))
    await seen(stack, "watchlist", "list", headers=("watchlist", "symbols", "updated"))
    await seen(stack, "monitors", "stop", pipe=False)


async def test_errors_are_one_line_on_stderr(stack: OpsStack) -> None:
    for args, code, text in (
        (("status", "no-such-id"), 2, "error: no workflow with ID 'no-such-id'"),
        (("screen", "--watchlist", "nope"), 2, "error: no watchlist named 'nope'"),
        (("alerts", "remove", "99999"), 2, "error: no alert with id 99999"),
        (("reports", "latest", "daily"), 2, "error: invalid input: kinds.0: Input should be"),
    ):
        done, out, err = await piped(starter(*args), env(stack))
        assert done == code, err
        [line] = err.strip().splitlines()
        assert line.startswith(text), line
        assert out == ""
