"""The load benchmark's `list_models` served by the official Python MCP SDK (`mcp` 2.3.0:
MCPServer, streamable HTTP, stateless, JSON responses) on 127.0.0.1.

It returns the payload mlops-mcp's own `list_models` returned (captured by run.sh), so both
servers answer the same tool with the same bytes. No authentication.

Usage: python python_server.py PORT PAYLOAD_JSON
"""

import json
import sys

import uvicorn
from mcp.server.mcpserver import MCPServer

port, payload_path = int(sys.argv[1]), sys.argv[2]
with open(payload_path, encoding="utf-8") as f:
    PAYLOAD = json.load(f)

server = MCPServer("bench-python")


@server.tool()
def list_models() -> dict:
    """List the models (a fixed payload)."""
    return PAYLOAD


app = server.streamable_http_app(stateless_http=True, json_response=True)
print("listening", flush=True)
uvicorn.run(app, host="127.0.0.1", port=port, log_level="info", access_log=False)
