"""Migrations and the notification outbox."""
