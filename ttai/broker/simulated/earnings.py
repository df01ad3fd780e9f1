"""When a simulated company reports: quarterly, from a per-symbol offset, never for ETFs.

Report days repeat every EARNINGS_CYCLE_DAYS from EARNINGS_ANCHOR plus the
symbol's `earnings_offset` (universe.py), each moved to the next session when
it falls on a weekend or holiday. Option values price a move on each report
before expiry (options.value_contracts), so the chain and a single contract's
value count them the same way, and the price path makes that move on the day
(prices.earnings_jumps): selling premium through a report is a real risk.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np

from ttai.broker.simulated.prices import session_table
from ttai.broker.simulated.universe import SymbolParams

EARNINGS_ANCHOR = date(2019, 1, 14)
EARNINGS_CYCLE_DAYS = 91


def earnings_dates(params: SymbolParams, start: date, end: date) -> list[date]:
    """Quarterly report days in [start, end] (moved to the next session); none for ETFs."""
    if params.earnings_offset is None:
        return []
    table = session_table(datetime.combine(end, datetime.min.time(), UTC).timestamp())
    first = EARNINGS_ANCHOR + timedelta(days=params.earnings_offset)
    k = max(0, (start - first).days // EARNINGS_CYCLE_DAYS - 1)
    found: list[date] = []
    while True:
        nominal = first + timedelta(days=k * EARNINGS_CYCLE_DAYS)
        i = int(np.searchsorted(table.days, np.datetime64(nominal), side="left"))
        if i >= len(table.days):
            break
        day = table.day(i)
        if day > end:
            break
        if day >= start:
            found.append(day)
        k += 1
    return found


def next_earnings(params: SymbolParams, today: date) -> date | None:
    upcoming = earnings_dates(params, today, today + timedelta(days=EARNINGS_CYCLE_DAYS))
    return upcoming[0] if upcoming else None


def earnings_before(params: SymbolParams, today: date, expirations: list[date]) -> np.ndarray:
    """How many reports fall from `today` through each expiration."""
    reports = earnings_dates(params, today, max(expirations)) if expirations else []
    return np.array([sum(1 for d in reports if d <= e) for e in expirations], dtype=np.float64)
