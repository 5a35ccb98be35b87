"""A LangGraph agent that operates a model through mlops-mcp.

It loads the server's tools with langchain-mcp-adapters, takes the server's `monitor_model`
playbook as its instructions, and runs it up to the promotion request a human must approve.

So that it runs without an LLM (here and in CI), the chat model is `ScriptedOperator`: a
deterministic LangChain chat model that reads the conversation and emits the tool call a careful
operator would make next. Every id it passes on comes from what the tools returned. To use a real
model, replace `ScriptedOperator()` with e.g. `init_chat_model("anthropic:claude-sonnet-4-5")`
(see README.md).

Usage: MLOPS_MCP_TOKEN=<token> python agent.py [--url URL] [--model NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from langchain.agents import create_agent
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_mcp_adapters.client import MultiServerMCPClient

ACTIVE_JOB_STATES = {"pending", "running"}


def structured(message: ToolMessage) -> dict[str, Any]:
    """The tool's structuredContent (langchain-mcp-adapters puts it in the artifact)."""
    artifact = message.artifact or {}
    return artifact.get("structured_content") or {}


class ScriptedOperator(BaseChatModel):
    """Follows the monitor_model playbook step by step from what the tools return."""

    @property
    def _llm_type(self) -> str:
        return "scripted-operator"

    def bind_tools(self, tools: Any, **kwargs: Any) -> "ScriptedOperator":
        return self

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs):
        return ChatResult(generations=[ChatGeneration(message=self.next_step(messages))])

    def next_step(self, messages: list[BaseMessage]) -> AIMessage:
        tool_results = [m for m in messages if isinstance(m, ToolMessage)]
        step = len(tool_results)
        if not tool_results:
            return call(step, "list_models", {})
        last = tool_results[-1]
        if last.status == "error":
            return say(f"{last.name} was refused: {last.content}. Stopping here, as the playbook says.")
        out = structured(last)
        if last.name == "list_models":
            playbook = next(m.content for m in messages if isinstance(m, HumanMessage))
            model = next((m for m in out["models"] if f"`{m['name']}`" in playbook), None)
            if model is None:
                return say("The model named in the playbook is not on this server.")
            if model["state"] in ("promotion_pending", "promotion_expiring"):
                return say(f"A promotion already waits for a human: {model['next_step']}")
            return call(step, "check_drift", {"model": model["name"]})
        if last.name == "check_drift":
            if out["recommended_action"] != "retrain":
                return say(f"No retraining: {out['recommended_action']}. " + " ".join(out["reasons"]))
            reason = f"{out['reasons'][0]} (drift report {out['report_id']})"
            return call(
                step,
                "trigger_retrain",
                {"model": out["model"], "reason": reason, "drift_report_id": out["report_id"]},
            )
        if last.name in ("trigger_retrain", "get_job"):
            job = out["job"] if last.name == "trigger_retrain" else out
            if job["state"] in ACTIVE_JOB_STATES:
                return call(step, "get_job", {"job_id": job["id"], "wait_seconds": 60})
            if job["state"] != "succeeded":
                return say(f"Job {job['id']} ended {job['state']}: {job.get('message')}")
            return call(step, "get_validation", {"job_id": job["id"]})
        if last.name == "get_validation":
            if out["verdict"] != "passed":
                return say("The candidate failed validation: " + " ".join(out["reasons"]))
            drift = next(structured(m) for m in tool_results if m.name == "check_drift")
            justification = (
                f"Drift report {drift['report_id']}: {drift['reasons'][0]}. "
                f"Validation {out['id']} passed: {' '.join(out['reasons'])}"
            )
            return call(
                step,
                "request_promotion",
                {
                    "model": out["model"],
                    "candidate_version": out["candidate_version"],
                    "validation_id": out["id"],
                    "justification": justification,
                },
            )
        if last.name == "request_promotion":
            return say(
                f"Promotion request {out['id']} for {out['model']} {out['candidate_version']} is "
                f"{out['state']}; a human decides at {out['approval_url']} "
                f"before {out['expires_at']}."
            )
        return say(f"Unexpected tool result from {last.name}; stopping.")


def call(step: int, tool: str, args: dict[str, Any]) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": tool, "args": args, "id": f"call-{step}"}])


def say(text: str) -> AIMessage:
    return AIMessage(content=text)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080/mcp")
    parser.add_argument("--model", default="fraud-detector")
    args = parser.parse_args()
    token = os.environ.get("MLOPS_MCP_TOKEN")
    if not token:
        print("set MLOPS_MCP_TOKEN to the token `mlops-mcp demo` printed", file=sys.stderr)
        return 2

    client = MultiServerMCPClient(
        {
            "mlops": {
                "transport": "streamable_http",
                "url": args.url,
                "headers": {"Authorization": f"Bearer {token}"},
            }
        }
    )
    tools = await client.get_tools()
    print("tools:", " ".join(sorted(t.name for t in tools)))
    playbook = await client.get_prompt("mlops", "monitor_model", arguments={"model": args.model})

    agent = create_agent(ScriptedOperator(), tools)
    result = await agent.ainvoke({"messages": playbook}, {"recursion_limit": 50})

    chain: dict[str, Any] = {}
    for message in result["messages"]:
        if isinstance(message, AIMessage):
            for tc in message.tool_calls:
                print(f"-> {tc['name']} {json.dumps(tc['args'])}")
        if isinstance(message, ToolMessage):
            out = structured(message)
            print(f"<- {message.name}: {summary(message.name, out)}")
            chain[message.name] = out
    final = result["messages"][-1].content
    print("agent:", final)
    print(
        "RESULT "
        + json.dumps(
            {
                "tools": sorted(t.name for t in tools),
                "recommended_action": chain.get("check_drift", {}).get("recommended_action"),
                "job_id": chain.get("get_job", {}).get("id"),
                "candidate_version": chain.get("get_validation", {}).get("candidate_version"),
                "verdict": chain.get("get_validation", {}).get("verdict"),
                "promotion_id": chain.get("request_promotion", {}).get("id"),
                "promotion_state": chain.get("request_promotion", {}).get("state"),
            }
        )
    )
    return 0


def summary(tool: str, out: dict[str, Any]) -> str:
    if tool == "list_models":
        return ", ".join(m["name"] for m in out.get("models", []))
    if tool == "check_drift":
        return f"{out.get('recommended_action')} ({out.get('drifted_features')} features drifted)"
    if tool in ("trigger_retrain", "get_job"):
        job = out.get("job", out)
        return f"job {job.get('id')} {job.get('state')}"
    if tool == "get_validation":
        return f"{out.get('candidate_version')} {out.get('verdict')}"
    if tool == "request_promotion":
        return f"{out.get('id')} {out.get('state')}"
    return json.dumps(out)[:200]


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
