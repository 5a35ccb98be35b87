// The agent's side of the browser tests: tool calls over MCP with a bearer token, and the
// closed loop up to a pending promotion request.
import assert from "node:assert/strict";

/** A function calling a tool at `base` with `token`; it returns the structured result. */
export function mcp(base, token) {
  let n = 0;
  return async (name, args) => {
    const r = await fetch(`${base}/mcp`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": "2025-06-18",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: ++n, method: "tools/call", params: { name, arguments: args } }),
    });
    const text = await r.text();
    const json = JSON.parse(text.startsWith("{") ? text : text.split("\n").find((l) => l.startsWith("data: ")).slice(6));
    assert.equal(json.result.isError, false, text);
    return json.result.structuredContent;
  };
}

/** Retrains from the drift report `drift`, waits for the job, and requests the promotion of
 * the candidate; the request. */
export async function pendingPromotion(call, drift, reason, justification) {
  const job = await call("trigger_retrain", { model: "fraud-detector", reason, drift_report_id: drift.report_id });
  let view;
  for (let i = 0; i < 5; i++) {
    view = await call("get_job", { job_id: job.job.id, wait_seconds: 60 });
    if (view.state !== "pending" && view.state !== "running") break;
  }
  assert.equal(view.state, "succeeded");
  const validation = await call("get_validation", { job_id: job.job.id });
  return call("request_promotion", {
    model: "fraud-detector",
    candidate_version: validation.candidate_version,
    validation_id: validation.id,
    justification,
  });
}
