"""The operations every front end shares: validate, start or query, shape the result.

`starter.py` (through `ttai/cli`) and the MCP server call these functions and
nothing else to reach Temporal; a front end only parses its arguments and
draws (or declares tools). One module per area:

    analysis     analyze a symbol (start AnalysisWorkflow, optionally wait)
    tasks        the TaskManager: list (visibility), get, result, cancel
    screens      start a screen, follow its progress, its ranked result
    commands     reads and writes of stored data, each a short command workflow:
                 alert rules, watchlists, the notification outbox, the
                 portfolio, the latest reports
    monitors     steer the monitors: status, pause/resume/check/stop, interval, start
    reports      run a report now; the report schedules (apply/list/describe/...)
    market       is NYSE open, next open/close, early closes
    calls        the Temporal calls the others are made of, errors translated
    connection   settings plus a Temporal client made on first use
    errors       the `OpsError` family

Every operation takes a `Connection` (settings plus a client made on first
use, `ttai.ops.connection`) and pydantic models (the workflows' own, or small
input models built from them), returns pydantic models, and raises only
`ttai.ops.errors.OpsError`s, whose message is one line. Nothing here imports
the Temporal client, pandas or the analytics at import time.
"""
