"""Settings, read once from the environment (`TTAI_*`, `DATABASE_URL`, `TEMPORAL_*`).

Secrets are not settings: broker credentials and encryption keys are read by
the components that use them, inside the worker process, and never logged.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from pydantic import BaseModel, Field

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _rate(name: str) -> float | None:
    """A broker lane's rate from the environment: None when unset, 0 for no limit."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        rate = float(value)
    except ValueError:
        rate = -1.0
    if not (math.isfinite(rate) and rate >= 0):
        raise ValueError(
            f"{name}={value[:20]!r}: expected activities per second, a number >= 0 (0: no limit)"
        )
    return rate


class Settings(BaseModel):
    task_queue: str = "ttai"
    namespace: str = "default"
    # The loopback address, never a name: `localhost` may resolve to ::1 first,
    # where anyone could listen (our servers bind 127.0.0.1 only).
    temporal_address: str = "127.0.0.1:7233"
    temporal_port: int = Field(default=7233, ge=1, le=65535)
    ui_port: int = Field(default=8233, ge=1, le=65535)
    postgres_port: int = Field(default=54329, ge=1, le=65535)
    # Both may hold passwords and tokens: left out of repr() and str() (and so
    # out of any log line or traceback that prints the settings).
    database_url: str | None = Field(default=None, repr=False)
    state_dir: Path = PROJECT_ROOT / "state"
    market_seed: int = 7
    simulated_latency_ms: int = Field(
        default=0,
        ge=0,
        le=10_000,
        description="The simulated market waits this long on each market-data call, as a "
        "real broker's round trip would (TTAI_SIMULATED_LATENCY_MS; tests, demos).",
    )
    simulated_tick_rate: float = Field(
        default=1.0,
        gt=0,
        le=100,
        description="Quotes per second per symbol that the simulated market streams "
        "(TTAI_SIMULATED_TICK_RATE).",
    )
    notify_urls: list[str] = Field(
        default_factory=list,
        repr=False,
        description="Apprise URLs (json://, ntfy://, tgram:// ...); the log channel is always on.",
    )
    use_remote_temporal: bool = Field(
        default=False, description="True when TEMPORAL_ADDRESS/profile points at a cluster."
    )
    metrics_enabled: bool = Field(
        default=False, description="Serve Prometheus metrics (TTAI_METRICS=1 or a port set)."
    )
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9464, ge=1, le=65535)
    broker_rate: float | None = Field(
        default=None,
        ge=0,
        description="Bulk broker lane (analyses, screens): activities per second for the whole "
        "deployment (TTAI_BROKER_RATE); 0: no limit; unset: the broker's default "
        "(ttai/temporal/lanes.py).",
    )
    broker_live_rate: float | None = Field(
        default=None,
        ge=0,
        description="Live broker lane (monitors, alert checks, reports), as broker_rate "
        "(TTAI_BROKER_LIVE_RATE).",
    )
    codec_host: str = "127.0.0.1"
    codec_port: int = Field(default=8234, ge=1, le=65535)
    ui_origins: list[str] = Field(
        default_factory=list,
        description="Web UI origins the codec server answers (default: the local UI port).",
    )

    @classmethod
    def from_env(cls) -> Settings:
        temporal_port = int(_env("TTAI_TEMPORAL_PORT", "7233"))
        remote = os.environ.get("TEMPORAL_ADDRESS") or os.environ.get("TEMPORAL_PROFILE")
        return cls(
            task_queue=_env("TTAI_TASK_QUEUE", "ttai"),
            namespace=_env("TEMPORAL_NAMESPACE", "default"),
            temporal_address=_env("TEMPORAL_ADDRESS", f"127.0.0.1:{temporal_port}"),
            temporal_port=temporal_port,
            ui_port=int(_env("TTAI_UI_PORT", "8233")),
            postgres_port=int(_env("TTAI_POSTGRES_PORT", "54329")),
            database_url=os.environ.get("DATABASE_URL") or None,
            state_dir=Path(_env("TTAI_STATE_DIR", str(PROJECT_ROOT / "state"))),
            market_seed=int(_env("TTAI_MARKET_SEED", "7")),
            simulated_latency_ms=int(_env("TTAI_SIMULATED_LATENCY_MS", "0")),
            simulated_tick_rate=float(_env("TTAI_SIMULATED_TICK_RATE", "1")),
            notify_urls=[u for u in _env("TTAI_NOTIFY_URLS", "").split() if u],
            use_remote_temporal=bool(remote),
            metrics_enabled=_env("TTAI_METRICS", "0").lower() in ("1", "true", "on", "yes")
            or bool(os.environ.get("TTAI_METRICS_PORT")),
            metrics_host=_env("TTAI_METRICS_HOST", "127.0.0.1"),
            metrics_port=int(_env("TTAI_METRICS_PORT", "9464")),
            broker_rate=_rate("TTAI_BROKER_RATE"),
            broker_live_rate=_rate("TTAI_BROKER_LIVE_RATE"),
            codec_host=_env("TTAI_CODEC_HOST", "127.0.0.1"),
            codec_port=int(_env("TTAI_CODEC_PORT", "8234")),
            ui_origins=_env("TTAI_UI_ORIGIN", "").replace(",", " ").split(),
        )
