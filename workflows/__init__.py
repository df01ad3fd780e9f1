"""Every workflow the worker hosts. Type names are part of the public contract."""

from workflows.analysis import AnalysisWorkflow
from workflows.reports import REPORT_WORKFLOWS

ALL_WORKFLOWS: list[type] = [AnalysisWorkflow, *REPORT_WORKFLOWS]
