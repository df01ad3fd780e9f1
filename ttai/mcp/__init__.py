"""The MCP front end (mcp_server.py assembles it and runs a transport).

- `stdio`: keeps the protocol's stdout clean from the first line, runs the
  stdio transport with signal handling;
- `logs`: structured stderr logs without paying for their imports before the
  handshake;
- `server`: `TtaiServer`, an `MCPServer` with one-line tool errors and resource
  updates pushed to both protocol generations; `errors`: those one lines;
- `app`: what stands behind every call (the stack, the bridge), booted in the
  background after the handshake;
- `stack`: finds the Temporal stack or brings up the local one and owns it
  (what tools see of it, the stack lock, the owned stack as a child process);
- `tools` (a package: `declare`, then one module per group of tools),
  `resources`, `prompts`: what the host sees, declared over ttai.ops after
  the handshake;
- `bridge`: PostgreSQL `LISTEN ttai_notifications` -> resource updates;
- `http`: streamable HTTP, loopback by default, a bearer token otherwise.

Temporal, asyncpg and the project's telemetry are never imported at module
level: the host waits for `initialize` while these modules load, so those
come after the handshake.
"""
