"""`TastytradeBroker`: the `ttai.broker.base.Broker` over a tastytrade account.

- One `Session` per broker object; the SDK refreshes its 15-minute access token
  itself under a lock, so concurrent activities share it safely.
- Every SDK call runs inside `ErrorTranslator.translating`, so only broker errors
  (`ttai.broker.base`) leave this class.
- Daily candles: when DXLink answers with an empty snapshot the adapter subscribes
  again with `contract: HISTORY` (see `streaming`); if that is empty too, it asks
  the market-data endpoint whether the symbol exists (`UnknownSymbol`) and
  otherwise reports the broker as unavailable so the activity retries later.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from tastytrade import Session
from tastytrade.account import Account as TTAccount
from tastytrade.account import AccountBalance, CurrentPosition, Transaction
from tastytrade.dxfeed import Greeks
from tastytrade.instruments import NestedOptionChain, Option
from tastytrade.market_data import MarketData, get_market_data_by_type
from tastytrade.metrics import MarketMetricInfo, get_market_metrics

from ttai.broker.base import BrokerUnavailable, UnknownSymbol
from ttai.broker.credentials import TastytradeCredentials, load_credentials
from ttai.broker.records import data_problem, read_each
from ttai.broker.tastytrade.candles import to_candles
from ttai.broker.tastytrade.chains import STREAMED, chain_from_events
from ttai.broker.tastytrade.contracts import STRATEGY_DTE_WINDOW, select_contracts, strike_band
from ttai.broker.tastytrade.errors import ErrorTranslator, raise_for_status
from ttai.broker.tastytrade.mapping import (
    mark,
    to_balances,
    to_fill,
    to_metrics,
    to_option_event,
    to_position,
    to_quote,
    tt_symbol,
    unique,
    with_greek,
)
from ttai.broker.tastytrade.rest import get_all_pages, get_items
from ttai.broker.tastytrade.streaming import (
    DXLinkQuoteStream,
    chunks,
    daily_candle_snapshot,
    latest_events,
)
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

# The SDK logs bearer tokens at DEBUG; nothing below INFO may leave it.
logging.getLogger("tastytrade").setLevel(logging.INFO)

MAX_MARKET_DATA_SYMBOLS = 100  # the API's limit per market-data call
MAX_METRICS_SYMBOLS = 100
_HELD = ("Equity", "Equity Option")  # the instruments this project's models hold
R = TypeVar("R")


class TastytradeBroker:
    """`ttai.broker.base.Broker` over a tastytrade account. Read-only."""

    name = "tastytrade"

    def __init__(
        self,
        credentials: TastytradeCredentials,
        *,
        client_kwargs: dict[str, Any] | None = None,
        stream_timeout: float = 10.0,
        dte_window: tuple[int, int] = STRATEGY_DTE_WINDOW,
        strike_band: float | None = None,
    ) -> None:
        """`client_kwargs` go to the SDK's httpx clients (tests pass a transport).

        The option chain covers every expiration `dte_window` days out (by default
        the strategy's window plus a day either side) and the strikes within
        `strike_band` (a fraction) of the underlying price; by default the band
        follows the symbol's IV and the window's longest DTE (`contracts.strike_band`).
        """
        logging.getLogger("tastytrade").setLevel(logging.INFO)
        kwargs = dict(client_kwargs or {})
        hooks: dict[str, list[Any]] = {
            key: list(value) for key, value in (kwargs.pop("event_hooks", None) or {}).items()
        }
        hooks.setdefault("request", [])
        hooks["response"] = [*hooks.get("response", []), raise_for_status]
        self._session = Session(
            credentials.provider_secret,
            credentials.refresh_token,
            is_test=credentials.is_test,
            event_hooks=hooks,
            **kwargs,
        )
        secrets = credentials.secrets()
        self._errors = ErrorTranslator(lambda: (*secrets, self._session.session_token))
        self.is_test = credentials.is_test
        self._stream_timeout = stream_timeout
        self._dte_window = dte_window
        self._strike_band = strike_band

    @classmethod
    def from_environment(cls, **kwargs: Any) -> TastytradeBroker | None:
        """A broker from `TT_*` variables or the secrets file; None when none are set.

        Raises `BrokerAuthError` when the configuration is present but unusable.
        """
        credentials = load_credentials()
        return None if credentials is None else cls(credentials, **kwargs)

    def __repr__(self) -> str:
        return f"TastytradeBroker(sandbox={self.is_test})"

    async def close(self) -> None:
        # The SDK only offers `async with session`; its client is closed directly so
        # close() may run in a different task from the one that used the broker.
        await self._session._client.aclose()

    async def now(self) -> datetime:
        return datetime.now(UTC)

    # -- market data ---------------------------------------------------------------

    async def _market_data(self, tt_symbols: Sequence[str]) -> dict[str, MarketData]:
        found: dict[str, MarketData] = {}
        for chunk in chunks(tt_symbols, MAX_MARKET_DATA_SYMBOLS):
            for item in await get_market_data_by_type(self._session, equities=chunk):
                found[item.symbol] = item
        return found

    async def get_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        wanted = unique(symbols)
        async with self._errors.translating("fetching quotes", wanted):
            data = await self._market_data([tt_symbol(s) for s in wanted])
        for symbol in wanted:
            if tt_symbol(symbol) not in data:
                raise UnknownSymbol(symbol)
        # A listed symbol without any price is left out (logged and counted): its
        # reader sees it as unknown, not as a price of 0.
        quotes: dict[str, Quote] = {}
        for symbol in wanted:
            try:
                quotes[symbol] = to_quote(symbol, data[tt_symbol(symbol)])
            except ValueError as exc:
                data_problem(self.name, "quote", str(exc), skipped=1)
        return quotes

    async def get_market_metrics(self, symbols: Sequence[str]) -> dict[str, MarketMetrics]:
        wanted = unique(symbols)
        found: dict[str, MarketMetricInfo] = {}
        async with self._errors.translating("fetching market metrics", wanted):
            for chunk in chunks([tt_symbol(s) for s in wanted], MAX_METRICS_SYMBOLS):
                for info in await get_market_metrics(self._session, chunk):
                    found[info.symbol] = info
        metrics: dict[str, MarketMetrics] = {}
        unreadable: list[str] = []
        for symbol in wanted:
            info = found.get(tt_symbol(symbol))
            if info is None:
                raise UnknownSymbol(symbol)
            metrics[symbol], ignored = to_metrics(symbol, info)
            if ignored:
                unreadable.append(f"{info.symbol}: {', '.join(ignored)} not within 0-1")
        if unreadable:
            detail = "; ".join(unreadable[:5])
            data_problem(self.name, "market_metrics", detail, repaired=len(unreadable))
        return metrics

    @asynccontextmanager
    async def stream_quotes(self, symbols: Collection[str]) -> AsyncIterator[DXLinkQuoteStream]:
        """Quote and Trade events of `symbols` on one DXLink connection (see `streaming`)."""
        async with DXLinkQuoteStream(self._session, self._errors, symbols) as stream:
            yield stream

    # -- candles -----------------------------------------------------------------------

    async def get_daily_candles(self, symbol: str, days: int) -> list[Candle]:
        if days <= 0:
            return []
        tt = tt_symbol(symbol)
        # Calendar days back that surely hold `days` sessions (about 252 a year,
        # fewer around holidays); the surplus is cut off below.
        start = datetime.now(UTC) - timedelta(days=math.ceil(days * 1.5) + 14)
        what = f"fetching daily candles for {symbol}"
        async with self._errors.translating(what, [symbol]):
            events = await daily_candle_snapshot(self._session, tt, start, self._stream_timeout)
            result = to_candles(events)
            if not result.candles:
                events = await daily_candle_snapshot(
                    self._session, tt, start, self._stream_timeout, history_contract=True
                )
                result = to_candles(events)
            if not result.candles:
                if tt not in await self._market_data([tt]):
                    raise UnknownSymbol(symbol)
                raise BrokerUnavailable(
                    f"tastytrade sent no daily candles for {symbol} (empty snapshot twice)"
                )
        if result.repaired or result.dropped:
            bad = ", ".join(d.isoformat() for d in sorted(result.repaired + result.dropped)[:5])
            data_problem(
                self.name,
                "candle",
                f"daily candles for {symbol} with bad prices on {bad}",
                repaired=len(result.repaired),
                skipped=len(result.dropped),
            )
        return result.candles[-days:]

    # -- option chains ---------------------------------------------------------------

    async def get_option_chain(self, symbol: str) -> OptionChain:
        tt = tt_symbol(symbol)
        what = f"fetching the option chain for {symbol}"
        async with self._errors.translating(what, [symbol]):
            chains = await NestedOptionChain.get(self._session, tt)
            market = await self._market_data([tt])
            band = self._strike_band
            if band is None:
                infos = await get_market_metrics(self._session, [tt])
                iv = to_metrics(symbol, infos[0])[0].implied_volatility if infos else None
                band = strike_band(iv, self._dte_window[1])
        standard = [c for c in chains if c.option_chain_type == "Standard"]
        if not standard or tt not in market:
            raise UnknownSymbol(symbol)
        price = mark(market[tt])
        if price is None:
            raise BrokerUnavailable(f"tastytrade sent no price for {symbol}")
        contracts = select_contracts(
            standard[0], price, dte_window=self._dte_window, strike_band=band
        )
        async with self._errors.translating(what, [symbol]):
            events = await latest_events(
                self._session, [c.streamer for c in contracts], STREAMED, self._stream_timeout
            )
        return chain_from_events(
            symbol,
            price,
            contracts,
            events,
            broker=self.name,
            stream_timeout=self._stream_timeout,
        )

    # -- accounts --------------------------------------------------------------------

    async def _tt_accounts(self) -> list[TTAccount]:
        return await TTAccount.get(self._session)

    async def get_accounts(self) -> list[Account]:
        async with self._errors.translating("listing accounts"):
            accounts = await self._tt_accounts()
        return [
            Account(
                account_number=a.account_number,
                nickname=a.nickname,
                is_paper=self.is_test or a.is_test_drive,
            )
            for a in accounts
        ]

    async def get_balances(self) -> list[Balances]:
        async with self._errors.translating("fetching balances"):
            balances: list[AccountBalance] = [
                await account.get_balances(self._session) for account in await self._tt_accounts()
            ]
        return [to_balances(b) for b in balances]

    async def get_positions(self) -> list[Position]:
        """Equity and equity-option positions; a position that cannot be read is
        skipped (logged and counted, `ttai.broker.records`), not the whole call."""
        async with self._errors.translating("fetching positions"):
            items: list[Any] = []
            for account in await self._tt_accounts():
                path = f"/accounts/{account.account_number}/positions"
                items += await get_items(self._session, path, {"include-marks": "true"})
        # Futures, crypto and other instruments are outside this project's models.
        held = [i for i in items if not isinstance(i, dict) or i.get("instrument-type") in _HELD]
        positions = read_each(
            held,
            lambda item: to_position(CurrentPosition.model_validate(item)),
            broker=self.name,
            kind="position",
            name=lambda item: str(item.get("symbol")),
        )
        streamer_symbols = {
            p.symbol: Option.occ_to_streamer_symbol(p.symbol)
            for p in positions
            if p.instrument == "option"
        }
        async with self._errors.translating("fetching position greeks"):
            greeks = (
                await latest_events(
                    self._session, list(streamer_symbols.values()), (Greeks,), self._stream_timeout
                )
            )[Greeks]
        return [with_greek(p, greeks.get(streamer_symbols.get(p.symbol, ""))) for p in positions]

    async def _transactions(self, kind: str, since: datetime, what: str) -> list[Any]:
        """The raw history entries of type `kind` at or after `since`, every account."""
        params = {"type": kind, "start-at": since.isoformat(), "sort": "Asc"}
        async with self._errors.translating(what):
            items: list[Any] = []
            for account in await self._tt_accounts():
                path = f"/accounts/{account.account_number}/transactions"
                items += await get_all_pages(self._session, path, params)
        return items

    async def get_option_events(self, since: datetime) -> list[OptionEvent]:
        """Expirations, assignments and exercises at or after `since` (a naive time
        is read as UTC), across all accounts, oldest first: the history's "Receive
        Deliver" entries on options (`mapping.to_option_event`). One that cannot be
        read is skipped (logged and counted), not the whole call."""
        events = await self._history(
            "Receive Deliver", since, "fetching option events", to_option_event, "option_event"
        )
        return sorted(
            (e for e in events if e.occurred_at >= _utc(since)), key=lambda e: e.occurred_at
        )

    async def get_fills(self, since: datetime) -> list[Fill]:
        """Equity and equity-option trades executed at or after `since` (a naive
        time is read as UTC), across all accounts, oldest first. A transaction
        that cannot be read is skipped (logged and counted), not the whole call."""
        fills = await self._history("Trade", since, "fetching fills", to_fill, "fill")
        return sorted(
            (f for f in fills if f.executed_at >= _utc(since)), key=lambda f: f.executed_at
        )

    async def _history(
        self,
        transaction_type: str,
        since: datetime,
        doing: str,
        read: Callable[[Transaction], R],
        kind: str,
    ) -> list[R]:
        """The account history's transactions of one type since `since`, each read
        with `read`; one that cannot be read is skipped (logged and counted)."""
        items = await self._transactions(transaction_type, _utc(since), doing)
        return read_each(
            items,
            lambda item: read(Transaction.model_validate(item)),
            broker=self.name,
            kind=kind,
            name=lambda item: f"transaction {item.get('id')} {item.get('symbol') or ''}".strip(),
        )


def _utc(moment: datetime) -> datetime:
    """A naive time is read as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
