"""TTAI's prompts for an AI host, each stitching the tools together:
find_csp_candidates (a watchlist), review_positions, plan_session (the morning briefing).

Arguments are strings on the wire; every one has a default (a missing required
argument is an internal error with a traceback in the SDK) and is checked here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from pydantic import Field, TypeAdapter, ValidationError

from ttai.models.screener import MAX_TOP_N, WatchlistName


def _prompt_argument(value: str, check: Callable[[str], Any], what: str) -> Any:
    try:
        return check(value)
    except ValidationError as err:
        reason = "; ".join(e["msg"] for e in err.errors(include_url=False))
    except (ValueError, TypeError) as err:
        reason = str(err)
    raise MCPError(INVALID_PARAMS, f"invalid {what} {value[:40]!r}: {reason}")


def _watchlist_name(value: str) -> str:
    return TypeAdapter(WatchlistName).validate_python(value.strip())


def _top_n(value: str) -> int:
    number = int(value)
    if not 1 <= number <= MAX_TOP_N:
        raise ValueError(f"between 1 and {MAX_TOP_N}")
    return number


def find_csp_candidates(
    watchlist: Annotated[str, Field(description="The watchlist to screen")] = "default",
    top_n: Annotated[str, Field(description="How many candidates to present")] = "5",
) -> str:
    """Find cash-secured-put candidates in a watchlist."""
    name = _prompt_argument(watchlist, _watchlist_name, "watchlist")
    count = _prompt_argument(top_n, _top_n, "top_n")
    return f"""\
Find cash-secured-put candidates in my TTAI watchlist "{name}". TTAI is read-only \
towards the broker: never suggest that you placed an order.

1. Call `market_status` and note whether NYSE is open and any early close.
2. Call `watchlists` with action "show" and name "{name}" to see its symbols.
3. Call `screen_symbols` with watchlist "{name}", strategy "csp" and top_n {count}; it \
reports progress while it runs and returns the ranking.
4. For the ranked entries recommended "strong_select" or "select", present a table: \
symbol, strike and expiration of the put to sell, credit, annualised return, probability \
of profit, delta, IV rank (a null number is unknown: write "unknown", never 0). Say \
which ones have earnings before expiry (call `analyze_symbol` for a symbol when you need \
its research details).
5. Mention the symbols that failed and why, in one line each.
6. Offer to add price alerts (`add_alert`) near the strikes, but add none without my yes."""


def review_positions() -> str:
    """Review my open positions: risk, days to expiry, P&L, and the alerts that guard them."""
    return """\
Review my open TTAI positions. TTAI is read-only towards the broker: suggest, never \
claim to trade.

1. Call `portfolio` (it says when the positions were last synced; ask for source \
"broker" only if that is stale).
2. For each position show symbol, type, quantity, days to expiry, delta and P&L (a null \
number is unknown: write "unknown", never 0; a line marked `settled` expired or was \
assigned or exercised today); for the account, net liquidating value and buying power.
3. Flag short puts with |delta| above 0.30, 21 days to expiry or fewer, or at least \
50% of the credit already earned, and underlyings with earnings before expiry \
(`analyze_symbol` gives the research).
4. Call `list_alerts` and point out flagged positions no alert watches; propose \
`add_alert` rules on the options' delta or days to expiry, or a price level near the \
strike, and add them only when I agree.
5. End with a short list: hold, consider closing, consider rolling, and why."""


def plan_session() -> str:
    """Plan today's trading session from the morning briefing."""
    return """\
Plan today's trading session with TTAI. TTAI is read-only towards the broker.

1. Call `market_status`: is NYSE open today, when does it open and close, is it an \
early close?
2. Call `reports` with action "latest" and read the morning briefing. If there is none \
for today, call `reports` with action "run" and kind "morning_briefing" (it waits for \
the report).
3. Call `portfolio` and `list_alerts` for what is open and what is watched.
4. Write the plan: what the briefing says matters today (earnings, moves, alerts), \
positions that need attention and why, candidates worth screening (offer \
`screen_symbols` on a watchlist), and the times that matter (open, close, early close).
Keep it to one screen of text."""


PROMPTS = [find_csp_candidates, review_positions, plan_session]
