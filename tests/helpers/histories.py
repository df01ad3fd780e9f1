"""Recorded histories for the replay test (tests/replay/test_replay.py), and what
the recorders in tests/histories/ share to write them.

A recorder runs as a module from the project root, on a throw-away server:

    .venv/bin/python -m tests.histories.record_<area>

Each case runs under the workflow ID `record-<case>` and is written to
`tests/histories/<case>.json` (earlier runs of a continued chain:
`<case>.runN.json`); the replay test derives the ID back from the file name.
Failure stack traces are blanked: they name the recording machine's paths and
play no part in replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle, WorkflowHistory

HISTORY_DIR = Path(__file__).resolve().parent.parent / "histories"


def workflow_id(case: str) -> str:
    """The ID a case is recorded under (`case` without any `.runN`)."""
    return f"record-{case.split('.')[0]}"


def _scrub(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: "" if k == "stackTrace" else _scrub(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_scrub(v) for v in node]
    return node


def scrubbed_json(text: str) -> str:
    return json.dumps(_scrub(json.loads(text)), indent=2) + "\n"


def write_history(name: str, history: WorkflowHistory) -> None:
    (HISTORY_DIR / f"{name}.json").write_text(scrubbed_json(history.to_json()))
    print("wrote", f"{name}.json")


async def save(handle: WorkflowHandle[Any, Any], case: str) -> None:
    """The history of `handle`'s run as `<case>.json`."""
    write_history(case, await handle.fetch_history())


async def save_runs(client: Client, handle: WorkflowHandle[Any, Any], case: str) -> None:
    """Every run of the chain: `<case>.runN.json` for continued runs, `<case>.json` last."""
    run_id: str | None = handle.first_execution_run_id
    histories = []
    while run_id:
        history = await client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
        histories.append(history)
        last = history.events[-1]
        continued = last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        run_id = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if continued
            else None
        )
    for number, history in enumerate(histories, start=1):
        write_history(case if number == len(histories) else f"{case}.run{number}", history)


def record_cases(
    task_queue: str,
    activities: Sequence[Callable[..., Any]],
    cases: Mapping[str, tuple[str, Any]],
) -> None:
    """The whole recorder for one-run cases: on a throw-away dev server, a worker
    with the real workflows and `activities` runs each case `{name: (workflow
    type, input)}` to its end (a failure is as designed) and saves its history."""
    from tests.helpers.temporal import throwaway_dev_server
    from worker import build_worker

    async def main() -> None:
        async with (
            throwaway_dev_server() as client,
            build_worker(client, None, task_queue, activities=activities),
        ):
            for case, (workflow, arg) in cases.items():
                handle = await client.start_workflow(
                    workflow, arg, id=workflow_id(case), task_queue=task_queue
                )
                with contextlib.suppress(WorkflowFailureError):
                    await handle.result()
                await save(handle, case)

    run_recorder(main)


def run_recorder(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """`asyncio.run(main())`, then leave at once: the SDK runtime can abort the
    interpreter while it finalises (sdk-python#300)."""
    asyncio.run(main())
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    # Scrub the files already recorded: python -m tests.helpers.histories
    for recorded in sorted(HISTORY_DIR.glob("*.json")):
        recorded.write_text(scrubbed_json(recorded.read_text()))
