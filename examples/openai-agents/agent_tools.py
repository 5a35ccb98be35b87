"""The OpenAI Agents SDK's streamable-HTTP MCP server class against mlops-mcp.

It connects `MCPServerStreamableHttp` with the demo's token, lists the tools, gives them to an
`Agent` (the MLOps engineer, instructed by the server's `monitor_model` playbook) and invokes
`check_drift` through the agent's own tool wrapper — the code path the SDK's Runner takes when
the model calls the tool — then reads the model card. No LLM or API key is needed; to run the
agent for real, pass it to `Runner.run(agent, "...")` with an `OPENAI_API_KEY` (see README.md).

Usage: MLOPS_MCP_TOKEN=<token> python agent_tools.py [--url URL] [--model NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

from agents import Agent, RunContextWrapper
from agents.mcp import MCPServerStreamableHttp
from agents.tool_context import ToolContext


def text_of(output: object) -> str:
    """The text an MCP tool's output carries, however the SDK wrapped it."""
    if isinstance(output, str):
        return output
    if isinstance(output, dict):
        return output["text"]
    if isinstance(output, list):
        return "".join(text_of(item) for item in output)
    return str(getattr(output, "text", output))


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080/mcp")
    parser.add_argument("--model", default="fraud-detector")
    args = parser.parse_args()
    token = os.environ.get("MLOPS_MCP_TOKEN")
    if not token:
        print("set MLOPS_MCP_TOKEN to the token `mlops-mcp demo` printed", file=sys.stderr)
        return 2

    async with MCPServerStreamableHttp(
        name="mlops-mcp",
        params={"url": args.url, "headers": {"Authorization": f"Bearer {token}"}, "timeout": 30},
        client_session_timeout_seconds=90,
        cache_tools_list=True,
    ) as server:
        tools = await server.list_tools()
        names = sorted(t.name for t in tools)
        print("tools:", " ".join(names))

        playbook = await server.get_prompt("monitor_model", {"model": args.model})
        instructions = "\n".join(m.content.text for m in playbook.messages)
        agent = Agent(
            name="MLOps engineer",
            instructions=instructions,
            mcp_servers=[server],
            mcp_config={"convert_schemas_to_strict": True},
        )
        agent_tools = await agent.get_all_tools(RunContextWrapper(context=None))
        print("agent tools:", " ".join(sorted(t.name for t in agent_tools)))

        # What the Runner does when the model calls check_drift.
        check_drift = next(t for t in agent_tools if t.name == "check_drift")
        arguments = json.dumps({"model": args.model})
        context = ToolContext(
            context=None, tool_name="check_drift", tool_call_id="call-1", tool_arguments=arguments
        )
        output = await check_drift.on_invoke_tool(context, arguments)
        # The model is shown the tool's text content: here, the report as JSON.
        report = json.loads(text_of(output))
        print(
            f"check_drift: {report['recommended_action']} "
            f"({report['drifted_features']} of {len(report['features'])} features drifted); "
            f"report {report['report_id']}"
        )

        # The same server object also calls tools and reads resources directly.
        models = await server.call_tool("list_models", {})
        champion = models.structured_content["models"][0]["champion"]
        card = await server.read_resource(f"mlops://models/{args.model}/card")
        title = card.contents[0].text.splitlines()[0]
        print(f"list_models: champion {champion}; card: {title}")

        print(
            "RESULT "
            + json.dumps(
                {
                    "tools": names,
                    "agent_tools": sorted(t.name for t in agent_tools),
                    "recommended_action": report["recommended_action"],
                    "report_id": report["report_id"],
                    "champion": champion,
                    "card_title": title,
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
