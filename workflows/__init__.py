"""Every workflow the worker hosts. Type names are part of the public contract."""

from workflows.analysis import AnalysisWorkflow

ALL_WORKFLOWS: list[type] = [AnalysisWorkflow]
