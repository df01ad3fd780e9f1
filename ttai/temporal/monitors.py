"""Start the three monitors under their fixed IDs; one already running is kept.

The worker's bootstrap and `starter.py monitors start` call `ensure_monitors`.
`USE_EXISTING` makes a second start return the running execution instead of
failing, so calling this on every worker start is safe.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ttai.config import Settings
from ttai.models.monitors import MonitorInput

if TYPE_CHECKING:  # the IDs are imported by front ends that may not need a client yet
    from temporalio.client import Client

MONITOR_IDS: dict[str, str] = {
    "portfolio": "monitor-portfolio",
    "price-alerts": "monitor-price-alerts",
    "position-sync": "monitor-position-sync",
}
MONITOR_TYPES: dict[str, str] = {
    "monitor-portfolio": "PortfolioMonitorWorkflow",
    "monitor-price-alerts": "PriceAlertMonitorWorkflow",
    "monitor-position-sync": "PositionSyncWorkflow",
}


def monitor_id(name: str) -> str:
    """'price-alerts', 'monitor-price-alerts' -> 'monitor-price-alerts'."""
    workflow_id = name if name.startswith("monitor-") else f"monitor-{name}"
    if workflow_id not in MONITOR_TYPES:
        raise ValueError(f"unknown monitor {name!r}: one of {', '.join(MONITOR_IDS)}")
    return workflow_id


async def ensure_monitors(
    client: Client, settings: Settings, *, inputs: Mapping[str, MonitorInput] | None = None
) -> list[str]:
    """Start whichever monitors are not running; return the three workflow IDs.

    `inputs` by workflow ID (default: each monitor's defaults, NYSE regular
    hours) apply to monitors started now; running ones keep theirs.
    """
    from temporalio.common import WorkflowIDConflictPolicy

    started = []
    for workflow_id, workflow_type in MONITOR_TYPES.items():
        await client.start_workflow(
            workflow_type,
            (inputs or {}).get(workflow_id, MonitorInput()),
            id=workflow_id,
            task_queue=settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        started.append(workflow_id)
    return started
