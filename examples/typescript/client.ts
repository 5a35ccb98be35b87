// The official MCP TypeScript SDK (`@modelcontextprotocol/sdk`) as a client of mlops-mcp:
// lists the tools, calls `check_drift`, reads the model card — over streamable HTTP or stdio.
//
//   MLOPS_MCP_TOKEN=<token> node client.ts --url http://127.0.0.1:8080/mcp
//   MLOPS_MCP_TOKEN=<token> node client.ts --stdio /path/to/mlops-mcp --config mlops-demo/mlops-mcp.toml
//
// Node >= 22.18 runs the TypeScript directly (type stripping); no build step.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { parseArgs } from "node:util";

const { values: opts } = parseArgs({
  options: {
    url: { type: "string" },
    stdio: { type: "string" },
    config: { type: "string" },
    model: { type: "string", default: "fraud-detector" },
  },
});
const token = process.env.MLOPS_MCP_TOKEN;
if (!token) {
  console.error("set MLOPS_MCP_TOKEN to the token `mlops-mcp demo` printed");
  process.exit(2);
}

function transport(): Transport {
  if (opts.stdio) {
    // The server reads its principal from MLOPS_MCP_TOKEN when it runs as a subprocess.
    const args = opts.config ? ["--config", opts.config, "serve"] : ["serve"];
    return new StdioClientTransport({
      command: opts.stdio,
      args,
      env: { ...process.env, MLOPS_MCP_TOKEN: token } as Record<string, string>,
      stderr: "ignore",
    });
  }
  const url = new URL(opts.url ?? "http://127.0.0.1:8080/mcp");
  return new StreamableHTTPClientTransport(url, {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
}

const client = new Client({ name: "mlops-mcp-typescript-example", version: "1.0.0" });
await client.connect(transport());
const server = client.getServerVersion();
console.log(`connected to ${server?.name} ${server?.version} over ${opts.stdio ? "stdio" : "http"}`);

const { tools } = await client.listTools();
const names = tools.map((t) => t.name).sort();
console.log(`tools: ${names.join(" ")}`);

// The SDK validates structuredContent against the tool's outputSchema.
const drift = await client.callTool({ name: "check_drift", arguments: { model: opts.model } });
if (drift.isError) {
  console.error("check_drift failed:", JSON.stringify(drift.content));
  process.exit(1);
}
const report = drift.structuredContent as {
  recommended_action: string;
  report_id: string;
  drifted_features: number;
  features: unknown[];
  reasons: string[];
};
console.log(
  `check_drift: ${report.recommended_action} (${report.drifted_features} of ` +
    `${report.features.length} features drifted); report ${report.report_id}`,
);

const card = await client.readResource({ uri: `mlops://models/${opts.model}/card` });
const first = card.contents[0];
const title = "text" in first ? String(first.text).split("\n")[0] : "";
console.log(`card: ${title}`);

console.log(
  "RESULT " +
    JSON.stringify({
      transport: opts.stdio ? "stdio" : "http",
      tools: names,
      recommended_action: report.recommended_action,
      report_id: report.report_id,
      card_title: title,
    }),
);
await client.close();
