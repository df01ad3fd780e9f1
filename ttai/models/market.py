"""Market data as the project sees it, whichever broker supplies it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field, model_validator

from ttai.models.common import Model, Symbol


class Candle(Model):
    """One session's prices: positive, the high and low bounding the open and the
    close, a volume of 0 or more (adapters repair or drop a broker's odd candle
    before it gets here)."""

    day: date
    open: float = Field(gt=0)
    high: float = Field(gt=0)
    low: float = Field(gt=0)
    close: float = Field(gt=0)
    volume: int = Field(ge=0)

    @model_validator(mode="after")
    def _bounded(self) -> Candle:
        if self.high < max(self.open, self.close):
            raise ValueError("a candle's high must be at least its open and its close")
        if self.low > min(self.open, self.close):
            raise ValueError("a candle's low must be at most its open and its close")
        return self


class Quote(Model):
    symbol: Symbol
    bid: float
    ask: float
    last: float
    prev_close: float
    time: datetime

    @property
    def mark(self) -> float:
        return round((self.bid + self.ask) / 2, 4)


class OptionQuote(Model):
    """One option contract with its quote and greeks.

    Unknown stays unknown: a greek, the IV, the open interest or the volume the
    broker did not send is None, never 0 (a bid of 0 is a real "no bid").
    """

    occ_symbol: str
    underlying: Symbol
    expiration: date
    strike: float
    kind: Literal["put", "call"]
    bid: float
    ask: float
    open_interest: int | None = Field(description="None when unknown.")
    volume: int | None = Field(description="None when unknown.")
    implied_volatility: float | None = Field(description="None when unknown.")
    delta: float | None = Field(description="None when unknown.")
    gamma: float | None = Field(description="None when unknown.")
    theta: float | None = Field(description="None when unknown.")
    vega: float | None = Field(description="None when unknown.")

    @property
    def mid(self) -> float:
        return round((self.bid + self.ask) / 2, 4)


class OptionChain(Model):
    underlying: Symbol
    underlying_price: float
    as_of: datetime
    options: list[OptionQuote]
    missing: list[str] = Field(
        default_factory=list, description="Contracts whose greeks could not be collected."
    )


class MarketMetrics(Model):
    """A symbol's metrics; what the broker did not send (or sent unreadable) is None."""

    symbol: Symbol
    iv_rank: float | None = Field(description="0-100; None when unknown.")
    iv_percentile: float | None = Field(description="0-100; None when unknown.")
    implied_volatility: float | None = Field(
        description="Annualised, as a fraction (0.32 = 32 %); None when unknown."
    )
    liquidity_rating: int | None = Field(ge=0, le=5, description="0-5; None when unknown.")
    beta: float | None = Field(description="None when unknown.")
    next_earnings: date | None = None
    dividend_yield: float = Field(
        default=0.0,
        ge=0.0,
        description="Annual dividend yield as a fraction (0.03 = 3 %); 0 when none or unknown.",
    )


class Position(Model):
    """An open position. Option positions carry their contract details."""

    account: str
    symbol: str = Field(description="Broker symbol: the ticker or the OCC option symbol.")
    underlying: Symbol
    instrument: Literal["equity", "option"]
    quantity: float = Field(description="Signed: negative for short positions.")
    average_open_price: float
    multiplier: int = 1
    mark: float = 0.0
    prev_close: float = 0.0
    option_kind: Literal["put", "call"] | None = None
    strike: float | None = None
    expiration: date | None = None
    delta: float | None = Field(
        default=None, description="Per-contract delta of the instrument (not position delta)."
    )


class Fill(Model):
    """One execution in an account: an opening or closing trade, whole or partial."""

    account: str
    symbol: str = Field(description="Broker symbol: the ticker or the OCC option symbol.")
    underlying: Symbol
    instrument: Literal["equity", "option"]
    quantity: float = Field(
        description="Signed: positive bought, negative sold (shares or contracts)."
    )
    price: float = Field(description="Per share (an option's premium per share).")
    multiplier: int = 1
    executed_at: datetime


OptionEventKind = Literal["expired", "assigned", "exercised"]


class OptionEvent(Model):
    """An option position leaving an account without a trade: it expired (out of
    the money), was assigned (a short one: shares delivered or received at the
    strike) or exercised (a long one, by exception when $0.01 or more in the
    money at the expiration close, as OCC does). Not a fill."""

    account: str
    kind: OptionEventKind
    symbol: str = Field(description="The OCC option symbol.")
    underlying: Symbol
    option_kind: Literal["put", "call"]
    strike: float
    expiration: date
    quantity: float = Field(
        description="The option position that left, signed: -1 for one short contract."
    )
    multiplier: int = 100
    shares: float = Field(
        default=0.0,
        description="Shares received (+) or delivered (-): +100 for one assigned short put.",
    )
    price: float = Field(
        default=0.0, description="Per share the shares moved at: the strike (0 when expired)."
    )
    settlement_price: float | None = Field(
        default=None,
        description="The underlying's price the settlement used (the expiration close); "
        "None when the broker does not say.",
    )
    day: date = Field(description="The session it settled in (New York date).")
    occurred_at: datetime = Field(description="When the broker recorded it.")

    @property
    def cash(self) -> float:
        """Cash it moved: the shares' value at the strike, paid (-) or received (+)."""
        return -self.shares * self.price


class Balances(Model):
    account: str
    cash: float
    net_liquidating_value: float
    buying_power: float
    maintenance_requirement: float


class Account(Model):
    account_number: str
    nickname: str = ""
    is_paper: bool = False
