"""A CrewAI MLOps engineer whose tools come from mlops-mcp over streamable HTTP.

`MCPServerAdapter` (crewai-tools) connects with the demo's token and turns the server's tools
into CrewAI tools; the engineer agent gets them. Without an LLM the example then does what the
agent would do first, through CrewAI's own tool interface (`tool.run(...)`): `check_drift` on
the model and, when it recommends retraining, `trigger_retrain` citing the drift report. With
`--kickoff` and an LLM configured for CrewAI (e.g. `OPENAI_API_KEY`), the crew runs the whole
`monitor_model` playbook itself instead.

Usage: MLOPS_MCP_TOKEN=<token> python crew.py [--url URL] [--model NAME] [--kickoff]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

# The machine may have no route to CrewAI's telemetry endpoint; don't try.
os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("OTEL_SDK_DISABLED", "true")

from crewai import Agent, Crew, Task  # noqa: E402
from crewai_tools import MCPServerAdapter  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080/mcp")
    parser.add_argument("--model", default="fraud-detector")
    parser.add_argument("--kickoff", action="store_true", help="run the crew with an LLM")
    args = parser.parse_args()
    token = os.environ.get("MLOPS_MCP_TOKEN")
    if not token:
        print("set MLOPS_MCP_TOKEN to the token `mlops-mcp demo` printed", file=sys.stderr)
        return 2

    server = {
        "url": args.url,
        "transport": "streamable-http",
        "headers": {"Authorization": f"Bearer {token}"},
    }
    with MCPServerAdapter(server, connect_timeout=60) as tools:
        names = sorted(t.name for t in tools)
        print("tools:", " ".join(names))

        engineer = Agent(
            role="MLOps engineer",
            goal=(
                f"Keep the production model {args.model} accurate: detect drift, retrain when "
                "the drift policy says so, validate the candidate against the champion, and "
                "ask a human to approve its promotion."
            ),
            backstory=(
                "You run the ML platform's on-call rotation. You act on evidence, cite the "
                "drift report and the validation in every request, respect the cost controls, "
                "and never promote a model yourself: a human approves every promotion."
            ),
            tools=tools,
            allow_delegation=False,
        )
        task = Task(
            description=(
                f"Follow the monitor_model playbook for {args.model}: list_models, check_drift, "
                "and if it recommends `retrain`, trigger_retrain, get_job until it ends, "
                "get_validation, then request_promotion with a justification."
            ),
            expected_output="The drift verdict, job id, validation verdict and promotion request id.",
            agent=engineer,
        )
        if args.kickoff:
            print(Crew(agents=[engineer], tasks=[task]).kickoff())
            return 0

        by_name = {t.name: t for t in engineer.tools}
        report = json.loads(by_name["check_drift"].run(model=args.model))
        print(
            f"check_drift: {report['recommended_action']} "
            f"({report['drifted_features']} of {len(report['features'])} features drifted); "
            f"report {report['report_id']}"
        )
        result = {
            "tools": names,
            "agent_role": engineer.role,
            "recommended_action": report["recommended_action"],
            "report_id": report["report_id"],
        }
        if report["recommended_action"] == "retrain":
            triggered = json.loads(
                by_name["trigger_retrain"].run(
                    model=args.model,
                    reason=f"{report['reasons'][0]} (drift report {report['report_id']})",
                    drift_report_id=report["report_id"],
                )
            )
            job = triggered["job"]
            print(f"trigger_retrain: job {job['id']} {job['state']} (created: {triggered['created']})")
            result.update(job_id=job["id"], job_state=job["state"], created=triggered["created"])
        print("RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
