"""The portfolio view from positions and balances (pure: the activity reads them).

Per position: market value, unrealised P&L against the average open price,
day P&L against the previous close (the same rule as the end-of-day summary,
without today's fills: `ttai.domain.analytics.pnl`), days to expiry from the
New York date, and the share-equivalent delta. Account numbers are masked.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime

from ttai.domain.analytics.pnl import day_pnl_lines
from ttai.domain.market_calendar import days_to_expiry, new_york_date
from ttai.domain.reports.content import contract_label
from ttai.models.market import Balances, Position
from ttai.models.portfolio import (
    AccountBalance,
    PortfolioPosition,
    PortfolioSource,
    PortfolioView,
)


def mask_account(number: str) -> str:
    """5WT00012 -> 5WT•••12: enough to recognise an account, not to use it."""
    if len(number) <= 5:
        return "•••" + number[-2:]
    return f"{number[:3]}•••{number[-2:]}"


def _position(p: Position, day_pnl: float | None, today: date) -> PortfolioPosition:
    size = p.quantity * p.multiplier
    return PortfolioPosition(
        symbol=p.symbol,
        label=contract_label(p),
        underlying=p.underlying,
        instrument=p.instrument,
        quantity=p.quantity,
        multiplier=p.multiplier,
        average_open_price=p.average_open_price,
        mark=p.mark,
        prev_close=p.prev_close,
        option_kind=p.option_kind,
        strike=p.strike,
        expiration=p.expiration,
        days_to_expiry=days_to_expiry(p.expiration, today) if p.expiration else None,
        delta=p.delta,
        position_delta=None if p.delta is None else round(p.delta * size, 4),
        market_value=round(p.mark * size, 2),
        unrealized_pnl=round((p.mark - p.average_open_price) * size, 2),
        day_pnl=day_pnl,
    )


def portfolio_view(
    positions: Sequence[Position],
    balances: Sequence[Balances],
    *,
    source: PortfolioSource,
    as_of: datetime | None,
    now: datetime,
) -> PortfolioView:
    today = new_york_date(now)
    day = {line.symbol: line.day_pnl for line in day_pnl_lines(positions)}
    rows = [
        _position(p, day.get(p.symbol), today)
        for p in sorted(positions, key=lambda p: (p.underlying, p.expiration or today, p.symbol))
    ]
    return PortfolioView(
        source=source,
        as_of=as_of,
        today=today,
        positions=rows,
        accounts=[
            AccountBalance(
                account=mask_account(b.account),
                cash=b.cash,
                net_liquidating_value=b.net_liquidating_value,
                buying_power=b.buying_power,
                maintenance_requirement=b.maintenance_requirement,
            )
            for b in balances
        ],
        net_liquidating_value=round(math.fsum(b.net_liquidating_value for b in balances), 2),
        buying_power=round(math.fsum(b.buying_power for b in balances), 2),
        cash=round(math.fsum(b.cash for b in balances), 2),
        unrealized_pnl=round(math.fsum(r.unrealized_pnl for r in rows), 2),
        day_pnl=round(math.fsum(r.day_pnl for r in rows if r.day_pnl is not None), 2),
    )
