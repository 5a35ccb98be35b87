// The official MCP TypeScript SDK signing in to mlops-mcp by OAuth: no token is pasted. The SDK
// meets the 401, reads the server's protected-resource metadata, discovers the authorization
// server, registers itself and sends the user to sign in (authorization code + PKCE with
// `resource`); this script plays the user on the provider's login and consent pages (those of
// examples/oauth/provider.mjs, answered over HTTP), then calls tools.
//
//   node oauth.ts --url http://127.0.0.1:8080/mcp [--login alice] [--step-up] [--refresh-after 13]
//
// --step-up calls trigger_retrain, which the first token's scope does not cover: the SDK steps
// up on the 403. --refresh-after waits that long (past the access token's lifetime) and calls
// again: the SDK refreshes. Prints one JSON line of what happened.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import type { OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from "@modelcontextprotocol/sdk/shared/auth.js";
import { parseArgs } from "node:util";

const { values: opts } = parseArgs({
  options: {
    url: { type: "string" },
    login: { type: "string", default: "ts-user" },
    "step-up": { type: "boolean", default: false },
    "refresh-after": { type: "string" },
  },
});
if (!opts.url) {
  console.error("usage: node oauth.ts --url URL [--login NAME] [--step-up] [--refresh-after SECONDS]");
  process.exit(2);
}
const url = new URL(opts.url);
const redirectUrl = "http://127.0.0.1:1/callback";

/** The user at the provider's pages: follows redirects with its cookies, signs in as `login`,
 * consents, and returns the code the provider sends back to the redirect URL. */
async function playUser(authorizationUrl: URL, login: string): Promise<string> {
  const cookies = new Map<string, string>();
  const send = async (target: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    headers.set("cookie", [...cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    const response = await fetch(target, { ...init, headers, redirect: "manual" });
    for (const c of response.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const at = pair.indexOf("=");
      cookies.set(pair.slice(0, at), pair.slice(at + 1));
    }
    return response;
  };
  let response = await send(authorizationUrl.href);
  for (let step = 0; step < 20; step++) {
    if (response.status === 302 || response.status === 303) {
      const location = new URL(response.headers.get("location") ?? "", response.url || authorizationUrl);
      if (location.href.startsWith(redirectUrl)) {
        const error = location.searchParams.get("error");
        if (error) throw new Error(`authorization refused: ${error} ${location.searchParams.get("error_description")}`);
        return location.searchParams.get("code") ?? "";
      }
      response = await send(location.href);
      continue;
    }
    const page = await response.text();
    if (response.status !== 200) throw new Error(`provider page ${response.status}: ${page.slice(0, 300)}`);
    const action = /<form[^>]*action="([^"]+)"/.exec(page)?.[1];
    if (!action) throw new Error(`no form on the provider's page: ${page.slice(0, 300)}`);
    const fields = new URLSearchParams();
    for (const m of page.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) {
      fields.set(m[1], m[2]);
    }
    if (fields.get("prompt") === "login") {
      fields.set("login", login);
      fields.set("password", "any");
    }
    response = await send(new URL(action, response.url || authorizationUrl).href, {
      method: "POST",
      body: fields,
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
  }
  throw new Error("the authorization flow did not come back");
}

/** Keeps everything in memory; records each authorization request and each stored token. */
class MemoryProvider implements OAuthClientProvider {
  info?: OAuthClientInformationMixed;
  stored?: OAuthTokens;
  verifier = "";
  code = "";
  asked: string[] = [];
  saves = 0;
  login: string;
  grantTypes: string[];

  constructor(login: string, grantTypes: string[]) {
    this.login = login;
    this.grantTypes = grantTypes;
  }

  get redirectUrl() {
    return redirectUrl;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: "mlops-mcp TypeScript OAuth example",
      redirect_uris: [redirectUrl],
      grant_types: this.grantTypes,
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info;
  }
  tokens() {
    return this.stored;
  }
  saveTokens(tokens: OAuthTokens) {
    this.stored = tokens;
    this.saves++;
  }
  async redirectToAuthorization(authorizationUrl: URL) {
    this.asked.push(authorizationUrl.searchParams.get("scope") ?? "");
    if (authorizationUrl.searchParams.get("resource") !== url.href) {
      throw new Error(`the SDK did not send resource=${url.href}`);
    }
    this.code = await playUser(authorizationUrl, this.login);
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
}

/** Runs `call` on a connected client; after a sign-in the SDK asked for, finishes it and retries. */
async function withSignIn<T>(provider: MemoryProvider, call: (client: Client) => Promise<T>): Promise<T> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
    const client = new Client({ name: "mlops-mcp-typescript-oauth", version: "1.0.0" });
    try {
      await client.connect(transport);
      return await call(client);
    } catch (e) {
      if (!(e instanceof UnauthorizedError) || !provider.code) throw e;
      await transport.finishAuth(provider.code);
      provider.code = "";
    } finally {
      await client.close().catch(() => {});
    }
  }
  throw new Error("still unauthorized after signing in");
}

function claims(token: string | undefined) {
  const body = (token ?? "..").split(".")[1];
  return JSON.parse(Buffer.from(body, "base64url").toString());
}

// The SDK (1.32.2) tries a held refresh token before a step-up and loops (typescript-sdk#2255):
// a client that steps up registers without the refresh_token grant.
const grants = opts["step-up"] ? ["authorization_code"] : ["authorization_code", "refresh_token"];
const provider = new MemoryProvider(opts.login, grants);
const report: Record<string, unknown> = {};

const listed = await withSignIn(provider, (c) => c.callTool({ name: "list_models", arguments: {} }));
const first = claims(provider.stored?.access_token);
Object.assign(report, {
  registered: Boolean(provider.info?.client_id),
  first_ask: provider.asked[0],
  first_token: { aud: first.aud, iss: first.iss, scope: first.scope },
  listed: !listed.isError && JSON.stringify(listed.structuredContent).includes("fraud-detector"),
});

if (opts["step-up"]) {
  const retrained = await withSignIn(provider, (c) =>
    c.callTool({
      name: "trigger_retrain",
      arguments: { model: "fraud-detector", reason: "step-up from TypeScript", drift_report_id: "none" },
    }),
  );
  const text = JSON.stringify(retrained.content ?? "");
  Object.assign(report, {
    asks: provider.asked,
    stepped_up_token: claims(provider.stored?.access_token).scope,
    retrain_refused_for_scope: text.toLowerCase().includes("scope"),
  });
}

if (opts["refresh-after"]) {
  const logins = provider.asked.length;
  const saves = provider.saves;
  await new Promise((r) => setTimeout(r, Number(opts["refresh-after"]) * 1000));
  const again = await withSignIn(provider, (c) => c.callTool({ name: "list_models", arguments: {} }));
  Object.assign(report, {
    after_expiry: !again.isError,
    new_logins: provider.asked.length - logins,
    tokens_saved: provider.saves - saves,
  });
}
console.log(JSON.stringify(report));
