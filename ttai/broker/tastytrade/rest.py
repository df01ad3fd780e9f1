"""REST list endpoints read as raw items, so each record is parsed on its own.

The SDK's list methods (`Account.get_positions`, `Account.get_history`) build
every item's model in one list comprehension: one item its model refuses fails
the whole list. These helpers return the items as sent; the broker parses each
with the SDK's model through `ttai.broker.records.read_each`. They use the
session the way the SDK's own methods do (refresh, then its httpx client), and
every HTTP error still goes through the broker's status hook.
"""

from __future__ import annotations

from typing import Any

from tastytrade import Session
from tastytrade.utils import validate_response

from ttai.broker.base import BrokerError

MAX_PAGES = 40  # 10,000 transactions at 250 a page: far more than a day's fills


async def get_items(session: Session, path: str, params: dict[str, Any]) -> list[Any]:
    """The `items` of one list response."""
    return list((await session._get(path, params=params))["items"])


async def get_all_pages(
    session: Session, path: str, params: dict[str, Any], per_page: int = 250
) -> list[Any]:
    """The `items` of every page of a paginated list response, in order."""
    items: list[Any] = []
    query = {**params, "per-page": per_page}
    for offset in range(MAX_PAGES):
        await session.refresh()
        response = await session._client.get(path, params={**query, "page-offset": offset})
        validate_response(response)
        body = response.json()
        items += body["data"]["items"]
        pagination = body.get("pagination") or {}
        if offset >= int(pagination.get("total-pages", 0)) - 1:
            return items
    # The path holds the account number: name only what is listed.
    raise BrokerError(f"tastytrade listed more than {MAX_PAGES} pages of {path.rsplit('/', 1)[-1]}")
