"""The broker interface every adapter implements, and the errors it may raise.

Activities translate these errors into Temporal outcomes: `BrokerUnavailable`
is retried with backoff, the others are non-retryable because retrying cannot
fix them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

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


class BrokerError(Exception):
    """Base of every broker failure. Messages never contain credentials."""

    retryable: bool = False


class BrokerUnavailable(BrokerError):
    """Network fault, rate limit or server error: worth retrying later."""

    retryable = True

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnknownSymbol(BrokerError):
    """The broker does not list this symbol."""

    def __init__(self, symbol: str) -> None:
        super().__init__(f"unknown symbol: {symbol}")
        self.symbol = symbol


class BrokerAuthError(BrokerError):
    """Credentials missing, expired or revoked: a person must fix them."""


class BrokerSchemaError(BrokerError):
    """The broker answered with data the adapter cannot read."""


@runtime_checkable
class Broker(Protocol):
    """Read-only market and account access. No method ever places an order."""

    name: str

    async def get_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        """Quotes for all symbols in as few calls as the broker allows.

        Raises `UnknownSymbol` when any symbol is not listed; a listed symbol the
        broker has no price for is left out (its price is unknown, never 0).
        """
        ...

    async def get_daily_candles(self, symbol: str, days: int) -> list[Candle]:
        """The last `days` daily candles, oldest first; while a session trades, the
        last is that session's partial bar."""
        ...

    async def get_option_chain(self, symbol: str) -> OptionChain: ...

    async def get_market_metrics(self, symbols: Sequence[str]) -> dict[str, MarketMetrics]: ...

    async def get_accounts(self) -> list[Account]: ...

    async def get_positions(self) -> list[Position]:
        """Open positions across all accounts, marked to market."""
        ...

    async def get_balances(self) -> list[Balances]: ...

    async def get_fills(self, since: datetime) -> list[Fill]:
        """Executions at or after `since` across all accounts, oldest first."""
        ...

    async def get_option_events(self, since: datetime) -> list[OptionEvent]:
        """Expirations, assignments and exercises recorded at or after `since`
        across all accounts, oldest first. Not fills: see `OptionEvent`."""
        ...

    async def now(self) -> datetime:
        """The broker's clock (the simulated market can run on a fixed one)."""
        ...

    async def close(self) -> None: ...
