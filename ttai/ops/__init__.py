"""The operations every front end shares: validate, start or query, shape the result.

`starter.py` (through `ttai/cli`) and the MCP server call these functions and
nothing else to reach Temporal; a front end only parses its arguments and
draws (or declares tools). One module per area:

    analysis       analyze a symbol (start AnalysisWorkflow, optionally wait)
    tasks          the TaskManager: list (visibility), get, result, cancel
    screens        start a screen, follow its progress, its ranked result
    watchlists     WatchlistWorkflow commands
    monitors       status, pause/resume/check/stop, interval, start
    alerts         the price monitor's alert rules (updates)
    reports        the latest saved report of each kind, run one now
    schedules      the report schedules (apply/list/describe/pause/...)
    notifications  the outbox: list rows, retry a dead letter
    portfolio      positions with greeks, DTE and P&L, NLV and buying power
    market         is NYSE open, next open/close, early closes

Every operation takes a `Connection` (settings plus a client made on first
use, `ttai.ops.connection`) and pydantic models (the workflows' own, or small
input models built from them), returns pydantic models, and raises only
`ttai.ops.errors.OpsError`s, whose message is one line. Nothing here imports
the Temporal client, pandas or the analytics at import time.
"""
