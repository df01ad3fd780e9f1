"""The portfolio view: positions with delta, days to expiry and P&L, plus balances.

Built by PortfolioWorkflow from what the position sync stored (with the time
the broker was read), or from the broker directly when asked.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from ttai.models.common import Model, Symbol
from ttai.models.market import OptionEventKind

PortfolioSource = Literal["sync", "broker"]

PORTFOLIO_WORKFLOW = "PortfolioWorkflow"


class PortfolioRequest(Model):
    source: PortfolioSource = Field(
        default="sync",
        description="sync: what PositionSyncWorkflow stored last (no broker call); "
        "broker: read the broker now.",
    )


class PortfolioSnapshotRequest(Model):
    """The activity's input: the request and the workflow's clock (days to expiry count from it)."""

    source: PortfolioSource
    now: datetime


class PortfolioPosition(Model):
    symbol: str = Field(description="Broker symbol: the ticker or the OCC option symbol.")
    label: str = Field(description='Short name, e.g. "AAPL 150P 2026-12-04".')
    underlying: Symbol
    instrument: Literal["equity", "option"]
    quantity: float = Field(description="Signed: negative for short positions.")
    multiplier: int
    average_open_price: float
    mark: float
    prev_close: float = Field(description="0 when the broker sent none.")
    option_kind: Literal["put", "call"] | None = None
    strike: float | None = None
    expiration: date | None = None
    days_to_expiry: int | None = Field(
        default=None, description="Calendar days from today (New York) to expiration."
    )
    delta: float | None = Field(default=None, description="Per contract (1 for shares).")
    position_delta: float | None = Field(
        default=None, description="delta x quantity x multiplier: share-equivalent exposure."
    )
    market_value: float = Field(description="mark x quantity x multiplier.")
    unrealized_pnl: float = Field(
        description="(mark - average open price) x quantity x multiplier."
    )
    day_pnl: float | None = Field(
        description="Since the previous close, today's trades included: (mark - previous "
        "close) x size for what was held overnight, (mark - fill price) x size for what "
        "was traded today. None when unknown: held overnight without a previous close, "
        "or today's trades could not be read (see PortfolioView.day_pnl_known)."
    )
    traded_today: float = Field(
        default=0.0,
        description="Net quantity bought (+) or sold (-) since the previous close.",
    )
    closed_today: bool = Field(
        default=False,
        description="Closed since the previous close: quantity, value and unrealized P&L "
        "are 0, mark is the last fill's price, average open price 0 (not known from fills); "
        "the line is there for its realised day P&L.",
    )
    settled: OptionEventKind | None = Field(
        default=None,
        description="An option closed today by its expiration (expired worthless), an "
        "assignment or an exercise, not by a trade; its mark is what it settled at.",
    )


class AccountBalance(Model):
    account: str = Field(description="Masked: enough to recognise it, not to use it.")
    cash: float
    net_liquidating_value: float
    buying_power: float
    maintenance_requirement: float


class PortfolioView(Model):
    source: PortfolioSource
    as_of: datetime | None = Field(
        description="When the broker was read (the last sync's time for source=sync); "
        "None when the sync has not run yet."
    )
    today: date = Field(description="The New York date days to expiry count from.")
    positions: list[PortfolioPosition]
    accounts: list[AccountBalance]
    net_liquidating_value: float = Field(description="Summed over accounts.")
    buying_power: float = Field(description="Summed over accounts.")
    cash: float = Field(description="Summed over accounts.")
    unrealized_pnl: float
    day_pnl: float = Field(
        description="Sum of the lines whose day P&L is known (closed today included)."
    )
    day_pnl_since: datetime | None = Field(
        default=None,
        description="Where day P&L starts: the previous session's close (on a weekend, "
        "holiday or before the open, the close before the last session).",
    )
    day_pnl_known: bool = Field(
        default=True,
        description="False when today's trades could not be read from the broker (at the "
        "last sync): every position's day P&L is then None, not a wrong number.",
    )
