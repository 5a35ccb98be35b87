"""OAuth end to end with the official Python MCP SDK's `OAuthClientProvider` against a real
authorization server (oidc-provider, examples/oauth/provider.mjs) and this server as the
resource server: the client meets the 401, reads the RFC 9728 document, discovers the
authorization server, registers itself, runs authorization code + PKCE with `resource` (this
test answers the provider's login and consent pages over HTTP), calls a tool, steps up on a 403
`insufficient_scope`, and refreshes an expired token. Tokens for another audience are refused;
Entra-style `roles` and Keycloak-style `realm_access.roles` map to scopes.

Run by .ci/run. Needs MLOPS_BIN (the built binary), MLOPS_NODE (Node 22) and
examples/oauth/node_modules (`npm ci` there). Without them it is skipped, except under CI=true,
where it fails.
"""

import base64
import json
import os
import re
import socket
import subprocess
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlparse

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

BIN = os.environ["MLOPS_BIN"]
NODE = os.environ.get("MLOPS_NODE", "")
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "oauth"
# Short enough that the refresh test waits for it, long enough for every step before.
ACCESS_TTL = 12
OTHER_RESOURCE = "http://127.0.0.1:9/other-api"
SERVICE_SECRET = "service-secret-for-tests-only-0123456789"

TYPESCRIPT = EXAMPLE.parent / "typescript"

if not (
    NODE
    and os.path.exists(NODE)
    and (EXAMPLE / "node_modules" / "oidc-provider").is_dir()
    and (TYPESCRIPT / "node_modules" / "@modelcontextprotocol" / "sdk").is_dir()
):
    if os.environ.get("CI") == "true":
        raise RuntimeError("the OAuth test needs MLOPS_NODE and `npm ci` in examples/oauth and examples/typescript")
    pytest.skip("no Node, oidc-provider or the TypeScript SDK (set MLOPS_NODE, npm ci in examples/oauth and examples/typescript)", allow_module_level=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_line(proc, pattern, what):
    deadline = time.time() + 30
    for line in proc.stdout if proc.stdout else proc.stderr:
        match = re.search(pattern, line)
        if match:
            return match
        if time.time() > deadline:
            break
    raise AssertionError(f"{what} did not start")


def claims_of(token):
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def configure(tmp, issuer, expected_issuer, resource):
    """The demo's config in `tmp` pointed at the provider `issuer`, expecting `expected_issuer`."""
    config = os.path.join(tmp, "mlops-mcp.toml")
    text = Path(config).read_text()
    text = text.replace("[auth]\n", f"""[auth]
jwks_url = "{issuer}/jwks"
issuer = "{expected_issuer}"
audience = "{resource}"
resource = "{resource}"
authorization_servers = ["{issuer}"]
leeway_secs = 1
""", 1)
    text += """
[auth.claims]
roles = ["roles", "realm_access.roles", "groups"]

[auth.claims.role_scopes]
"MLOps.Agent" = ["agent"]
"mlops-agent" = ["models:read"]
"""
    Path(config).write_text(text)
    return config


@pytest.fixture(scope="module")
def stack():
    provider_port, server_port = free_port(), free_port()
    issuer = f"http://127.0.0.1:{provider_port}"
    resource = f"http://127.0.0.1:{server_port}/mcp"
    provider = subprocess.Popen(
        [NODE, str(EXAMPLE / "provider.mjs"), "--port", str(provider_port), "--resource", resource,
         "--access-ttl", str(ACCESS_TTL)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    server = None
    try:
        wait_for_line(provider, r"oidc-provider listening on", "oidc-provider")
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([BIN, "demo", "--no-serve", "--no-traffic", "--dir", tmp], check=True, capture_output=True)
            config = configure(tmp, issuer, issuer, resource)
            server = subprocess.Popen(
                [BIN, "--config", config, "serve", "--http", f"127.0.0.1:{server_port}"],
                stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
            )
            wait_for_line(server, r"listening on http://", "mlops-mcp")
            yield {"issuer": issuer, "resource": resource, "url": resource}
    finally:
        for proc in (server, provider):
            if proc:
                proc.terminate()
                proc.wait(timeout=10)


class Forms(HTMLParser):
    """The forms of a page: action and hidden inputs."""

    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "fields": {}})
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value") or ""


class Browser:
    """Answers the provider's login and consent pages as `login`, and records every
    authorization request the client made."""

    def __init__(self, login):
        self.login = login
        self.requests = []
        self.result = None

    async def redirect(self, url):
        self.requests.append(parse_qs(urlparse(url).query))
        redirect_uri = self.requests[-1]["redirect_uri"][0]
        async with httpx2.AsyncClient(follow_redirects=False) as http:
            response = await http.get(url)
            for _ in range(20):
                if response.status_code in (302, 303):
                    location = urljoin(str(response.url), response.headers["location"])
                    if location.startswith(redirect_uri):
                        query = parse_qs(urlparse(location).query)
                        assert "error" not in query, query
                        self.result = AuthorizationCodeResult(
                            code=query["code"][0], state=query["state"][0], iss=query.get("iss", [None])[0]
                        )
                        return
                    response = await http.get(location)
                    continue
                assert response.status_code == 200, (response.status_code, response.text[:500])
                parser = Forms()
                parser.feed(response.text)
                form = parser.forms[0]
                fields = dict(form["fields"])
                if fields.get("prompt") == "login":
                    fields.update(login=self.login, password="any")
                response = await http.post(urljoin(str(response.url), form["action"]), data=fields)
        raise AssertionError("the authorization flow did not come back")

    async def callback(self):
        result, self.result = self.result, None
        return result


class Memory:
    def __init__(self):
        self.tokens = None
        self.client = None
        self.saved = 0

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken):
        self.tokens = tokens
        self.saved += 1

    async def get_client_info(self):
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull):
        self.client = client_info


@pytest.mark.anyio
async def test_the_sdk_logs_in_steps_up_and_refreshes(stack):
    browser, memory = Browser("agent-owner"), Memory()
    auth = OAuthClientProvider(
        server_url=stack["url"],
        client_metadata=OAuthClientMetadata(
            client_name="mlops-mcp interop test",
            redirect_uris=["http://127.0.0.1:1/callback"],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage=memory,
        redirect_handler=browser.redirect,
        callback_handler=browser.callback,
    )
    async with httpx2.AsyncClient(auth=auth, timeout=30) as http:
        async with Client(streamable_http_client(stack["url"], http_client=http), mode="auto") as client:
            # Discovery, registration, consent: a token for this resource, with what the
            # challenge named and nothing more.
            assert memory.client is not None and memory.client.client_id
            first = browser.requests[0]
            assert first["resource"] == [stack["resource"]]
            assert first["code_challenge_method"] == ["S256"]
            # What the challenge named; `offline_access` is the SDK's own ask for a refresh token.
            assert set(first["scope"][0].split()) - {"offline_access"} == {"models:read"}
            claims = claims_of(memory.tokens.access_token)
            assert claims["aud"] == stack["resource"] and claims["iss"] == stack["issuer"]
            assert set(claims["scope"].split()) == {"models:read"}

            listed = await client.call_tool("list_models", {})
            assert not listed.is_error, listed
            assert listed.structured_content["models"][0]["name"] == "fraud-detector"

            # A tool the token's scope does not cover: 403 insufficient_scope, the SDK asks for
            # the union and retries.
            retrained = await client.call_tool(
                "trigger_retrain",
                {"model": "fraud-detector", "reason": "step-up test", "drift_report_id": "none"},
            )
            assert len(browser.requests) == 2, browser.requests
            asked = set(browser.requests[1]["scope"][0].split()) - {"offline_access"}
            assert asked == {"models:read", "retrain:trigger"}
            assert set(claims_of(memory.tokens.access_token)["scope"].split()) == {"models:read", "retrain:trigger"}
            text = retrained.content[0].text if retrained.content else ""
            assert "scope" not in text.lower(), text  # refused, if at all, for the model's reasons

            # The agent's client was never led to ask for approver rights.
            asked = {s for r in browser.requests for s in r["scope"][0].split()}
            assert "promotion:approve" not in asked

            # Expiry: the SDK refreshes without a new login.
            saved, logins = memory.saved, len(browser.requests)
            await anyio.sleep(ACCESS_TTL + 1)
            again = await client.call_tool("list_models", {})
            assert not again.is_error, again
            assert memory.saved == saved + 1, "a refreshed token was stored"
            assert len(browser.requests) == logins, "no new login"


async def service_token(stack, client_id, resource, scope=None):
    data = {"grant_type": "client_credentials", "resource": resource}
    if scope:
        data["scope"] = scope
    async with httpx2.AsyncClient() as http:
        r = await http.post(f"{stack['issuer']}/token", data=data, auth=(client_id, SERVICE_SECRET))
        assert r.status_code == 200, r.text
        return r.json()["access_token"]


async def refused(stack, token):
    """A raw MCP POST with `token`: authentication comes before anything else is read."""
    async with httpx2.AsyncClient() as http:
        return await http.post(
            stack["url"],
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
            headers={"authorization": f"Bearer {token}", "accept": "application/json, text/event-stream"},
        )


async def tool_names(stack, token):
    """The tools the official SDK lists with `token` as a plain bearer token."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with Client(streamable_http_client(stack["url"], http_client=http), mode="auto") as client:
            return {t.name for t in (await client.list_tools()).tools}


@pytest.mark.anyio
async def test_a_token_for_another_audience_is_refused(stack):
    token = await service_token(stack, "other-service", OTHER_RESOURCE, "models:read")
    assert claims_of(token)["aud"] == OTHER_RESOURCE
    r = await refused(stack, token)
    assert r.status_code == 401, r.text
    assert "audience" in r.text.lower(), r.text
    # The same client's token for this resource is accepted.
    mine = await service_token(stack, "other-service", stack["resource"], "models:read")
    names = await tool_names(stack, mine)
    assert "list_models" in names and "check_drift" not in names, names


@pytest.mark.anyio
async def test_entra_and_keycloak_roles_map_to_scopes(stack):
    entra = await service_token(stack, "entra-app", stack["resource"])
    assert claims_of(entra)["roles"] == ["MLOps.Agent"] and "scope" not in claims_of(entra)
    names = await tool_names(stack, entra)
    assert {"list_models", "check_drift", "trigger_retrain"} <= names
    keycloak = await service_token(stack, "keycloak-app", stack["resource"])
    assert claims_of(keycloak)["realm_access"]["roles"] == ["mlops-agent"]
    names = await tool_names(stack, keycloak)
    assert "list_models" in names and not names & {"check_drift", "trigger_retrain"}, names


def typescript(stack, *args):
    out = subprocess.run(
        [NODE, str(TYPESCRIPT / "oauth.ts"), "--url", stack["url"], *args],
        cwd=TYPESCRIPT, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_typescript_sdk_logs_in_steps_up_and_refreshes(stack):
    stepped = typescript(stack, "--step-up")
    assert stepped["registered"] and stepped["listed"]
    assert stepped["first_ask"] == "models:read"
    assert stepped["first_token"] == {"aud": stack["resource"], "iss": stack["issuer"], "scope": "models:read"}
    # The TypeScript SDK (1.32.2) asks for the challenged scope alone, where the Python SDK
    # asks for the union: its new token holds retrain:trigger, which the call needed.
    assert stepped["asks"] == ["models:read", "retrain:trigger"]
    assert stepped["stepped_up_token"] == "retrain:trigger"
    assert not stepped["retrain_refused_for_scope"]
    refreshed = typescript(stack, "--refresh-after", str(ACCESS_TTL + 2))
    assert refreshed["after_expiry"] and refreshed["new_logins"] == 0
    assert refreshed["tokens_saved"] == 1, refreshed


def test_an_issuer_the_provider_does_not_claim_stops_the_server(stack):
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([BIN, "demo", "--no-serve", "--no-traffic", "--dir", tmp], check=True, capture_output=True)
        config = configure(tmp, stack["issuer"], stack["issuer"] + "/", stack["resource"])
        out = subprocess.run(
            [BIN, "--config", config, "serve", "--http", "127.0.0.1:0"],
            capture_output=True, text=True, timeout=60,
        )
    assert out.returncode != 0
    assert f'auth.issuer = "{stack["issuer"]}/"' in out.stderr, out.stderr
    assert f'says its issuer is "{stack["issuer"]}"' in out.stderr, out.stderr


@pytest.fixture
def anyio_backend():
    return "asyncio"
