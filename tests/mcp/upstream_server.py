"""An independent upstream of IZA's MCP hub: a small server written with the Python `mcp` SDK
(2.3.x), served over streamable HTTP statelessly (the 2026-07-28 generation). Its tools do
simple arithmetic and answer its pid, so a test can kill it and see it come back.

Usage: upstream_server.py PORT
"""

import os
import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("py-upstream", instructions="A test upstream of the IZA hub.")


@server.tool()
def multiply(a: float, b: float) -> float:
    """Multiplies two numbers."""
    return a * b


@server.tool()
def whoami() -> dict:
    """This server's name and pid."""
    return {"name": "py-upstream", "pid": os.getpid()}


if __name__ == "__main__":
    server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]), stateless_http=True)
