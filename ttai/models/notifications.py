from __future__ import annotations

from typing import Any

from pydantic import Field

from ttai.models.common import Model


class Notification(Model):
    idempotency_key: str = Field(
        min_length=1,
        max_length=300,
        description="Built from durable facts (workflow ID, alert ID): sent once per key.",
    )
    kind: str
    title: str
    body: str = Field(description="Markdown, readable on a phone.")
    payload: dict[str, Any] = Field(default_factory=dict)


class NotifyResult(Model):
    notification_id: int
    delivered: bool
    duplicate: bool = Field(description="True when this key had been enqueued before.")
