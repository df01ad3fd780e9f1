"""Option settlements through day P&L, the position sync, the portfolio view and
the end-of-day summary (issue 20 #1).

An assigned short MSFT 600 put, held overnight at 77.50 and settled against a
521.92 close: the put line loses 58.00 (77.50 -> 78.08, its intrinsic value),
the 100 shares it brought start at the close, and the total is the NLV change.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import asyncpg
import pytest
from rich.console import Console

from tests.helpers.portfolio import shares
from ttai.cli.portfolio import portfolio_view as render_view
from ttai.db.positions import PositionStore
from ttai.domain.analytics.pnl import DayTrades, day_pnl, day_pnl_lines
from ttai.domain.portfolio import portfolio_view
from ttai.domain.reports import content, markdown
from ttai.models.market import Balances, OptionEvent, Position

FRIDAY = date(2026, 12, 18)
CLOSE = datetime(2026, 12, 18, 21, tzinfo=UTC)
EVENING = datetime(2026, 12, 18, 23, tzinfo=UTC)
THURSDAY_CLOSE = datetime(2026, 12, 17, 21, tzinfo=UTC)
PUT = "MSFT  261218P00600000"
CALL = "JPM   261218C00250000"


def put(**changes: object) -> Position:
    held = Position(
        account="SIM-0001", symbol=PUT, underlying="MSFT", instrument="option", quantity=-1,
        average_open_price=5.0, multiplier=100, mark=77.5, prev_close=76.0, option_kind="put",
        strike=600.0, expiration=FRIDAY, delta=-1.0,
    )  # fmt: skip
    return held.model_copy(update=changes)


def assigned(**changes: object) -> OptionEvent:
    event = OptionEvent(
        account="SIM-0001", kind="assigned", symbol=PUT, underlying="MSFT", option_kind="put",
        strike=600.0, expiration=FRIDAY, quantity=-1, shares=100, price=600.0,
        settlement_price=521.92, day=FRIDAY, occurred_at=CLOSE,
    )  # fmt: skip
    return event.model_copy(update=changes)


def expired() -> OptionEvent:
    return OptionEvent(
        account="SIM-0001", kind="expired", symbol=CALL, underlying="JPM", option_kind="call",
        strike=250.0, expiration=FRIDAY, quantity=-2, settlement_price=231.4, day=FRIDAY,
        occurred_at=CLOSE,
    )  # fmt: skip


MSFT = shares("MSFT", 100, 600.0, account="SIM-0001", mark=521.92, prev_close=519.0, delta=1.0)
CLOSES = {PUT: 77.5, CALL: 0.35}  # Thursday's marks of the contracts gone today


@pytest.mark.parametrize("settlement_price", [521.92, None])
def test_a_settlement_counts_in_day_pnl_and_adds_up_to_the_nlv_change(
    settlement_price: float | None,
) -> None:
    events = [assigned(settlement_price=settlement_price), expired()]
    lines = {line.symbol: line for line in day_pnl_lines([MSFT], [], CLOSES, events)}
    # Thursday's NLV held the put at -7,750 and the calls at -70; Friday's, 100
    # MSFT at 521.92 less the 60,000 paid for them: the change is -58 + 70.
    assert day_pnl([MSFT], [], CLOSES, events) == pytest.approx(52_192 - 60_000 + 7_750 + 70)
    assert (lines[PUT].settled, lines[CALL].settled, lines["MSFT"].settled) == (
        "assigned", "expired", None,
    )  # fmt: skip
    assert lines[CALL].day_pnl == 70.0  # 2 x 0.35 x 100, gone to 0
    if settlement_price is not None:
        # The put made its last move to intrinsic; the shares start at the close.
        assert (lines[PUT].day_pnl, lines[PUT].mark, lines["MSFT"].day_pnl) == (-58.0, 78.08, 0.0)
    else:
        # tastytrade sends no settlement price: the option leaves at 0, the shares
        # come in at the strike. The lines differ; the total does not.
        assert (lines[PUT].day_pnl, lines["MSFT"].day_pnl) == (7_750.0, -7_808.0)


def test_the_view_and_the_summary_say_what_settled() -> None:
    trades = DayTrades(
        since=THURSDAY_CLOSE, previous_closes=CLOSES, events=[assigned(), expired()], day=FRIDAY
    )
    balances = [Balances(account="SIM-0001", cash=40_000, net_liquidating_value=92_192,
                         buying_power=79_144, maintenance_requirement=13_048)]  # fmt: skip
    view = portfolio_view([MSFT], balances, source="sync", as_of=EVENING, now=EVENING,
                          trades=trades)  # fmt: skip
    rows = {p.symbol: p for p in view.positions}
    assert (rows[PUT].settled, rows[PUT].closed_today, rows[PUT].day_pnl) == ("assigned", True, -58)
    assert rows[CALL].settled == "expired" and view.day_pnl == pytest.approx(-58 + 70)
    assert not any(p.days_to_expiry is not None and p.days_to_expiry < 0 for p in view.positions)
    console = Console(width=160, record=True)
    console.print(render_view(view))
    text = console.export_text()
    assert "MSFT 600P 2026-12-18 (assigned)" in text
    assert "JPM 250C 2026-12-18 (expired worthless)" in text
    # Events of another session (recorded since the close the window starts at) do not count.
    monday = DayTrades(since=CLOSE, events=[assigned(), expired()], day=date(2026, 12, 21))
    assert monday.session_events() == []

    summary = content.end_of_day(
        [MSFT], [], CLOSES, balances, 92_180, [], [], early_close=False,
        events=[assigned(), expired()],
    )  # fmt: skip
    text = markdown.render_end_of_day(summary)
    assert "- MSFT 600P 2026-12-18 assigned: -$58.00" in text
    assert "- JPM 250C 2026-12-18 expired worthless: +$70.00" in text
    assert summary.total_day_pnl == 12.0 and summary.nlv_change == 12.0


async def test_the_sync_notifies_settlements_once(db_pool: asyncpg.Pool) -> None:
    store = PositionStore(db_pool)
    call = put(symbol=CALL, underlying="JPM", option_kind="call", strike=250.0, quantity=-2)
    await store.sync([put(), call], THURSDAY_CLOSE)
    trades = DayTrades(since=THURSDAY_CLOSE, events=[assigned()], day=FRIDAY)
    # Friday evening: the put was assigned (MSFT came in), the call's event is not posted yet.
    changes = await store.sync([MSFT], EVENING, trades=trades)
    assert (changes.opened, changes.closed, changes.settled) == (["MSFT"], [CALL, PUT], [PUT])
    again = await store.sync([MSFT], EVENING, trades=trades)  # a retried sync
    assert (again.opened, again.closed, again.settled, again.notification_ids) == ([], [], [], [])
    # The call's expiration arrives a sync later: its closed row is told so, once.
    late = DayTrades(since=THURSDAY_CLOSE, events=[assigned(), expired()], day=FRIDAY)
    for _ in range(2):
        await store.sync([MSFT], EVENING.replace(hour=23, minute=30), trades=late)
    rows = await db_pool.fetch("SELECT idempotency_key, title FROM notifications ORDER BY id")
    titles = [r["title"] for r in rows]
    assert titles == [
        "Position opened: JPM   261218C00250000",
        "Position opened: MSFT  261218P00600000",
        "Position closed: JPM   261218C00250000",
        "Assigned: +100 MSFT at 600",
        "Expired worthless: JPM 250C 2026-12-18",
    ]  # the 100 MSFT are not announced a second time
    assert [r["idempotency_key"].split(":")[0] for r in rows][-2:] == ["position-settled"] * 2
    snapshot = await store.snapshot()
    assert snapshot.trades is not None
    assert (snapshot.trades.day, snapshot.trades.events) == (FRIDAY, late.events)
