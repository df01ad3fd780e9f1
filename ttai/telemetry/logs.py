"""Structured one-line logs with the Temporal IDs, secrets redacted, for every process.

Everything a process writes about itself goes through `StructuredFormatter`:
log records, uncaught exceptions (`sys.excepthook`, `threading.excepthook`),
warnings, and the messages of `SystemExit`s leaving an entry point wrapped in
`run_main`.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, NoReturn

from temporalio import activity, workflow

from ttai.telemetry.redaction import Redactor, register_environment

_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

# Third-party loggers that write credentials at DEBUG: the tastytrade SDK
# (bearer tokens of the account streamer), Apprise (`.../bot<token>/sendMessage`)
# and the HTTP clients underneath them, held at INFO. The HTTP clients also log
# every request line at INFO (tastytrade's paths carry the account number, a
# channel's its token): held at WARNING.
HELD_LOGGERS = ("tastytrade", "apprise", "urllib3", "requests")
HTTP_LOGGERS = ("httpx", "httpx2", "httpcore")

logger = logging.getLogger("ttai")


def _temporal_context(record: logging.LogRecord) -> dict[str, Any]:
    """workflow_id / activity_id etc. from Temporal's logger extras or the context."""
    fields: dict[str, Any] = {}
    for key in ("temporal_workflow", "temporal_activity"):
        details = getattr(record, key, None)
        if isinstance(details, Mapping):
            fields.update(details)
    if not fields and activity.in_activity():
        # Plain loggers (broker, database) called from an activity.
        info = activity.info()
        fields = {
            "workflow_id": info.workflow_id,
            "activity_id": info.activity_id,
            "activity_type": info.activity_type,
            "attempt": info.attempt,
        }
    keep = ("workflow_id", "run_id", "workflow_run_id", "workflow_type")
    keep += ("activity_id", "activity_type", "attempt", "update_id")
    return {k: fields[k] for k in keep if fields.get(k) is not None}


class StructuredFormatter(logging.Formatter):
    """One line per record: `key=value` pairs, or a JSON object; secrets redacted.

    Each field is redacted before it is serialized (JSON escaping would hide a
    secret holding `"`, `\\` or non-ASCII characters from a later search), and
    the finished line once more.
    """

    converter = time.gmtime  # timestamps in UTC, marked with Z

    def __init__(self, *, as_json: bool = False, redactor: Redactor | None = None) -> None:
        super().__init__()
        self._as_json = as_json
        self._redactor = redactor or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%SZ"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields.update(_temporal_context(record))
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith(("temporal_", "_")):
                fields.setdefault(key, value)
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            fields["stack"] = self.formatStack(record.stack_info)
        fields = {k: self._redactor.redact_value(v) for k, v in fields.items()}
        if self._as_json:
            line = json.dumps(fields, default=str)
        else:
            line = " ".join(f"{k}={_kv(v)}" for k, v in fields.items())
        return self._redactor.redact(line)


def _kv(value: Any) -> str:
    text = str(value)
    if text and not re.search(r"[\s\"=]", text):
        return text
    return json.dumps(text)


def _log_uncaught(
    kind: type[BaseException], error: BaseException, trace: TracebackType | None
) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, trace)
        return
    logger.critical("uncaught exception", exc_info=(kind, error, trace))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None or isinstance(args.exc_value, SystemExit):
        return
    name = args.thread.name if args.thread else "?"
    logger.critical(
        "uncaught exception in thread %s",
        name,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )


def configure_logging(level: str | None = None, *, as_json: bool | None = None) -> None:
    """Structured one-line logs on stderr for the whole process.

    `TTAI_LOG_LEVEL` (default INFO) and `TTAI_LOG_FORMAT` (`kv` or `json`)
    choose the defaults. Registers the environment's secrets for redaction,
    holds the loggers that print credentials at INFO, and routes uncaught
    exceptions and warnings through the same formatter.
    """
    register_environment(os.environ)
    level = level or os.environ.get("TTAI_LOG_LEVEL", "INFO")
    if as_json is None:
        as_json = os.environ.get("TTAI_LOG_FORMAT", "kv").lower() == "json"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(StructuredFormatter(as_json=as_json))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The IDs are separate fields now; don't repeat them inside every message.
    activity.logger.activity_info_on_message = False
    workflow.logger.workflow_info_on_message = False
    for name in HELD_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))
    for name in HTTP_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def run_main(main: Callable[[], int | None]) -> NoReturn:
    """Run an entry point and exit with its code, logging what would bypass the logs.

    A `SystemExit` carrying a message (`sys.exit("cannot start: ...")`) is
    logged as an error and exits 1; an uncaught exception is logged with its
    traceback and exits 1; Ctrl-C exits 130. Nothing reaches stderr unformatted.
    """
    code = exit_code(main)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    # The Temporal SDK's runtime can abort the interpreter while it finalises
    # (sdk-python#300: "PyGILState_Release", exit 134) and so replace the code
    # and write to stderr unformatted. Run the exit handlers (they stop any
    # local server still registered), then leave before finalisation.
    atexit._run_exitfuncs()
    os._exit(code)


def exit_code(main: Callable[[], int | None]) -> int:
    """`run_main` without the exit: the code the process should end with."""
    try:
        code: Any = main()
    except SystemExit as stop:
        code = stop.code
    except KeyboardInterrupt:
        code = 130
    except BaseException:
        _ensure_logging()
        logger.critical("uncaught exception", exc_info=True)
        code = 1
    if code is not None and not isinstance(code, int):
        _ensure_logging()
        logger.error("%s", code)
        code = 1
    return code or 0


def _ensure_logging() -> None:
    if not logging.getLogger().handlers:
        configure_logging()
