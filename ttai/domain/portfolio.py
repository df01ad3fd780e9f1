"""The portfolio view from positions, balances and today's trades (pure: the activity reads them).

Per position: market value, unrealised P&L against the average open price,
day P&L since the previous close with today's fills and settlements (the
end-of-day summary's rule, `ttai.domain.analytics.pnl`: a position opened today
is measured from its fill, one closed today keeps a line with its realised day
P&L, an option that expired or was assigned or exercised says so), days to
expiry from the New York date, and the share-equivalent delta. Account numbers
are masked.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime

from ttai.domain.analytics.pnl import DayPnlLine, DayTrades, day_pnl_lines, settlement_fills
from ttai.domain.market_calendar import days_to_expiry, new_york_date
from ttai.domain.reports.content import contract_label, occ_contract
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


def _position(
    p: Position, line: DayPnlLine | None, today: date, day_known: bool
) -> PortfolioPosition:
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
        day_pnl=line.day_pnl if line is not None and day_known else None,
        traded_today=line.traded if line is not None else 0.0,
    )


def _closed(line: DayPnlLine, multiplier: int, today: date) -> PortfolioPosition:
    """A line for an instrument traded today and no longer held."""
    c = occ_contract(line.symbol, line.underlying) if line.instrument == "option" else None
    return PortfolioPosition(
        symbol=line.symbol,
        label=contract_label(c) if c is not None else line.underlying,
        underlying=line.underlying,
        instrument=line.instrument,
        quantity=0.0,
        multiplier=multiplier,
        average_open_price=0.0,
        mark=line.mark,
        prev_close=line.prev_close,
        option_kind=c.option_kind if c is not None else None,
        strike=c.strike if c is not None else None,
        expiration=c.expiration if c is not None else None,
        days_to_expiry=(
            days_to_expiry(c.expiration, today) if c is not None and c.expiration else None
        ),
        market_value=0.0,
        unrealized_pnl=0.0,
        day_pnl=line.day_pnl,
        traded_today=line.traded,
        closed_today=True,
        settled=line.settled,
    )


def portfolio_view(
    positions: Sequence[Position],
    balances: Sequence[Balances],
    *,
    source: PortfolioSource,
    as_of: datetime | None,
    now: datetime,
    trades: DayTrades | None,
) -> PortfolioView:
    """`trades`: today's fills and the previous closes of instruments no longer
    held; None when they could not be read, which makes every day P&L unknown
    (a position's day P&L without its trades would be wrong, not approximate)."""
    today = new_york_date(now)
    known = trades is not None
    fills = trades.fills if trades else []
    events = trades.session_events() if trades else []
    closes = trades.previous_closes if trades else None
    # Per account: the same instrument held in two accounts is two positions.
    accounts = {p.account for p in positions} | {f.account for f in fills}
    lines = {
        (account, line.symbol): line
        for account in sorted(accounts | {e.account for e in events})
        for line in day_pnl_lines(
            [p for p in positions if p.account == account],
            [f for f in fills if f.account == account],
            closes,
            [e for e in events if e.account == account],
        )
    }
    held = {(p.account, p.symbol) for p in positions}
    multipliers = {(f.account, f.symbol): f.multiplier for f in fills} | {
        (f.account, f.symbol): f.multiplier for e in events for f in settlement_fills(e)
    }
    rows = [_position(p, lines.get((p.account, p.symbol)), today, known) for p in positions] + [
        _closed(line, multipliers[key], today) for key, line in lines.items() if key not in held
    ]
    rows.sort(key=lambda r: (r.underlying, r.expiration or today, r.symbol))
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
        day_pnl_since=trades.since if trades else None,
        day_pnl_known=known,
    )
