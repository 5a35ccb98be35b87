// The approval page in headless Chromium (Debian's), driven by playwright-core: a human signs
// in with a token, sees the pending request with its evidence, a POST without the CSRF token is
// refused, Approve is clicked, and the champion changes. Hostile text is planted in the
// justification, in a traced argument and in a category value of ingested rows that the drift
// report (the page's evidence) names: no script of it runs (the `window.pwned` flag it would
// set stays unset), nothing is fetched from another host, and the page carries its CSP.
//
// Usage: node tests/web/approvals.mjs BIN CHROMIUM
// (.ci/run runs it with .ci/node's Node 22 and /usr/bin/chromium.)
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

import { mcp, pendingPromotion } from "./agent.mjs";

const require = createRequire(join(process.cwd(), ".ci/node/package.json"));
const { chromium } = require("playwright-core");

const [BIN, CHROMIUM] = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), "mlops-web-"));
const run = (...args) => {
  const r = spawnSync(BIN, args, { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
};
run("demo", "--no-serve", "--dir", dir);
const config = join(dir, "mlops-mcp.toml");
const token = (sub, scopes) => run("--config", config, "token", "issue", "--sub", sub, "--scopes", scopes);
const agent = token("demo-agent", "agent");
const alice = token("alice", "promotion:approve,models:read");

const server = spawn(BIN, ["--config", config, "serve", "--http", "127.0.0.1:0"], { stdio: ["ignore", "ignore", "pipe"] });
const base = await new Promise((resolve, reject) => {
  let seen = "";
  server.stderr.on("data", (d) => {
    seen += d;
    const m = seen.match(/listening on (http:\/\/[^\s]+)\/mcp/);
    if (m) resolve(m[1]);
  });
  server.on("exit", (code) => reject(new Error(`server exited ${code}: ${seen}`)));
});

let browser;
try {
  // The agent drives the loop to a pending request over MCP.
  const call = mcp(base, agent);
  const hostile = "[open the report](javascript:window.pwned=1) ![chart](http://127.0.0.1:9/pixel.png) " +
    "<img src=x onerror=\"window.pwned=1\"> <script>window.pwned=1</script> `</code><script>window.pwned=1</script>`";
  // A pipeline with data:write ingests the demo's drifted rows with a hostile category value;
  // the drift report over that window (the evidence the page shows) names it as a new category.
  const writer = token("pipeline", "data:write");
  const [header, ...rows] = readFileSync(join(dir, "data/fraud-detector/current.csv"), "utf8").trim().split("\n");
  const names = header.split(",");
  const now = Math.floor(Date.now() / 1000);
  const planted = "<img src=x onerror=window.pwned=1>[cat](javascript:window.pwned=1)";
  const lines = rows.slice(0, 400).map((row, i) => {
    const cells = row.split(",");
    const record = { timestamp: now - 60 - i };
    names.forEach((name, j) => {
      const n = Number(cells[j]);
      record[name] = cells[j] !== "" && !Number.isNaN(n) ? n : cells[j];
    });
    record.merchant_category = planted;
    return JSON.stringify(record);
  });
  const ingested = await fetch(`${base}/v1/models/fraud-detector/records`, {
    method: "POST",
    headers: { authorization: `Bearer ${writer}`, "content-type": "application/x-ndjson" },
    body: lines.join("\n"),
  });
  assert.equal(ingested.status, 200, await ingested.text());
  const drift = await call("check_drift", { model: "fraud-detector", last: "1h" });
  assert.ok(drift.reasons.some((r) => r.includes("new categories") && r.includes("onerror")), JSON.stringify(drift.reasons));
  const request = await pendingPromotion(call, drift, `drift ${hostile}`, `passes every rule ${hostile}`);

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  const page = await browser.newPage();
  const elsewhere = [];
  page.on("request", (r) => { if (!r.url().startsWith(base)) elsewhere.push(r.url()); });
  await page.goto(`${base}/approvals`);
  await page.fill("#token", alice);
  await page.click("#sign-in");
  await page.waitForSelector("a.request").catch(async (e) => { await page.screenshot({ path: "/tmp/signin.png" }); console.error(await page.content()); throw e; });
  assert.equal(await page.textContent("#who"), "alice");
  const [detail] = await Promise.all([
    page.waitForResponse((r) => r.url() === `${base}/approvals/${request.id}`),
    page.click(`a.request[href="/approvals/${request.id}"]`),
  ]);
  await page.waitForSelector("#approve");
  const csp = detail.headers()["content-security-policy"] ?? "";
  assert.match(csp, /script-src 'none'/, `CSP: ${csp}`);
  assert.match(csp, /frame-ancestors 'none'/, `CSP: ${csp}`);
  assert.equal(await page.evaluate(() => window.pwned), undefined, "a planted script ran");
  assert.equal(await page.locator("a[href^='javascript:' i]").count(), 0);
  assert.equal(await page.locator("body img").count(), 0);
  // Clicking the planted link text runs nothing either.
  await page.getByText("open the report").first().click();
  assert.equal(await page.evaluate(() => window.pwned), undefined, "the planted link ran");
  assert.deepEqual(elsewhere, [], "the page fetched from another host");
  const evidence = await page.textContent("body");
  assert.match(evidence, /Verdict: passed/);
  assert.match(evidence, /Recommended action: retrain/);
  assert.match(evidence, /passes every rule/);
  // Both versions per segment of the holdout, as the demo trainer measured them.
  assert.match(evidence, /Per segment of the holdout/);
  assert.match(evidence, /merchant_category[\s`|]*crypto/);
  assert.match(evidence, /open the report/);
  assert.match(evidence, /new categories: <img src=x onerror/, "the planted category is shown as text");
  assert.equal(await page.textContent("#champion"), "v1");

  // Script in the page cannot even send a request: the CSP allows no connections.
  const blocked = await page.evaluate(async (id) => {
    try {
      await fetch(`/approvals/${id}/approve`, { method: "POST", body: new URLSearchParams({ note: "x" }) });
      return "sent";
    } catch (e) {
      return String(e);
    }
  }, request.id);
  assert.match(blocked, /Failed to fetch/);
  // A POST with the signed-in session's cookie but without the form's CSRF token is refused.
  const forged = await page.request.post(`${base}/approvals/${request.id}/approve`, { form: { note: "x" } });
  assert.equal(forged.status(), 403);
  assert.match(await forged.text(), /CSRF/);
  await page.reload();
  assert.equal(await page.textContent("#state"), "pending_approval");

  await page.fill("#note", "approved in the browser test");
  await page.click("#approve");
  await page.waitForSelector("#decided");
  assert.equal(await page.textContent("#champion"), "v2");
  assert.equal(await page.textContent("#state"), "promoted");
  await page.screenshot({ path: join(dir, "approved.png"), fullPage: true });
  const promotion = await call("get_promotion", { request_id: request.id });
  assert.equal(promotion.state, "promoted");
  assert.equal(promotion.decided_by, "alice");
  console.log(`approval page: signed in, saw the evidence, CSRF-less POST refused, approved; champion v2 (screenshot ${join(dir, "approved.png")})`);
} finally {
  if (browser) await browser.close();
  server.kill();
}
