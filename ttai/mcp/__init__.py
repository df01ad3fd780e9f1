"""The MCP front end's plumbing (mcp_server.py declares the tools over ttai.ops).

- `stdio`: keeps the protocol's stdout clean from the first line, runs the
  stdio transport with signal handling;
- `logs`: structured stderr logs without paying for their imports before the
  handshake;
- `server`: `TtaiServer`, an `MCPServer` with one-line tool errors and resource
  updates pushed to both protocol generations;
- `stack`: finds the Temporal stack or brings up the local one and owns it;
  `stack_state` is what tools see of it (state, status, the wait for a
  connection), `stack_lock` the client and the lock deciding which server
  brings it up, `stack_process` the owned stack as a child process;
- `tools` (a package, one module per group of tools), `resources`, `prompts`:
  what the host sees, declared after the handshake;
- `bridge`: PostgreSQL `LISTEN ttai_notifications` -> resource updates;
- `http`: streamable HTTP, loopback by default, a bearer token otherwise.

Only the standard library and `mcp` are imported at module level: the host
waits for `initialize` while these load. Temporal, asyncpg and the project's
telemetry are imported after the handshake.
"""
