"""Writing recorded histories for the replay tests.

Failure stack traces are blanked: they name the recording machine's paths
and play no part in replay.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHistory


def _scrub(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: "" if k == "stackTrace" else _scrub(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_scrub(v) for v in node]
    return node


def scrubbed_json(text: str) -> str:
    return json.dumps(_scrub(json.loads(text)), indent=2) + "\n"


def write_history(path: Path, history: WorkflowHistory) -> None:
    path.write_text(scrubbed_json(history.to_json()))


if __name__ == "__main__":
    # Scrub the files already recorded: python -m tests.history_files
    for recorded in sorted((Path(__file__).parent / "histories").glob("*.json")):
        recorded.write_text(scrubbed_json(recorded.read_text()))
