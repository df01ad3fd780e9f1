"""Every workflow the worker hosts. Type names are part of the public contract."""

from workflows.analysis import AnalysisWorkflow
from workflows.monitors import MONITOR_WORKFLOWS
from workflows.reports import REPORT_WORKFLOWS
from workflows.screener import ScreenerWorkflow, WatchlistWorkflow

ALL_WORKFLOWS: list[type] = [
    AnalysisWorkflow,
    *MONITOR_WORKFLOWS,
    *REPORT_WORKFLOWS,
    ScreenerWorkflow,
    WatchlistWorkflow,
]
