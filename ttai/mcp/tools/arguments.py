"""What the tools' arguments share: the workflow models' constraints and
descriptions (`like`), and the common argument types."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field
from pydantic.fields import FieldInfo

from ttai.models.common import Strategy, Symbol, WorkflowId


def like(model: type[BaseModel], name: str, description: str | None = None) -> FieldInfo:
    """A workflow model field's constraints and description, for a tool argument of the
    same name (its default stays the argument's own): the input schema says what the
    model checks, and the body parses the arguments into that model all the same."""
    source = model.model_fields[name]
    constraints: dict[str, Any] = {}
    for meta in source.metadata:
        for key in ("gt", "ge", "lt", "le", "min_length", "max_length", "pattern"):
            value = getattr(meta, key, None)
            if value is not None:
                constraints[key] = value
    # Not allow_inf_nan: as a field constraint pydantic 2.14 raises a TypeError on the
    # string "inf" instead of refusing it; the model's own check refuses it in the body.
    return Field(description=description or source.description, **constraints)


# --- argument types, with the models' constraints and descriptions ---------------------------

SymbolArg = Annotated[Symbol, Field(description="Ticker, upper case: AAPL, BRK.B")]
StrategyArg = Annotated[Strategy, Field(description="csp: cash-secured puts (the only one)")]
TaskIdArg = Annotated[
    WorkflowId,
    Field(description="A task ID (workflow ID) from analyze_symbol, screen_symbols or list_tasks"),
]
WaitArg = Annotated[
    bool,
    Field(
        description="true: wait and return the result (cancelling this call cancels the work); "
        "false: return the task ID at once, then poll it with get_task"
    ),
]
