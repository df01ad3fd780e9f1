"""Put the standing work in place: monitors running, report schedules applied.

Idempotent, so every worker may run it at start (a fleet of workers races
harmlessly), `make run` runs it after each start, and `starter.py monitors
start` starts the monitors that are not running.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from ttai.config import Settings
from ttai.models.monitors import MONITOR_TYPES, MonitorInput
from ttai.temporal import search_attributes
from ttai.temporal.schedules import apply_schedules

logger = logging.getLogger("ttai.bootstrap")


async def ensure_monitors(
    client: Client, settings: Settings, *, inputs: Mapping[str, MonitorInput] | None = None
) -> list[str]:
    """Start whichever monitors are not running under their fixed IDs; return the IDs.

    `inputs` by workflow ID (default: each monitor's defaults, NYSE regular
    hours) apply to monitors started now; running ones keep theirs
    (`USE_EXISTING`: a second start returns the running execution).
    """
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


async def bootstrap(client: Client, settings: Settings) -> None:
    if settings.use_remote_temporal:
        # The dev server registers them from flags; a cluster needs this call,
        # which needs operator rights. Without them, apply_schedules says what
        # to run instead.
        try:
            added = await search_attributes.register(client)
            if added:
                logger.info("registered search attributes %s", ", ".join(added))
        except RPCError as err:
            logger.warning("cannot register search attributes: %s", err.message)
    monitors = await ensure_monitors(client, settings)
    schedules = await apply_schedules(client, settings)
    logger.info(
        "bootstrap done",
        extra={"monitors": ",".join(monitors), "schedules": str(schedules)},
    )
