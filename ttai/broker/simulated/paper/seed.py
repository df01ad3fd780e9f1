"""What a new paper account holds: a few stock lots and short puts, paid from a deposit.

Seeding deposits STARTING_CASH and trades the default portfolio at the
seeding time: stock bought at the ask, puts sold at the bid. The opening cash
is the deposit less what those trades cost (a short put credits its premium).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ttai.broker.simulated.paper.account import OPTION_MULTIPLIER, PAPER_ACCOUNT, trade_value
from ttai.domain.market_calendar import new_york_date
from ttai.models.market import Position

if TYPE_CHECKING:
    from ttai.broker.simulated.market import SimulatedMarket

STARTING_CASH = 100_000.0
# Stock lots of the default portfolio, bought at the ask when the account is seeded.
DEFAULT_STOCKS: tuple[tuple[str, int], ...] = (("AAPL", 100), ("KO", 200), ("SPY", 50))
# Short puts of the default portfolio: one contract each, ~7 % out of the money,
# on the listed expiration nearest 38 days within 30-45 days.
DEFAULT_SHORT_PUTS: tuple[str, ...] = ("MSFT", "JPM", "QQQ")
_PUT_OTM = 0.07
_PUT_DTE = (30, 45)
_PUT_TARGET_DTE = 38


def default_portfolio(
    market: SimulatedMarket, now: datetime, account: str = PAPER_ACCOUNT
) -> list[Position]:
    """A few stock lots and short puts, traded at `now`: stock bought at the ask,
    puts sold at the bid."""
    positions: list[Position] = []
    for symbol, quantity in DEFAULT_STOCKS:
        positions.append(
            Position(
                account=account,
                symbol=symbol,
                underlying=symbol,
                instrument="equity",
                quantity=quantity,
                average_open_price=market.get_quote(symbol, now).ask,
            )
        )
    today = new_york_date(now)
    for symbol in DEFAULT_SHORT_PUTS:
        chain = market.get_option_chain(symbol, at=now)
        expirations = sorted(
            {o.expiration for o in chain.options}
            & {today + timedelta(days=d) for d in range(_PUT_DTE[0], _PUT_DTE[1] + 1)},
            key=lambda e: abs((e - today).days - _PUT_TARGET_DTE),
        )
        if not expirations:
            raise LookupError(
                f"{symbol}: no listed expiration {_PUT_DTE[0]}-{_PUT_DTE[1]} days out"
            )
        target = chain.underlying_price * (1 - _PUT_OTM)
        put = max(
            (
                o
                for o in chain.options
                if o.kind == "put" and o.expiration == expirations[0] and o.strike <= target
            ),
            key=lambda o: o.strike,
        )
        positions.append(
            Position(
                account=account,
                symbol=put.occ_symbol,
                underlying=symbol,
                instrument="option",
                quantity=-1,
                average_open_price=put.bid,
                multiplier=OPTION_MULTIPLIER,
                option_kind="put",
                strike=put.strike,
                expiration=put.expiration,
            )
        )
    return positions


def opening_cash(positions: list[Position]) -> float:
    """The deposit after paying for the seeded trades (a short put credits its premium)."""
    return round(STARTING_CASH - sum(trade_value(p) for p in positions), 2)
