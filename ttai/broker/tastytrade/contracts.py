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

The strike band comes from the symbol's IV and the window's longest DTE
(`strike_band`): wide enough that every put the strategy may pick (|delta| down
to csp.MIN_ABS_DELTA) is inside it, at any IV. A fixed +-20 % missed the
0.20-delta put at IV 100 % and 45 DTE (about 21 % below the price).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from statistics import NormalDist
from typing import Literal

from tastytrade.instruments import NestedOptionChain

from ttai.domain.analytics import csp

DTE_MARGIN_DAYS = 1
STRATEGY_DTE_WINDOW = (csp.MIN_DTE - DTE_MARGIN_DAYS, csp.MAX_DTE + DTE_MARGIN_DAYS)

SKEW_ALLOWANCE = 1.5
"""Out-of-the-money puts trade at a higher IV than the symbol's at-the-money IV
index (the put skew): the band assumes theirs may be up to this many times it."""
UNKNOWN_IV = 1.5
"""The IV the band assumes when the symbol's is unknown: a wide band, never a narrow one."""
MIN_STRIKE_BAND = 0.05


def strike_band(iv: float | None, max_dte: int, min_abs_delta: float = csp.MIN_ABS_DELTA) -> float:
    """The fraction of the price either side that holds every put with |delta| of
    at least `min_abs_delta` expiring within `max_dte` days, at IV `iv` (an annual
    fraction; None: unknown).

    A put's |delta| is N(-d1) = e^{-qT} N(-d1) <= N(-d1), so |delta| >= m needs
    d1 <= z = N^{-1}(1 - m), i.e. ln(S/K) <= z sigma sqrt(T) - (r - q + sigma^2/2) T.
    Dropping the drift term (r - q + sigma^2 / 2, positive unless the dividend
    yield is above r + sigma^2/2) and padding sigma for the skew gives a band
    that is wide enough: K >= S e^{-z sigma sqrt(T)}.
    """
    sigma = (iv if iv is not None and iv > 0 else UNKNOWN_IV) * SKEW_ALLOWANCE
    z = NormalDist().inv_cdf(1 - min_abs_delta)
    reach = z * sigma * math.sqrt(max(max_dte, 1) / 365)
    return max(MIN_STRIKE_BAND, 1 - math.exp(-reach))


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
