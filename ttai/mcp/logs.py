"""Structured stderr logs for the MCP server, without their imports on the handshake's path.

The project's formatter (`ttai.telemetry`) imports temporalio and
OpenTelemetry: about half a second the host would wait for `initialize`.
`hold_logs()` installs a handler that keeps records in memory (and keeps the
SDK's own logging set-up, a Rich handler, from being installed);
`configure()` loads the project's structured, redacting handler and replays
what was held through it. Nothing is written unformatted in between: if the
process ends first, the records are replayed through the real handler at exit.
"""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import os
import threading

_lock = threading.Lock()
_held: logging.handlers.MemoryHandler | None = None
_configured = False

# Records kept before the real handler exists: the start-up says little; past
# this, the oldest are dropped rather than holding memory.
_HOLD_CAPACITY = 10_000


class _Holder(logging.handlers.MemoryHandler):
    """Keeps records until `configure()`; never flushes on its own."""

    def shouldFlush(self, record: logging.LogRecord) -> bool:
        if len(self.buffer) > _HOLD_CAPACITY:
            del self.buffer[0]
        return False


def hold_logs() -> None:
    """Root logging goes to a memory buffer until `configure()`."""
    global _held
    with _lock:
        if _held is not None or _configured:
            return
        _held = _Holder(capacity=_HOLD_CAPACITY, flushLevel=logging.CRITICAL + 1)
        root = logging.getLogger()
        root.handlers[:] = [_held]
        root.setLevel(os.environ.get("TTAI_LOG_LEVEL", "INFO").upper())
    atexit.register(configure)


def configure() -> None:
    """The project's structured stderr logs (secrets redacted); replays held records.

    Only after `hold_logs()` (the server's entry point): a process that embeds
    the server (tests) keeps its own logging. Idempotent and thread-safe; runs in
    a thread after the handshake, or at exit.
    """
    global _held, _configured
    with _lock:
        if _configured or _held is None:
            return
        from ttai.telemetry.logs import configure_logging  # temporalio: ~0.5 s

        configure_logging()
        _configured = True
        held, _held = _held, None
    if held is not None:
        handlers = logging.getLogger().handlers
        for record in held.buffer:
            for handler in handlers:
                if record.levelno >= handler.level:
                    handler.handle(record)
        held.buffer.clear()
