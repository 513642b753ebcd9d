"""An independent MCP client of IZA: the Python `mcp` SDK (2.3.x) lists IZA's tools and
resources and calls every tool against the fixture of fixtures/mcp/, over stdio or streamable
HTTP, in one protocol mode ("2026-07-28", "legacy" or "auto"). Prints one JSON document (the
tools, and for each call whether it was a tool error and its structured content) for
crates/iza/tests/mcp.rs to assert on; exits 1 on a protocol failure.

Usage: client_check.py MODE stdio IZA_BIN MANIFEST_DIR [SCOPE]
       client_check.py MODE http URL [TOKEN]
"""

import asyncio
import json
import sys

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

# Each tool with arguments that make sense for fixtures/mcp/iza.toml.
CALLS = [
    ("ecosystem_summary", {}),
    ("list_services", {}),
    ("list_services", {"group": "core", "tag": "public"}),
    ("service_status", {"service": "db"}),
    ("impact_analysis", {"service": "db"}),
    ("port_map", {}),
    ("recent_events", {"limit": 5}),
    ("list_agents", {}),
    ("list_tasks", {}),
    ("list_runs", {"limit": 5}),
    ("list_incidents", {"open_only": True}),
    ("run_task", {"task": "keeper/check-db"}),
    ("resolve_incident", {"incident": 999999}),
    ("start_service", {"service": "db"}),
    ("stop_service", {"service": "db"}),
    ("restart_service", {"service": "db"}),
    ("claim_run", {"agent": "outside", "worker": "python-sdk"}),
    ("heartbeat_run", {"run": 999999, "worker": "python-sdk"}),
    ("complete_run", {"run": 999999, "worker": "python-sdk", "success": True}),
]


def dump(value):
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    return value


async def main() -> int:
    mode, transport = sys.argv[1], sys.argv[2]
    if transport == "stdio":
        iza, manifest = sys.argv[3], sys.argv[4]
        args = ["mcp", manifest]
        if len(sys.argv) > 5:
            args += ["--scope", sys.argv[5]]
        server = StdioServerParameters(command=iza, args=args)
    else:
        url = sys.argv[3]
        headers = {"Authorization": f"Bearer {sys.argv[4]}"} if len(sys.argv) > 4 else {}
        http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0))
        server = streamable_http_client(url, http_client=http)
    out = {"mode": mode, "transport": transport, "calls": []}
    async with Client(server, mode=mode) as client:
        tools = await client.list_tools()
        out["tools"] = [t.name for t in tools.tools]
        resources = await client.list_resources()
        out["resources"] = [r.uri for r in resources.resources]
        templates = await client.list_resource_templates()
        out["resource_templates"] = [t.uri_template for t in templates.resource_templates]
        report = await client.read_resource("iza://report")
        out["report_starts"] = dump(report.contents[0]).get("text", "")[:40]
        for name, arguments in CALLS:
            if name not in out["tools"]:
                continue
            result = await client.call_tool(name, arguments)
            out["calls"].append(
                {
                    "tool": name,
                    "arguments": arguments,
                    "is_error": bool(result.is_error),
                    "structured": result.structured_content,
                }
            )
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
