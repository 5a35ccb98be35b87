// Approvers sign in to the approval page with the identity provider, in headless Chromium
// (Debian's, driven by playwright-core), against oidc-provider (examples/oauth/provider.mjs): the
// page offers no token field and refuses a pasted token; someone outside the approver group is
// refused; the agent's own principal, signed in the same way and in the group, cannot approve
// its own request; alice signs in, approves, and the champion moves.
//
// Usage: node tests/web/approvals_oidc.mjs BIN CHROMIUM
// (.ci/run runs it with .ci/node's Node 22 and /usr/bin/chromium, from the repository root.)
import { spawn, spawnSync } from "node:child_process";
import { appendFileSync, mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

import { mcp, pendingPromotion } from "./agent.mjs";

const require = createRequire(join(process.cwd(), ".ci/node/package.json"));
const { chromium } = require("playwright-core");

const [BIN, CHROMIUM] = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), "mlops-web-oidc-"));
const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
const [providerPort, serverPort] = [await freePort(), await freePort()];
const issuer = `http://127.0.0.1:${providerPort}`;
const base = `http://127.0.0.1:${serverPort}`;
const secret = "approval-page-secret-for-the-browser-test-0123";

const run = (...args) => {
  const r = spawnSync(BIN, args, { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
};
run("demo", "--no-serve", "--no-traffic", "--dir", dir);
const config = join(dir, "mlops-mcp.toml");
appendFileSync(config, `
[promotion]
page_url = "${base}/approvals"

[promotion.oidc]
issuer = "${issuer}"
client_id = "mlops-approvals"
client_secret_env = "MLOPS_APPROVALS_CLIENT_SECRET"
approver_claim = "groups"
approver_values = ["mlops-approvers"]
scopes = ["groups"]
`);
const agent = run("--config", config, "token", "issue", "--sub", "demo-agent", "--scopes", "agent");
const alicesToken = run("--config", config, "token", "issue", "--sub", "alice", "--scopes", "promotion:approve,models:read");

const waitFor = (child, pattern, what) =>
  new Promise((resolve, reject) => {
    let seen = "";
    const look = (d) => {
      seen += d;
      if (pattern.test(seen)) resolve();
    };
    child.stdout?.on("data", look);
    child.stderr?.on("data", look);
    child.on("exit", (code) => reject(new Error(`${what} exited ${code}: ${seen}`)));
  });
const provider = spawn(process.execPath, ["examples/oauth/provider.mjs", "--port", String(providerPort), "--resource", `${base}/mcp`], {
  stdio: ["ignore", "pipe", "pipe"],
  env: { ...process.env, APPROVAL_CLIENT_SECRET: secret, APPROVAL_REDIRECT_URI: `${base}/approvals/oidc/callback` },
});
const server = spawn(BIN, ["--config", config, "serve", "--http", `127.0.0.1:${serverPort}`], {
  stdio: ["ignore", "ignore", "pipe"],
  env: { ...process.env, MLOPS_APPROVALS_CLIENT_SECRET: secret },
});

let browser;
try {
  await waitFor(provider, /oidc-provider listening/, "oidc-provider");
  await waitFor(server, /listening on http/, "mlops-mcp");

  // The agent drives the loop to a pending request over MCP.
  const call = mcp(base, agent);
  const drift = await call("check_drift", { model: "fraud-detector" });
  const request = await pendingPromotion(call, drift, "drifted", "v2 beats v1 on the drifted holdout");

  // A pasted token is refused once the identity provider signs approvers in.
  const pasted = await fetch(`${base}/approvals/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token: alicesToken }),
  });
  assert.equal(pasted.status, 403);
  assert.match(await pasted.text(), /sign in with the identity provider/);

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  const page = await browser.newPage();
  // Nothing leaves loopback: oidc-provider's development pages ask for a web font, which is
  // refused here; what our own pages ask for elsewhere is recorded (and must be nothing).
  const elsewhere = [];
  await page.route("**/*", (route) => {
    const r = route.request();
    if (r.url().startsWith("http://127.0.0.1:")) return route.continue();
    if (r.frame().url().startsWith(base)) elsewhere.push(r.url());
    return route.abort();
  });
  // Through the provider's login and consent pages until the approval page (or a refusal).
  const signIn = async (login) => {
    await page.goto(`${base}/approvals`);
    assert.equal(await page.locator("#token").count(), 0, "no token field");
    await page.click("#sign-in-oidc");
    for (let step = 0; step < 6; step++) {
      await page.waitForLoadState("load");
      if (page.url().startsWith(base)) {
        await page.waitForSelector("#who, #message");
        return;
      }
      if (await page.locator('input[name="login"]').count()) {
        await page.fill('input[name="login"]', login);
        await page.fill('input[name="password"]', "any");
      }
      await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
    }
    throw new Error(`sign-in as ${login} did not come back: ${page.url()}`);
  };
  const signOut = async () => {
    await Promise.all([page.waitForNavigation(), page.click('form[action="/approvals/logout"] button')]);
  };

  // Not in the approver group: refused.
  await signIn("bob");
  assert.match(await page.textContent("#message"), /`bob` is not an approver/);

  // The agent's own principal, in the group: signed in, and still cannot approve its request.
  await signIn("demo-agent");
  assert.equal(await page.locator("#who").count(), 1, await page.textContent("body"));
  assert.equal(await page.textContent("#who"), "demo-agent");
  await page.click(`a.request[href="/approvals/${request.id}"]`);
  await page.waitForSelector("#approve");
  await page.fill("#note", "approving my own request");
  await Promise.all([page.waitForNavigation(), page.click("#approve")]);
  assert.match(await page.textContent("body"), /`demo-agent` requested this promotion and cannot decide it/);
  assert.equal((await call("get_promotion", { request_id: request.id })).state, "pending_approval");
  await page.goto(`${base}/approvals`);
  await signOut();

  // alice signs in with the provider and approves.
  await signIn("alice");
  assert.equal(await page.locator("#who").count(), 1, await page.textContent("body"));
  assert.equal(await page.textContent("#who"), "alice");
  await page.click(`a.request[href="/approvals/${request.id}"]`);
  await page.waitForSelector("#approve");
  await page.fill("#note", "approved after signing in with the identity provider");
  await page.click("#approve");
  await page.waitForSelector("#decided");
  assert.equal(await page.textContent("#champion"), "v2");
  await page.screenshot({ path: join(dir, "approved-oidc.png"), fullPage: true });
  const promotion = await call("get_promotion", { request_id: request.id });
  assert.equal(promotion.state, "promoted");
  assert.equal(promotion.decided_by, "alice");
  assert.deepEqual(elsewhere, [], "the approval page fetched from another host");
  console.log(`approval page with the identity provider: pasted token refused, bob refused, demo-agent could not approve its own request, alice approved; champion v2 (screenshot ${join(dir, "approved-oidc.png")})`);
} finally {
  if (browser) await browser.close();
  server.kill();
  provider.kill();
}
