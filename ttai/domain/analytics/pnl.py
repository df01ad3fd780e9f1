"""Day P&L: what each instrument made since the previous session's close, trades included.

tastytrade balances carry no day P&L, so it is derived. For one instrument
(broker symbol) with multiplier m, with today's fills (executions since the
previous close):

    held overnight = held now - net quantity traded today
    day P&L = (held now x mark - held overnight x previous close) x m
              - sum of today's fills (quantity x price) x m

That is the change in the position's value plus the cash its trades moved, so
the day P&L of all instruments adds up to the change in net liquidating value
(when no cash was deposited or withdrawn). It follows that

- a position held overnight and untouched makes (mark - previous close) x size;
- a position opened today is measured from its fill (a short put sold at 4.00
  and marked 3.125 made +87.50), whatever the contract's previous close;
- a position closed today contributes its realised day P&L, (closing price -
  previous close) x size, and a round trip opened and closed today its whole
  realised P&L.

The previous close is the broker's (`Position.prev_close`) for a position still
held, else the caller's `previous_closes` (for instruments no longer held, or a
broker that sent none). When a quantity was held overnight and no previous
close is known, the instrument's day P&L is unknown (None), not zero, and the
total leaves it out.

Expirations, assignments and exercises are not fills, but they move positions
and cash like trades (`settlement_fills`): the option leaves at what it was
worth at the settlement (0 when it expired; its intrinsic value against the
settlement price when shares moved) and the shares move at the settlement
price. The cash is the event's (shares x strike), so the day P&L of the
session they settle in still adds up to the NLV change: an assigned MSFT 600
put, held at 77.50 overnight and settled against a 521.92 close, makes
(77.50 - 78.08) x -100 = -58.00 on the put line and 0 on the +100 MSFT it
brought. Without a settlement price (tastytrade does not send one) the option
leaves at 0 and the shares move at the strike: the same total.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from ttai.models.market import Fill, OptionEvent, OptionEventKind, Position

_FLAT = 1e-9  # quantities closer to zero than this are flat (float sums of fills)


@dataclass(frozen=True)
class DayTrades:
    """Today's trades as read from the broker: the fills executed since `since`
    (`market_calendar.day_pnl_since`), the option events recorded since then
    (those of session `day` count; None: all of them) and the previous closes of
    the instruments traded or settled and no longer held (which positions do not
    carry)."""

    since: datetime
    fills: list[Fill] = field(default_factory=list)
    previous_closes: dict[str, float] = field(default_factory=dict)
    events: list[OptionEvent] = field(default_factory=list)
    day: date | None = None

    def session_events(self) -> list[OptionEvent]:
        """The events of session `day`: a settlement belongs to the session it
        settled in, even when the broker records it after that session's close."""
        return [e for e in self.events if self.day is None or e.day == self.day]


def settlement_fills(event: OptionEvent) -> list[Fill]:
    """An expiration, assignment or exercise as the trades it amounts to (see
    the module docstring): the option leaving, and the shares moving."""
    settle = event.settlement_price
    option_price = 0.0
    stock_price = event.price
    if event.shares and settle is not None:
        option_price = (
            event.strike - settle if event.option_kind == "put" else settle - event.strike
        )
        stock_price = settle
    common = {"account": event.account, "underlying": event.underlying}
    fills = [
        Fill(
            symbol=event.symbol,
            instrument="option",
            quantity=-event.quantity,
            price=round(option_price, 6),
            multiplier=event.multiplier,
            executed_at=event.occurred_at,
            **common,
        )
    ]
    if event.shares:
        fills.append(
            Fill(
                symbol=event.underlying,
                instrument="equity",
                quantity=event.shares,
                price=stock_price,
                executed_at=event.occurred_at,
                **common,
            )
        )
    return fills


@dataclass(frozen=True)
class DayPnlLine:
    symbol: str
    underlying: str
    instrument: Literal["equity", "option"]
    quantity: float  # held now; 0 when closed today
    traded: float  # net quantity bought (+) or sold (-) today
    bought: float  # quantity bought today (>= 0)
    sold: float  # quantity sold today (>= 0)
    mark: float  # now; for a position closed today, its last fill price
    prev_close: float  # the reference of the quantity held overnight; 0 when none or unused
    day_pnl: float | None
    settled: OptionEventKind | None = None  # an option that expired, was assigned or exercised


def _line(
    symbol: str,
    position: Position | None,
    fills: list[Fill],
    previous_closes: Mapping[str, float],
    settled: OptionEventKind | None = None,
) -> DayPnlLine:
    first = position or fills[0]
    multiplier = first.multiplier
    held = position.quantity if position else 0.0
    traded = math.fsum(f.quantity for f in fills)
    overnight = held - traded
    if abs(overnight) < _FLAT:
        overnight = 0.0
    broker_close = position.prev_close if position else 0.0
    reference = broker_close if broker_close > 0 else previous_closes.get(symbol, 0.0)
    mark = position.mark if position else (fills[-1].price if fills else 0.0)
    pnl: float | None
    if overnight and reference <= 0:
        pnl = None
    else:
        cash_spent = math.fsum(f.quantity * f.price for f in fills)
        pnl = round((held * mark - overnight * reference - cash_spent) * multiplier, 2)
    return DayPnlLine(
        symbol=symbol,
        underlying=first.underlying,
        instrument=first.instrument,
        quantity=held,
        traded=round(traded, 9),
        bought=round(math.fsum(f.quantity for f in fills if f.quantity > 0), 9),
        sold=round(-math.fsum(f.quantity for f in fills if f.quantity < 0), 9),
        mark=mark,
        prev_close=reference if overnight else 0.0,
        day_pnl=pnl,
        settled=settled,
    )


def day_pnl_lines(
    positions: Iterable[Position],
    fills: Iterable[Fill] = (),
    previous_closes: Mapping[str, float] | None = None,
    events: Iterable[OptionEvent] = (),
) -> list[DayPnlLine]:
    """One line per instrument held now, traded or settled today, by symbol.

    `fills` must be today's only (executed since the previous session's close),
    `events` the settlements of today's session.
    """
    events = list(events)
    held = {p.symbol: p for p in positions}
    traded: dict[str, list[Fill]] = {}
    everything = [*fills, *(f for e in events for f in settlement_fills(e))]
    for f in sorted(everything, key=lambda f: f.executed_at):
        traded.setdefault(f.symbol, []).append(f)
    closes = previous_closes or {}
    settled = {e.symbol: e.kind for e in events}
    return [
        _line(symbol, held.get(symbol), traded.get(symbol, []), closes, settled.get(symbol))
        for symbol in sorted(held.keys() | traded.keys())
    ]


def total_day_pnl(lines: Iterable[DayPnlLine]) -> float:
    """The sum of the known lines."""
    return round(math.fsum(line.day_pnl for line in lines if line.day_pnl is not None), 2)


def day_pnl(
    positions: Iterable[Position],
    fills: Iterable[Fill] = (),
    previous_closes: Mapping[str, float] | None = None,
    events: Iterable[OptionEvent] = (),
) -> float:
    """Today's P&L of the account (see the module docstring); without fills or
    events, (mark - previous close) x signed quantity x multiplier, summed."""
    return total_day_pnl(day_pnl_lines(positions, fills, previous_closes, events))
