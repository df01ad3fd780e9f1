"""Profit and loss derived from positions (tastytrade balances carry no day P&L)."""

from __future__ import annotations

from collections.abc import Iterable

from ttai.models.market import Position


def day_pnl(positions: Iterable[Position]) -> float:
    """Today's P&L: (mark - previous close) x signed quantity x multiplier, summed.

    A position without a previous close (opened today, or the broker sent none)
    contributes nothing rather than its whole value.
    """
    total = 0.0
    for p in positions:
        if p.prev_close > 0:
            total += (p.mark - p.prev_close) * p.quantity * p.multiplier
    return round(total, 2)
