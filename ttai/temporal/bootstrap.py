"""Put the standing work in place: monitors running, report schedules applied.

Idempotent, so every worker may run it at start (a fleet of workers races
harmlessly) and `make run` runs it after each start.
"""

from __future__ import annotations

import logging

from temporalio.client import Client
from temporalio.service import RPCError

from ttai.config import Settings
from ttai.temporal import search_attributes
from ttai.temporal.monitors import ensure_monitors
from ttai.temporal.schedules import apply_schedules

logger = logging.getLogger("ttai.bootstrap")


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
