"""Black-Scholes-Merton checked against Hull's worked example, py_vollib and parity."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest

from ttai.domain.analytics import black_scholes as bs

with warnings.catch_warnings():
    # py_vollib announces its rename to vollib; the maths is what we compare against.
    warnings.simplefilter("ignore", DeprecationWarning)
    from py_vollib.black_scholes_merton import black_scholes_merton as ref_price
    from py_vollib.black_scholes_merton.greeks import analytical as ref_greeks


def test_hull_example_15_6() -> None:
    # Hull, Options Futures and Other Derivatives: S=42, K=40, r=10 %, sigma=20 %, 6 months.
    assert bs.evaluate("call", 42, 40, 0.5, 0.10, 0.20).price == pytest.approx(4.76, abs=0.005)
    assert bs.evaluate("put", 42, 40, 0.5, 0.10, 0.20).price == pytest.approx(0.81, abs=0.005)


GRID = list(
    itertools.product(
        ("put", "call"),
        (20.0, 95.0, 310.0),  # spot
        (0.7, 0.95, 1.0, 1.1, 1.4),  # strike / spot
        (2 / 365, 30 / 365, 0.5, 2.0),  # years
        (0.0, 0.04),  # rate
        (0.12, 0.45, 1.1),  # volatility
        (0.0, 0.03),  # dividend yield
    )
)


@pytest.mark.parametrize("kind", ["put", "call"])
def test_matches_py_vollib_over_grid(kind: str) -> None:
    flag = kind[0]
    for k, s, moneyness, t, r, sigma, q in GRID:
        if k != kind:
            continue
        strike = s * moneyness
        v = bs.evaluate(kind, s, strike, t, r, sigma, q)
        args = (flag, s, strike, t, r, sigma, q)
        ctx = f"{args}"
        assert v.price == pytest.approx(ref_price(*args), rel=1e-9, abs=1e-10), ctx
        assert v.delta == pytest.approx(ref_greeks.delta(*args), rel=1e-9, abs=1e-12), ctx
        assert v.gamma == pytest.approx(ref_greeks.gamma(*args), rel=1e-9, abs=1e-12), ctx
        # py_vollib: theta per calendar day (annual / 365), vega per 1 % of volatility.
        assert v.theta == pytest.approx(ref_greeks.theta(*args), rel=1e-9, abs=1e-12), ctx
        assert v.vega == pytest.approx(ref_greeks.vega(*args), rel=1e-9, abs=1e-12), ctx


def test_vectorised_equals_scalar() -> None:
    strikes = np.linspace(60, 140, 81)
    times = np.full_like(strikes, 40 / 365)
    vec = bs.evaluate("put", 100.0, strikes, times, 0.04, 0.3, 0.01)
    assert isinstance(vec.price, np.ndarray)
    for i, k in enumerate(strikes):
        one = bs.evaluate("put", 100.0, float(k), 40 / 365, 0.04, 0.3, 0.01)
        assert isinstance(one.price, float)
        assert vec.price[i] == pytest.approx(one.price, rel=1e-12)
        assert vec.delta[i] == pytest.approx(one.delta, rel=1e-12)


@pytest.mark.parametrize(
    ("s", "k", "t", "r", "sigma", "q"),
    [(42, 40, 0.5, 0.1, 0.2, 0.0), (250, 230, 0.1, 0.04, 0.35, 0.02)],
)
def test_put_call_parity(s: float, k: float, t: float, r: float, sigma: float, q: float) -> None:
    call = bs.evaluate("call", s, k, t, r, sigma, q).price
    put = bs.evaluate("put", s, k, t, r, sigma, q).price
    assert call - put == pytest.approx(s * math.exp(-q * t) - k * math.exp(-r * t), abs=1e-10)
    # Delta parity: call delta - put delta = e^{-qT}.
    call_delta = bs.evaluate("call", s, k, t, r, sigma, q).delta
    diff = call_delta - bs.evaluate("put", s, k, t, r, sigma, q).delta
    assert diff == pytest.approx(math.exp(-q * t), abs=1e-12)


def test_theta_is_one_day_of_decay() -> None:
    # Finite difference in calendar time: price(T - 1 day) - price(T) ~ theta.
    s, k, t, r, sigma, q = 100.0, 95.0, 60 / 365, 0.04, 0.3, 0.01
    day = 1 / 365
    now = bs.evaluate("put", s, k, t, r, sigma, q)
    fd = bs.evaluate("put", s, k, t - day, r, sigma, q).price - now.price
    assert now.theta == pytest.approx(fd, rel=0.02)
    bump = bs.evaluate("put", s, k, t, r, sigma + 0.01, q).price - now.price
    assert bs.evaluate("call", s, k, t, r, sigma, q).vega == pytest.approx(bump, rel=0.01)


def test_expired_contract_is_worth_intrinsic() -> None:
    assert bs.evaluate("put", 90.0, 100.0, 0.0, 0.04, 0.3).price == pytest.approx(10.0, abs=1e-9)
    assert bs.evaluate("put", 110.0, 100.0, 0.0, 0.04, 0.3).price == pytest.approx(0.0, abs=1e-9)
    assert bs.evaluate("put", 90.0, 100.0, 0.0, 0.04, 0.3).delta == pytest.approx(-1.0)
    with pytest.raises(ValueError):
        bs.evaluate("straddle", 1, 1, 1, 0, 0.2)  # type: ignore[arg-type]


def _lognormal_prob_above(
    s: float, level: float, t: float, r: float, sigma: float, q: float
) -> float:
    # ln S_T ~ Normal(ln S + (r - q - sigma^2/2) T, sigma^2 T) under the risk-neutral measure.
    mean = math.log(s) + (r - q - 0.5 * sigma**2) * t
    z = (math.log(level) - mean) / (sigma * math.sqrt(t))
    return 1.0 - 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


@pytest.mark.parametrize(
    ("s", "level", "t", "r", "sigma", "q"),
    [
        (100, 93.5, 38 / 365, 0.04, 0.3, 0.0),
        (42, 45, 0.5, 0.1, 0.2, 0.02),
        (250, 150, 1.0, 0.0, 0.8, 0.0),
    ],
)
def test_probability_above_matches_lognormal_cdf(
    s: float, level: float, t: float, r: float, sigma: float, q: float
) -> None:
    expected = _lognormal_prob_above(s, level, t, r, sigma, q)
    assert bs.probability_above(s, level, t, r, sigma, q) == pytest.approx(expected, abs=1e-12)


def test_probability_above_against_monte_carlo() -> None:
    rng = np.random.default_rng(12345)
    s, level, t, r, sigma = 100.0, 92.0, 40 / 365, 0.04, 0.35
    z = rng.standard_normal(400_000)
    s_t = s * np.exp((r - 0.5 * sigma**2) * t + sigma * math.sqrt(t) * z)
    mc = float((s_t >= level).mean())
    assert bs.probability_above(s, level, t, r, sigma) == pytest.approx(mc, abs=0.003)
    assert bs.probability_above(s, 0.0, t, r, sigma) == 1.0


@pytest.mark.parametrize("t", [0.0, -1 / 365])
@pytest.mark.parametrize(
    ("kind", "s", "value", "delta"),
    [
        ("put", 90.0, 10.0, -1.0),
        ("put", 100.0, 0.0, 0.0),  # at the money: out of the money, not half
        ("put", 110.0, 0.0, 0.0),
        ("call", 90.0, 0.0, 0.0),
        ("call", 100.0, 0.0, 0.0),
        ("call", 110.0, 10.0, 1.0),
    ],
)
def test_at_or_past_expiry_is_intrinsic_with_exact_greeks(
    t: float, kind: bs.OptionKind, s: float, value: float, delta: float
) -> None:
    # Issue 20: at S = K and T = 0 the put had delta -0.4999, gamma 1329.8, theta -1639/day.
    v = bs.evaluate(kind, s, 100.0, t, 0.04, 0.3, 0.01)
    assert (v.price, v.delta, v.gamma, v.theta, v.vega) == (value, delta, 0.0, 0.0, 0.0)


def test_zero_volatility_gives_finite_greeks() -> None:
    # No noise: the forward decides. Discounted intrinsic value, gamma and vega 0.
    for kind, strike in (("put", 110.0), ("put", 90.0), ("call", 90.0), ("call", 110.0)):
        v = bs.evaluate(kind, 100.0, strike, 30 / 365, 0.04, 0.0, 0.01)
        assert all(math.isfinite(x) for x in v), (kind, strike, v)
        assert v.gamma == 0.0 and v.vega == 0.0
    t, r, q = 30 / 365, 0.04, 0.01
    put = bs.evaluate("put", 100.0, 110.0, t, r, 0.0, q)
    assert put.price == pytest.approx(110 * math.exp(-r * t) - 100 * math.exp(-q * t))
    assert put.delta == pytest.approx(-math.exp(-q * t))
    assert bs.evaluate("put", 100.0, 90.0, t, r, 0.0, q).price == 0.0
    vec = bs.evaluate("call", 100.0, np.array([90.0, 110.0]), t, r, np.array([0.0, 0.0]))
    assert np.all(np.isfinite(np.stack(vec)))


def test_probability_above_at_expiry_is_exactly_one_or_zero() -> None:
    assert bs.probability_above(100.0, 100.0, 0.0, 0.04, 0.3) == 1.0  # at the level counts
    assert bs.probability_above(100.0, 99.99, 0.0, 0.04, 0.3) == 1.0
    assert bs.probability_above(99.99, 100.0, 0.0, 0.04, 0.3) == 0.0
    assert bs.probability_above(99.99, 100.0, -0.1, 0.04, 0.3) == 0.0
    # sigma = 0: the forward decides.
    assert bs.probability_above(100.0, 100.2, 30 / 365, 0.04, 0.0) == 1.0
    assert bs.probability_above(100.0, 101.0, 30 / 365, 0.04, 0.0) == 0.0
