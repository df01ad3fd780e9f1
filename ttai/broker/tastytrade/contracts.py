"""Which contracts of an option chain are worth streaming.

A full chain of a busy underlying has tens of thousands of contracts, far more
than one streamer call should subscribe to: only some expirations and the
strikes within a band around the underlying's price are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from tastytrade.instruments import NestedOptionChain


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
    min_dte: int,
    max_dte: int,
    max_expirations: int,
    strike_band: float,
) -> list[Contract]:
    """Puts and calls of expirations `min_dte`..`max_dte` days out (at most
    `max_expirations`, spread evenly over that range) whose strikes lie within
    `strike_band` (a fraction) of `price`."""
    expirations = sorted(
        (e for e in chain.expirations if min_dte <= e.days_to_expiration <= max_dte),
        key=lambda e: e.days_to_expiration,
    )
    if len(expirations) > max_expirations:
        step = (len(expirations) - 1) / max(max_expirations - 1, 1)
        expirations = [expirations[round(i * step)] for i in range(max_expirations)]
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
