"""The DXLink websocket, as the SDK's `DXLinkStreamer` speaks it.

SETUP, AUTH_STATE / AUTH, CHANNEL_REQUEST / CHANNEL_OPENED, FEED_SETUP /
FEED_CONFIG, FEED_SUBSCRIPTION (adds answered with COMPACT `FEED_DATA`, values in
the order the client asked for in `acceptEventFields`; removes), KEEPALIVE and
CHANNEL_CANCEL. A stock's `Quote` and `Trade` are answered with a snapshot of the
scenario's quote, and `push` sends a new one to every connection subscribed to it,
as the live feed does.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.helpers.fake_tastytrade.faults import Faults
from tests.helpers.fake_tastytrade.scenario import (
    Scenario,
    day_start_ms,
    streamer_symbol,
    tt_symbol,
)
from ttai.models.market import OptionQuote

URL = "wss://tasty-openapi-ws.dxfeed.fake/realtime"
EVENTS_PER_MESSAGE = 100
SNAPSHOT_BEGIN, SNAPSHOT_END, REMOVE_EVENT = 0x4, 0x8, 0x2
NAN = "NaN"


@dataclass
class _Connection:
    """One open websocket: its channels' field orders and what it subscribed."""

    ws: WebSocket
    fields: dict[int, dict[str, list[str]]] = field(default_factory=dict)
    channels: dict[str, int] = field(default_factory=dict)  # event type -> channel
    subscribed: set[tuple[str, str]] = field(default_factory=set)  # (symbol, event type)
    sending: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, message: dict[str, Any]) -> None:
        async with self.sending:
            await self.ws.send_json(message)

    async def send_events(
        self, channel: int, event_type: str, events: list[dict[str, Any]]
    ) -> None:
        order = self.fields[channel][event_type]
        # Batched like the real feed: the SDK's websocket refuses messages over 64 KiB.
        for start in range(0, len(events), EVENTS_PER_MESSAGE):
            batch = events[start : start + EVENTS_PER_MESSAGE]
            flat = [e.get(name, NAN) for e in batch for name in order]
            await self.send({"type": "FEED_DATA", "channel": channel, "data": [event_type, flat]})


class DXLink:
    """Serves the scenario's option events, position greeks, daily candles and stock quotes."""

    def __init__(self, scenario: Scenario, faults: Faults, token: str) -> None:
        self.scenario = scenario
        self.faults = faults
        self.token = token
        self.subscriptions: list[dict[str, Any]] = []  # FEED_SUBSCRIPTION messages seen
        self.contracts: list[str] = []  # CHANNEL_REQUEST contracts seen
        self.websockets_opened = 0
        self.open_connections: list[_Connection] = []
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

    async def serve(self, ws: WebSocket) -> None:
        await ws.accept()
        self.websockets_opened += 1
        conn = _Connection(ws)
        self.open_connections.append(conn)
        contracts: dict[int, str] = {}
        authorized = False
        try:
            while True:
                message = await ws.receive_json()
                kind, channel = message.get("type"), message.get("channel", 0)
                if kind == "SETUP":
                    await conn.send(
                        {
                            "type": "SETUP",
                            "channel": 0,
                            "keepaliveTimeout": 60,
                            "acceptKeepaliveTimeout": 60,
                            "version": "1.0-fake",
                        }
                    )
                    await conn.send({"type": "AUTH_STATE", "channel": 0, "state": "UNAUTHORIZED"})
                elif kind == "AUTH":
                    if message.get("token") != self.token:
                        await conn.send(_error(0, "bad token"))
                        continue
                    authorized = True
                    await conn.send(
                        {
                            "type": "AUTH_STATE",
                            "channel": 0,
                            "state": "AUTHORIZED",
                            "userId": "fake",
                        }
                    )
                elif kind == "KEEPALIVE":
                    await conn.send({"type": "KEEPALIVE", "channel": 0})
                elif not authorized:
                    await conn.send(_error(channel, "auth first"))
                elif kind == "CHANNEL_REQUEST":
                    contract = message["parameters"]["contract"]
                    contracts[channel] = contract
                    self.contracts.append(contract)
                    await conn.send(
                        {
                            "type": "CHANNEL_OPENED",
                            "channel": channel,
                            "service": "FEED",
                            "parameters": {"contract": contract},
                        }
                    )
                elif kind == "FEED_SETUP":
                    conn.fields[channel] = message["acceptEventFields"]
                    for event_type in message["acceptEventFields"]:
                        conn.channels[event_type] = channel
                    await conn.send(
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
                    for entry in message.get("remove", []):
                        conn.subscribed.discard((entry["symbol"], entry["type"]))
                    for entry in message.get("add", []):
                        conn.subscribed.add((entry["symbol"], entry["type"]))
                    for event_type, events in self._events(message, contracts[channel]).items():
                        await conn.send_events(channel, event_type, events)
                elif kind == "CHANNEL_CANCEL":
                    await conn.send({"type": "CHANNEL_CLOSED", "channel": channel})
        except WebSocketDisconnect:
            return
        finally:
            self.open_connections.remove(conn)

    async def push(self, symbol: str, *, bid: float, ask: float, last: float) -> int:
        """A new quote and trade of the stock `symbol` (project spelling): the
        scenario's quote changes, and every connection subscribed to it hears of it.
        Returns how many events it sent (a quote and a trade per connection)."""
        quote = self.scenario.quotes[symbol]
        self.scenario.quotes[symbol] = quote.model_copy(
            update={"bid": bid, "ask": ask, "last": last}
        )
        streamer = tt_symbol(symbol)
        sent = 0
        for conn in list(self.open_connections):
            for event_type, events in self._stock_events(streamer, symbol).items():
                if (streamer, event_type) in conn.subscribed and event_type in conn.channels:
                    await conn.send_events(conn.channels[event_type], event_type, events)
                    sent += 1
        return sent

    def subscribed(self, symbol: str) -> bool:
        """Whether any open connection streams the stock `symbol` (project spelling)."""
        return any((tt_symbol(symbol), "Quote") in c.subscribed for c in self.open_connections)

    def _events(self, message: dict[str, Any], contract: str) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for entry in message.get("add", []):
            symbol, event_type = entry["symbol"], entry["type"]
            if symbol in self.faults.silent_symbols:
                continue
            if event_type == "Candle":
                out["Candle"] += self._candle_events(symbol, entry.get("fromTime", 0), contract)
                continue
            stock = self._stocks().get(symbol)
            if stock is not None and event_type in ("Quote", "Trade"):
                out[event_type] += self._stock_events(symbol, stock)[event_type]
                continue
            option = self._options.get(symbol)
            if option is not None:
                out[event_type] += self._option_events(symbol, option, event_type)
            elif symbol in self._position_deltas and event_type == "Greeks":
                out["Greeks"].append(
                    _greeks(symbol, self._position_deltas[symbol], 0.0, 0.0, 0.0, 0.0, 0.0)
                )
        return out

    def _stocks(self) -> dict[str, str]:
        """Stock streamer symbols (BRK/B) -> the scenario's symbols (BRK.B)."""
        return {tt_symbol(s): s for s in self.scenario.quotes}

    def _stock_events(self, streamer: str, symbol: str) -> dict[str, list[dict[str, Any]]]:
        q = self.scenario.quotes[symbol]
        day_id = (self.scenario.today - date(1970, 1, 1)).days
        quote = {
            "eventSymbol": streamer,
            "eventTime": 0,
            "sequence": 0,
            "timeNanoPart": 0,
            "bidTime": 0,
            "bidExchangeCode": "Q",
            "askTime": 0,
            "askExchangeCode": "Q",
            "bidPrice": q.bid,
            "askPrice": q.ask,
            "bidSize": 300,
            "askSize": 200,
        }
        trade = {
            "eventSymbol": streamer,
            "eventTime": 0,
            "time": 0,
            "timeNanoPart": 0,
            "sequence": 0,
            "exchangeCode": "Q",
            "dayId": day_id,
            "tickDirection": "UNDEFINED",
            "extendedTradingHours": False,
            "price": q.last,
            "size": 100,
        }
        return {"Quote": [quote], "Trade": [trade]}

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
            day_id = (self.scenario.today - date(1970, 1, 1)).days
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
                    **self.faults.candle_overrides.get(c.day, {}),
                }
            )
        return events


def _error(channel: int, message: str) -> dict[str, Any]:
    return {"type": "ERROR", "channel": channel, "error": "UNAUTHORIZED", "message": message}


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
