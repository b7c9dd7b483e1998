"""Structured results through the official MCP Python SDK.

Starts the simulated Atlassian (the `atlassian-sim` binary) and `jira-mcp
serve` over stdio against it, lists the tools and calls a representative set
(at least one per toolset, reads and writes) through `ClientSession.call_tool`.
The SDK validates each result's `structuredContent` against the tool's
declared `outputSchema` (`ClientSession.validate_tool_result`); this script
validates again with `jsonschema`, and shows that a result that does not fit
is refused by both, so the check cannot pass vacuously.

Usage: check_structured.py --jira-mcp PATH --sim PATH

Prints one `key: value` line per count and `OK` at the end; exits non-zero on
any failure.
"""

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import AsyncExitStack

import jsonschema
import mcp
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

# (toolset, tool, arguments): every toolset, reads and writes.
CALLS = [
    ("users", "get_current_user", {}),
    ("users", "get_accessible_resources", {}),
    ("users", "lookup_account_id", {"query": "mia"}),
    ("projects", "list_projects", {"query": "ed"}),
    ("projects", "get_project_issue_types", {"project_key": "ED"}),
    ("projects", "list_components", {"project_key": "ED"}),
    ("issues", "search_issues", {"jql": "project = ED", "max_results": 5}),
    ("issues", "get_issue", {"issue_key": "ED-1"}),
    ("issues", "create_issue", {"project_key": "ED", "issue_type": "Task", "summary": "From the Python SDK", "description": "Made by **check_structured.py**"}),
    ("issues", "get_transitions", {"issue_key": "ED-1"}),
    ("issues", "get_create_fields", {"project_key": "ED", "issue_type": "Task"}),
    ("comments", "add_comment", {"issue_key": "ED-1", "body": "A *structured* hello"}),
    ("comments", "add_worklog", {"issue_key": "ED-1", "time_spent": "1h"}),
    ("links", "get_issue_link_types", {}),
    ("links", "create_issue_link", {"link_type": "Blocks", "inward_issue": "ED-1", "outward_issue": "{created}"}),
    ("links", "get_remote_issue_links", {"issue_key": "ED-1"}),
    ("attachments", "get_attachments", {"issue_key": "ED-1"}),
    ("agile", "list_boards", {}),
    ("agile", "list_sprints", {"board_id": 84}),
    ("admin", "create_component", {"project_key": "ED", "name": "Python SDK", "description": "Checked by check_structured.py"}),
    ("auth", "refresh_oauth_token", {}),
    ("auth", "auth_status", {}),
]
TOOLSETS = {"auth", "issues", "comments", "links", "projects", "users", "attachments", "agile", "admin"}


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def die_with_parent():
    """On Linux, the simulator is killed when this script dies (even by SIGKILL)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def start_sim(sim_path):
    """Starts atlassian-sim; returns the process and the environment it prints."""
    sim = subprocess.Popen(
        [sim_path],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        preexec_fn=die_with_parent if sys.platform.startswith("linux") else None,
    )
    env = {}
    deadline = time.monotonic() + 30
    for line in sim.stdout:
        match = re.match(r"export (\w+)='(.*)'$", line.strip())
        if match:
            env[match.group(1)] = match.group(2)
        if "Ctrl-C" in line or time.monotonic() > deadline:
            break
    if "JIRA_OAUTH_TOKEN_URL" not in env:
        sim.kill()
        fail(f"atlassian-sim printed no environment: {env}")
    return sim, env


def validator(schema):
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def check_result(name, result, schemas):
    """The result of a successful call: structured content that fits, and the same JSON as text."""
    if result.is_error:
        fail(f"{name} failed: {[c.text for c in result.content if c.type == 'text']}")
    structured = result.structured_content
    if not isinstance(structured, dict):
        fail(f"{name}: structuredContent is not an object: {structured!r}")
    errors = sorted(validator(schemas[name]).iter_errors(structured), key=str)
    if errors:
        fail(f"{name}: structuredContent does not fit its outputSchema: {errors[0].message}")
    text = next((c.text for c in result.content if c.type == "text"), None)
    if text is None or json.loads(text) != structured:
        fail(f"{name}: the text content is not the structured result")
    return structured


async def run(args):
    workdir = tempfile.mkdtemp(prefix="jira-mcp-pysdk-")
    sim, sim_env = start_sim(args.sim)
    try:
        env = dict(sim_env)
        env.update(
            {
                "HOME": workdir,
                "XDG_CONFIG_HOME": os.path.join(workdir, "config"),
                "JIRA_OAUTH_TOKEN_FILE": os.path.join(workdir, "tokens.json"),
                "JIRA_OAUTH_REDIRECT_URI": f"http://127.0.0.1:{free_port()}/callback",
            }
        )
        params = StdioServerParameters(command=args.jira_mcp, args=["serve"], env=env, cwd=workdir)
        async with AsyncExitStack() as stack:
            errlog = stack.enter_context(open(os.path.join(workdir, "stderr.log"), "w"))
            read, write = await stack.enter_async_context(stdio_client(params, errlog=errlog))
            session = await stack.enter_async_context(ClientSession(read, write))
            await session.initialize()
            await check(session)
    finally:
        sim.kill()
        sim.wait()


async def check(session):
    listed = await session.list_tools()
    schemas = {}
    for tool in listed.tools:
        schema = tool.output_schema
        if not isinstance(schema, dict) or schema.get("type") != "object":
            fail(f"{tool.name}: no outputSchema of type object")
        validator(schema)  # a valid JSON Schema
        schemas[tool.name] = schema
    print(f"tools listed: {len(listed.tools)}")
    print(f"output schemas: {len(schemas)}")

    calls = 0
    toolsets = set()

    async def call(toolset, name, arguments):
        nonlocal calls
        # The SDK validates structuredContent against the declared outputSchema here.
        result = await session.call_tool(name, arguments)
        structured = check_result(name, result, schemas)
        calls += 1
        toolsets.add(toolset)
        return structured

    # Log in through the tools: the simulator approves at once, and the
    # browser's redirect reaches the server's loopback listener.
    status = await call("auth", "auth_status", {})
    if status["logged_in"]:
        fail("logged in before the login")
    started = await call("auth", "init_oauth_flow", {})
    with urllib.request.urlopen(started["authorization_url"], timeout=30) as page:
        page.read()
    for _ in range(100):
        status = await call("auth", "auth_status", {})
        if status["logged_in"]:
            break
        await asyncio.sleep(0.1)
    else:
        fail(f"the login did not complete: {status}")

    created = None
    for toolset, name, arguments in CALLS:
        # `{created}` stands for the issue create_issue made.
        arguments = {k: created if v == "{created}" else v for k, v in arguments.items()}
        structured = await call(toolset, name, arguments)
        if name == "create_issue":
            created = structured["key"]
            await call("issues", "edit_issue", {"issue_key": created, "summary": "Edited from the Python SDK"})
            await call("issues", "get_issue", {"issue_key": created})

    if toolsets != TOOLSETS:
        fail(f"toolsets not covered: {sorted(TOOLSETS - toolsets)}")

    # An error has no structured content, and the SDK does not ask for any.
    missing = await session.call_tool("get_issue", {"issue_key": "ED-999"})
    if not missing.is_error or missing.structured_content is not None:
        fail(f"a failed call must be isError without structuredContent: {missing}")

    # Not vacuous: a result that does not fit is refused by the SDK and by jsonschema.
    good = await session.call_tool("search_issues", {"jql": "project = ED"})
    bad = good.model_copy(update={"structured_content": {"issues": "not a list", "is_last": "no"}})
    refused = 0
    try:
        await session.validate_tool_result("search_issues", bad)
    except RuntimeError as e:
        if "Invalid structured content" in str(e):
            refused += 1
    if not list(validator(schemas["search_issues"]).iter_errors(bad.structured_content)):
        fail("jsonschema accepted a result that does not fit")
    refused += 1
    if refused != 2:
        fail("the SDK accepted structured content that does not fit the outputSchema")

    print(f"calls validated: {calls}")
    print(f"toolsets covered: {len(toolsets)}")
    print(f"bad results refused: {refused}")
    print(f"sdk: mcp {sdk_version()}")
    print("OK")


def sdk_version():
    try:
        from importlib.metadata import version

        return version("mcp")
    except Exception:  # pragma: no cover
        return getattr(mcp, "__version__", "?")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jira-mcp", required=True, dest="jira_mcp")
    parser.add_argument("--sim", required=True)
    args = parser.parse_args()
    args.jira_mcp = os.path.abspath(args.jira_mcp)
    args.sim = os.path.abspath(args.sim)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
