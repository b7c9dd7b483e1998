"""Random Jira answers never break a client: a fuzz of the read tools.

For every read tool, generates N random Jira responses that are valid under
the response schema of the Jira operation(s) it calls in Atlassian's OpenAPI
spec (`jira-cloud-platform-v3.json`, with `hypothesis-jsonschema` and a fixed
seed), plus the spec's own example; serves them one after another from a
local HTTP server standing in for Jira Cloud; and calls the tool through the
official MCP Python SDK (`ClientSession.call_tool`, which validates
`structuredContent` against the declared `outputSchema`) in one `jira-mcp
serve` process. Every success is validated again with `jsonschema`; a tool
error is allowed (it must be text without structured content), a result the
SDK refuses or a session that breaks is a failure.

The agile tools' endpoints (`/rest/agile/1.0`) are not in that spec: their
issue lists are built from the spec's `IssueBean`, their boards and sprints
from any JSON at the keys the tools read.

Usage: fuzz_structured.py --jira-mcp PATH --spec PATH [--per-tool N] [--seed S] [--tools a,b]

Prints `key: value` counts and `OK` at the end; exits non-zero on any failure.
"""

import argparse
import asyncio
import copy
import json
import os
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from contextlib import AsyncExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jsonschema
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

API = "/rest/api/3"
AGILE = "/rest/agile/1.0"
FIELD = "customfield_10010"

# (tool, arguments, [(method, path template)]): every read tool that reads
# Jira's answers, with arguments that take it down one path of requests.
TOOLS = [
    ("get_issue", {"issue_key": "ED-1", "fields": [FIELD]}, [("get", API + "/issue/{issueIdOrKey}")]),
    ("search_issues", {"jql": "project = ED", "fields": [FIELD]}, [("post", API + "/search/jql")]),
    ("get_transitions", {"issue_key": "ED-1"}, [("get", API + "/issue/{issueIdOrKey}/transitions")]),
    ("get_create_fields", {"project_key": "ED", "issue_type": "10001"},
     [("get", API + "/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}")]),
    ("get_field_options", {"project_key": "ED", "issue_type": "10001", "field": FIELD},
     [("get", API + "/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}")]),
    ("get_project_issue_types", {"project_key": "ED"}, [("get", API + "/issue/createmeta/{projectIdOrKey}/issuetypes")]),
    ("get_remote_issue_links", {"issue_key": "ED-1"}, [("get", API + "/issue/{issueIdOrKey}/remotelink")]),
    ("get_issue_link_types", {}, [("get", API + "/issueLinkType")]),
    ("list_projects", {}, [("get", API + "/project/search")]),
    ("get_project", {"project_key": "ED"}, [("get", API + "/project/{projectIdOrKey}")]),
    ("list_versions", {"project_key": "ED"}, [("get", API + "/project/{projectIdOrKey}/version")]),
    ("list_components", {"project_key": "ED"}, [("get", API + "/project/{projectIdOrKey}/components")]),
    ("lookup_account_id", {"query": "mia"}, [("get", API + "/user/search")]),
    ("search_users", {"query": "mia"}, [("get", API + "/user/search")]),
    ("get_user", {"user": "5b10a2844c20165700ede21g"}, [("get", API + "/user")]),
    ("get_current_user", {}, [("get", API + "/myself")]),
    ("search_fields", {"query": "a"}, [("get", API + "/field")]),
    ("get_issue_changelog", {"issue_key": "ED-1"}, [("get", API + "/issue/{issueIdOrKey}/changelog")]),
    ("get_watchers", {"issue_key": "ED-1"}, [("get", API + "/issue/{issueIdOrKey}/watchers")]),
    ("get_comments", {"issue_key": "ED-1"}, [("get", API + "/issue/{issueIdOrKey}/comment")]),
    ("get_worklogs", {"issue_key": "ED-1"}, [("get", API + "/issue/{issueIdOrKey}/worklog")]),
    ("get_attachments", {"issue_key": "ED-1"}, [("get", API + "/issue/{issueIdOrKey}")]),
    ("download_attachment", {"attachment_id": "10000"},
     [("get", API + "/attachment/{id}"), ("get", API + "/attachment/content/{id}")]),
    ("list_boards", {}, [("get", AGILE + "/board")]),
    ("get_board_issues", {"board_id": 84}, [("get", AGILE + "/board/{boardId}/issue")]),
    ("get_backlog_issues", {"board_id": 84}, [("get", AGILE + "/board/{boardId}/backlog")]),
    ("list_sprints", {"board_id": 84}, [("get", AGILE + "/board/{boardId}/sprint")]),
    ("get_sprint_issues", {"sprint_id": 72}, [("get", AGILE + "/sprint/{sprintId}/issue")]),
]

# The issue fields the tools read. The spec leaves `fields` free-form (any
# value for any field id), so each may come in any JSON shape: named here so
# that the generator tries them, not only random field ids.
ISSUE_FIELDS = ["summary", "status", "issuetype", "priority", "assignee", "reporter", "labels", "created",
                "updated", "project", "parent", "description", "comment", "attachment", FIELD]

ANY = {}  # any JSON value


def agile_schemas(spec):
    """Response schemas for the agile endpoints (not in the platform spec)."""
    issue = {"$ref": "#/components/schemas/IssueBean"}
    issues = {"type": "object", "properties": {"issues": {"type": "array", "items": issue},
              "startAt": ANY, "maxResults": ANY, "total": ANY, "isLast": ANY}}
    board = {"type": "object", "properties": {"id": ANY, "name": ANY, "type": ANY,
             "location": {"type": "object", "properties": {"projectKey": ANY}}}}
    sprint = {"type": "object", "properties": {k: ANY for k in
              ["id", "name", "state", "startDate", "endDate", "completeDate", "goal", "originBoardId"]}}

    def page(item):
        return {"type": "object", "properties": {"values": {"type": "array", "items": item},
                "startAt": ANY, "maxResults": ANY, "total": ANY, "isLast": ANY}}

    return {
        ("get", AGILE + "/board"): page(board),
        ("get", AGILE + "/board/{boardId}/issue"): issues,
        ("get", AGILE + "/board/{boardId}/backlog"): issues,
        ("get", AGILE + "/board/{boardId}/sprint"): page(sprint),
        ("get", AGILE + "/sprint/{sprintId}/issue"): issues,
    }


def response_schema(spec, method, template):
    """The JSON schema of the operation's 200 (or 201) answer, and its example."""
    operation = spec["paths"][template][method]
    for status in ("200", "201"):
        content = operation.get("responses", {}).get(status, {}).get("content", {})
        for kind, body in content.items():
            if "json" in kind and "schema" in body:
                example = body.get("example")
                if isinstance(example, str):
                    try:
                        example = json.loads(example)
                    except ValueError:
                        example = None
                return body["schema"], example
    return None, None


def openapi_to_jsonschema(node):
    """OpenAPI 3.0's `nullable: true` as JSON Schema's `null` type (Jira sends
    those nulls); the rest as it is."""
    if isinstance(node, list):
        return [openapi_to_jsonschema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: openapi_to_jsonschema(v) if k not in ("example", "enum", "default") else v for k, v in node.items()}
    if out.pop("nullable", False) is True:
        if "type" in out:
            out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else out["type"] + ["null"]
        elif "$ref" in out or "allOf" in out:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def with_issue_fields(components):
    """`IssueBean.fields` with the field ids the tools read named (any value)."""
    issue = components.get("IssueBean")
    if issue and "fields" in issue.get("properties", {}):
        fields = issue["properties"]["fields"]
        fields.setdefault("properties", {}).update({name: ANY for name in ISSUE_FIELDS})


DROP = ("example", "description", "readOnly", "writeOnly", "xml", "externalDocs", "discriminator", "deprecated",
        "title")


def inline(node, components, stack=()):
    """The schema with `$ref`s inlined for the generator; a reference back into
    a schema being inlined (recursion) is left out where the schema allows
    (optional properties, items), so the generator terminates."""
    if isinstance(node, list):
        return [x for x in (inline(i, components, stack) for i in node) if x is not None]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name in stack:
            return None
        return inline(components[name], components, stack + (name,))
    out = {}
    for key, value in node.items():
        if key in DROP:
            continue
        if key == "properties":
            out[key] = {k: s for k, s in ((k, inline(v, components, stack)) for k, v in value.items()) if s is not None}
        elif key in ("items", "additionalProperties"):
            inlined = inline(value, components, stack)
            out[key] = inlined if inlined is not None else ({"maxItems": 0} if key == "items" else False)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = inline(value, components, stack)
        else:
            out[key] = value
    if "required" in out and "properties" in out:
        # A required property that was left out (recursion) cannot be generated.
        if any(r not in out["properties"] and r in node.get("properties", {}) for r in out["required"]):
            return None
    if out.get("type") == "array" and "items" in node and out.get("items") == {"maxItems": 0}:
        out.pop("items")
        out["maxItems"] = 0
    return out


def generate(job):
    """N responses for one operation: (key, [responses], discarded)."""
    from hypothesis import HealthCheck, Phase, given, seed, settings
    from hypothesis_jsonschema import from_schema

    key, schema, components, count, seed_value = job
    root = {"components": {"schemas": components}}
    validator = jsonschema.Draft4Validator({**schema, **root})
    generation_schema = inline(schema, components)
    found = []

    @seed(seed_value)
    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(from_schema(generation_schema))
    def collect(value):
        found.append(value)

    collect()
    valid = [v for v in found if validator.is_valid(v)]
    return key, valid, len(found) - len(valid)


def route_of(routes, method, path):
    """The template of `routes` that `path` matches, the most literal one first."""
    parts = path.rstrip("/").split("/")
    best, best_literals = None, -1
    for m, template in routes:
        if m != method:
            continue
        segments = template.split("/")
        if len(segments) != len(parts):
            continue
        literals = 0
        for s, p in zip(segments, parts):
            if s.startswith("{"):
                if not p:
                    break
            elif s != p:
                break
            else:
                literals += 1
        else:
            if literals > best_literals:
                best, best_literals = (m, template), literals
    return best


class Jira:
    """A stand-in for Jira Cloud answering each operation with the current
    trial's generated response."""

    def __init__(self, routes):
        self.routes = routes
        self.answers = {}  # (method, template) -> JSON value
        self.unexpected = Counter()
        jira = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                path = self.path.split("?", 1)[0]
                route = route_of(jira.routes, method, path)
                if route is None or route not in jira.answers:
                    jira.unexpected[f"{method.upper()} {path}"] += 1
                    self.send_response(404)
                    self.send_header("Content-Type", "application/json")
                    body = b'{"errorMessages":["not in the fuzz"]}'
                else:
                    body = jira.answers[route]
                    self.send_response(200)
                    kind = "application/octet-stream" if route[1].startswith(API + "/attachment/content") else "application/json"
                    self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self.answer("get")

            def do_POST(self):
                self.answer("post")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def steer(tool, answers):
    """Small spec-valid changes that take a tool down its main path rather than
    an early error: the field asked for is on the create screen, the
    attachment is small enough to download."""
    if tool == "get_field_options":
        body = answers.get(("get", API + "/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}"))
        if isinstance(body, dict):
            for list_key in ("fields", "values"):
                items = body.get(list_key)
                if isinstance(items, list) and items and isinstance(items[0], dict):
                    items[0]["fieldId"] = FIELD
    if tool == "download_attachment":
        meta = answers.get(("get", API + "/attachment/{id}"))
        if isinstance(meta, dict) and isinstance(meta.get("size"), int) and meta["size"] > 1000:
            meta["size"] = 1000
    return answers


def validator(schema):
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


async def fuzz(args, jira, trials):
    workdir = args.workdir
    env = {
        "HOME": workdir,
        "XDG_CONFIG_HOME": os.path.join(workdir, "config"),
        "PATH": os.environ.get("PATH", ""),
        "JIRA_URL": jira.url,
        "JIRA_DEPLOYMENT": "cloud",
        "JIRA_AUTH_TYPE": "api_token",
        "JIRA_USERNAME": "fuzz@example.com",
        "JIRA_API_TOKEN": "fuzz-token",
        "JIRA_TIMEOUT_SECS": "30",
    }
    params = StdioServerParameters(command=args.jira_mcp, args=["serve"], env=env, cwd=workdir)
    counts = Counter()
    failures = []
    errors = Counter()
    async with AsyncExitStack() as stack:
        errlog = stack.enter_context(open(os.path.join(workdir, "stderr.log"), "w"))
        read, write = await stack.enter_async_context(stdio_client(params, errlog=errlog))
        session = await stack.enter_async_context(ClientSession(read, write))
        await session.initialize()
        listed = await session.list_tools()
        schemas = {t.name: t.output_schema for t in listed.tools}
        validators = {name: validator(s) for name, s in schemas.items()}
        for tool, arguments, _ in TOOLS:
            if tool not in schemas:
                failures.append(f"{tool}: not listed")
                continue
            for index, answers in enumerate(trials[tool]):
                jira.answers = {k: v if isinstance(v, bytes) else json.dumps(v).encode() for k, v in answers.items()}
                counts["calls"] += 1
                try:
                    # The SDK validates structuredContent against outputSchema here.
                    result = await asyncio.wait_for(session.call_tool(tool, arguments), 60)
                except Exception as e:  # a refused result, or a broken session
                    failures.append(f"{tool} #{index}: {type(e).__name__}: {str(e)[:300]}")
                    counts["refused"] += 1
                    continue
                if result.is_error:
                    counts["tool errors"] += 1
                    if result.structured_content is not None:
                        failures.append(f"{tool} #{index}: an error with structuredContent")
                    text = " ".join(c.text for c in result.content if c.type == "text")
                    # The kind of message, without the generated values in it.
                    errors[f"{tool}: {re.sub(r'[`(].*', '', text)[:90]}"] += 1
                    if "could not build a result that fits" in text:
                        counts["unfit results"] += 1
                    continue
                problems = list(validators[tool].iter_errors(result.structured_content))
                if problems:
                    failures.append(f"{tool} #{index}: jsonschema: {problems[0].message[:200]} at {list(problems[0].absolute_path)}")
                    counts["refused"] += 1
                else:
                    counts["results validated"] += 1
    return counts, failures, errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jira-mcp", required=True, dest="jira_mcp")
    parser.add_argument("--spec", required=True)
    parser.add_argument("--per-tool", type=int, default=200, dest="per_tool")
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--tools", help="only these tools (comma-separated), to reproduce a failure")
    args = parser.parse_args()
    args.jira_mcp = os.path.abspath(args.jira_mcp)
    if args.tools:
        wanted = set(args.tools.split(","))
        TOOLS[:] = [t for t in TOOLS if t[0] in wanted]

    # Hypothesis keeps a `.hypothesis` folder in the working directory
    # otherwise (the example database is off; the seed makes runs repeat).
    scratch = tempfile.TemporaryDirectory(prefix="jira-mcp-fuzz-")
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(scratch.name, "hypothesis"))
    args.workdir = scratch.name
    started = time.monotonic()
    with open(args.spec) as f:
        spec = json.load(f)
    components = openapi_to_jsonschema(copy.deepcopy(spec["components"]["schemas"]))
    with_issue_fields(components)
    agile = agile_schemas(spec)

    # One generation job per operation; the same seed for all, so runs repeat.
    operations = {}
    examples = {}
    for _, _, routes in TOOLS:
        for route in routes:
            if route in operations or route[1].startswith(API + "/attachment/content"):
                continue
            if route in agile:
                operations[route] = agile[route]
                continue
            schema, example = response_schema(spec, *route)
            if schema is None:
                sys.exit(f"FAIL: {route} has no JSON response schema in the spec")
            operations[route] = openapi_to_jsonschema(schema)
            if example is not None:
                examples[route] = example
    jobs = [(route, schema, components, args.per_tool, args.seed) for route, schema in operations.items()]
    generated = {}
    discarded = 0
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for route, valid, dropped in pool.map(generate, jobs):
            generated[route] = valid
            discarded += dropped
    print(f"operations: {len(operations)}")
    print(f"spec examples: {len(examples)}")
    print(f"generated invalid and discarded: {discarded}")
    print(f"generation seconds: {time.monotonic() - started:.0f}")

    # Each tool's trials: the spec's example answers first, then the
    # generated ones, the i-th of each operation it calls together.
    content = b"fuzzed attachment content\n"
    trials = {}
    short = []
    for tool, _, routes in TOOLS:
        json_routes = [r for r in routes if r in operations]
        lists = []
        for r in json_routes:
            head = [examples[r]] if r in examples else []
            lists.append(head + generated[r])
        n = min(len(x) for x in lists)
        if n < args.per_tool:
            short.append(f"{tool}: {n}")
        tool_trials = []
        for i in range(n):
            answers = {r: copy.deepcopy(lst[i]) for r, lst in zip(json_routes, lists)}
            for r in routes:
                if r not in operations:
                    answers[r] = content
            tool_trials.append(steer(tool, answers))
        trials[tool] = tool_trials
    if short:
        sys.exit(f"FAIL: fewer than {args.per_tool} responses for: {', '.join(short)}")

    routes = sorted({r for _, _, rs in TOOLS for r in rs})
    jira = Jira(routes)
    try:
        counts, failures, errors = asyncio.run(fuzz(args, jira, trials))
    finally:
        jira.server.shutdown()
        scratch.cleanup()

    for line, n in sorted(errors.items()):
        print(f"  tool error x{n}: {line}")
    for failure in failures[:20]:
        print(f"FAILURE: {failure}")
    refused_by_tool = Counter(f.split(" #", 1)[0] for f in failures)
    for tool, n in sorted(refused_by_tool.items()):
        print(f"  refused x{n}: {tool}")
    print(f"tools fuzzed: {len(TOOLS)}")
    print(f"responses per tool: {min(len(t) for t in trials.values())}")
    print(f"calls: {counts['calls']}")
    print(f"results validated: {counts['results validated']}")
    print(f"tool errors: {counts['tool errors']}")
    print(f"unfit results: {counts['unfit results']}")
    print(f"refused: {counts['refused']}")
    print(f"unexpected requests: {sum(jira.unexpected.values())}")
    for request, n in jira.unexpected.most_common(5):
        print(f"  unexpected x{n}: {request}")
    print(f"seconds: {time.monotonic() - started:.0f}")
    if failures:
        print(f"FAIL: {len(failures)} results broke the client", file=sys.stderr)
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
