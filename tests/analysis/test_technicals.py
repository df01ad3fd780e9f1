"""Chart math against independent references: hand-worked values and pandas."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from ttai.domain.analytics.technicals import analyze_chart, atr, nearest_support, rsi, sma
from ttai.models.market import Candle


def candles_from(closes: list[float], spread: float = 1.0) -> list[Candle]:
    start = date(2025, 1, 1)
    out, prev = [], closes[0]
    for i, close in enumerate(closes):
        out.append(
            Candle(
                day=start + timedelta(days=i),
                open=prev,
                high=max(prev, close) + spread,
                low=min(prev, close) - spread,
                close=close,
                volume=1000,
            )
        )
        prev = close
    return out


def test_sma_hand_worked() -> None:
    assert sma([1, 2, 3, 4, 5, 6], 3) == pytest.approx(5.0)
    with pytest.raises(ValueError):
        sma([1, 2], 3)


def test_rsi_hand_worked_period_3() -> None:
    # changes: +1, +1, -1, +2 ; first averages over 3: gain 2/3, loss 1/3
    # then gain = (2/3*2 + 2)/3 = 10/9, loss = (1/3*2 + 0)/3 = 2/9 -> RS 5 -> RSI 83.33
    assert rsi([10, 11, 12, 11, 13], period=3) == pytest.approx(100 - 100 / 6)


def test_rsi_all_gains_is_100() -> None:
    assert rsi(list(range(1, 40))) == 100.0


def test_rsi_all_losses_is_0() -> None:
    assert rsi(list(range(40, 1, -1))) == 0.0


def test_rsi_of_a_flat_series_is_50() -> None:
    # No gains and no losses: RS is 0/0. The convention is 50 (neither side
    # dominates), not 100 ("overbought").
    assert rsi([25.0] * 30) == 50.0
    assert rsi([7.5] * 4, period=3) == 50.0


def test_flat_chart_is_balanced_not_overbought() -> None:
    closes = [50.0] * 260
    result = analyze_chart("FLAT", candles_from(closes, spread=0.5))
    assert result.rsi_14 == 50.0
    assert "RSI 50: balanced" in result.reasons


def _random_walk(n: int, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(100 * np.exp(np.cumsum(rng.normal(0, 0.015, n))))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rsi_and_atr_match_pandas_wilder(seed: int) -> None:
    closes = _random_walk(400, seed)
    candles = candles_from(closes, spread=0.7)
    # pandas' ewm(alpha=1/n, adjust=False) is Wilder's smoothing seeded with the
    # first value instead of a mean; after 400 points the seed is forgotten.
    delta = pd.Series(closes).diff().dropna()
    gain = delta.clip(lower=0).ewm(alpha=1 / 14, adjust=False).mean().iloc[-1]
    loss = (-delta).clip(lower=0).ewm(alpha=1 / 14, adjust=False).mean().iloc[-1]
    assert rsi(closes) == pytest.approx(100 - 100 / (1 + gain / loss), abs=1e-6)

    frame = pd.DataFrame([c.model_dump() for c in candles])
    prev_close = frame["close"].shift()
    true_range = pd.concat(
        [
            frame["high"] - frame["low"],
            (frame["high"] - prev_close).abs(),
            (frame["low"] - prev_close).abs(),
        ],
        axis=1,
    ).max(axis=1)
    expected_atr = true_range.iloc[1:].ewm(alpha=1 / 14, adjust=False).mean().iloc[-1]
    assert atr(candles) == pytest.approx(expected_atr, rel=1e-6)


def test_nearest_support_is_highest_swing_low_below_price() -> None:
    # Two dips: to 90 and later to 95; price ends at 100 -> support 95 - spread.
    closes = [100.0] * 10 + [90.0] + [100.0] * 10 + [95.0] + [100.0] * 10
    candles = candles_from(closes, spread=0.0)
    assert nearest_support(candles, 100.0) == 95.0
    assert nearest_support(candles, 94.0) == 90.0
    assert nearest_support(candles, 80.0) is None


def test_uptrend_scores_high_and_downtrend_is_rejected() -> None:
    up = candles_from([50 + 0.25 * i + (3 if i % 20 == 0 else 0) for i in range(260)])
    down = candles_from([150 - 0.4 * i for i in range(260)])
    bullish, bearish = analyze_chart("UP", up), analyze_chart("DOWN", down)
    assert bullish.trend == "uptrend"
    assert bullish.price > bullish.sma_20 > bullish.sma_50 > bullish.sma_200
    assert bullish.score >= 6
    assert bearish.trend == "downtrend"
    assert bearish.recommendation == "reject"
    assert bearish.score < 3
    assert len(bullish.reasons) == 7


def test_too_little_history_is_an_error() -> None:
    with pytest.raises(ValueError, match="needs 200 daily candles"):
        analyze_chart("NEW", candles_from([10.0] * 50))


@pytest.mark.parametrize("period", [0, -1])
def test_periods_below_one_are_refused(period: int) -> None:
    # Issue 20: sma(x, 0) returned the whole mean and rsi(period=0) divided by zero.
    closes = [float(x) for x in range(10, 40)]
    for indicator in (lambda: sma(closes, period), lambda: rsi(closes, period)):
        with pytest.raises(ValueError, match="period must be at least 1"):
            indicator()
    with pytest.raises(ValueError, match="period must be at least 1"):
        atr(candles_from(closes), period)
    assert sma(closes, 1) == closes[-1]
