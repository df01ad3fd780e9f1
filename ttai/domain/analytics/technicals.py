"""Chart analysis from daily candles: moving averages, Wilder's RSI and ATR,
the nearest support, and a 0-10 score for a cash-secured-put seller.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from ttai.models.analysis import ChartAnalysis, ChartRecommendation
from ttai.models.market import Candle

MIN_SESSIONS = 200  # SMA 200 needs them
SWING_WINDOW = 5  # a swing low is the lowest low within this many sessions each side
SUPPORT_LOOKBACK = 120


def _check_period(period: int) -> None:
    # A period of 0 would average nothing (sma returned the whole mean, rsi
    # divided by zero): refused, as a negative one.
    if period < 1:
        raise ValueError(f"period must be at least 1, got {period}")


def sma(values: Sequence[float], period: int) -> float:
    _check_period(period)
    if len(values) < period:
        raise ValueError(f"SMA {period} needs {period} values, got {len(values)}")
    return float(np.mean(values[-period:]))


def _wilder(values: np.ndarray, period: int) -> float:
    """Wilder's smoothing: a simple mean to start, then (prev*(n-1) + x) / n."""
    average = float(values[:period].mean())
    for x in values[period:]:
        average = (average * (period - 1) + float(x)) / period
    return average


def rsi(closes: Sequence[float], period: int = 14) -> float:
    """Wilder's RSI. With no gains and no losses at all (a flat series) RS is 0/0:
    the RSI is then 50, the neutral value, not 100. Only gains give 100, only
    losses 0.
    """
    _check_period(period)
    if len(closes) <= period:
        raise ValueError(f"RSI {period} needs more than {period} closes")
    changes = np.diff(np.asarray(closes, dtype=float))
    gain = _wilder(np.clip(changes, 0, None), period)
    loss = _wilder(np.clip(-changes, 0, None), period)
    if loss == 0:
        return 50.0 if gain == 0 else 100.0
    return 100.0 - 100.0 / (1.0 + gain / loss)


def atr(candles: Sequence[Candle], period: int = 14) -> float:
    _check_period(period)
    if len(candles) <= period:
        raise ValueError(f"ATR {period} needs more than {period} candles")
    true_ranges = np.array(
        [
            max(c.high - c.low, abs(c.high - prev.close), abs(c.low - prev.close))
            for prev, c in itertools.pairwise(candles)
        ]
    )
    return _wilder(true_ranges, period)


def nearest_support(candles: Sequence[Candle], price: float) -> float | None:
    """The highest swing low below `price` in the recent past."""
    recent = candles[-SUPPORT_LOOKBACK:]
    lows = [c.low for c in recent]
    swing_lows = [
        low
        for i, low in enumerate(lows)
        if SWING_WINDOW <= i < len(lows) - SWING_WINDOW
        and low == min(lows[i - SWING_WINDOW : i + SWING_WINDOW + 1])
        and low < price
    ]
    return max(swing_lows) if swing_lows else None


def _rsi_points(value: float) -> tuple[float, str]:
    # A put seller likes a pullback inside an uptrend, not a blow-off top.
    if 30 <= value < 40:
        return 2.0, f"RSI {value:.0f}: pullback"
    if 40 <= value <= 60:
        return 1.5, f"RSI {value:.0f}: balanced"
    if 60 < value <= 70:
        return 1.0, f"RSI {value:.0f}: strong"
    if value < 30:
        return 0.5, f"RSI {value:.0f}: oversold"
    return 0.0, f"RSI {value:.0f}: overbought"


def _recommendation(score: float) -> ChartRecommendation:
    if score < 3:
        return "reject"
    if score < 5:
        return "bearish"
    if score < 7:
        return "neutral"
    return "bullish"


def analyze_chart(symbol: str, candles: Sequence[Candle]) -> ChartAnalysis:
    if len(candles) < MIN_SESSIONS:
        raise ValueError(
            f"{symbol}: chart analysis needs {MIN_SESSIONS} daily candles, got {len(candles)}"
        )
    closes = [c.close for c in candles]
    price = closes[-1]
    sma20, sma50, sma200 = sma(closes, 20), sma(closes, 50), sma(closes, 200)
    rsi14, atr14 = rsi(closes), atr(candles)
    support = nearest_support(candles, price)

    points: list[tuple[float, str]] = [
        (2.0, "price above SMA 200") if price > sma200 else (0.0, "price below SMA 200"),
        (2.0, "SMA 50 above SMA 200") if sma50 > sma200 else (0.0, "SMA 50 below SMA 200"),
        (1.0, "price above SMA 50") if price > sma50 else (0.0, "price below SMA 50"),
        (1.0, "price above SMA 20") if price > sma20 else (0.0, "price below SMA 20"),
        _rsi_points(rsi14),
        (1.0, f"ATR {atr14 / price:.1%} of price: calm")
        if atr14 / price < 0.03
        else (0.0, f"ATR {atr14 / price:.1%} of price: volatile"),
        (1.0, f"support {support:.2f} within 10 %")
        if support is not None and support >= price * 0.9
        else (0.0, "no support within 10 %"),
    ]
    score = round(sum(p for p, _ in points), 2)
    if price > sma50 > sma200:
        trend = "uptrend"
    elif price < sma50 < sma200:
        trend = "downtrend"
    else:
        trend = "sideways"
    return ChartAnalysis(
        symbol=symbol,
        as_of=candles[-1].day,
        price=round(price, 4),
        sma_20=round(sma20, 4),
        sma_50=round(sma50, 4),
        sma_200=round(sma200, 4),
        rsi_14=round(rsi14, 2),
        atr_14=round(atr14, 4),
        trend=trend,
        support=None if support is None else round(support, 4),
        score=score,
        recommendation=_recommendation(score),
        reasons=[reason for _, reason in points],
    )
