// The load benchmark's `list_models` served by the official TypeScript SDK
// (`@modelcontextprotocol/sdk` 1.32.2: McpServer + StreamableHTTPServerTransport, stateless,
// JSON responses, the SDK's documented per-request pattern) on 127.0.0.1. It returns the payload
// mlops-mcp's own `list_models` returned (captured by run.sh). No authentication.
//
// Usage: node ts_server.mjs PORT PAYLOAD_JSON

import { readFileSync } from "node:fs";
import http from "node:http";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";

const port = Number(process.argv[2]);
const payload = JSON.parse(readFileSync(process.argv[3], "utf8"));

function newServer() {
  const server = new McpServer({ name: "bench-ts", version: "1.0.0" });
  server.registerTool("list_models", { description: "List the models (a fixed payload)." }, async () => ({
    content: [{ type: "text", text: JSON.stringify(payload) }],
    structuredContent: payload,
  }));
  return server;
}

http
  .createServer(async (req, res) => {
    if (req.method !== "POST" || req.url !== "/mcp") {
      res.writeHead(405).end();
      return;
    }
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const server = newServer();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    res.on("close", () => {
      transport.close();
      server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, JSON.parse(Buffer.concat(chunks).toString("utf8")));
  })
  .listen(port, "127.0.0.1", () => console.log("listening"));
