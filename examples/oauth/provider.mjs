// An OAuth 2.1 / OpenID Connect authorization server for mlops-mcp on loopback, built on panva's
// oidc-provider: what .ci/run's OAuth tests run, and a worked example of the settings a real
// identity provider needs (README.md in this directory maps them to Keycloak, Auth0, Okta and
// Entra ID).
//
//   node provider.mjs --port 4000 --resource http://127.0.0.1:8080/mcp [--access-ttl 3600]
//
// - Access tokens are JWTs (RS256) for mlops-mcp's resource URL only (RFC 8707 resource
//   indicators): `aud` is the resource, `scope` what was granted of the scopes mlops-mcp knows.
// - Clients register themselves (RFC 7591 dynamic client registration); public clients must use
//   PKCE. Refresh tokens are issued to clients that registered the refresh_token grant.
// - Login and consent are oidc-provider's development pages (any login, any password): a test
//   answers them over HTTP. A real deployment puts its own login here.
// - Accounts and service clients below carry the role and group claims Entra ID and Keycloak
//   issue, so the mapping from claims to scopes can be tested.
// - `OTHER_RESOURCE` is a second resource server: its tokens must be refused by mlops-mcp.
//
// It prints `oidc-provider listening on <issuer>` when ready.

import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { parseArgs } from "node:util";

import Provider, { errors } from "oidc-provider";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    resource: { type: "string" },
    "access-ttl": { type: "string", default: "3600" },
  },
});
if (!values.port || !values.resource) {
  console.error("usage: node provider.mjs --port PORT --resource URL [--access-ttl SECONDS]");
  process.exit(2);
}
const issuer = `http://127.0.0.1:${values.port}`;
const RESOURCE = values.resource;
const ACCESS_TTL = Number(values["access-ttl"]);
export const OTHER_RESOURCE = "http://127.0.0.1:9/other-api";

// What a token for mlops-mcp may carry. An agent's client asks for what the server's challenge
// names; this server would grant `promotion:approve` too if asked, as permissive servers do:
// mlops-mcp never leads an agent to ask for it, and never approves over MCP anyway.
const RESOURCE_SCOPES = [
  "models:read", "drift:read", "retrain:trigger", "validation:read", "promotion:request",
  "promotion:approve", "data:write", "metrics:read",
].join(" ");

// Claims as identity providers put them in tokens: Entra ID's app `roles`, Keycloak's
// `realm_access.roles`, and `groups` (both). Any other login is a plain account.
const ACCOUNTS = {
  alice: { name: "Alice Approver", groups: ["mlops-approvers"] },
  // The agent's principal is an approver here too: the server's rule that nobody approves
  // their own request is what must stop it (tests/web/approvals_oidc.mjs).
  "demo-agent": { name: "Demo Agent", groups: ["mlops-approvers"] },
  "entra-user": { name: "Entra User", roles: ["MLOps.Agent"] },
  "keycloak-user": { name: "Keycloak User", realm_access: { roles: ["mlops-agent"] } },
};
const SERVICE_CLAIMS = {
  "entra-app": { roles: ["MLOps.Agent"] },
  "keycloak-app": { realm_access: { roles: ["mlops-agent"] }, groups: ["mlops-pipelines"] },
};
const SERVICE_SECRET = process.env.OAUTH_SERVICE_SECRET ?? "service-secret-for-tests-only-0123456789";

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: "jwk" }), kid: randomUUID(), alg: "RS256", use: "sig" };

const resourceServer = (audience) => ({
  scope: RESOURCE_SCOPES,
  audience,
  accessTokenTTL: ACCESS_TTL,
  accessTokenFormat: "jwt",
  jwt: { sign: { alg: "RS256" } },
});

const serviceClient = (id) => ({
  client_id: id,
  client_secret: SERVICE_SECRET,
  grant_types: ["client_credentials"],
  redirect_uris: [],
  response_types: [],
});

const clients = [serviceClient("other-service"), serviceClient("entra-app"), serviceClient("keycloak-app")];
// The approval page signs approvers in as a confidential client, when its secret is given.
if (process.env.APPROVAL_CLIENT_SECRET && process.env.APPROVAL_REDIRECT_URI) {
  clients.push({
    client_id: "mlops-approvals",
    client_secret: process.env.APPROVAL_CLIENT_SECRET,
    grant_types: ["authorization_code"],
    response_types: ["code"],
    redirect_uris: [process.env.APPROVAL_REDIRECT_URI],
  });
}

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString("hex")] },
  scopes: ["openid", "offline_access", "profile", "groups", ...RESOURCE_SCOPES.split(" ")],
  claims: { openid: ["sub"], profile: ["name"], groups: ["groups", "roles", "realm_access"] },
  features: {
    devInteractions: { enabled: true },
    registration: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, _client, oneOf) => oneOf ?? RESOURCE,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, indicator) => {
        if (indicator === RESOURCE) return resourceServer(RESOURCE);
        if (indicator === OTHER_RESOURCE) return resourceServer(OTHER_RESOURCE);
        throw new errors.InvalidTarget();
      },
    },
  },
  // MCP clients register with the scopes of their first challenge and step up later with the
  // same registration (the Python SDK does): a registered `scope` is therefore not kept as the
  // client's allow-list. What a token for mlops-mcp may carry is still bounded by
  // RESOURCE_SCOPES, and what mlops-mcp lets it do by its own policy.
  extraClientMetadata: {
    properties: ["scope"],
    validator: (_ctx, key, _value, metadata) => {
      if (key === "scope") metadata.scope = undefined;
    },
  },
  pkce: { required: () => true },
  // The approval page reads the approver's groups from the ID token.
  conformIdTokenClaims: false,
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
  findAccount: async (_ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, ...(ACCOUNTS[id] ?? {}) }),
  }),
  extraTokenClaims: async (_ctx, token) => {
    if (token.kind === "ClientCredentials") return SERVICE_CLAIMS[token.clientId];
    if (token.kind === "AccessToken") {
      const { name: _name, ...claims } = ACCOUNTS[token.accountId] ?? {};
      return claims;
    }
    return undefined;
  },
  ttl: { AccessToken: ACCESS_TTL, ClientCredentials: ACCESS_TTL, RefreshToken: 86400 },
});

createServer(provider.callback()).listen(Number(values.port), "127.0.0.1", () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
