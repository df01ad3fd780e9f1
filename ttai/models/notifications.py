from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from ttai.models.common import Model

MAX_IDEMPOTENCY_KEY_LENGTH = 300
MAX_LIST_LIMIT = 500

NotificationStatus = Literal["pending", "delivered", "dead"]

NOTIFICATIONS_WORKFLOW = "NotificationsWorkflow"
"""pending: some channel still owes it (tried again after a backoff);
delivered: every channel accepted it; dead: out of attempts (retry by hand)."""


class Notification(Model):
    idempotency_key: str = Field(
        min_length=1,
        max_length=MAX_IDEMPOTENCY_KEY_LENGTH,
        description="Built from durable facts (workflow ID, alert ID): sent once per key.",
    )
    kind: str
    title: str
    body: str = Field(description="Markdown, readable on a phone.")
    payload: dict[str, Any] = Field(default_factory=dict)


class NotifyResult(Model):
    notification_id: int
    delivered: bool = Field(
        description="False when a channel refused it: the outbox retries it on its own."
    )
    duplicate: bool = Field(description="True when this key had been enqueued before.")
    error: str | None = Field(default=None, description="Why a channel refused it.")


class NotificationInfo(Model):
    """One outbox row as `starter.py notifications list` shows it."""

    notification_id: int
    idempotency_key: str
    kind: str
    title: str
    status: NotificationStatus
    attempts: int = Field(ge=0)
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None = Field(description="When a pending row is tried next.")
    delivered_at: datetime | None
    dead_at: datetime | None
    delivered_to: list[str] = Field(
        description="Labels (scheme and host) of channels that have it."
    )


class NotificationsCommand(Model):
    """list [dead_only] | retry NOTIFICATION_ID (a dead or pending row, at once)."""

    action: Literal["list", "retry"]
    dead_only: bool = False
    notification_id: int | None = Field(default=None, gt=0)
    limit: int = Field(default=50, ge=1, le=MAX_LIST_LIMIT)

    @model_validator(mode="after")
    def _shape(self) -> NotificationsCommand:
        if self.action == "retry" and self.notification_id is None:
            raise ValueError("retry needs a notification_id")
        if self.action == "list" and self.notification_id is not None:
            raise ValueError("list takes no notification_id")
        return self


class NotificationsCommandResult(Model):
    notifications: list[NotificationInfo] = Field(
        default_factory=list, description="For list: newest first."
    )
    retried: NotificationInfo | None = Field(default=None, description="For retry: the row after.")
