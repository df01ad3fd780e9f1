"""The portfolio: positions with delta, days to expiry and P&L, plus NLV and buying power.

Through PortfolioWorkflow. By default it reads what PositionSyncWorkflow
stored at its last sync (every 5 minutes while the market is open, every 30
while it is closed) and says when that was (`as_of`): no broker call, so it
answers even when the broker is slow or down. `source="broker"` reads the
broker now instead (read-only, like everything else).
"""

from __future__ import annotations

from ttai.models.portfolio import PortfolioRequest, PortfolioView
from ttai.ops import calls
from ttai.ops.connection import Connection

WORKFLOW = "PortfolioWorkflow"


async def portfolio(conn: Connection, request: PortfolioRequest | None = None) -> PortfolioView:
    return await calls.execute_command(
        conn,
        WORKFLOW,
        request or PortfolioRequest(),
        id_prefix="portfolio",
        result_type=PortfolioView,
    )
