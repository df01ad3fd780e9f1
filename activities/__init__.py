"""Every activity the worker hosts, bound to the services it runs with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from activities.analysis import AnalysisActivities
from ttai.db.analyses import AnalysisStore
from ttai.services import Services


def build_activities(services: Services) -> list[Callable[..., Any]]:
    analysis = AnalysisActivities(services.broker, AnalysisStore(services.pool), services.outbox)
    return [
        analysis.chart_analysis,
        analysis.options_analysis,
        analysis.research_analysis,
        analysis.synthesize,
        analysis.save_analysis,
        analysis.notify_analysis,
    ]
