"""Daily candle events to the project's `Candle`s, bad prices repaired or dropped.

The repair rule (one candle at a time, no neighbours consulted):
- a price that is missing, non-finite or not positive is unknown (the SDK
  already turns dxFeed's "NaN" into 0);
- no usable close: the candle is dropped, there is nothing to repair from;
- unknown open: the close (a flat open);
- unknown high or low: the larger or smaller of open and close;
- high below low: the two are swapped;
- high and low are then widened to take in the open and the close;
- an unknown or negative volume is 0.

So every candle that leaves here has 0 < low <= open, close <= high, and an
indicator fed with it (ATR, swing lows) stays finite.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from tastytrade.dxfeed import Candle as DXCandle

from ttai.models.market import Candle

NEW_YORK = ZoneInfo("America/New_York")


def candle_day(time_ms: int) -> date:
    """The session day of a daily candle stamped `time_ms`.

    Depending on the feed, a day's candle is stamped with midnight UTC, midnight
    New York or the session's open; twelve hours later is the same New York
    day for all three.
    """
    return datetime.fromtimestamp(time_ms / 1000 + 12 * 3600, NEW_YORK).date()


def _price(value: Decimal | float | None) -> float | None:
    """A usable price, or None when missing, non-finite or not positive."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) and number > 0 else None


@dataclass
class Candles:
    """Candles, oldest first, with the session days repaired and dropped."""

    candles: list[Candle] = field(default_factory=list)
    repaired: list[date] = field(default_factory=list)
    dropped: list[date] = field(default_factory=list)


def repair(event: DXCandle) -> tuple[Candle | None, bool]:
    """The event as a candle (None when it has no usable close) and whether
    any value had to be repaired."""
    day = candle_day(event.time)
    close = _price(event.close)
    if close is None:
        return None, True
    open_ = _price(event.open)
    high, low = _price(event.high), _price(event.low)
    volume = float(event.volume) if event.volume is not None else math.nan
    repaired = open_ is None or high is None or low is None
    open_ = close if open_ is None else open_
    high = max(open_, close) if high is None else high
    low = min(open_, close) if low is None else low
    if high < low:
        high, low, repaired = low, high, True
    if high < max(open_, close) or low > min(open_, close):
        high, low, repaired = max(high, open_, close), min(low, open_, close), True
    if not (math.isfinite(volume) and volume >= 0):
        volume, repaired = 0.0, repaired or event.volume is not None
    return Candle(
        day=day, open=open_, high=high, low=low, close=close, volume=int(volume)
    ), repaired


def to_candles(events: Iterable[DXCandle]) -> Candles:
    """One candle per session day (the last event for a day wins), oldest first."""
    by_day: dict[date, tuple[Candle | None, bool]] = {}
    for event in events:
        by_day[candle_day(event.time)] = repair(event)
    result = Candles()
    for day in sorted(by_day):
        candle, repaired = by_day[day]
        if candle is None:
            result.dropped.append(day)
            continue
        result.candles.append(candle)
        if repaired:
            result.repaired.append(day)
    return result
