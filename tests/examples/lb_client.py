"""Calls list_models N times through a load balancer with the official MCP Python SDK (a new
session each time, as separate agents would) and checks every call succeeded.

    lb_client.py URL TOKEN N
"""

import asyncio
import sys

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


async def main(url: str, token: str, n: int) -> None:
    ok = 0
    for _ in range(n):
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"})
        async with Client(streamable_http_client(url, http_client=http), mode="auto") as client:
            result = await client.call_tool("list_models", {})
            if result.is_error:
                raise SystemExit(f"list_models failed: {result}")
            models = result.structured_content["models"]
            assert models[0]["name"] == "fraud-detector", models
            ok += 1
    print(f"{ok} of {n} list_models calls through {url} succeeded")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
