"""The task tools act only on TTAI's task types on its own queue; monitors are
steered only through `monitors`, which hosts are told may be destructive (issue 22).

Through a real MCP client: before, `cancel_task("monitor-price-alerts")` was
accepted and alert monitoring stopped, with no tool to restart it.
"""

from __future__ import annotations

import uuid

from mcp import Client
from temporalio.client import WorkflowExecutionStatus

from tests.mcp.test_tools import call, error
from ttai.config import Settings
from ttai.mcp.server import TtaiServer
from ttai.models.analysis import AnalysisInput
from ttai.temporal.client import connect


async def test_monitors_are_not_tasks_to_read_or_cancel(mcp: TtaiServer, backend: Settings) -> None:
    temporal = await connect(backend)
    async with Client(mcp) as client:
        for monitor in ("monitor-price-alerts", "monitor-portfolio"):
            refused = await error(client, "cancel_task", task_id=monitor)
            assert f"no workflow with ID '{monitor}' among TTAI's tasks" in refused, refused
            assert "monitors" in refused
            await error(client, "get_task", task_id=monitor)
            described = await temporal.get_workflow_handle(monitor).describe()
            assert described.status == WorkflowExecutionStatus.RUNNING
        # What the monitors tool still does, and what hosts are told about it.
        assert (await call(client, "monitors"))["monitors"]["monitors"]
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert tools["monitors"].annotations is not None
        assert tools["monitors"].annotations.destructive_hint is True


async def test_another_applications_workflow_is_not_a_task(
    mcp: TtaiServer, backend: Settings
) -> None:
    """On a shared cluster: the same type of workflow on another queue is not TTAI's."""
    temporal = await connect(backend)
    other = await temporal.start_workflow(
        "AnalysisWorkflow",
        AnalysisInput(symbol="AAPL"),
        id=f"other-app-{uuid.uuid4().hex[:8]}",
        task_queue=f"other-app-{uuid.uuid4().hex[:8]}",  # no worker: it stays running
    )
    try:
        async with Client(mcp) as client:
            for tool in ("get_task", "cancel_task"):
                text = await error(client, tool, task_id=other.id)
                assert "among TTAI's tasks" in text, text
        assert (await other.describe()).status == WorkflowExecutionStatus.RUNNING
    finally:
        await other.terminate()
