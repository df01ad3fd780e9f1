"""Every activity the worker hosts, bound to the services it runs with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from activities.analysis import AnalysisActivities
from activities.monitors import MonitorActivities
from activities.notifications import NotificationActivities
from activities.portfolio import PortfolioActivities
from activities.reports import ReportActivities
from activities.screener import ScreenerActivities
from ttai.db.alerts import AlertStore
from ttai.db.analyses import AnalysisStore
from ttai.db.positions import PositionStore
from ttai.db.reports import ReportStore
from ttai.db.screens import ScreenStore
from ttai.db.watchlists import WatchlistStore, builtin_watchlists
from ttai.services import Services


def build_activities(services: Services, *, bulk_budget: bool = False) -> list[Callable[..., Any]]:
    """`bulk_budget`: the bulk broker lane has a rate limit (ttai/temporal/lanes.py)."""
    analysis = AnalysisActivities(services.broker, AnalysisStore(services.pool), services.outbox)
    return [
        analysis.screen_symbols,
        analysis.screen_symbol,
        analysis.chart_analysis,
        analysis.options_analysis,
        analysis.research_analysis,
        analysis.synthesize,
        analysis.save_analysis,
        analysis.notify_analysis,
        *report_activities(services),
        *screener_activities(services, bulk_budget=bulk_budget),
        *monitor_activities(services),
        NotificationActivities(services.outbox).notifications,
        PortfolioActivities(
            services.broker, PositionStore(services.pool), ReportStore(services.pool)
        ).portfolio,
    ]


def report_activities(services: Services) -> list[Callable[..., Any]]:
    reports = ReportActivities(
        services.broker, ReportStore(services.pool), AnalysisStore(services.pool), services.outbox
    )
    return [
        reports.market_day,
        reports.build_morning_briefing,
        reports.build_end_of_day_summary,
        reports.build_weekly_review,
        reports.save_report,
        reports.notify_report,
        reports.latest_reports,
    ]


def screener_activities(
    services: Services, *, bulk_budget: bool = False
) -> list[Callable[..., Any]]:
    screener = ScreenerActivities(
        WatchlistStore(services.pool),
        ScreenStore(services.pool),
        services.outbox,
        builtin_watchlists(),
        budgeted=bulk_budget,
    )
    return [
        screener.screen_plan,
        screener.resolve_watchlist,
        screener.watchlist_command,
        screener.save_screen,
        screener.notify_screen,
    ]


def monitor_activities(services: Services) -> list[Callable[..., Any]]:
    monitors = MonitorActivities(
        services.broker,
        AlertStore(services.pool),
        PositionStore(services.pool),
        services.outbox,
        ReportStore(services.pool),
    )
    return [
        monitors.check_price_alerts,
        monitors.check_portfolio,
        monitors.sync_positions,
        monitors.market_sessions,
        monitors.check_symbols,
        monitors.create_alert,
        monitors.list_alerts,
        monitors.remove_alert,
    ]
