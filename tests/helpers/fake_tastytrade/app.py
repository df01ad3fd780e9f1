"""A fake tastytrade API: the REST endpoints the adapter uses and the DXLink websocket.

Shapes follow the real API: kebab-case keys, decimals as strings, `{"data": {...}}`
and `{"data": {"items": [...]}}` envelopes, errors as `{"error": {"code", "message"}}`.
The websocket speaks DXLink as the SDK's `DXLinkStreamer` does: SETUP, AUTH_STATE /
AUTH, CHANNEL_REQUEST / CHANNEL_OPENED, FEED_SETUP / FEED_CONFIG, FEED_SUBSCRIPTION
answered with COMPACT `FEED_DATA` (values in the order the client asked for in
`acceptEventFields`), KEEPALIVE and CHANNEL_CANCEL.

Faults are switched on per test through `FakeTastytrade.faults`.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from tastytrade.account import AccountBalance

from tests.helpers.fake_tastytrade.scenario import (
    Scenario,
    day_start_ms,
    occ_symbol,
    streamer_symbol,
    tt_symbol,
)
from tests.helpers.fake_tastytrade.transport import SharedASGIWebSocketTransport
from ttai.broker.credentials import TastytradeCredentials
from ttai.broker.tastytrade import TastytradeBroker
from ttai.models.market import OptionQuote, Position

DXLINK_URL = "wss://tasty-openapi-ws.dxfeed.fake/realtime"
MARKET_DATA_LIMIT = 100
EVENTS_PER_MESSAGE = 100
SNAPSHOT_BEGIN, SNAPSHOT_END, REMOVE_EVENT = 0x4, 0x8, 0x2
NAN = "NaN"


@dataclass
class HttpFault:
    """Answer the next `times` requests whose path starts with `path` badly.

    kind: "status" (the given status, with Retry-After when set), "malformed"
    (200 with a truncated JSON body) or "missing_field" (200 with `field_name`
    removed from every item).
    """

    path: str
    kind: str = "status"
    status: int = 500
    times: int = 1
    retry_after: int | None = None
    field_name: str | None = None
    message: str = "injected by the test"


@dataclass
class Faults:
    http: list[HttpFault] = field(default_factory=list)
    drop_websocket: bool = False  # close the socket when a subscription arrives
    empty_candle_snapshot: bool = False  # answer AUTO-contract candles with an empty snapshot
    silent_symbols: set[str] = field(default_factory=set)  # streamer symbols never answered

    def take(self, path: str) -> HttpFault | None:
        for fault in self.http:
            if path.startswith(fault.path) and fault.times > 0:
                fault.times -= 1
                return fault
        return None


def _d(value: float | int) -> str:
    return str(float(value))


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


class FakeTastytrade:
    """Serves one scenario to the real SDK, in process."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.faults = Faults()
        self.provider_secret = f"fake-provider-secret-{secrets.token_hex(8)}"
        self.refresh_token = f"fake-refresh-token-{secrets.token_hex(8)}"
        self.quote_token = f"fake-dxlink-token-{secrets.token_hex(8)}"
        self.access_tokens: list[str] = []  # every one issued, newest last
        self.requests: list[Request] = []
        self.subscriptions: list[dict[str, Any]] = []  # FEED_SUBSCRIPTION messages seen
        self.contracts: list[str] = []  # CHANNEL_REQUEST contracts seen
        self.websockets_opened = 0
        self._options: dict[str, OptionQuote] = {
            streamer_symbol(o.underlying, o.expiration, o.kind, o.strike): o
            for chain in scenario.chains.values()
            for o in chain.options
        }
        self._position_deltas = {
            streamer_symbol(p.underlying, p.expiration, p.option_kind, p.strike): p.delta
            for p in scenario.positions
            if p.instrument == "option" and p.expiration and p.option_kind and p.strike
        }
        self.app = Starlette(
            routes=[
                Route("/oauth/token", self._endpoint(self._token, auth=False), methods=["POST"]),
                Route("/customers/me/accounts", self._endpoint(self._accounts)),
                Route("/accounts/{account}/positions", self._endpoint(self._positions)),
                Route("/accounts/{account}/balances/{currency}", self._endpoint(self._balances)),
                Route("/market-data/by-type", self._endpoint(self._market_data)),
                Route("/market-metrics", self._endpoint(self._metrics)),
                Route("/option-chains/{symbol:path}/nested", self._endpoint(self._chain)),
                Route("/api-quote-tokens", self._endpoint(self._quote_token)),
                WebSocketRoute("/realtime", self._dxlink),
            ]
        )

    # -- wiring ------------------------------------------------------------------------

    def transport(self) -> SharedASGIWebSocketTransport:
        return SharedASGIWebSocketTransport(self.app)

    def broker(self, **kwargs: Any) -> TastytradeBroker:
        """The real adapter, talking to this fake in process (sandbox credentials)."""
        credentials = TastytradeCredentials(self.provider_secret, self.refresh_token, is_test=True)
        return TastytradeBroker(
            credentials, client_kwargs={"transport": self.transport()}, **kwargs
        )

    def secret_values(self) -> list[str]:
        """Every credential value the fake handed out or accepts."""
        return [self.provider_secret, self.refresh_token, self.quote_token, *self.access_tokens]

    # -- REST --------------------------------------------------------------------------

    def _endpoint(
        self, handler: Callable[[Request], Awaitable[Any]], auth: bool = True
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            self.requests.append(request)
            fault = self.faults.take(request.url.path)
            if fault is not None and fault.kind == "status":
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
                return _error(fault.status, "injected_fault", fault.message, headers)
            if fault is not None and fault.kind == "malformed":
                return Response('{"data": {"items": [{"symbol": ', media_type="application/json")
            if auth and request.headers.get("authorization") != f"Bearer {self._current_token()}":
                return _error(401, "token_invalid", "This token is invalid or has expired")
            result = await handler(request)
            if isinstance(result, Response):
                return result
            if fault is not None and fault.kind == "missing_field":
                for item in result.get("items", [result]):
                    item.pop(fault.field_name, None)
            return JSONResponse({"data": result, "context": request.url.path})

        return endpoint

    def _current_token(self) -> str | None:
        return self.access_tokens[-1] if self.access_tokens else None

    async def _token(self, request: Request) -> Any:
        body = await request.json()
        if (
            body.get("grant_type") != "refresh_token"
            or body.get("client_secret") != self.provider_secret
            or body.get("refresh_token") != self.refresh_token
        ):
            return _error(401, "invalid_grant", "Grant has been revoked")
        self.access_tokens.append("fake-access-token-" + secrets.token_hex(12))
        # The token endpoint answers plain OAuth JSON, without the data envelope.
        return JSONResponse(
            {"access_token": self.access_tokens[-1], "expires_in": 900, "token_type": "Bearer"}
        )

    async def _accounts(self, request: Request) -> Any:
        created = _iso(self.scenario.now - timedelta(days=900))
        return {
            "items": [
                {
                    "account": {
                        "account-number": a.account_number,
                        "opened-at": created,
                        "nickname": a.nickname,
                        "account-type-name": "Individual",
                        "is-closed": False,
                        "day-trader-status": False,
                        "is-firm-error": False,
                        "is-firm-proprietary": False,
                        "is-futures-approved": False,
                        "is-test-drive": a.is_paper,
                        "margin-or-cash": "Margin",
                        "is-foreign": False,
                        "created-at": created,
                        "investment-objective": "SPECULATION",
                        "suitable-options-level": "No Restrictions",
                    },
                    "authority-level": "owner",
                }
                for a in self.scenario.accounts
            ]
        }

    async def _positions(self, request: Request) -> Any:
        account = request.path_params["account"]
        return {
            "items": [
                _position(p, self.scenario.now)
                for p in self.scenario.positions
                if p.account == account
            ]
        }

    async def _balances(self, request: Request) -> Any:
        account = request.path_params["account"]
        found = [b for b in self.scenario.balances if b.account == account]
        if not found:
            return _error(404, "record_not_found", "Account not found")
        b = found[0]
        # Every numeric field the API sends; the ones this project reads are set below.
        data: dict[str, Any] = {
            f.alias: "0.0"
            for name, f in AccountBalance.model_fields.items()
            if f.is_required() and f.alias and name not in ("snapshot_date", "updated_at")
        }
        data.update(
            {
                "account-number": b.account,
                "cash-balance": _d(b.cash),
                "net-liquidating-value": _d(b.net_liquidating_value),
                "derivative-buying-power": _d(b.buying_power),
                "equity-buying-power": _d(b.buying_power * 2),
                "maintenance-requirement": _d(b.maintenance_requirement),
                "pending-cash-effect": "None",
                "snapshot-date": self.scenario.today.isoformat(),
                "updated-at": _iso(self.scenario.now),
                "currency": request.path_params["currency"],
            }
        )
        return data

    async def _market_data(self, request: Request) -> Any:
        wanted = {
            kind: [s for value in request.query_params.getlist(kind) for s in value.split(",")]
            for kind in ("equity", "index", "equity-option", "future", "cryptocurrency")
        }
        if sum(len(v) for v in wanted.values()) > MARKET_DATA_LIMIT:
            return _error(400, "too_many_symbols", f"at most {MARKET_DATA_LIMIT} symbols")
        by_tt = {tt_symbol(s): q for s, q in self.scenario.quotes.items()}
        items = []
        for symbol in wanted["equity"]:
            quote = by_tt.get(symbol)
            if quote is None:
                continue  # the API leaves unknown symbols out
            items.append(
                {
                    "symbol": symbol,
                    "instrument-type": "Equity",
                    "updated-at": _iso(quote.time),
                    "bid": _d(quote.bid),
                    "bid-size": "300.0",
                    "ask": _d(quote.ask),
                    "ask-size": "200.0",
                    "mid": _d(quote.mark),
                    "mark": _d(quote.mark),
                    "last": _d(quote.last),
                    "last-mkt": _d(quote.last),
                    "prev-close": _d(quote.prev_close),
                    "prev-close-date": (self.scenario.today - timedelta(days=1)).isoformat(),
                    "prev-close-price-type": "Regular",
                    "close-price-type": "Unknown",
                    "summary-date": self.scenario.today.isoformat(),
                    "halt-start-time": -1,
                    "halt-end-time": -1,
                    "trading-halted": False,
                    "volume": "1234567.0",
                }
            )
        return {"items": items}

    async def _metrics(self, request: Request) -> Any:
        wanted = request.query_params.get("symbols", "").split(",")
        by_tt = {tt_symbol(s): m for s, m in self.scenario.metrics.items()}
        items = []
        for symbol in wanted:
            m = by_tt.get(symbol)
            if m is None:
                continue
            rank = _d(m.iv_rank / 100)
            items.append(
                {
                    "symbol": symbol,
                    "implied-volatility-index": _d(m.implied_volatility),
                    "implied-volatility-index-5-day-change": "-0.0123",
                    # Ranks and the percentile are 0-1 fractions, the rank as a string.
                    "implied-volatility-index-rank": rank,
                    "tos-implied-volatility-index-rank": rank,
                    "tw-implied-volatility-index-rank": _d(min(m.iv_rank / 100 + 0.05, 1)),
                    "implied-volatility-index-rank-source": "tos",
                    "implied-volatility-percentile": _d(m.iv_percentile / 100),
                    # ... while the 30-day figures are percentages.
                    "implied-volatility-30-day": _d(m.implied_volatility * 100),
                    "historical-volatility-30-day": _d(m.implied_volatility * 90),
                    "liquidity-rating": m.liquidity_rating,
                    "liquidity-rank": "0.5",
                    "liquidity-value": "100000.0",
                    "beta": _d(m.beta),
                    "market-cap": "1500000000000.0",
                    "updated-at": _iso(self.scenario.now),
                    "earnings": (
                        {
                            "visible": True,
                            "estimated": True,
                            "late-flag": 0,
                            "expected-report-date": m.next_earnings.isoformat(),
                            "time-of-day": "AMC",
                        }
                        if m.next_earnings
                        else None
                    ),
                    "sector": "Technology",
                }
            )
        return {"items": items}

    async def _chain(self, request: Request) -> Any:
        symbol = request.path_params["symbol"]
        chains = {tt_symbol(s): c for s, c in self.scenario.chains.items()}
        chain = chains.get(symbol)
        if chain is None:
            return _error(404, "record_not_found", "Option chain not found")
        strikes: dict[Any, set[float]] = defaultdict(set)
        for o in chain.options:
            strikes[o.expiration].add(o.strike)
        und = chain.underlying
        expirations = [
            {
                "expiration-type": (
                    "Regular" if exp.weekday() == 4 and 15 <= exp.day <= 21 else "Weekly"
                ),
                "expiration-date": exp.isoformat(),
                "days-to-expiration": (exp - self.scenario.today).days,
                "settlement-type": "PM",
                "strikes": [
                    {
                        "strike-price": _d(k),
                        "call": occ_symbol(und, exp, "call", k),
                        "call-streamer-symbol": streamer_symbol(und, exp, "call", k),
                        "put": occ_symbol(und, exp, "put", k),
                        "put-streamer-symbol": streamer_symbol(und, exp, "put", k),
                    }
                    for k in sorted(strikes[exp])
                ],
            }
            for exp in sorted(strikes)
        ]
        common = {
            "underlying-symbol": symbol,
            "root-symbol": symbol,
            "shares-per-contract": 100,
            "tick-sizes": [{"value": "0.01", "threshold": "3.0"}, {"value": "0.05"}],
        }
        # A non-standard chain (adjusted deliverable) beside the standard one.
        adjusted = {**common, "root-symbol": symbol + "1", "option-chain-type": "Non-standard"}
        return {
            "items": [
                {**adjusted, "expirations": expirations[:1]},
                {**common, "option-chain-type": "Standard", "expirations": expirations},
            ]
        }

    async def _quote_token(self, request: Request) -> Any:
        return {
            "token": self.quote_token,
            "dxlink-url": DXLINK_URL,
            "level": "api",
            "issued-at": _iso(self.scenario.now),
            "expires-at": _iso(self.scenario.now + timedelta(hours=24)),
        }

    # -- DXLink ------------------------------------------------------------------------

    async def _dxlink(self, ws: WebSocket) -> None:
        await ws.accept()
        self.websockets_opened += 1
        fields: dict[int, dict[str, list[str]]] = {}
        contracts: dict[int, str] = {}
        authorized = False
        try:
            while True:
                message = await ws.receive_json()
                kind, channel = message.get("type"), message.get("channel", 0)
                if kind == "SETUP":
                    await ws.send_json(
                        {
                            "type": "SETUP",
                            "channel": 0,
                            "keepaliveTimeout": 60,
                            "acceptKeepaliveTimeout": 60,
                            "version": "1.0-fake",
                        }
                    )
                    await ws.send_json(
                        {"type": "AUTH_STATE", "channel": 0, "state": "UNAUTHORIZED"}
                    )
                elif kind == "AUTH":
                    if message.get("token") != self.quote_token:
                        await ws.send_json(
                            {
                                "type": "ERROR",
                                "channel": 0,
                                "error": "UNAUTHORIZED",
                                "message": "bad token",
                            }
                        )
                        continue
                    authorized = True
                    await ws.send_json(
                        {
                            "type": "AUTH_STATE",
                            "channel": 0,
                            "state": "AUTHORIZED",
                            "userId": "fake",
                        }
                    )
                elif kind == "KEEPALIVE":
                    await ws.send_json({"type": "KEEPALIVE", "channel": 0})
                elif not authorized:
                    await ws.send_json(
                        {
                            "type": "ERROR",
                            "channel": channel,
                            "error": "UNAUTHORIZED",
                            "message": "auth first",
                        }
                    )
                elif kind == "CHANNEL_REQUEST":
                    contract = message["parameters"]["contract"]
                    contracts[channel] = contract
                    self.contracts.append(contract)
                    await ws.send_json(
                        {
                            "type": "CHANNEL_OPENED",
                            "channel": channel,
                            "service": "FEED",
                            "parameters": {"contract": contract},
                        }
                    )
                elif kind == "FEED_SETUP":
                    fields[channel] = message["acceptEventFields"]
                    await ws.send_json(
                        {
                            "type": "FEED_CONFIG",
                            "channel": channel,
                            "aggregationPeriod": message.get("acceptAggregationPeriod", 0.1),
                            "dataFormat": "COMPACT",
                            "eventFields": message["acceptEventFields"],
                        }
                    )
                elif kind == "FEED_SUBSCRIPTION":
                    self.subscriptions.append(message)
                    if self.faults.drop_websocket:
                        await ws.close(code=1011, reason="upstream feed lost")
                        return
                    for event_type, events in self._events(message, contracts[channel]).items():
                        order = fields[channel][event_type]
                        # Batched like the real feed: the SDK's websocket refuses
                        # messages over 64 KiB.
                        for start in range(0, len(events), EVENTS_PER_MESSAGE):
                            batch = events[start : start + EVENTS_PER_MESSAGE]
                            flat = [e.get(name, NAN) for e in batch for name in order]
                            await ws.send_json(
                                {
                                    "type": "FEED_DATA",
                                    "channel": channel,
                                    "data": [event_type, flat],
                                }
                            )
                elif kind == "CHANNEL_CANCEL":
                    await ws.send_json({"type": "CHANNEL_CLOSED", "channel": channel})
        except WebSocketDisconnect:
            return

    def _events(self, message: dict[str, Any], contract: str) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for entry in message.get("add", []):
            symbol, event_type = entry["symbol"], entry["type"]
            if symbol in self.faults.silent_symbols:
                continue
            if event_type == "Candle":
                out["Candle"] += self._candle_events(symbol, entry.get("fromTime", 0), contract)
                continue
            option = self._options.get(symbol)
            if option is not None:
                out[event_type] += self._option_events(symbol, option, event_type)
            elif symbol in self._position_deltas and event_type == "Greeks":
                out["Greeks"].append(
                    _greeks(symbol, self._position_deltas[symbol], 0.0, 0.0, 0.0, 0.0, 0.0)
                )
        return out

    def _option_events(self, symbol: str, o: OptionQuote, event_type: str) -> list[dict[str, Any]]:
        if event_type == "Quote":
            return [
                {
                    "eventSymbol": symbol,
                    "eventTime": 0,
                    "sequence": 0,
                    "timeNanoPart": 0,
                    "bidTime": 0,
                    "bidExchangeCode": "C",
                    "askTime": 0,
                    "askExchangeCode": "C",
                    "bidPrice": o.bid,
                    "askPrice": o.ask,
                    "bidSize": 12,
                    "askSize": 15,
                }
            ]
        if event_type == "Greeks":
            return [_greeks(symbol, o.delta, o.mid, o.implied_volatility, o.gamma, o.theta, o.vega)]
        if event_type == "Summary":
            day_id = (self.scenario.today - datetime(1970, 1, 1).date()).days
            return [
                {
                    "eventSymbol": symbol,
                    "eventTime": 0,
                    "dayId": day_id,
                    "dayOpenPrice": NAN,
                    "dayHighPrice": NAN,
                    "dayLowPrice": NAN,
                    "dayClosePrice": NAN,
                    "dayClosePriceType": "REGULAR",
                    "prevDayId": day_id - 1,
                    "prevDayClosePrice": o.mid,
                    "prevDayClosePriceType": "FINAL",
                    "prevDayVolume": o.volume,
                    "openInterest": o.open_interest,
                }
            ]
        return []

    def _candle_events(self, symbol: str, from_time: int, contract: str) -> list[dict[str, Any]]:
        base = symbol.split("{", 1)[0]
        by_tt = {tt_symbol(s): c for s, c in self.scenario.candles.items()}
        candles = [c for c in by_tt.get(base, []) if day_start_ms(c.day) >= from_time]
        if not candles or (self.faults.empty_candle_snapshot and contract == "AUTO"):
            # dxFeed's explicit empty snapshot (upstream issue 353).
            return [
                {
                    "eventSymbol": symbol,
                    "eventTime": 0,
                    "eventFlags": SNAPSHOT_BEGIN | SNAPSHOT_END | REMOVE_EVENT,
                    "index": 0,
                    "time": 0,
                    "sequence": 0,
                    "count": 0,
                }
            ]
        events = []
        newest_first = sorted(candles, key=lambda c: c.day, reverse=True)
        for i, c in enumerate(newest_first):
            flags = (SNAPSHOT_BEGIN if i == 0 else 0) | (
                SNAPSHOT_END if i == len(newest_first) - 1 else 0
            )
            ms = day_start_ms(c.day)
            events.append(
                {
                    "eventSymbol": symbol,
                    "eventTime": 0,
                    "eventFlags": flags,
                    "index": (ms // 1000) << 32,
                    "time": ms,
                    "sequence": 0,
                    "count": 1000,
                    "open": c.open,
                    "high": c.high,
                    "low": c.low,
                    "close": c.close,
                    "volume": c.volume,
                    "vwap": (c.high + c.low + c.close) / 3,
                    "impVolatility": NAN,
                    "openInterest": NAN,
                }
            )
        return events


def _greeks(
    symbol: str, delta: float, price: float, iv: float, gamma: float, theta: float, vega: float
) -> dict[str, Any]:
    return {
        "eventSymbol": symbol,
        "eventTime": 0,
        "eventFlags": 0,
        "index": 1,
        "time": 0,
        "sequence": 0,
        "price": price,
        "volatility": iv,
        "delta": delta,
        "gamma": gamma,
        "theta": theta,
        "rho": 0.0,
        "vega": vega,
    }


def _position(p: Position, now: datetime) -> dict[str, Any]:
    symbol = p.symbol
    if p.instrument == "option" and p.expiration and p.option_kind and p.strike:
        symbol = occ_symbol(p.underlying, p.expiration, p.option_kind, p.strike)
    return {
        "account-number": p.account,
        "symbol": symbol,
        "instrument-type": "Equity Option" if p.instrument == "option" else "Equity",
        "underlying-symbol": tt_symbol(p.underlying),
        "quantity": _d(abs(p.quantity)),
        "quantity-direction": "Short" if p.quantity < 0 else "Long",
        "close-price": _d(p.prev_close),
        "average-open-price": _d(p.average_open_price),
        "average-yearly-market-close-price": _d(p.average_open_price),
        "average-daily-market-close-price": _d(p.prev_close),
        "mark": _d(p.mark),
        "mark-price": _d(p.mark),
        "multiplier": p.multiplier,
        "cost-effect": "Credit" if p.quantity < 0 else "Debit",
        "is-suppressed": False,
        "is-frozen": False,
        "restricted-quantity": "0.0",
        "realized-day-gain": "0.0",
        "realized-day-gain-effect": "None",
        "realized-day-gain-date": now.date().isoformat(),
        "realized-today": "0.0",
        "realized-today-effect": "None",
        "realized-today-date": now.date().isoformat(),
        "created-at": _iso(now - timedelta(days=10)),
        "updated-at": _iso(now),
    }


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)
