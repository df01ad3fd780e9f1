"""The simulated universe: which symbols exist and the parameters that drive each.

Every well-formed ticker is simulated (so the real S&P 500 list, or any
watchlist, works on the simulated market as on the real broker), except the
reserved ones: tickers starting with `ZZ` are never listed, the documented way
to get an "unknown symbol" in tests (no US-listed ticker starts with ZZ).
Well-known tickers get hand-set levels; the others get parameters drawn from a
stable hash of (seed, symbol), never from Python's per-process randomised
`hash()`, so every worker process sees the same market for the same seed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ttai.broker.base import UnknownSymbol
from ttai.data.sp500 import sp500_symbols
from ttai.models.common import SYMBOL_PATTERN

RESERVED_UNKNOWN_PREFIX = "ZZ"
"""Tickers starting with this are unknown to the simulated market (for tests)."""


def stable_rng(*parts: object) -> np.random.Generator:
    """A generator seeded by a cryptographic hash of `parts` (same on every machine)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=16).digest()
    return np.random.Generator(np.random.PCG64(int.from_bytes(digest, "little")))


@dataclass(frozen=True)
class SymbolParams:
    symbol: str
    ref_price: float  # trend level on REFERENCE_DAY; the path wanders around it
    volatility: float  # annualised realised volatility of daily returns
    drift: float  # annual log-drift of the trend
    beta: float
    liquidity: int  # 0 (thin) .. 5 (most liquid)
    dividend_yield: float
    iv_premium: float  # implied / realised volatility ratio
    skew: float  # put-skew slope of the volatility smile
    earnings_offset: int | None  # days into the quarterly cycle; None for ETFs
    earnings_move: float  # typical one-day move on earnings (adds implied variance)


# Well-known tickers: (reference price, volatility, beta, dividend yield, is ETF).
# Levels are plausible, not quotes: the simulated path wanders around them.
_KNOWN: dict[str, tuple[float, float, float, float, bool]] = {
    "AAPL": (230, 0.28, 1.2, 0.005, False),
    "MSFT": (420, 0.26, 1.1, 0.008, False),
    "NVDA": (140, 0.50, 1.8, 0.0003, False),
    "AMZN": (200, 0.33, 1.3, 0.0, False),
    "GOOGL": (175, 0.30, 1.1, 0.005, False),
    "META": (580, 0.38, 1.3, 0.004, False),
    "TSLA": (280, 0.60, 2.0, 0.0, False),
    "SPY": (580, 0.16, 1.0, 0.013, True),
    "QQQ": (500, 0.21, 1.15, 0.006, True),
    "IWM": (220, 0.23, 1.2, 0.012, True),
    "DIA": (430, 0.15, 0.9, 0.016, True),
    "AMD": (150, 0.50, 1.7, 0.0, False),
    "JPM": (220, 0.24, 1.1, 0.022, False),
    "KO": (68, 0.17, 0.6, 0.029, False),
    "PFE": (27, 0.24, 0.6, 0.060, False),
    "XOM": (115, 0.25, 0.9, 0.033, False),
    "BAC": (42, 0.28, 1.3, 0.024, False),
    "WMT": (85, 0.18, 0.5, 0.010, False),
    "DIS": (100, 0.28, 1.2, 0.009, False),
    "NFLX": (800, 0.40, 1.3, 0.0, False),
    "INTC": (22, 0.45, 1.1, 0.0, False),
    "CSCO": (57, 0.22, 0.9, 0.028, False),
    "ORCL": (170, 0.32, 1.1, 0.009, False),
    "CRM": (300, 0.35, 1.3, 0.005, False),
    "ADBE": (500, 0.33, 1.2, 0.0, False),
    "AVGO": (170, 0.45, 1.4, 0.012, False),
    "COST": (900, 0.20, 0.8, 0.005, False),
    "PEP": (160, 0.17, 0.5, 0.033, False),
    "JNJ": (155, 0.16, 0.5, 0.031, False),
    "UNH": (550, 0.25, 0.6, 0.014, False),
    "V": (300, 0.20, 0.9, 0.007, False),
    "MA": (500, 0.21, 1.0, 0.005, False),
    "HD": (390, 0.23, 1.0, 0.023, False),
    "PG": (165, 0.16, 0.4, 0.024, False),
    "CVX": (150, 0.25, 0.9, 0.042, False),
    "T": (22, 0.22, 0.6, 0.050, False),
    "VZ": (42, 0.19, 0.4, 0.062, False),
    "MRK": (100, 0.22, 0.4, 0.030, False),
    "ABBV": (180, 0.24, 0.6, 0.035, False),
    "BA": (170, 0.38, 1.4, 0.0, False),
    "GS": (550, 0.27, 1.3, 0.021, False),
    "WFC": (70, 0.28, 1.2, 0.022, False),
    "UBER": (75, 0.40, 1.4, 0.0, False),
    "PLTR": (60, 0.65, 2.2, 0.0, False),
    "SOFI": (14, 0.60, 1.8, 0.0, False),
    "F": (11, 0.35, 1.2, 0.055, False),
    "GE": (180, 0.30, 1.2, 0.006, False),
    "GLD": (240, 0.15, 0.1, 0.0, True),
    "TLT": (92, 0.15, -0.2, 0.040, True),
    "XLF": (48, 0.19, 1.1, 0.015, True),
    "XLE": (90, 0.24, 0.9, 0.030, True),
}
KNOWN_SYMBOLS: tuple[str, ...] = tuple(_KNOWN)


def _params(seed: int, symbol: str) -> SymbolParams:
    rng = stable_rng(seed, symbol, "params")
    known = _KNOWN.get(symbol)  # the others: drawn from the hash
    if known is not None:
        ref_price, vol, beta, div, is_etf = known
        liquidity = 5 if is_etf or vol < 0.45 or ref_price > 100 else 4
    else:
        ref_price = float(np.exp(rng.uniform(np.log(8), np.log(400))))
        vol = float(rng.uniform(0.15, 0.80))
        beta = float(np.clip(0.3 + 1.8 * vol + rng.normal(0, 0.25), 0.2, 2.8))
        div = float(rng.uniform(0.005, 0.05)) if rng.random() < 0.4 and vol < 0.5 else 0.0
        is_etf = False
        liquidity = int(rng.choice(6, p=[0.08, 0.15, 0.25, 0.27, 0.17, 0.08]))
    return SymbolParams(
        symbol=symbol,
        ref_price=float(ref_price),
        volatility=float(vol),
        drift=float(rng.uniform(-0.04, 0.14)),
        beta=round(float(beta), 2),
        liquidity=liquidity,
        dividend_yield=float(div),
        iv_premium=float(rng.uniform(1.0, 1.25)),
        skew=float(rng.uniform(0.05, 0.15)),
        earnings_offset=None if is_etf else int(rng.integers(0, 91)),
        earnings_move=float(vol * rng.uniform(0.15, 0.35)),
    )


def is_simulated(symbol: str) -> bool:
    """Whether the simulated market lists `symbol`: any well-formed ticker not reserved."""
    return bool(re.fullmatch(SYMBOL_PATTERN, symbol)) and not symbol.startswith(
        RESERVED_UNKNOWN_PREFIX
    )


@lru_cache(maxsize=8192)
def symbol_params(seed: int, symbol: str) -> SymbolParams:
    """The parameters of `symbol` in the market for `seed` (the same in every process)."""
    if not is_simulated(symbol):
        raise UnknownSymbol(symbol)
    return _params(seed, symbol)


def listed_symbols() -> list[str]:
    """The market's catalogue, for sampling and listings: the well-known tickers,
    then the S&P 500 constituents (ttai/data/sp500.csv). Not a limit: any
    well-formed ticker is simulated."""
    return list(dict.fromkeys([*_KNOWN, *sp500_symbols()]))
