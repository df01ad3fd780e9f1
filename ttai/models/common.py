"""Types shared by every model: validated symbols, strategies, the base model."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, WithJsonSchema

# Equity and ETF tickers as the broker lists them: 1-5 letters with an optional
# class suffix (BRK.B, BF/B). Anything else is rejected before it enters history.
_SYMBOL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
MAX_SYMBOL_LENGTH = 8  # 5 letters, a separator and a 2-letter class: BRK.B, BF/B


@lru_cache(maxsize=8192)  # a chain validates the same underlying thousands of times
def _check_symbol(value: str) -> str:
    head, sep, cls = value.replace("/", ".").partition(".")
    if not (
        1 <= len(head) <= 5
        and set(head) <= _SYMBOL_CHARS
        and (not sep or (1 <= len(cls) <= 2 and set(cls) <= _SYMBOL_CHARS))
    ):
        raise ValueError(
            f"invalid symbol {value[:20]!r}: expected 1-5 upper-case letters, "
            "optionally with a class suffix such as BRK.B"
        )
    return value


SYMBOL_PATTERN = r"^[A-Z]{1,5}([./][A-Z]{1,2})?$"

Symbol = Annotated[
    str,
    AfterValidator(_check_symbol),
    # The same rule for apps that validate against the exported JSON Schema.
    WithJsonSchema({"type": "string", "pattern": SYMBOL_PATTERN, "examples": ["AAPL", "BRK.B"]}),
]
"""A ticker symbol; validation rejects lower case, punctuation, unicode and SQL fragments."""

MAX_WORKFLOW_ID_LENGTH = 200
"""Longest workflow ID the workflows accept. Keys built from it stay within the
outbox's 300-character idempotency key: `analysis:<ID>:<run ID>` is at most
200 + 47 characters. (Temporal itself allows 1,000.)"""

MAX_SCREEN_ID_LENGTH = MAX_WORKFLOW_ID_LENGTH - 1 - MAX_SYMBOL_LENGTH
"""A screen's children are `<screen ID>/<symbol>`: valid workflow IDs too."""

MAX_KEY_LENGTH = 300
"""Idempotency keys and request IDs built from workflow IDs."""

_NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f]+$"

WorkflowId = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=MAX_WORKFLOW_ID_LENGTH, pattern=_NO_CONTROL_CHARACTERS
    ),
]
"""A workflow ID as the workflows accept it: 1-200 characters, no control characters."""

ScreenId = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=MAX_SCREEN_ID_LENGTH, pattern=_NO_CONTROL_CHARACTERS
    ),
]
"""A ScreenerWorkflow's ID (its children's IDs add `/<symbol>`)."""

RunId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=_NO_CONTROL_CHARACTERS)
]
"""A Temporal run ID (a UUID)."""

Key = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_KEY_LENGTH, pattern=_NO_CONTROL_CHARACTERS)
]
"""An idempotency key or request ID built from workflow IDs."""

Strategy = Literal["csp"]
"""Option strategies the analysis knows. Only cash-secured puts for now."""


class Model(BaseModel):
    """Base of every workflow/activity input and result.

    Extra fields are rejected so a typo in raw JSON from the `temporal` CLI fails
    loudly instead of being silently dropped; models are frozen so a workflow
    cannot mutate an input it got from history; every float must be finite
    (`Infinity`, `NaN`, `1e999` are refused at any depth, dict values and list
    items included: the converter would write them as `null`, which the next
    step could never read).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
