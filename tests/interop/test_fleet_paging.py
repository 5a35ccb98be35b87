"""A fleet of 1,000 models paged with the official Python MCP SDK over streamable HTTP: the
agent follows `next_cursor` until there is none and sees every model exactly once, each page's
structured result within 10,000 bytes of JSON.

Run by .ci/run. Needs MLOPS_BIN (the built binary).
"""

import json
import os
import re
import subprocess
import tempfile

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

BIN = os.environ["MLOPS_BIN"]
FLEET = 999  # besides the demo's own model

DEFAULTS = """
[model_defaults]
owner = "payments-risk"
reference_data = "data/fraud-detector/reference.csv"
current_data = "data/fraud-detector/current.csv"
tags = ["fleet"]
"""


@pytest.fixture(scope="module")
def fleet_server():
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([BIN, "demo", "--no-serve", "--no-traffic", "--dir", tmp], check=True, capture_output=True)
        config = os.path.join(tmp, "mlops-mcp.toml")
        text = open(config).read()
        # [model_defaults] must come before the first [[models]] table.
        head, models = text.split("[[models]]", 1)
        fleet = "".join(f'\n[[models]]\nname = "fleet-{i:04}"\n' for i in range(1, FLEET + 1))
        with open(config, "w") as f:
            f.write(head + DEFAULTS + "\n[[models]]" + models + fleet)
        proc = subprocess.Popen(
            [BIN, "--config", config, "serve", "--http", "127.0.0.1:0"],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        url = None
        for line in proc.stderr:
            match = re.match(r"listening on (http://\S+)", line)
            if match:
                url = match.group(1)
                break
        assert url, "server did not start"
        token = subprocess.run(
            [BIN, "--config", config, "token", "issue", "--sub", "fleet-agent", "--scopes", "agent"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        yield url, token
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.anyio
async def test_an_agent_pages_through_a_thousand_models(fleet_server):
    url, token = fleet_server
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"})
    seen = []
    async with Client(streamable_http_client(url, http_client=http), mode="auto") as client:
        cursor = None
        for _ in range(200):
            args = {"page_size": 100}
            if cursor:
                args["cursor"] = cursor
            result = await client.call_tool("list_models", args)
            assert not result.is_error, result
            page = result.structured_content
            assert len(json.dumps(page, separators=(",", ":"))) <= 10_000
            assert page["summary"]["total_models"] == FLEET + 1
            seen += [m["name"] for m in page["models"]]
            cursor = page.get("next_cursor")
            if not cursor:
                break
    assert len(seen) == FLEET + 1
    assert len(set(seen)) == len(seen)
    assert sorted(seen) == seen


@pytest.fixture
def anyio_backend():
    return "asyncio"
