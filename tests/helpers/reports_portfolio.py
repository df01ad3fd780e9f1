"""A known portfolio behind a fake broker, and rows for the report tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import asyncpg

from ttai.broker.base import BrokerUnavailable
from ttai.models.analysis import AnalysisResult, ChartAnalysis
from ttai.models.market import (
    Account,
    Balances,
    Candle,
    Fill,
    MarketMetrics,
    OptionChain,
    OptionEvent,
    Position,
    Quote,
)

# Tuesday 2026-12-01 (a regular session) unless a test says otherwise.
DAY = date(2026, 12, 1)

POSITIONS = [
    Position(
        account="5WX01", symbol="AAPL", underlying="AAPL", instrument="equity",
        quantity=100, average_open_price=150, mark=160, prev_close=158,
    ),
    # Expires in 3 days, |delta| 0.45: both "expiring" and "near the money".
    Position(
        account="5WX01", symbol="AAPL  261204P00150000", underlying="AAPL",
        instrument="option", quantity=-1, average_open_price=2.0, multiplier=100,
        mark=1.2, prev_close=1.5, option_kind="put", strike=150,
        expiration=date(2026, 12, 4), delta=-0.45,
    ),
    # Far and out of the money: neither.
    Position(
        account="5WX02", symbol="MSFT  270115P00300000", underlying="MSFT",
        instrument="option", quantity=-2, average_open_price=4.0, multiplier=100,
        mark=3.0, prev_close=2.5, option_kind="put", strike=300,
        expiration=date(2027, 1, 15), delta=-0.20,
    ),
    # Opened today (see FILLS): no previous close.
    Position(
        account="5WX02", symbol="KO", underlying="KO", instrument="equity",
        quantity=10, average_open_price=60, mark=61, prev_close=0,
    ),
]  # fmt: skip

# Today's trades (the previous close was Monday 30 Nov 16:00 ET).
CLOSED_PUT = "AAPL  261218P00140000"
FILLS = [
    # KO bought today: measured from its fill, not from a previous close.
    Fill(account="5WX02", symbol="KO", underlying="KO", instrument="equity", quantity=10,
         price=60, executed_at=datetime(2026, 12, 1, 15, 0, tzinfo=UTC)),
    # JPM (50 held overnight, previous close 218.00) sold: realised 50 x (220.40 - 218.00).
    Fill(account="5WX01", symbol="JPM", underlying="JPM", instrument="equity", quantity=-50,
         price=220.40, executed_at=datetime(2026, 12, 1, 16, 0, tzinfo=UTC)),
    # A short put (1.30 at Monday's close, from Monday's snapshot) bought back at 0.90.
    Fill(account="5WX01", symbol=CLOSED_PUT, underlying="AAPL", instrument="option",
         quantity=1, price=0.90, multiplier=100,
         executed_at=datetime(2026, 12, 1, 17, 0, tzinfo=UTC)),
]  # fmt: skip
QUOTES = {
    "JPM": Quote(symbol="JPM", bid=220.1, ask=220.2, last=220.15, prev_close=218.0,
                 time=datetime(2026, 12, 1, 21, 0, tzinfo=UTC)),
}  # fmt: skip

BALANCES = [
    Balances(account="5WX01", cash=20_000, net_liquidating_value=50_000,
             buying_power=40_000, maintenance_requirement=5_000),
    Balances(account="5WX02", cash=10_000, net_liquidating_value=25_000,
             buying_power=20_000, maintenance_requirement=6_000),
]  # fmt: skip


def metrics(symbol: str, earnings: date | None) -> MarketMetrics:
    return MarketMetrics(
        symbol=symbol, iv_rank=40, iv_percentile=50, implied_volatility=0.3,
        liquidity_rating=4, beta=1.1, next_earnings=earnings,
    )  # fmt: skip


METRICS = {
    "AAPL": metrics("AAPL", date(2026, 12, 5)),  # in 4 days
    "MSFT": metrics("MSFT", date(2027, 1, 20)),
    "KO": metrics("KO", None),
}


class FakeBroker:
    """Serves the known portfolio; `failing` makes every account read unavailable."""

    name = "fake"

    def __init__(self, now: datetime, *, failing: bool = False) -> None:
        self.clock = now
        self.failing = failing
        self.calls: list[str] = []
        self.events: list[OptionEvent] = []

    def _read(self, what: str) -> None:
        self.calls.append(what)
        if self.failing:
            raise BrokerUnavailable("broker down (test)")

    async def get_positions(self) -> list[Position]:
        self._read("positions")
        return list(POSITIONS)

    async def get_balances(self) -> list[Balances]:
        self._read("balances")
        return list(BALANCES)

    async def get_market_metrics(self, symbols: Sequence[str]) -> dict[str, MarketMetrics]:
        self._read("metrics")
        return {s: METRICS[s] for s in symbols}

    async def now(self) -> datetime:
        return self.clock

    async def get_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        self._read("quotes")
        return {s: QUOTES[s] for s in symbols}

    async def get_fills(self, since: datetime) -> list[Fill]:
        self._read("fills")
        return [f for f in FILLS if f.executed_at >= since]

    async def get_option_events(self, since: datetime) -> list[OptionEvent]:
        self._read("events")
        return [e for e in self.events if e.occurred_at >= since]

    async def get_daily_candles(self, symbol: str, days: int) -> list[Candle]:
        raise NotImplementedError

    async def get_option_chain(self, symbol: str) -> OptionChain:
        raise NotImplementedError

    async def get_accounts(self) -> list[Account]:
        return [Account(account_number="5WX01"), Account(account_number="5WX02")]

    async def close(self) -> None:
        pass


def analysis(symbol: str, recommendation: str, score: int, at: datetime) -> AnalysisResult:
    chart = ChartAnalysis(
        symbol=symbol, as_of=at.date(), price=100, sma_20=99, sma_50=97, sma_200=90,
        rsi_14=45, atr_14=2, trend="uptrend", support=93, score=7,
        recommendation="reject" if recommendation == "reject" else "bullish", reasons=["test"],
    )  # fmt: skip
    return AnalysisResult(
        symbol=symbol, strategy="csp", recommendation=recommendation, score=score,
        chart=chart, completed_at=at,
    )  # fmt: skip


async def insert_analysis(pool: asyncpg.Pool, result: AnalysisResult) -> None:
    await pool.execute(
        """
        INSERT INTO analyses (workflow_id, run_id, symbol, strategy, recommendation,
                              chart_score, result, created_at)
        VALUES ($1, 'r', $2, 'csp', $3, 7, $4, $5)
        """,
        f"analysis-{result.symbol}-{result.completed_at.isoformat()}",
        result.symbol,
        result.recommendation,
        result.model_dump(mode="json"),
        result.completed_at,
    )


async def insert_snapshot(
    pool: asyncpg.Pool,
    day: date,
    nlv: float,
    unrealized: float,
    marks: dict[str, float] | None = None,
) -> None:
    await pool.execute(
        "INSERT INTO nlv_snapshots (day, net_liquidating_value, unrealized_pnl, marks)"
        " VALUES ($1, $2, $3, $4)",
        day,
        nlv,
        unrealized,
        marks or {},
    )


async def insert_alert(
    pool: asyncpg.Pool, symbol: str, condition: str, threshold: float, *, note: str = ""
) -> int:
    return await pool.fetchval(
        """
        INSERT INTO alert_rules (request_id, symbol, condition, threshold, note)
        VALUES ($1, $2, $3, $4, $5) RETURNING id
        """,
        f"req-{symbol}-{condition}-{threshold}",
        symbol,
        condition,
        threshold,
        note,
    )


async def insert_trigger(pool: asyncpg.Pool, alert_id: int, at: datetime) -> None:
    notification_id = await pool.fetchval(
        "INSERT INTO notifications (idempotency_key, kind, title, body) "
        "VALUES ($1, 'alert', 't', 'b') RETURNING id",
        f"alert:{alert_id}:{at.isoformat()}",
    )
    await pool.execute(
        """
        UPDATE alert_rules SET status = 'triggered', trigger_count = trigger_count + 1,
               last_triggered_at = $2 WHERE id = $1
        """,
        alert_id,
        at,
    )
    await pool.execute(
        """
        INSERT INTO alert_triggers (alert_id, sequence, check_key, subject, observed,
                                    triggered_at, notification_id)
        VALUES ($1, 1, $2, $3, 1.0, $4, $5)
        """,
        alert_id,
        f"check-{alert_id}",
        "test",
        at,
        notification_id,
    )


async def insert_screen(pool: asyncpg.Pool, workflow_id: str, finished: datetime) -> None:
    """A completed screen as the screener saves it (only the fields reports read matter)."""
    top = [{"symbol": "NVDA", "rank": 1}, {"symbol": "JPM", "rank": 2}]
    await pool.execute(
        """
        INSERT INTO screens (workflow_id, run_id, strategy, status, total, analyzed, rejected,
                             failed, result, started_at, finished_at)
        VALUES ($1, 'r', 'csp', 'completed', 12, 12, 3, 0, $2, $3, $3)
        """,
        workflow_id,
        {"screen_id": workflow_id, "top": top},
        finished,
    )
