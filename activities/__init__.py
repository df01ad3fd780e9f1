"""Every activity the worker hosts, bound to the services it runs with.

Each activity is declared once, on its method (`ttai.temporal.steps.step`): the
worker's list is every declared method of these classes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from activities.alerts import AlertActivities
from activities.analysis import AnalysisActivities
from activities.calendar import CalendarActivities
from activities.notifications import NotificationActivities
from activities.portfolio import PortfolioActivities
from activities.reports import ReportActivities
from activities.screener import ScreenerActivities
from activities.streams import StreamActivities
from ttai.db.alerts import AlertStore
from ttai.db.analyses import AnalysisStore
from ttai.db.positions import PositionStore
from ttai.db.reports import ReportStore
from ttai.db.screens import ScreenStore
from ttai.db.watchlists import WatchlistStore, builtin_watchlists
from ttai.services import Services
from ttai.temporal.steps import steps_of


def build_activities(services: Services, *, bulk_budget: bool = False) -> list[Callable[..., Any]]:
    """`bulk_budget`: the bulk broker lane has a rate limit (ttai/temporal/lanes.py)."""
    broker, pool, outbox = services.broker, services.pool, services.outbox
    reports = ReportStore(pool)
    return steps_of(
        AlertActivities(broker, AlertStore(pool), outbox),
        AnalysisActivities(broker, AnalysisStore(pool), outbox),
        CalendarActivities(),
        NotificationActivities(outbox),
        PortfolioActivities(broker, PositionStore(pool), outbox, reports),
        ReportActivities(broker, reports, AnalysisStore(pool), outbox),
        ScreenerActivities(
            WatchlistStore(pool),
            ScreenStore(pool),
            outbox,
            builtin_watchlists(),
            budgeted=bulk_budget,
        ),
        StreamActivities(broker, AlertStore(pool), outbox),
    )
