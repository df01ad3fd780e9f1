"""The NYSE calendar for workflows, as local activities: their answers are recorded,
so a replay never depends on the calendar library's version."""

from __future__ import annotations

from datetime import timedelta

from ttai.domain import market_calendar
from ttai.models.monitors import SessionsInput, SessionsResult, SessionWindow
from ttai.models.reports import MarketDay, MarketDayRequest
from ttai.temporal.steps import CALENDAR, COMPUTE, step


class CalendarActivities:
    @step(CALENDAR)
    async def market_sessions(self, request: SessionsInput) -> SessionsResult:
        """Trading windows of the NYSE days in [start, start + days), for the monitors."""
        end = request.start + timedelta(days=request.days - 1)
        windows = [
            market_calendar.trading_window(s, request.hours)
            for s in market_calendar.sessions(request.start, end)
        ]
        return SessionsResult(windows=[SessionWindow(open=o, close=c) for o, c in windows])

    @step(COMPUTE)
    async def report_market_day(self, request: MarketDayRequest) -> MarketDay:
        """Whether a report's day (or week) had a session, for the reports."""
        return market_calendar.market_day(request)
