"""Custom search attributes the Web UI can filter on.

Values are never encrypted by a payload codec, so nothing here may carry an
account number or a balance.
"""

from __future__ import annotations

from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
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


async def register(client: Client) -> list[str]:
    """Add any missing attribute to the client's namespace; returns the names added.

    The dev server gets them from flags; a remote cluster or the time-skipping
    test server needs this call (it needs operator rights on the namespace).
    """
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    missing = {
        key.name: key.indexed_value_type for key in ALL if key.name not in listed.custom_attributes
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=client.namespace,
                search_attributes={name: int(kind) for name, kind in missing.items()},
            )
        )
    return sorted(missing)
