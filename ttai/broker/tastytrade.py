"""The real broker: tastytrade through its SDK (13.x), read-only.

Design notes:
- One `Session` per broker object; the SDK refreshes its 15-minute access token
  itself under a lock, so concurrent activities share it safely.
- The SDK turns every HTTP error into the same `TastytradeError`. A response event
  hook passed through `Session(...)` sees the status first and raises
  `_HttpStatusError`, which `_translate` maps onto the broker errors.
- Nothing here imports the SDK's order API: this adapter cannot place orders.
- Error messages are built here from status codes and field names, never from
  response bodies as they are, and pass through `_redact`; translated errors are
  raised `from None` so no SDK exception (with request details) rides along into
  Temporal failures.
- Daily candles: DXLink sometimes answers a candle subscription with an empty
  snapshot (tastyware/tastytrade issue 353, `contract: AUTO`). The adapter then
  subscribes again on a channel opened with `contract: HISTORY`, which makes the
  server send the backfill; if that is empty too, it asks the market-data
  endpoint whether the symbol exists (`UnknownSymbol`) and otherwise reports the
  broker as unavailable so the activity retries later.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import httpx2
from httpx2.websockets import HTTPXWSException
from pydantic import ValidationError
from tastytrade import DXLinkStreamer, Session
from tastytrade.account import Account as TTAccount
from tastytrade.account import AccountBalance, CurrentPosition
from tastytrade.dxfeed import Candle as DXCandle
from tastytrade.dxfeed import Event, Greeks, Summary
from tastytrade.dxfeed import Quote as DXQuote
from tastytrade.instruments import NestedOptionChain, Option
from tastytrade.market_data import MarketData, get_market_data_by_type
from tastytrade.metrics import MarketMetricInfo, get_market_metrics
from tastytrade.utils import TastytradeError
from wsproto.utilities import LocalProtocolError

from ttai.broker.base import (
    BrokerAuthError,
    BrokerError,
    BrokerSchemaError,
    BrokerUnavailable,
    UnknownSymbol,
)
from ttai.broker.credentials import TastytradeCredentials, load_credentials
from ttai.models.market import (
    Account,
    Balances,
    Candle,
    MarketMetrics,
    OptionChain,
    OptionQuote,
    Position,
    Quote,
)

# The SDK logs bearer tokens at DEBUG; nothing below INFO may leave it.
logging.getLogger("tastytrade").setLevel(logging.INFO)

MAX_MARKET_DATA_SYMBOLS = 100  # the API's limit per market-data call
MAX_METRICS_SYMBOLS = 100
MAX_SUBSCRIPTION_SYMBOLS = 500  # keeps one FEED_SUBSCRIPTION below the 1009 size limit
NEW_YORK = ZoneInfo("America/New_York")

AUTH_MESSAGE = (
    "tastytrade rejected the credentials: refresh token expired or revoked; create a new "
    "one (tastytrade: Manage > My Profile > API > OAuth applications) and update "
    "TT_REFRESH_TOKEN or the secrets file"
)

# Failures of the connection itself (a websocket closed under a send raises
# wsproto's LocalProtocolError): worth retrying.
_CONNECTION_ERRORS = (
    httpx2.TransportError,
    HTTPXWSException,
    LocalProtocolError,
    TimeoutError,
    OSError,
)
# How the SDK words a response it could not parse.
_SDK_PARSE_ERRORS = ("Couldn't parse response", "No data present", "Mapper data input")


class _HttpStatusError(Exception):
    """An HTTP error seen by the response hook before the SDK hides its status."""

    def __init__(self, status: int, retry_after: float | None, detail: str) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after
        self.detail = detail


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def _error_detail(response: httpx2.Response) -> str:
    """The API's short error code/message, or '' when the body has none."""
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return ""
    parts = [str(error.get(k)) for k in ("code", "message") if error.get(k)]
    return ": ".join(parts)[:200]


async def _raise_for_status(response: httpx2.Response) -> None:
    """httpx response hook: keep the status code the SDK would throw away."""
    if response.status_code < 400:
        return
    await response.aread()
    raise _HttpStatusError(
        response.status_code,
        _retry_after(response.headers.get("retry-after")),
        _error_detail(response),
    )


def _leaves(group: BaseExceptionGroup[Any]) -> Iterable[BaseException]:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from _leaves(exc)
        else:
            yield exc


def _schema_summary(exc: ValidationError) -> str:
    # Field locations and messages only: pydantic's str() quotes the input values.
    problems = [
        f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
        for err in exc.errors()[:3]
    ]
    return f"{exc.title}: " + "; ".join(problems)


def _tt_symbol(symbol: str) -> str:
    """Project symbols use BRK.B; tastytrade lists class shares as BRK/B."""
    return symbol.replace(".", "/")


def _unique(symbols: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(symbols))


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _num(*values: Decimal | int | None) -> float:
    """The first value that is present and finite, else 0."""
    for value in values:
        if value is not None and math.isfinite(float(value)):
            return float(value)
    return 0.0


def _mark(data: MarketData) -> float:
    mid = (data.bid + data.ask) / 2 if data.bid and data.ask else None
    return _num(data.mark, data.mid, mid, data.last, data.prev_close)


def candle_day(time_ms: int) -> date:
    """The session day of a daily candle stamped `time_ms`.

    Depending on the feed, a day's candle is stamped with midnight UTC, midnight
    New York or the session's open; twelve hours later is the same New York
    day for all three.
    """
    return datetime.fromtimestamp(time_ms / 1000 + 12 * 3600, NEW_YORK).date()


@dataclass(frozen=True)
class _Contract:
    occ: str
    streamer: str
    expiration: date
    strike: float
    kind: str


class _HistoryCandleStreamer(DXLinkStreamer):
    """A streamer whose channels request `contract: HISTORY` instead of the SDK's AUTO.

    Work-around for upstream issue 353: with AUTO the server may answer a candle
    subscription with an empty snapshot; with HISTORY it sends the backfill.
    """

    async def _channel_request(self, event_type: str, refresh_interval: float = 0.1) -> None:
        websocket = self._websocket
        send_json = websocket.send_json

        async def send_history(data: Any, mode: Any = "text") -> None:
            if isinstance(data, dict) and data.get("type") == "CHANNEL_REQUEST":
                data = {**data, "parameters": {"contract": "HISTORY"}}
            await send_json(data, mode)

        websocket.send_json = send_history  # type: ignore[method-assign]
        try:
            await super()._channel_request(event_type, refresh_interval)
        finally:
            del websocket.send_json  # back to the class's method


class TastytradeBroker:
    """`ttai.broker.base.Broker` over a tastytrade account. Read-only."""

    name = "tastytrade"

    def __init__(
        self,
        credentials: TastytradeCredentials,
        *,
        client_kwargs: dict[str, Any] | None = None,
        stream_timeout: float = 10.0,
        min_dte: int = 1,
        max_dte: int = 60,
        max_expirations: int = 8,
        strike_band: float = 0.2,
    ) -> None:
        """`client_kwargs` go to the SDK's httpx clients (tests pass a transport).

        The option chain covers expirations `min_dte`..`max_dte` days out (at most
        `max_expirations`, spread evenly over that range) and strikes within
        `strike_band` (a fraction) of the underlying price: a full chain of a busy
        underlying has tens of thousands of contracts, far more than one streamer
        call should subscribe to.
        """
        logging.getLogger("tastytrade").setLevel(logging.INFO)
        kwargs = dict(client_kwargs or {})
        hooks: dict[str, list[Any]] = {
            key: list(value) for key, value in (kwargs.pop("event_hooks", None) or {}).items()
        }
        hooks.setdefault("request", [])
        hooks["response"] = [*hooks.get("response", []), _raise_for_status]
        self._session = Session(
            credentials.provider_secret,
            credentials.refresh_token,
            is_test=credentials.is_test,
            event_hooks=hooks,
            **kwargs,
        )
        self._secrets = credentials.secrets()
        self.is_test = credentials.is_test
        self._stream_timeout = stream_timeout
        self._min_dte = min_dte
        self._max_dte = max_dte
        self._max_expirations = max_expirations
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

    # -- error translation ---------------------------------------------------------

    def _redact(self, text: str) -> str:
        for secret in (*self._secrets, self._session.session_token):
            if secret:
                text = text.replace(secret, "***")
        return text

    def _translate(self, exc: BaseException, what: str, symbols: Sequence[str]) -> BaseException:
        if isinstance(exc, BaseExceptionGroup):
            # Streamer failures arrive grouped; report the one a person must act on.
            translated = [
                self._translate(leaf, what, symbols)
                for leaf in _leaves(exc)
                if not isinstance(leaf, anyio.get_cancelled_exc_class())
            ]
            for candidate in translated:
                if isinstance(candidate, BrokerError) and not candidate.retryable:
                    return candidate
            return translated[0] if translated else exc
        if isinstance(exc, BrokerError):
            return exc
        if isinstance(exc, _HttpStatusError):
            status = exc.status
            if status in (401, 403):
                return BrokerAuthError(AUTH_MESSAGE)
            if status == 429:
                wait = f"; retry after {exc.retry_after:g}s" if exc.retry_after is not None else ""
                return BrokerUnavailable(
                    f"tastytrade rate limit reached while {what}{wait}", exc.retry_after
                )
            if status >= 500:
                return BrokerUnavailable(
                    f"tastytrade server error (HTTP {status}) while {what}", exc.retry_after
                )
            if status == 404 and len(symbols) == 1:
                return UnknownSymbol(symbols[0])
            detail = f": {self._redact(exc.detail)}" if exc.detail else ""
            return BrokerError(
                f"tastytrade refused the request (HTTP {status}) while {what}{detail}"
            )
        if isinstance(exc, _CONNECTION_ERRORS):
            return BrokerUnavailable(f"cannot reach tastytrade while {what} ({type(exc).__name__})")
        if isinstance(exc, ValidationError):
            return BrokerSchemaError(
                f"tastytrade sent data this adapter cannot read while {what}: "
                + self._redact(_schema_summary(exc))
            )
        if isinstance(exc, (json.JSONDecodeError, KeyError)):
            return BrokerSchemaError(
                f"tastytrade sent a malformed response while {what} ({type(exc).__name__})"
            )
        if isinstance(exc, TastytradeError):
            if str(exc).startswith(_SDK_PARSE_ERRORS):
                return BrokerSchemaError(f"tastytrade sent an unreadable response while {what}")
            # Everything else the SDK raises comes from the streamer connection.
            return BrokerUnavailable(f"the tastytrade streamer failed while {what}")
        return exc

    @asynccontextmanager
    async def _translating(self, what: str, symbols: Sequence[str] = ()) -> AsyncIterator[None]:
        try:
            yield
        except BrokerError:
            raise
        except Exception as exc:
            translated = self._translate(exc, what, symbols)
            if translated is exc:
                raise
            raise translated from None

    # -- market data ---------------------------------------------------------------

    async def _market_data(self, tt_symbols: Sequence[str]) -> dict[str, MarketData]:
        found: dict[str, MarketData] = {}
        for chunk in _chunks(tt_symbols, MAX_MARKET_DATA_SYMBOLS):
            for item in await get_market_data_by_type(self._session, equities=chunk):
                found[item.symbol] = item
        return found

    async def get_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        wanted = _unique(symbols)
        async with self._translating("fetching quotes", wanted):
            data = await self._market_data([_tt_symbol(s) for s in wanted])
        quotes: dict[str, Quote] = {}
        for symbol in wanted:
            item = data.get(_tt_symbol(symbol))
            if item is None:
                raise UnknownSymbol(symbol)
            mark = _mark(item)
            quotes[symbol] = Quote(
                symbol=symbol,
                bid=_num(item.bid, mark),
                ask=_num(item.ask, mark),
                last=_num(item.last, mark),
                prev_close=_num(item.prev_close, item.prev_day_close, item.close),
                time=item.updated_at,
            )
        return quotes

    async def get_market_metrics(self, symbols: Sequence[str]) -> dict[str, MarketMetrics]:
        wanted = _unique(symbols)
        found: dict[str, MarketMetricInfo] = {}
        async with self._translating("fetching market metrics", wanted):
            tt_symbols = [_tt_symbol(s) for s in wanted]
            for chunk in _chunks(tt_symbols, MAX_METRICS_SYMBOLS):
                for info in await get_market_metrics(self._session, chunk):
                    found[info.symbol] = info
        metrics: dict[str, MarketMetrics] = {}
        for symbol in wanted:
            info = found.get(_tt_symbol(symbol))
            if info is None:
                raise UnknownSymbol(symbol)
            metrics[symbol] = _to_metrics(symbol, info)
        return metrics

    # -- streamer ------------------------------------------------------------------

    async def _stream_events(
        self, symbols: Sequence[str], kinds: Sequence[type[Event]]
    ) -> dict[type[Event], dict[str, Event]]:
        """The latest event of each kind per symbol, collected on one streamer
        connection until every symbol has every kind or the timeout passes."""
        wanted = set(symbols)
        found: dict[type[Event], dict[str, Event]] = {kind: {} for kind in kinds}
        if not wanted:
            return found

        async def collect(streamer: DXLinkStreamer, kind: type[Event]) -> None:
            into = found[kind]
            async for event in streamer.listen(kind):
                if event.event_symbol in wanted:
                    into[event.event_symbol] = event
                    if len(into) == len(wanted):
                        return

        with anyio.move_on_after(self._stream_timeout):
            async with DXLinkStreamer(self._session) as streamer:
                for kind in kinds:
                    for chunk in _chunks(list(wanted), MAX_SUBSCRIPTION_SYMBOLS):
                        await streamer.subscribe(kind, chunk)
                async with anyio.create_task_group() as tg:
                    for kind in kinds:
                        tg.start_soon(collect, streamer, kind)
        return found

    async def _stream_candles(
        self, streamer_class: type[DXLinkStreamer], tt_symbol: str, start: datetime
    ) -> list[Candle]:
        by_day: dict[date, Candle] = {}
        with anyio.move_on_after(self._stream_timeout):
            async with streamer_class(self._session) as streamer:
                await streamer.subscribe_candle([tt_symbol], "1d", start_time=start)
                async for event in streamer.listen(DXCandle):
                    # An empty snapshot is one REMOVE event with NaN prices.
                    if not event.remove and event.close > 0:
                        day = candle_day(event.time)
                        by_day[day] = Candle(
                            day=day,
                            open=float(event.open),
                            high=float(event.high),
                            low=float(event.low),
                            close=float(event.close),
                            volume=int(event.volume or 0),
                        )
                    if event.snapshot_end or event.snapshot_snip:
                        break
        return [by_day[day] for day in sorted(by_day)]

    async def get_daily_candles(self, symbol: str, days: int) -> list[Candle]:
        if days <= 0:
            return []
        tt_symbol = _tt_symbol(symbol)
        # Calendar days back that surely hold `days` sessions (about 252 a year,
        # fewer around holidays); the surplus is cut off below.
        start = datetime.now(UTC) - timedelta(days=math.ceil(days * 1.5) + 14)
        what = f"fetching daily candles for {symbol}"
        async with self._translating(what, [symbol]):
            candles = await self._stream_candles(DXLinkStreamer, tt_symbol, start)
            if not candles:
                candles = await self._stream_candles(_HistoryCandleStreamer, tt_symbol, start)
            if not candles:
                if tt_symbol not in await self._market_data([tt_symbol]):
                    raise UnknownSymbol(symbol)
                raise BrokerUnavailable(
                    f"tastytrade sent no daily candles for {symbol} (empty snapshot twice)"
                )
        return candles[-days:]

    # -- option chains ---------------------------------------------------------------

    def _select_contracts(self, chain: NestedOptionChain, price: float) -> list[_Contract]:
        expirations = sorted(
            (
                e
                for e in chain.expirations
                if self._min_dte <= e.days_to_expiration <= self._max_dte
            ),
            key=lambda e: e.days_to_expiration,
        )
        if len(expirations) > self._max_expirations:
            step = (len(expirations) - 1) / max(self._max_expirations - 1, 1)
            expirations = [expirations[round(i * step)] for i in range(self._max_expirations)]
        low, high = price * (1 - self._strike_band), price * (1 + self._strike_band)
        contracts: list[_Contract] = []
        for expiration in expirations:
            for strike in expiration.strikes:
                value = float(strike.strike_price)
                if not low <= value <= high:
                    continue
                contracts.append(
                    _Contract(
                        strike.put,
                        strike.put_streamer_symbol,
                        expiration.expiration_date,
                        value,
                        "put",
                    )
                )
                contracts.append(
                    _Contract(
                        strike.call,
                        strike.call_streamer_symbol,
                        expiration.expiration_date,
                        value,
                        "call",
                    )
                )
        return contracts

    async def get_option_chain(self, symbol: str) -> OptionChain:
        tt_symbol = _tt_symbol(symbol)
        what = f"fetching the option chain for {symbol}"
        async with self._translating(what, [symbol]):
            chains = await NestedOptionChain.get(self._session, tt_symbol)
            market = await self._market_data([tt_symbol])
        standard = [c for c in chains if c.option_chain_type == "Standard"]
        if not standard or tt_symbol not in market:
            raise UnknownSymbol(symbol)
        price = _mark(market[tt_symbol])
        contracts = self._select_contracts(standard[0], price)
        async with self._translating(what, [symbol]):
            events = await self._stream_events(
                [c.streamer for c in contracts], (DXQuote, Greeks, Summary)
            )
        quotes, greeks, summaries = events[DXQuote], events[Greeks], events[Summary]
        if contracts and not quotes and not greeks:
            raise BrokerUnavailable(
                f"no option data arrived from the tastytrade streamer for {symbol} "
                f"within {self._stream_timeout:g}s"
            )
        options: list[OptionQuote] = []
        missing: list[str] = []
        for c in contracts:
            quote, greek, summary = (
                quotes.get(c.streamer),
                greeks.get(c.streamer),
                summaries.get(c.streamer),
            )
            if not isinstance(quote, DXQuote) or not isinstance(greek, Greeks):
                missing.append(c.occ)
                continue
            options.append(
                OptionQuote(
                    occ_symbol=c.occ,
                    underlying=symbol,
                    expiration=c.expiration,
                    strike=c.strike,
                    kind=c.kind,  # type: ignore[arg-type]
                    bid=_num(quote.bid_price),
                    ask=_num(quote.ask_price),
                    open_interest=summary.open_interest if isinstance(summary, Summary) else 0,
                    # Summary carries the previous session's volume; there is no intraday one.
                    volume=int(_num(summary.prev_day_volume))
                    if isinstance(summary, Summary)
                    else 0,
                    implied_volatility=_num(greek.volatility),
                    delta=_num(greek.delta),
                    gamma=_num(greek.gamma),
                    theta=_num(greek.theta),
                    vega=_num(greek.vega),
                )
            )
        return OptionChain(
            underlying=symbol,
            underlying_price=price,
            as_of=datetime.now(UTC),
            options=options,
            missing=missing,
        )

    # -- accounts --------------------------------------------------------------------

    async def _tt_accounts(self) -> list[TTAccount]:
        return await TTAccount.get(self._session)

    async def get_accounts(self) -> list[Account]:
        async with self._translating("listing accounts"):
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
        async with self._translating("fetching balances"):
            balances: list[AccountBalance] = [
                await account.get_balances(self._session) for account in await self._tt_accounts()
            ]
        return [
            Balances(
                account=b.account_number,
                cash=float(b.cash_balance),
                net_liquidating_value=float(b.net_liquidating_value),
                # Option buying power: what a cash-secured put consumes.
                buying_power=float(b.derivative_buying_power),
                maintenance_requirement=float(b.maintenance_requirement),
            )
            for b in balances
        ]

    async def get_positions(self) -> list[Position]:
        async with self._translating("fetching positions"):
            held: list[CurrentPosition] = []
            for account in await self._tt_accounts():
                held += await account.get_positions(self._session, include_marks=True)
        # Futures, crypto and other instruments are outside this project's models.
        held = [p for p in held if p.instrument_type in ("Equity", "Equity Option")]
        streamer_symbols = {
            p.symbol: Option.occ_to_streamer_symbol(p.symbol)
            for p in held
            if p.instrument_type == "Equity Option"
        }
        async with self._translating("fetching position greeks"):
            greeks = (await self._stream_events(list(streamer_symbols.values()), (Greeks,)))[Greeks]
        return [_to_position(p, greeks.get(streamer_symbols.get(p.symbol, ""))) for p in held]


def _to_metrics(symbol: str, info: MarketMetricInfo) -> MarketMetrics:
    # Ranks and percentile come as 0-1 fractions (the rank as a string); the
    # project's model wants 0-100. IV index is a fraction; the 30-day IV is in percent.
    rank = info.implied_volatility_index_rank or info.tw_implied_volatility_index_rank
    iv = _num(info.implied_volatility_index)
    if not iv and info.implied_volatility_30_day is not None:
        iv = float(info.implied_volatility_30_day) / 100
    earnings = info.earnings.expected_report_date if info.earnings else None
    return MarketMetrics(
        symbol=symbol,
        iv_rank=round(_fraction(rank) * 100, 4),
        iv_percentile=round(_fraction(info.implied_volatility_percentile) * 100, 4),
        implied_volatility=iv,
        liquidity_rating=min(max(info.liquidity_rating or 0, 0), 5),
        # A missing beta is read as the market's own (1.0) rather than as no risk.
        beta=_num(info.beta, 1),
        next_earnings=earnings,
    )


def _fraction(value: str | Decimal | None) -> float:
    """A 0-1 value from the API (strings or decimals); missing or unreadable -> 0."""
    if value is None:
        return 0.0
    try:
        number = float(value)
    except ValueError:
        return 0.0
    return min(max(number, 0.0), 1.0) if math.isfinite(number) else 0.0


_OCC_TAIL_LENGTH = 15  # YYMMDD + C/P + strike x 1000 in 8 digits


def _to_position(p: CurrentPosition, greek: Event | None) -> Position:
    sign = -1 if p.quantity_direction == "Short" else 1
    mark = _num(p.mark_price, p.mark, p.close_price)
    common: dict[str, Any] = {
        "account": p.account_number,
        "symbol": p.symbol,
        "underlying": p.underlying_symbol.replace("/", "."),
        "quantity": sign * abs(float(p.quantity)),
        "average_open_price": float(p.average_open_price),
        "multiplier": int(p.multiplier),
        "mark": mark,
        "prev_close": float(p.close_price),
    }
    if p.instrument_type != "Equity Option":
        return Position(instrument="equity", delta=1.0, **common)
    tail = p.symbol[-_OCC_TAIL_LENGTH:]
    return Position(
        instrument="option",
        option_kind="put" if tail[6] == "P" else "call",
        strike=int(tail[7:]) / 1000,
        expiration=datetime.strptime(tail[:6], "%y%m%d").date(),
        delta=float(greek.delta) if isinstance(greek, Greeks) else None,
        **common,
    )
