"""Cash-secured put selection: 30-45 DTE, |delta| 0.20-0.30, strikes at or
below support preferred, liquid contracts, return on the cash set aside.

A put whose delta or IV the broker did not send is never scored: its delta
window and its POP would be guesses (an IV of 0 made a POP of 100 %). It is
counted among the reasons ("2 puts not scored: IV unknown"); with no scored
put left the options step rejects. An unknown open interest counts as illiquid.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from ttai.domain.analytics.black_scholes import probability_above
from ttai.domain.market_calendar import days_to_expiry
from ttai.models.analysis import ChartAnalysis, OptionsAnalysis, PutCandidate
from ttai.models.market import OptionChain, OptionQuote

MIN_DTE, MAX_DTE = 30, 45
MIN_ABS_DELTA, MAX_ABS_DELTA = 0.20, 0.30
MIN_OPEN_INTEREST = 100
MAX_SPREAD_PCT = 0.10
MIN_ANNUALIZED_RETURN = 0.12
MIN_PROBABILITY_OF_PROFIT = 0.70
RISK_FREE_RATE = 0.04


def annualized_return(credit: float, strike: float, days_to_expiry: int) -> float:
    """Return on the collateral actually at risk: credit / (strike - credit) * 365 / DTE."""
    return credit / (strike - credit) * 365 / days_to_expiry


def _candidate(
    option: OptionQuote, spot: float, today: date, support: float | None, dividend_yield: float
) -> PutCandidate | str | None:
    """The put as a candidate; None when it is outside the strategy (kind, DTE,
    no bid, delta out of range); why it cannot be scored when its data is unknown."""
    dte = days_to_expiry(option.expiration, today)
    mid = option.mid
    if not (MIN_DTE <= dte <= MAX_DTE) or option.kind != "put" or option.bid <= 0 or mid <= 0:
        return None
    if option.delta is None:
        return "delta unknown"
    if not (MIN_ABS_DELTA <= abs(option.delta) <= MAX_ABS_DELTA):
        return None
    iv = option.implied_volatility
    if iv is None or iv <= 0:
        return "IV unknown"
    breakeven = option.strike - mid
    return PutCandidate(
        occ_symbol=option.occ_symbol,
        strike=option.strike,
        expiration=option.expiration,
        days_to_expiry=dte,
        credit=round(mid, 4),
        delta=option.delta,
        implied_volatility=iv,
        annualized_return=round(annualized_return(mid, option.strike, dte), 6),
        probability_of_profit=round(
            probability_above(spot, breakeven, dte / 365, RISK_FREE_RATE, iv, dividend_yield),
            6,
        ),
        bid_ask_spread=round(option.ask - option.bid, 4),
        spread_pct=round((option.ask - option.bid) / mid, 6),
        open_interest=option.open_interest,
        below_support=support is not None and option.strike <= support,
    )


def _liquid(c: PutCandidate) -> bool:
    known = c.open_interest is not None
    return known and c.open_interest >= MIN_OPEN_INTEREST and c.spread_pct <= MAX_SPREAD_PCT


def _preference(c: PutCandidate) -> tuple[bool, bool, float, float, date]:
    # Liquid first, then below support, then the best return; strike and expiry
    # break ties so the choice never depends on the chain's order.
    return (_liquid(c), c.below_support, c.annualized_return, -c.strike, c.expiration)


def analyze_csp(
    chain: OptionChain, chart: ChartAnalysis, today: date, dividend_yield: float = 0.0
) -> OptionsAnalysis:
    """The best cash-secured put in `chain` as of the New York date `today`.

    POP is the risk-neutral P(S_T >= strike - credit) with the underlying's
    continuous `dividend_yield` (a dividend lowers the forward, so the POP).
    """
    candidates: list[PutCandidate] = []
    unknown: Counter[str] = Counter()
    for option in chain.options:
        found = _candidate(option, chain.underlying_price, today, chart.support, dividend_yield)
        if isinstance(found, str):
            unknown[found] += 1
        elif found is not None:
            candidates.append(found)
    not_scored = [f"{n} put{'s' * (n > 1)} not scored: {why}" for why, n in sorted(unknown.items())]
    if not candidates:
        return OptionsAnalysis(
            symbol=chain.underlying,
            strategy="csp",
            underlying_price=chain.underlying_price,
            candidates_considered=0,
            best=None,
            recommendation="reject",
            reasons=[
                f"no put with |delta| {MIN_ABS_DELTA}-{MAX_ABS_DELTA} "
                f"expiring in {MIN_DTE}-{MAX_DTE} days",
                *not_scored,
            ],
        )
    best = max(candidates, key=_preference)
    reasons = [
        f"best: {best.strike:g} put {best.expiration} ({best.days_to_expiry} DTE), "
        f"credit {best.credit:.2f}, {best.annualized_return:.1%} annualised, "
        f"POP {best.probability_of_profit:.0%}"
    ]
    shortfalls = []
    if not _liquid(best):
        interest = "unknown" if best.open_interest is None else best.open_interest
        shortfalls.append(
            f"illiquid: open interest {interest}, spread {best.spread_pct:.0%} of mid"
        )
    if best.annualized_return < MIN_ANNUALIZED_RETURN:
        shortfalls.append(f"return {best.annualized_return:.1%} below {MIN_ANNUALIZED_RETURN:.0%}")
    if best.probability_of_profit < MIN_PROBABILITY_OF_PROFIT:
        shortfalls.append(
            f"POP {best.probability_of_profit:.0%} below {MIN_PROBABILITY_OF_PROFIT:.0%}"
        )
    if best.below_support:
        reasons.append(f"strike at or below support {chart.support:g}")
    return OptionsAnalysis(
        symbol=chain.underlying,
        strategy="csp",
        underlying_price=chain.underlying_price,
        candidates_considered=len(candidates),
        best=best,
        recommendation="watchlist" if shortfalls else "select",
        reasons=reasons + shortfalls + not_scored,
    )
