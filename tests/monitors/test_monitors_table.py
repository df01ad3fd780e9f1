"""`monitors status` says what each monitor is doing in words a person reads right."""

from __future__ import annotations

from rich.console import Console

from ttai.cli.monitors import status_grid
from ttai.models.monitors import (
    MONITOR_IDS,
    MONITOR_TYPES,
    MarketHours,
    MonitorState,
    MonitorStatus,
)
from ttai.ops.monitors import MonitorInfo, MonitorsStatus


def info(name: str, *, hours: MarketHours, market_open: bool, paused: bool = False) -> MonitorInfo:
    workflow_id = MONITOR_IDS[name]  # type: ignore[index]
    status = MonitorStatus(
        workflow_type=MONITOR_TYPES[workflow_id],
        state=MonitorState(interval_seconds=30, paused=paused),
        market_open=market_open,
        hours=hours,
        next_run_at=None,
        run_iterations=0,
        history_length=10,
    )
    return MonitorInfo(
        name=name,  # type: ignore[arg-type]
        workflow_id=workflow_id,
        workflow_type=status.workflow_type,
        running=True,
        status=status,
    )


def test_each_monitor_reads_as_what_it_is_doing() -> None:
    report = MonitorsStatus(
        monitors=[
            info("portfolio", hours="regular", market_open=False),
            info("price-alerts", hours="regular", market_open=True, paused=True),
            info("position-sync", hours="regular", market_open=True),
            # The outbox follows no market: its status says hours "always".
            info("outbox", hours="always", market_open=True),
        ]
    )
    console = Console(width=80, force_terminal=False, record=True)
    console.print(status_grid(report))
    rows = {line.split()[0]: line for line in console.export_text().splitlines() if line.strip()}
    assert "market closed" in rows["portfolio"]
    assert "paused" in rows["price-alerts"]
    assert "market open" in rows["position-sync"]
    assert "running" in rows["outbox"] and "market" not in rows["outbox"]
