"""Reports as short Markdown for a phone: a few headed sections, one line per item."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import TypeVar

from ttai.domain.reports.content import contract_label
from ttai.models.reports import (
    AlertLine,
    AnalysisLine,
    EndOfDaySummary,
    MorningBriefing,
    PositionLine,
    PositionPnl,
    ReportKind,
    WeeklyReview,
)

MAX_LINES = 12  # per section; the rest is counted, not listed

T = TypeVar("T")

TITLES: dict[ReportKind, str] = {
    "morning_briefing": "Morning briefing",
    "end_of_day": "End-of-day summary",
    "weekly_review": "Weekly review",
}


def title(kind: ReportKind, day: date) -> str:
    return f"{TITLES[kind]} {day.isoformat()}"


UNKNOWN = "unknown"
"""How every front end writes a number the broker did not send: never 0, never blank."""


def shown(value: float | None, spec: str = "g") -> str:
    """`value` formatted with `spec`, or "unknown" when it is None."""
    return UNKNOWN if value is None else format(value, spec)


def money(value: float) -> str:
    return f"-${abs(value):,.2f}" if value < 0 else f"${value:,.2f}"


def signed(value: float) -> str:
    return f"+{money(value)}" if value > 0 else money(value)


def _qty(quantity: float) -> str:
    return f"{quantity:+g}"


def describe_position(p: PositionLine) -> str:
    dte = f", {p.days_to_expiry} DTE" if p.days_to_expiry is not None else ""
    delta = f", Δ {p.delta:.2f}" if p.delta is not None else ""
    return f"{contract_label(p)} {_qty(p.quantity)} @ {p.mark:.2f}{dte}{delta}"


def _alert(a: AlertLine) -> str:
    when = f" ({a.triggered_at:%a %H:%M} UTC)" if a.triggered_at else ""
    return f"{a.symbol}: {a.description}{when}"


def _analysis(a: AnalysisLine) -> str:
    return f"{a.symbol}: {a.recommendation.replace('_', ' ')} (score {a.score})"


def _section(
    heading: str, items: Sequence[T], show: Callable[[T], str], empty: str = "none"
) -> list[str]:
    lines = [f"**{heading}**"]
    if not items:
        lines.append(f"- {empty}")
    else:
        lines.extend(f"- {show(item)}" for item in items[:MAX_LINES])
        if len(items) > MAX_LINES:
            lines.append(f"- … and {len(items) - MAX_LINES} more")
    return [*lines, ""]


def render_morning_briefing(report: MorningBriefing) -> str:
    lines = [f"**Open positions: {len(report.positions)}**"]
    lines += [f"- {describe_position(p)}" for p in report.positions[:MAX_LINES]]
    if len(report.positions) > MAX_LINES:
        lines.append(f"- … and {len(report.positions) - MAX_LINES} more")
    lines.append("")
    lines += _section("Expiring within 7 days", report.expiring, describe_position)
    lines += _section(
        f"Short puts near the money (|Δ| ≥ {report.delta_threshold:.2f})",
        report.near_the_money_puts,
        describe_position,
    )
    lines += _section("Armed alerts", report.armed_alerts, _alert)
    lines += _section(
        "Earnings within 7 days",
        report.earnings,
        lambda e: f"{e.underlying}: {e.date.isoformat()} (in {e.days_away} d)",
    )
    return "\n".join(lines).rstrip()


def _position_pnl(p: PositionPnl) -> str:
    """ "KO closed (sold 200): +$220.00", "AAPL 150P 2026-12-04 -1 (opened today): ...",
    "MSFT 600P 2026-12-18 assigned: -$58.00" """
    if p.settled is not None:
        held = SETTLED[p.settled]
    elif p.quantity == 0:
        trades = [
            f"{verb} {size:g}" for verb, size in (("bought", p.bought), ("sold", p.sold)) if size
        ]
        held = f"closed ({', '.join(trades)})"
    elif p.traded == p.quantity:
        held = f"{_qty(p.quantity)} (opened today)"
    elif p.traded:
        held = f"{_qty(p.quantity)} ({_qty(p.traded)} today)"
    else:
        held = _qty(p.quantity)
    pnl = "no previous close" if p.day_pnl is None else signed(p.day_pnl)
    return f"{p.label} {held}: {pnl}"


SETTLED = {"expired": "expired worthless", "assigned": "assigned", "exercised": "exercised"}
"""How a line reads when its option left by settlement, not by a trade."""


def render_end_of_day(report: EndOfDaySummary) -> str:
    nlv = f"**Net liquidating value: {money(report.net_liquidating_value)}**"
    if report.nlv_change is not None:
        nlv += f" ({signed(report.nlv_change)} since the last close)"
    lines = [nlv, f"**Day P&L: {signed(report.total_day_pnl)}**"]
    if report.early_close:
        lines.append("_Early close today (13:00 ET)._")
    lines.append("")
    lines += _section("P&L by position", report.positions, _position_pnl)
    lines += _section("Alerts triggered today", report.alerts_triggered, _alert)
    lines += _section("Analyses today", report.analyses, _analysis)
    return "\n".join(lines).rstrip()


def render_weekly_review(report: WeeklyReview) -> str:
    span = f"{report.week_start.isoformat()} to {report.week_end.isoformat()}"
    lines = [f"_{span}_", "", f"**Net liquidating value: {money(report.net_liquidating_value)}**"]
    if report.nlv_change is not None:
        lines.append(f"- change this week: {signed(report.nlv_change)}")
    lines.append(f"- unrealised P&L: {signed(report.unrealized_pnl)}")
    if report.unrealized_change is not None:
        lines.append(f"- unrealised change: {signed(report.unrealized_change)}")
    if report.realized_estimate is not None:
        lines.append(f"- realised (estimate): {signed(report.realized_estimate)}")
    lines.append("")
    counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in report.recommendations.items())
    lines.append(f"**Analyses: {report.analyses_count}**" + (f" ({counts})" if counts else ""))
    lines.append("")
    lines += _section("Top picks", report.top_picks, _analysis)
    lines += _section(
        "Screens",
        report.screens,
        lambda s: (
            f"{s.screen_id} ({s.completed_at:%a}): " + (", ".join(s.top) if s.top else "no picks")
        ),
    )
    lines += _section("Alerts triggered", report.alerts_triggered, _alert)
    return "\n".join(lines).rstrip()
