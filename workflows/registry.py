"""Every workflow the worker hosts. Type names are part of the public contract.

Kept out of `workflows/__init__.py` on purpose: the sandbox re-imports a
workflow's module (and so its package `__init__`) for every workflow run, and
importing all workflow modules there cost each analysis ~6 ms of CPU.
"""

from workflows.analysis import AnalysisWorkflow
from workflows.lookups import LOOKUP_WORKFLOWS
from workflows.monitors import MONITOR_WORKFLOWS
from workflows.notifications import NotificationsWorkflow
from workflows.reports import REPORT_WORKFLOWS
from workflows.screener import ScreenerWorkflow
from workflows.watchlists import WatchlistWorkflow

ALL_WORKFLOWS: list[type] = [
    AnalysisWorkflow,
    *LOOKUP_WORKFLOWS,
    *MONITOR_WORKFLOWS,
    NotificationsWorkflow,
    *REPORT_WORKFLOWS,
    ScreenerWorkflow,
    WatchlistWorkflow,
]
