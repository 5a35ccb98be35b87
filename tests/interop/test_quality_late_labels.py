"""Late labels with the official Python MCP SDK over streamable HTTP: predictions are ingested
with ids and no labels, `check_performance` says there are not enough labels; the labels arrive
later through POST /v1/models/{model}/labels and the next check measures them.

Run by .ci/run. Needs MLOPS_BIN (the built binary).
"""

import os
import re
import subprocess
import tempfile
import time

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

BIN = os.environ["MLOPS_BIN"]


def token(config, sub, scopes):
    return subprocess.run(
        [BIN, "--config", config, "token", "issue", "--sub", sub, "--scopes", scopes],
        check=True, capture_output=True, text=True,
    ).stdout.strip()


@pytest.fixture(scope="module")
def server():
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([BIN, "demo", "--no-serve", "--no-traffic", "--dir", tmp], check=True, capture_output=True)
        config = os.path.join(tmp, "mlops-mcp.toml")
        proc = subprocess.Popen(
            [BIN, "--config", config, "serve", "--http", "127.0.0.1:0"],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        )
        url = None
        for line in proc.stderr:
            match = re.match(r"listening on (http://\S+)", line)
            if match:
                url = match.group(1)
                break
        assert url, "server did not start"
        yield tmp, config, url
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.anyio
async def test_late_labels_change_the_next_check(server):
    tmp, config, url = server
    base = url.removesuffix("/mcp")
    writer = token(config, "pipeline", "data:write")
    rows = open(os.path.join(tmp, "data/fraud-detector/current.csv")).read().splitlines()
    header, rows = rows[0], rows[1:]
    now = int(time.time())
    body = f"timestamp,id,prediction,{header}\n"
    outcomes = []
    for i, row in enumerate(rows):
        cells = row.split(",")
        outcomes.append(cells[-1])
        score = 0.85 if cells[-1] == "1" else 0.15
        cells[-1] = ""  # the label is not known yet
        body += f"{now - 1800 + i // 2},r{i},{score},{','.join(cells)}\n"
    async with httpx2.AsyncClient() as http:
        r = await http.post(f"{base}/v1/models/fraud-detector/records", content=body,
                            headers={"content-type": "text/csv", "authorization": f"Bearer {writer}"})
        assert r.status_code == 200, r.text

    agent = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token(config, 'sdk-agent', 'agent')}"})
    async with Client(streamable_http_client(url, http_client=agent), mode="auto") as client:
        first = await client.call_tool("check_performance", {"model": "fraud-detector"})
        assert not first.is_error, first
        assert first.structured_content["labelled_rows"] == 0
        assert first.structured_content["reasons"][0].startswith("not enough labels: 0")
        assert first.structured_content["recommended_action"] != "retrain"

        labels = "id,label\n" + "".join(f"r{i},{y}\n" for i, y in enumerate(outcomes[:400]))
        async with httpx2.AsyncClient() as http:
            r = await http.post(f"{base}/v1/models/fraud-detector/labels", content=labels,
                                headers={"content-type": "text/csv", "authorization": f"Bearer {writer}"})
            assert r.status_code == 200, r.text
            assert r.json()["stored"] == 400

        second = await client.call_tool("check_performance", {"model": "fraud-detector"})
        assert not second.is_error, second
        out = second.structured_content
        assert out["labelled_rows"] == 400
        assert out["metrics"]["roc_auc"]["value"] == 1.0
        assert out["label_delay_seconds"] > 0


@pytest.fixture
def anyio_backend():
    return "asyncio"
