"""Temporal plumbing shared by the worker, the CLI and other clients.

The client and its data converter (`client`), payload encryption (`codec`,
`codec_server`), the Web UI's search attributes, the report schedules, the
monitors' fixed IDs, bootstrap (monitors + schedules in place), and the
generic JSON Schema exporter. Nothing here imports `workflows/` or
`activities/`: what needs workflow classes takes them as arguments.
"""
