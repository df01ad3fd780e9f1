"""Watchlists, saved screens and the screener's activities on a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest
from temporalio.exceptions import ApplicationError

from activities.screener import ScreenerActivities
from ttai.broker.simulated.market import SimulatedMarket
from ttai.data.sp500 import load as load_sp500
from ttai.db.screens import ScreenStore
from ttai.db.watchlists import WatchlistStore, WatchlistTooLarge, builtin_watchlists
from ttai.models.screener import (
    MAX_SCREEN_SYMBOLS,
    ScreenRecord,
    ScreenResult,
    WatchlistCommand,
    WatchlistRequest,
)
from ttai.notify.outbox import Outbox

DEFAULT = [
    "AAPL",
    "MSFT",
    "NVDA",
    "AMZN",
    "GOOGL",
    "META",
    "TSLA",
    "AMD",
    "JPM",
    "KO",
    "SPY",
    "QQQ",
]


def activities(
    pool: asyncpg.Pool, builtin: dict[str, list[str]] | None = None
) -> ScreenerActivities:
    return ScreenerActivities(WatchlistStore(pool), ScreenStore(pool), Outbox(pool, []), builtin)


async def test_default_watchlist_is_seeded_in_order(db_pool: asyncpg.Pool) -> None:
    assert await WatchlistStore(db_pool).symbols("default") == DEFAULT


def test_default_watchlist_is_real_liquid_option_underlyings() -> None:
    """S&P 500 members and the two most traded index ETFs; the simulated market
    gives them its deepest option markets (liquidity 4-5 of 5) as the real one has."""
    assert set(DEFAULT) <= set(load_sp500().symbols) | {"SPY", "QQQ"}
    market = SimulatedMarket(seed=7)
    assert all(market.params(s).liquidity >= 4 for s in DEFAULT)


async def test_add_remove_delete_are_set_operations(db_pool: asyncpg.Pool) -> None:
    store = WatchlistStore(db_pool)
    assert await store.symbols("mine") is None
    assert await store.add("mine", ["KO", "PFE"]) == (2, ["KO", "PFE"])
    assert await store.add("mine", ["PFE", "XOM"]) == (
        1,
        ["KO", "PFE", "XOM"],
    )  # a retry adds nothing new
    assert await store.remove("mine", ["PFE", "T"]) == (1, ["KO", "XOM"])
    assert await store.remove("mine", ["PFE"]) == (0, ["KO", "XOM"])
    assert await store.remove("nope", ["KO"]) is None
    assert {w.name: w.size for w in await store.list()} == {"default": 12, "mine": 2}
    assert await store.delete("mine") is True
    assert await store.delete("mine") is False
    assert (
        await db_pool.fetchval("SELECT count(*) FROM watchlist_symbols WHERE watchlist = 'mine'")
        == 0
    )


async def test_a_watchlist_never_exceeds_the_screen_cap(db_pool: asyncpg.Pool) -> None:
    store = WatchlistStore(db_pool)
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    many = [a + b + c for a in letters for b in letters for c in letters]
    await store.add("big", many[:MAX_SCREEN_SYMBOLS])
    with pytest.raises(WatchlistTooLarge):
        await store.add("big", many[MAX_SCREEN_SYMBOLS : MAX_SCREEN_SYMBOLS + 1])
    assert len(await store.symbols("big") or []) == MAX_SCREEN_SYMBOLS  # rolled back


async def test_builtin_sp500_is_seeded_once_and_edits_survive(db_pool: asyncpg.Pool) -> None:
    builtin = builtin_watchlists()
    # The real constituents, on every broker.
    assert builtin["sp500"] == load_sp500().symbols
    assert 490 <= len(builtin["sp500"]) == len(set(builtin["sp500"])) <= 510
    first = activities(db_pool, builtin)
    resolved = await first.resolve_watchlist(WatchlistRequest(name="sp500"))
    assert resolved.symbols == builtin["sp500"]
    await WatchlistStore(db_pool).remove("sp500", builtin["sp500"][:10])
    # A new worker seeds again: the edited watchlist stays as it is.
    again = await activities(db_pool, builtin).resolve_watchlist(WatchlistRequest(name="sp500"))
    assert again.symbols == builtin["sp500"][10:]


async def test_resolve_errors_are_non_retryable(db_pool: asyncpg.Pool) -> None:
    acts = activities(db_pool)
    with pytest.raises(ApplicationError) as missing:
        await acts.resolve_watchlist(WatchlistRequest(name="nope"))
    assert (missing.value.type, missing.value.non_retryable) == ("WatchlistNotFound", True)
    await WatchlistStore(db_pool).add("empty", ["KO"])
    await WatchlistStore(db_pool).remove("empty", ["KO"])
    with pytest.raises(ApplicationError, match="is empty") as empty:
        await acts.resolve_watchlist(WatchlistRequest(name="empty"))
    assert (empty.value.type, empty.value.non_retryable) == ("InvalidInput", True)
    # A symbol written around the API (bad stored data) is not retried either.
    await db_pool.execute(
        "INSERT INTO watchlist_symbols (watchlist, symbol) VALUES ('empty', 'b@d')"
    )
    with pytest.raises(ApplicationError) as invalid:
        await acts.resolve_watchlist(WatchlistRequest(name="empty"))
    assert (invalid.value.type, invalid.value.non_retryable) == ("InvalidInput", True)


async def test_watchlist_command(db_pool: asyncpg.Pool) -> None:
    acts = activities(db_pool)
    added = await acts.watchlist_command(
        WatchlistCommand(action="add", name="mine", symbols=["KO", "PFE"])
    )
    assert (added.changed, added.symbols) == (2, ["KO", "PFE"])
    shown = await acts.watchlist_command(WatchlistCommand(action="show", name="mine"))
    assert shown.symbols == ["KO", "PFE"]
    listed = await acts.watchlist_command(WatchlistCommand(action="list"))
    assert [w.name for w in listed.watchlists] == ["default", "mine"]
    deleted = await acts.watchlist_command(WatchlistCommand(action="remove", name="mine"))
    assert deleted.deleted
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    many = [a + b + c for a in letters for b in letters for c in letters]
    await acts.watchlist_command(WatchlistCommand(action="add", name="big", symbols=many[:2000]))
    with pytest.raises(ApplicationError) as too_large:
        await acts.watchlist_command(
            WatchlistCommand(action="add", name="big", symbols=many[2000:2001])
        )
    assert (too_large.value.type, too_large.value.non_retryable) == ("InvalidInput", True)
    for command in (
        WatchlistCommand(action="show", name="mine"),
        WatchlistCommand(action="remove", name="mine"),
        WatchlistCommand(action="remove", name="mine", symbols=["KO"]),
    ):
        with pytest.raises(ApplicationError) as missing:
            await acts.watchlist_command(command)
        assert missing.value.type == "WatchlistNotFound"


def screen_result(status: str = "completed") -> ScreenResult:
    now = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
    return ScreenResult(
        screen_id="screen-1", strategy="csp", watchlist=None, status=status, total=3,
        analyzed=2, rejected=1, failed=1, top=[], failures=[], started_at=now, finished_at=now,
    )  # fmt: skip


async def test_save_and_notify_are_idempotent(db_pool: asyncpg.Pool) -> None:
    acts = activities(db_pool)
    record = ScreenRecord(workflow_id="screen-1", run_id="run-1", result=screen_result())
    first = await acts.save_screen(record)
    again = await acts.save_screen(record)
    assert (first.created, again.created, again.screen_row_id) == (True, False, first.screen_row_id)
    assert await ScreenStore(db_pool).get("screen-1") == record.result
    row = await db_pool.fetchrow("SELECT status, total, analyzed, rejected, failed FROM screens")
    assert tuple(row) == ("completed", 3, 2, 1, 1)

    sent = await acts.notify_screen(record)
    resent = await acts.notify_screen(record)
    assert (sent.duplicate, resent.duplicate) == (False, True)
    assert resent.notification_id == sent.notification_id
    body = await db_pool.fetchval("SELECT body FROM notifications WHERE kind = 'screen_complete'")
    assert "2 analyzed, 1 rejected, 1 failed" in body
