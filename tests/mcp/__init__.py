"""The MCP server (mcp_server.py, ttai/mcp): tools, resources, stdio, HTTP, embedded stack."""
