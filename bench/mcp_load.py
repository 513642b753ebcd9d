"""Load client of bench/mcp-hub.sh: calls one MCP tool N times over streamable HTTP in the
stateless 2026-07-28 generation (one POST per call, keep-alive connections), first one at a
time (latency: p50, p99) then with C calls in flight (calls/s). Prints one JSON line.

Usage: mcp_load.py URL TOOL ARGS_JSON N CONCURRENCY [TOKEN]
"""

import asyncio
import json
import sys
import time

import httpx2

META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "iza-bench", "version": "1"},
}


async def main() -> None:
    url, tool, args, n, conc = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/call",
        "Mcp-Name": tool,
    }
    if len(sys.argv) > 6:
        headers["Authorization"] = f"Bearer {sys.argv[6]}"
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                       "params": {"name": tool, "arguments": args, "_meta": META}})
    limits = httpx2.Limits(max_connections=conc, max_keepalive_connections=conc)
    async with httpx2.AsyncClient(headers=headers, limits=limits, timeout=30.0) as http:
        async def call() -> float:
            start = time.perf_counter()
            r = await http.post(url, content=body)
            if r.status_code != 200 or '"isError":true' in r.text:
                raise SystemExit(f"call failed: {r.status_code} {r.text[:300]}")
            return time.perf_counter() - start

        for _ in range(min(200, n)):
            await call()
        latencies = sorted([await call() for _ in range(n)])
        p50 = latencies[len(latencies) // 2] * 1000
        p99 = latencies[int(len(latencies) * 0.99)] * 1000

        done = 0

        async def worker() -> None:
            nonlocal done
            while done < n:
                done += 1
                await call()

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(conc)))
        rate = n / (time.perf_counter() - start)
    print(json.dumps({"p50_ms": round(p50, 3), "p99_ms": round(p99, 3), "calls_per_s": round(rate)}))


asyncio.run(main())
