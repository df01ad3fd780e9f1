"""Notification builders and their idempotency keys."""
