"""Workflow definitions: orchestration only (see workflows.registry for the list)."""
