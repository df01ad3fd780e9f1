"""Replay of every saved history against today's workflow code."""
