"""Types shared by every model: validated symbols, strategies, the base model."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, WithJsonSchema

# Equity and ETF tickers as the broker lists them: 1-5 letters with an optional
# class suffix (BRK.B, BF/B). Anything else is rejected before it enters history.
_SYMBOL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


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

Strategy = Literal["csp"]
"""Option strategies the analysis knows. Only cash-secured puts for now."""


class Model(BaseModel):
    """Base of every workflow/activity input and result.

    Extra fields are rejected so a typo in raw JSON from the `temporal` CLI fails
    loudly instead of being silently dropped; models are frozen so a workflow
    cannot mutate an input it got from history.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
