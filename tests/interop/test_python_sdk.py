"""The official Python MCP SDK (`mcp` on PyPI) against the real mlops-mcp binary, over stdio and
streamable HTTP, in each of the SDK's lifecycle modes.

Run by .ci/run. Needs MLOPS_BIN (the built binary); the SDK version is pinned in
tests/interop/requirements.txt.
"""

import json
import os
import re
import subprocess
import tempfile

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

BIN = os.environ["MLOPS_BIN"]
MODES = ["legacy", "2026-07-28", "auto"]


@pytest.fixture(scope="module")
def workspace():
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([BIN, "demo", "--no-serve", "--no-traffic", "--dir", tmp], check=True, capture_output=True)
        yield os.path.join(tmp, "mlops-mcp.toml")


@pytest.fixture(scope="module")
def http_server(workspace):
    proc = subprocess.Popen(
        [BIN, "--config", workspace, "serve", "--http", "127.0.0.1:0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    url = None
    for line in proc.stderr:  # wait for the readiness line
        match = re.match(r"listening on (http://\S+)", line)
        if match:
            url = match.group(1)
            break
    assert url, "server did not start"
    token = subprocess.run(
        [BIN, "--config", workspace, "token", "issue", "--sub", "python-sdk", "--scopes", "agent"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    yield url, token
    proc.terminate()
    proc.wait(timeout=10)


async def check_session(client):
    tools = (await client.list_tools()).tools
    names = [t.name for t in tools]
    assert "list_models" in names
    for tool in tools:
        assert tool.input_schema["type"] == "object"
        assert tool.output_schema is not None and tool.output_schema["type"] == "object"
    result = await client.call_tool("list_models", {})
    assert not result.is_error
    model = result.structured_content["models"][0]
    assert model["name"] == "fraud-detector"
    assert model["champion"] == "v1"
    assert result.structured_content["summary"]["total_models"] == 1
    card = await client.read_resource("mlops://models/fraud-detector/card")
    markdown, as_json = card.contents[0], card.contents[1]
    assert markdown.mime_type == "text/markdown"
    assert markdown.text.startswith("# Model card: fraud-detector")
    assert json.loads(as_json.text)["champion"] == "v1"
    assert 0.5 < json.loads(as_json.text)["versions"][0]["metrics"]["roc_auc"] <= 1.0


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_stdio(workspace, mode):
    params = StdioServerParameters(command=BIN, args=["--config", workspace, "serve"], env={"MLOPS_MCP_LOG": "warn"})
    async with Client(params, mode=mode) as client:
        await check_session(client)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_http(http_server, mode):
    url, token = http_server
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"})
    async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
        await check_session(client)


@pytest.mark.anyio
async def test_http_without_token_is_refused(http_server):
    url, _ = http_server
    http = httpx2.AsyncClient()
    with pytest.raises(Exception):
        async with Client(streamable_http_client(url, http_client=http), mode="legacy") as client:
            await client.list_tools()


@pytest.fixture
def anyio_backend():
    return "asyncio"
