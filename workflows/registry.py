"""Every workflow the worker hosts. Type names are part of the public contract.

Kept out of `workflows/__init__.py` on purpose: the sandbox re-imports a
workflow's module (and so its package `__init__`) for every workflow run, and
importing all workflow modules there cost each analysis ~6 ms of CPU.

Run as a module, it exports the JSON Schemas of their inputs and results:

    python -m workflows.registry            # write schemas/ (`make schemas`)
    python -m workflows.registry --check    # exit 1 when schemas/ is stale
"""

from ttai.temporal import schemas
from workflows.analysis import AnalysisWorkflow
from workflows.commands import COMMAND_WORKFLOWS
from workflows.monitors import MONITOR_WORKFLOWS
from workflows.reports import REPORT_WORKFLOWS
from workflows.screener import ScreenerWorkflow

ALL_WORKFLOWS: list[type] = [
    AnalysisWorkflow,
    *COMMAND_WORKFLOWS,
    *MONITOR_WORKFLOWS,
    *REPORT_WORKFLOWS,
    ScreenerWorkflow,
]

if __name__ == "__main__":
    raise SystemExit(schemas.main(ALL_WORKFLOWS))
