"""What each scheduled report says, computed from plain inputs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from ttai.domain.analytics.pnl import DayPnlLine, day_pnl_lines, total_day_pnl
from ttai.domain.analytics.ranking import ranks
from ttai.domain.market_calendar import days_to_expiry
from ttai.models.analysis import AnalysisResult
from ttai.models.market import Balances, Fill, MarketMetrics, OptionEvent, Position
from ttai.models.reports import (
    AlertLine,
    AnalysisLine,
    EarningsLine,
    EndOfDaySummary,
    MorningBriefing,
    PositionLine,
    PositionPnl,
    ScreenLine,
    WeeklyReview,
)

EXPIRY_DAYS = 7
EARNINGS_DAYS = 7
# A short put at |delta| 0.40+ is close to the money: the usual point to roll or close.
NEAR_MONEY_DELTA = 0.40
TOP_PICKS = 5

# Best first (a reject never ranks: `ranking.ranks`).
RECOMMENDATION_RANK = {"strong_select": 0, "select": 1, "watchlist": 2}


class Contract(Protocol):
    underlying: str
    instrument: str
    option_kind: str | None
    strike: float | None
    expiration: date | None


def contract_label(c: Contract) -> str:
    """ "AAPL" or "AAPL 150P 2026-12-04": short enough for a phone, unlike OCC symbols."""
    if c.instrument == "option" and c.strike is not None and c.expiration is not None:
        kind = "P" if c.option_kind == "put" else "C"
        return f"{c.underlying} {c.strike:g}{kind} {c.expiration.isoformat()}"
    return c.underlying


@dataclass(frozen=True)
class OccContract:
    """The contract an OCC option symbol names (for instruments no longer held)."""

    underlying: str
    instrument: str
    option_kind: str | None
    strike: float | None
    expiration: date | None


def occ_contract(symbol: str, underlying: str) -> OccContract:
    """Read "AAPL  261218P00140000": root, YYMMDD, P/C, strike x 1000 in 8 digits."""
    tail = symbol[-15:]
    try:
        expiration = datetime.strptime(tail[:6], "%y%m%d").date()
        kind = {"P": "put", "C": "call"}[tail[6]]
        strike = int(tail[7:]) / 1000
    except (ValueError, KeyError):
        return OccContract(underlying, "option", None, None, None)
    return OccContract(underlying, "option", kind, strike, expiration)


def _label(line: DayPnlLine, position: Position | None) -> str:
    if position is not None and (position.strike is not None or line.instrument != "option"):
        return contract_label(position)
    if line.instrument == "option":
        return contract_label(occ_contract(line.symbol, line.underlying))
    return line.underlying


def position_line(position: Position, day: date) -> PositionLine:
    expiration = position.expiration
    return PositionLine(
        symbol=position.symbol,
        underlying=position.underlying,
        instrument=position.instrument,
        quantity=position.quantity,
        mark=position.mark,
        option_kind=position.option_kind,
        strike=position.strike,
        expiration=expiration,
        days_to_expiry=days_to_expiry(expiration, day) if expiration else None,
        delta=position.delta,
    )


def morning_briefing(
    positions: Sequence[Position],
    metrics: Mapping[str, MarketMetrics],
    armed_alerts: list[AlertLine],
    day: date,
    delta_threshold: float = NEAR_MONEY_DELTA,
) -> MorningBriefing:
    lines = sorted((position_line(p, day) for p in positions), key=lambda p: p.symbol)
    expiring = [
        p for p in lines if p.days_to_expiry is not None and 0 <= p.days_to_expiry <= EXPIRY_DAYS
    ]
    near_money = [
        p
        for p in lines
        if p.option_kind == "put"
        and p.quantity < 0
        and p.delta is not None
        and abs(p.delta) >= delta_threshold
    ]
    earnings = sorted(
        (
            EarningsLine(underlying=m.symbol, date=m.next_earnings, days_away=away)
            for m in metrics.values()
            if m.next_earnings is not None
            and 0 <= (away := (m.next_earnings - day).days) <= EARNINGS_DAYS
        ),
        key=lambda e: (e.date, e.underlying),
    )
    return MorningBriefing(
        positions=lines,
        expiring=expiring,
        near_the_money_puts=near_money,
        delta_threshold=delta_threshold,
        armed_alerts=armed_alerts,
        earnings=earnings,
    )


def net_liquidating_value(balances: Iterable[Balances]) -> float:
    return round(sum(b.net_liquidating_value for b in balances), 2)


def unrealized_pnl(positions: Iterable[Position]) -> float:
    """(mark - average open price) x signed quantity x multiplier, summed."""
    return round(
        sum((p.mark - p.average_open_price) * p.quantity * p.multiplier for p in positions), 2
    )


def _change(now: float, before: float | None) -> float | None:
    return None if before is None else round(now - before, 2)


def analysis_line(result: AnalysisResult) -> AnalysisLine:
    return AnalysisLine(
        symbol=result.symbol,
        recommendation=result.recommendation,
        score=result.score,
        completed_at=result.completed_at,
    )


def end_of_day(
    positions: Sequence[Position],
    fills: Sequence[Fill],
    previous_closes: Mapping[str, float],
    balances: Sequence[Balances],
    previous_nlv: float | None,
    alerts_triggered: list[AlertLine],
    analyses: Sequence[AnalysisResult],
    early_close: bool,
    events: Sequence[OptionEvent] = (),
) -> EndOfDaySummary:
    """`fills` are today's (since the previous close), `events` the options that
    settled today; `previous_closes` those of instruments the broker gives none
    for, e.g. closed today (see `analytics.pnl`)."""
    held = {p.symbol: p for p in positions}
    lines = day_pnl_lines(positions, fills, previous_closes, events)
    rows = [
        PositionPnl(
            symbol=line.symbol,
            label=_label(line, held.get(line.symbol)),
            quantity=line.quantity,
            mark=line.mark,
            prev_close=line.prev_close,
            bought=line.bought,
            sold=line.sold,
            day_pnl=line.day_pnl,
            settled=line.settled,
        )
        for line in lines
    ]
    nlv = net_liquidating_value(balances)
    return EndOfDaySummary(
        positions=rows,
        total_day_pnl=total_day_pnl(lines),
        net_liquidating_value=nlv,
        previous_net_liquidating_value=previous_nlv,
        nlv_change=_change(nlv, previous_nlv),
        early_close=early_close,
        alerts_triggered=alerts_triggered,
        analyses=[analysis_line(a) for a in analyses],
    )


def top_picks(analyses: Iterable[AnalysisResult], n: int = TOP_PICKS) -> list[AnalysisLine]:
    """The best analysis per symbol, best recommendation then score first; no rejects."""
    best: dict[str, AnalysisResult] = {}

    def key(a: AnalysisResult) -> tuple[int, int, str]:
        return (RECOMMENDATION_RANK[a.recommendation], -a.score, a.symbol)

    for a in analyses:
        if ranks(a.recommendation) and (a.symbol not in best or key(a) < key(best[a.symbol])):
            best[a.symbol] = a
    return [analysis_line(a) for a in sorted(best.values(), key=key)[:n]]


def weekly_review(
    week_start: date,
    week_end: date,
    analyses: Sequence[AnalysisResult],
    screens: list[ScreenLine],
    alerts_triggered: list[AlertLine],
    positions: Sequence[Position],
    balances: Sequence[Balances],
    start_nlv: float | None,
    start_unrealized: float | None,
) -> WeeklyReview:
    nlv = net_liquidating_value(balances)
    unrealized = unrealized_pnl(positions)
    nlv_change = _change(nlv, start_nlv)
    unrealized_change = _change(unrealized, start_unrealized)
    realized = (
        None
        if nlv_change is None or unrealized_change is None
        else round(nlv_change - unrealized_change, 2)
    )
    counts = Counter(a.recommendation for a in analyses)
    return WeeklyReview(
        week_start=week_start,
        week_end=week_end,
        analyses_count=len(analyses),
        recommendations=dict(sorted(counts.items())),
        top_picks=top_picks(analyses),
        screens=screens,
        alerts_triggered=alerts_triggered,
        net_liquidating_value=nlv,
        start_net_liquidating_value=start_nlv,
        nlv_change=nlv_change,
        unrealized_pnl=unrealized,
        unrealized_change=unrealized_change,
        realized_estimate=realized,
    )
