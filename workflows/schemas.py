"""Export the JSON Schemas of every workflow the worker hosts (a dev tool).

    python -m workflows.schemas            # write schemas/ (`make schemas`)
    python -m workflows.schemas --check    # exit 1 when schemas/ is stale

The exporter itself is generic (`ttai.temporal.schemas`); this entry point
hands it the worker's list of workflows.
"""

from __future__ import annotations

from ttai.temporal import schemas
from workflows.registry import ALL_WORKFLOWS

SCHEMA_DIR = schemas.SCHEMA_DIR


def stale() -> list[str]:
    """Checked-in schema files that differ from the workflows, are missing, or are extra."""
    return schemas.stale(ALL_WORKFLOWS)


if __name__ == "__main__":
    raise SystemExit(schemas.main(ALL_WORKFLOWS))
