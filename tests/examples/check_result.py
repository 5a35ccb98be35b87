"""Checks the `RESULT {...}` line a framework example printed (tests/examples/framework.sh).

Usage: check_result.py NAME OUTPUT_FILE. Prints the ids it found as `key=value` lines; exits 1
with the reason if a check fails.
"""

import json
import sys

HEADLINE = {"check_drift", "trigger_retrain", "get_validation", "request_promotion"}
AGENT_TOOLS = HEADLINE | {"list_models", "get_job", "get_promotion", "check_performance"}


def check(name: str, r: dict) -> dict:
    assert set(r["tools"]) == AGENT_TOOLS, f"tools: {r['tools']}"
    # The demo's current data has drifted past the policy.
    assert r["recommended_action"] == "retrain", r
    ids = {}
    if name == "langgraph":
        assert r["job_id"], r
        assert (r["candidate_version"], r["verdict"]) == ("v2", "passed"), r
        assert r["promotion_state"] == "pending_approval", r
        ids["promotion_id"] = r["promotion_id"]
    elif name == "crewai":
        assert r["agent_role"] == "MLOps engineer", r
        assert r["created"] is True and r["job_state"] in ("pending", "running", "succeeded"), r
        ids["job_id"] = r["job_id"]
    elif name == "openai-agents":
        assert r["agent_tools"] == r["tools"], r
        assert r["champion"] == "v1", r
        assert r["card_title"] == "# Model card: fraud-detector", r
    elif name.startswith("typescript"):
        assert r["transport"] == name.removeprefix("typescript-"), r
        assert r["card_title"] == "# Model card: fraud-detector", r
    else:
        raise AssertionError(f"unknown example {name}")
    assert r.get("report_id", "x"), r
    return ids


def main() -> int:
    name, path = sys.argv[1], sys.argv[2]
    lines = [l for l in open(path, encoding="utf-8") if l.startswith("RESULT ")]
    if len(lines) != 1:
        print(f"{name}: expected one RESULT line, found {len(lines)}", file=sys.stderr)
        return 1
    try:
        ids = check(name, json.loads(lines[0].removeprefix("RESULT ")))
    except AssertionError as e:
        print(f"{name}: check failed: {e}", file=sys.stderr)
        return 1
    for k, v in ids.items():
        print(f"{k}={v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
