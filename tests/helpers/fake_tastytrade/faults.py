"""Faults a test switches on through `FakeTastytrade.faults`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any


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
    # Daily candle fields sent as given for a day, e.g. {"high": "NaN"}: values the
    # models cannot hold (dxFeed writes NaN as the string "NaN"; floats nan/inf go
    # out as the JSON literals NaN/Infinity).
    candle_overrides: dict[date, dict[str, Any]] = field(default_factory=dict)
    # Raw items appended to a list response, by exact path (a malformed record).
    extra_items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # /market-metrics fields sent as given for a (tastytrade) symbol.
    metrics_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)

    def take(self, path: str) -> HttpFault | None:
        for fault in self.http:
            if path.startswith(fault.path) and fault.times > 0:
                fault.times -= 1
                return fault
        return None
