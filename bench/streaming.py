"""The streaming case of bench/monitors.py (see its docstring): idle CPU, then 50
streamed symbols with rules, crossing latencies to the commit and to the MCP push."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import mcp_types as mt
import psutil
from mcp import Client, MCPDeprecationWarning, StdioServerParameters
from temporalio.client import Client as TemporalClient

from tests.helpers.simulated_market import Crossing, first_crossing, running_from
from tests.helpers.waiting import eventually
from ttai.broker.simulated.broker import SimulatedBroker
from ttai.broker.simulated.paper.memory import InMemoryPaperAccount
from ttai.broker.simulated.universe import listed_symbols
from ttai.config import PROJECT_ROOT, Settings
from ttai.db.alerts import AlertStore
from ttai.domain import market_calendar
from ttai.models.alerts import AlertRuleSpec
from ttai.models.monitors import MONITOR_TYPES, MonitorInput, MonitorStatus
from ttai.notify.outbox import NOTIFY_CHANNEL
from ttai.services import Services, open_services
from ttai.temporal.bootstrap import ensure_monitors
from worker import build_worker

TICK_RATE = 1.0
LEAD = timedelta(seconds=10)
"""The first crossing comes this long after the symbols' rules are added (streamed by then)."""
ARMED_AHEAD = timedelta(seconds=3)
"""A crossing rule is added this long before its crossing tick."""
WARM_SYMBOL = "KO"


def session_start(seed_day: datetime) -> datetime:
    """10:00 in New York on the last session before `seed_day`: hours of moving prices."""
    session = market_calendar.previous_session(market_calendar.new_york_date(seed_day))
    return session.open + timedelta(minutes=30)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


@dataclass
class Heard:
    """When (on the market's clock) each alert was committed, and each push arrived."""

    commits: dict[int, datetime] = field(default_factory=dict)  # notification ID -> when
    pushes: list[datetime] = field(default_factory=list)
    pushed: asyncio.Event = field(default_factory=asyncio.Event)


@contextlib.asynccontextmanager
async def mcp_client(
    client: TemporalClient, dsn: str, task_queue: str, heard: Heard, clock: Any
) -> AsyncIterator[Client]:
    """`mcp_server.py` (connecting only) and a handshake-era client subscribed to
    ttai://alerts, as a host is; each resource-updated message is timed."""

    async def on_message(message: object) -> None:
        if (
            isinstance(message, mt.ResourceUpdatedNotification)
            and str(message.params.uri) == "ttai://alerts"
        ):
            heard.pushes.append(clock())
            heard.pushed.set()

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TEMPORAL_", "DATABASE_URL", "TT_", "TTAI_", "PG"))
    }
    with tempfile.TemporaryDirectory(prefix="ttai-bench-mcp-") as state:
        env |= {
            "TEMPORAL_ADDRESS": client.service_client.config.target_host,
            "DATABASE_URL": dsn,
            "TTAI_TASK_QUEUE": task_queue,
            "TTAI_STATE_DIR": state,
            "TTAI_LOG_LEVEL": "WARNING",
        }
        params = StdioServerParameters(
            command=sys.executable, args=["mcp_server.py"], env=env, cwd=str(PROJECT_ROOT)
        )
        async with Client(params, mode="legacy", message_handler=on_message) as mcp:
            await mcp.call_tool("list_alerts", {})  # the stack is ready: the bridge listens
            with warnings.catch_warnings():  # what hosts speak today, deprecated by 2026-07-28
                warnings.simplefilter("ignore", MCPDeprecationWarning)
                await mcp.subscribe_resource("ttai://alerts")
            yield mcp


async def streaming_case(client: TemporalClient, dsn: str, args: argparse.Namespace) -> None:
    market = running_from(session_start(datetime.now(UTC)), seed=args.seed)
    broker = SimulatedBroker(market, InMemoryPaperAccount(), tick_rate=TICK_RATE)
    task_queue = f"bench-stream-{uuid.uuid4().hex[:8]}"
    settings = Settings(market_seed=args.seed, task_queue=task_queue)
    heard = Heard()

    def on_notify(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
        announced = json.loads(payload)
        if announced["kind"] == "alert":
            heard.commits[announced["id"]] = market.now()

    listener = await asyncpg.connect(dsn)
    await listener.add_listener(NOTIFY_CHANNEL, on_notify)
    try:
        async with (
            open_services(settings, dsn, broker=broker) as services,
            build_worker(client, services, task_queue),
            mcp_client(client, dsn, task_queue, heard, market.now),
        ):
            # The monitors at their default intervals, all hours.
            await ensure_monitors(
                client, settings, inputs=dict.fromkeys(MONITOR_TYPES, MonitorInput(hours="always"))
            )
            await warm_up(client, services, heard)
            idle_cpu = await cpu_over(args.idle_seconds)
            me = psutil.Process()
            cpu0, wall0, rss = cpu_seconds(me), time.monotonic(), [me.memory_info().rss]
            adding = asyncio.ensure_future(add_rules(services, market, args))
            while not adding.done():
                await asyncio.sleep(1)
                rss.append(me.memory_info().rss)
            crossings = adding.result()
            last = max(c.at for c in crossings.values())
            while market.now() < last + timedelta(seconds=5):
                await asyncio.sleep(1)
                rss.append(me.memory_info().rss)
            streaming_cpu = (cpu_seconds(me) - cpu0) / (time.monotonic() - wall0) * 100
            await asyncio.sleep(2)  # the last pushes
            fired = await fired_alerts(services, heard)
            for workflow_id in MONITOR_TYPES:
                await client.get_workflow_handle(workflow_id).cancel()
    finally:
        await listener.close()

    to_commit = {a: (heard.commits[n] - crossings[a].at).total_seconds() for a, n in fired.items()}
    to_push = push_latencies(crossings, heard, fired)
    missed = len(crossings) - len(to_commit)
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; streaming case: the market replays "
        f"{market.now():%Y-%m-%d}, {args.symbols} symbols at {TICK_RATE:g} tick/s each, "
        f"monitors at their default intervals; {len(crossings)} crossings, {missed} missed"
    )
    print(f"idle: worker CPU {idle_cpu:.2f} % of a core (default intervals, no rules)")
    for name, values in (("committed notification", to_commit), ("MCP resource-updated", to_push)):
        ms = [v * 1000 for v in values.values()]
        print(
            f"streaming: tick -> {name} over {len(ms)} crossings: p50 {pct(ms, 0.5):.0f} ms, "
            f"p95 {pct(ms, 0.95):.0f} ms, max {max(ms):.0f} ms"
        )
    print(
        f"streaming: worker CPU {streaming_cpu:.1f} % of a core, RSS {max(rss) / 2**20:.0f} MiB "
        f"({args.symbols} symbols, {TICK_RATE:g} tick/s each)"
    )
    slow = sorted(to_commit.values(), reverse=True)[:3]
    print(f"slowest commits: {', '.join(f'{v * 1000:.0f} ms' for v in slow)}")
    if to_commit:
        print(f"mean tick -> commit {statistics.fmean(to_commit.values()) * 1000:.0f} ms")


async def warm_up(client: TemporalClient, services: Services, heard: Heard) -> None:
    """Until the price monitor streams and a firing reaches the MCP client."""
    monitor = client.get_workflow_handle("monitor-price-alerts")
    await eventually(
        lambda: monitor.query("status", result_type=MonitorStatus),
        what="the price monitor to stream",
        until=lambda status: status.mode == "streaming",
    )
    heard.pushed.clear()
    await AlertStore(services.pool).create(
        "bench-warm", AlertRuleSpec(symbol=WARM_SYMBOL, condition="price_above", threshold=1)
    )
    await asyncio.wait_for(heard.pushed.wait(), 60)
    heard.commits.clear()
    heard.pushes.clear()


async def cpu_over(seconds: float) -> float:
    me = psutil.Process()
    cpu0, wall0 = cpu_seconds(me), time.monotonic()
    await asyncio.sleep(seconds)
    return (cpu_seconds(me) - cpu0) / (time.monotonic() - wall0) * 100


async def add_rules(
    services: Services, market: Any, args: argparse.Namespace
) -> dict[int, Crossing]:
    """Per symbol a rule that keeps it streamed at once, and a crossing rule added
    ARMED_AHEAD before its crossing (the level none of its ticks since has crossed),
    the crossings staggered by `--spacing`. Returns when the last rule is added."""
    store = AlertStore(services.pool)
    symbols = [s for s in listed_symbols() if s != WARM_SYMBOL][: args.symbols]
    for symbol in symbols:
        await store.create(
            f"bench-keep-{symbol}",
            AlertRuleSpec(symbol=symbol, condition="price_above", threshold=1e6),
        )
    start = market.now() + LEAD
    planned = []
    for i, symbol in enumerate(symbols):
        earliest = start + timedelta(seconds=i * args.spacing)
        crossing = first_crossing(market, TICK_RATE, symbol, earliest, since=earliest - ARMED_AHEAD)
        planned.append((crossing.at - ARMED_AHEAD, symbol, crossing))
    crossings: dict[int, Crossing] = {}
    for arm_at, symbol, crossing in sorted(planned, key=lambda p: p[0]):
        await asyncio.sleep(max(0.0, (arm_at - market.now()).total_seconds()))
        rule = await store.create(
            f"bench-cross-{symbol}",
            AlertRuleSpec(symbol=symbol, condition=crossing.condition, threshold=crossing.level),
        )
        crossings[rule.alert_id] = crossing
    return crossings


async def fired_alerts(services: Services, heard: Heard) -> dict[int, int]:
    """Alert ID -> the notification of its first firing, for those heard committed."""
    rows = await services.pool.fetch(
        "SELECT alert_id, notification_id FROM alert_triggers WHERE sequence = 1"
    )
    return {
        r["alert_id"]: r["notification_id"] for r in rows if r["notification_id"] in heard.commits
    }


def push_latencies(
    crossings: dict[int, Crossing], heard: Heard, fired: dict[int, int]
) -> dict[int, float]:
    """Each commit's push: the first resource-updated message after it, not taken yet."""
    pushes = sorted(heard.pushes)
    out: dict[int, float] = {}
    taken = 0
    for alert_id, notification in sorted(fired.items(), key=lambda f: heard.commits[f[1]]):
        committed = heard.commits[notification]
        while taken < len(pushes) and pushes[taken] < committed:
            taken += 1
        if taken < len(pushes):
            out[alert_id] = (pushes[taken] - crossings[alert_id].at).total_seconds()
            taken += 1
    return out
