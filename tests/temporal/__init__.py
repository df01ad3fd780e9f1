"""Temporal plumbing: payload codec, codec server, JSON Schema export."""
