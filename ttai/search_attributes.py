"""Custom search attributes the Web UI can filter on.

Values are never encrypted by a payload codec, so nothing here may carry an
account number or a balance.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

SYMBOL = SearchAttributeKey.for_keyword("TtaiSymbol")
RECOMMENDATION = SearchAttributeKey.for_keyword("TtaiRecommendation")
STRATEGY = SearchAttributeKey.for_keyword("TtaiStrategy")

ALL = (SYMBOL, RECOMMENDATION, STRATEGY)


def dev_server_flags() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    return [
        flag
        for key in ALL
        for flag in ("--search-attribute", f"{key.name}={key.indexed_value_type.name.title()}")
    ]
