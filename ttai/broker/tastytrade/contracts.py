"""Which contracts of an option chain are worth streaming.

A full chain of a busy underlying has tens of thousands of contracts, far more
than one streamer call should subscribe to. Kept are every expiration inside the
window the strategy trades, and the strikes within a band around the price.

The window comes from the strategy itself (`ttai.domain.analytics.csp`, 30-45 days),
widened by `DTE_MARGIN_DAYS` on each side: tastytrade counts days to expiration
on its server's date while the options step counts from its own "today", and a
step may run after midnight on a chain read before it, so the two counts can
differ by one day. (Sampling 8 expirations evenly over 1-60 days instead kept 2
of the 12 in the window of a symbol with daily expirations.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from tastytrade.instruments import NestedOptionChain

from ttai.domain.analytics import csp

DTE_MARGIN_DAYS = 1
STRATEGY_DTE_WINDOW = (csp.MIN_DTE - DTE_MARGIN_DAYS, csp.MAX_DTE + DTE_MARGIN_DAYS)


@dataclass(frozen=True)
class Contract:
    occ: str
    streamer: str
    expiration: date
    strike: float
    kind: Literal["put", "call"]


def select_contracts(
    chain: NestedOptionChain,
    price: float,
    *,
    dte_window: tuple[int, int] = STRATEGY_DTE_WINDOW,
    strike_band: float,
) -> list[Contract]:
    """Puts and calls of every expiration `dte_window` days out (both ends
    included) whose strikes lie within `strike_band` (a fraction) of `price`."""
    first, last = dte_window
    expirations = sorted(
        (e for e in chain.expirations if first <= e.days_to_expiration <= last),
        key=lambda e: e.days_to_expiration,
    )
    low, high = price * (1 - strike_band), price * (1 + strike_band)
    contracts: list[Contract] = []
    for expiration in expirations:
        for strike in expiration.strikes:
            value = float(strike.strike_price)
            if not low <= value <= high:
                continue
            day = expiration.expiration_date
            contracts.append(Contract(strike.put, strike.put_streamer_symbol, day, value, "put"))
            contracts.append(Contract(strike.call, strike.call_streamer_symbol, day, value, "call"))
    return contracts
