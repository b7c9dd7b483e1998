"""The official MCP Python SDK against `jira-mcp serve --http` and the simulated Atlassian.

Run by tests/tests/python_sdk_team.rs. The SDK's own OAuth client support does
discovery from the 401, dynamic client registration and PKCE; the redirect
handler below plays the browser headlessly (jira-mcp's consent page with its
CSRF cookie, the simulated Atlassian's consent as --user, jira-mcp's
callback) and hands the code to the callback handler. Then: tool calls, a
refresh of the MCP token (the server's access tokens live --mcp-ttl seconds:
the script sleeps past that), and an Atlassian token expiry forced at the
simulator. Prints one JSON summary line on stdout; never prints a token.
"""

import argparse
import asyncio
import hashlib
import json
import sys
import traceback
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlparse

import httpx2
from mcp import ClientSession
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken


class MemoryStorage(TokenStorage):
    """Tokens and the client registration, in memory; counts token saves."""

    def __init__(self):
        self.tokens = None
        self.client_info = None
        self.saved = []  # sha256 prefixes of each saved access token

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken):
        self.tokens = tokens
        self.saved.append(fingerprint(tokens.access_token))

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull):
        self.client_info = client_info


def fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


class ConsentForm(HTMLParser):
    """The consent page's form: its action and hidden inputs."""

    def __init__(self):
        super().__init__()
        self.action = None
        self.hidden = {}
        self.buttons = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = a.get("action")
        elif tag == "input" and (a.get("type") or "").lower() == "hidden" and a.get("name"):
            self.hidden[a["name"]] = a.get("value") or ""
        elif tag == "button" and a.get("name") == "decision":
            self.buttons.append(a.get("value"))


class HeadlessBrowser:
    """Plays the user's browser for one authorization."""

    def __init__(self, user: str):
        self.user = user
        self.result = None
        self.consent_client_named = False

    async def redirect_handler(self, authorization_url: str) -> None:
        async with httpx2.AsyncClient(follow_redirects=False, timeout=30) as http:
            page = await http.get(authorization_url)
            expect(page.status_code == 200, f"consent page: HTTP {page.status_code}: {page.text[:500]}")
            form = ConsentForm()
            form.feed(page.text)
            expect("csrf_token" in form.hidden and "request" in form.hidden, f"consent form: {form.hidden.keys()}")
            expect("approve" in form.buttons, f"consent buttons: {form.buttons}")
            self.consent_client_named = "python-sdk-e2e" in page.text
            cookies = "; ".join(f"{k}={v}" for k, v in page.cookies.items())
            expect("jira_mcp_csrf" in page.cookies, f"no jira_mcp_csrf cookie: {list(page.cookies.keys())}")
            data = dict(form.hidden, decision="approve")
            action = urljoin(authorization_url, form.action or "/authorize/consent")
            approved = await http.post(action, data=data, headers={"Cookie": cookies})
            atlassian = location(approved, "consent POST")
            consented = await http.get(atlassian, headers={"X-Sim-User": self.user})
            callback = location(consented, "simulated Atlassian /authorize")
            # The approval set the cookie that binds the callback to this
            # browser (login CSRF protection): a browser sends it back.
            signin = {k: v for k, v in approved.cookies.items() if k.startswith("jira_mcp_signin_")}
            expect(len(signin) == 1, f"no jira_mcp_signin_ cookie from the approval: {list(approved.cookies.keys())}")
            back = await http.get(callback, headers={"Cookie": "; ".join(f"{k}={v}" for k, v in signin.items())})
            final = location(back, "Atlassian callback")
            q = parse_qs(urlparse(final).query)
            expect("code" in q, f"no code in the redirect to the client: {final}")
            self.result = AuthorizationCodeResult(
                code=q["code"][0],
                state=q.get("state", [None])[0],
                iss=q.get("iss", [None])[0],
            )

    async def callback_handler(self) -> AuthorizationCodeResult:
        expect(self.result is not None, "the redirect handler did not finish")
        return self.result


def location(response, step: str) -> str:
    expect(response.status_code in (301, 302, 303, 307), f"{step}: HTTP {response.status_code}: {response.text[:500]}")
    return urljoin(str(response.request.url), response.headers["location"])


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def text_of(result) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)


def failed(result) -> bool:
    return bool(getattr(result, "is_error", None) or getattr(result, "isError", None))


async def call_json(session, tool, arguments):
    result = await session.call_tool(tool, arguments)
    expect(not failed(result), f"{tool} failed: {text_of(result)}")
    structured = getattr(result, "structured_content", None) or getattr(result, "structuredContent", None)
    return structured if structured is not None else json.loads(text_of(result))


async def count_tools(session) -> int:
    count, cursor = 0, None
    while True:
        page = await (session.list_tools(cursor=cursor) if cursor else session.list_tools())
        count += len(page.tools)
        cursor = getattr(page, "next_cursor", None) or getattr(page, "nextCursor", None)
        if not cursor:
            return count


async def run(args) -> dict:
    server_url = args.server.rstrip("/") + "/mcp"
    storage = MemoryStorage()
    browser = HeadlessBrowser(args.user)
    auth = OAuthClientProvider(
        server_url=server_url,
        client_metadata=OAuthClientMetadata(
            client_name="python-sdk-e2e",
            redirect_uris=[args.redirect_uri],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
            scope="jira:read jira:write",
        ),
        storage=storage,
        redirect_handler=browser.redirect_handler,
        callback_handler=browser.callback_handler,
    )
    summary = {}
    async with httpx2.AsyncClient(auth=auth, timeout=60) as http:
        async with streamable_http_client(server_url, http_client=http) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                await session.initialize()
                summary["registered"] = storage.client_info is not None
                summary["consent_names_client"] = browser.consent_client_named
                summary["tools"] = await count_tools(session)
                me = await call_json(session, "get_current_user", {})
                summary["account_id"] = me.get("account_id")
                issue = await call_json(session, "get_issue", {"issue_key": args.issue})
                summary["issue_key"] = issue.get("key")
                summary["token_saves_before_refresh"] = len(storage.saved)

                # The MCP access token expires: the SDK refreshes it on the next call.
                await asyncio.sleep(args.mcp_ttl + 1.5)
                me = await call_json(session, "get_current_user", {})
                summary["account_id_after_mcp_refresh"] = me.get("account_id")
                summary["token_saves"] = len(storage.saved)
                summary["distinct_access_tokens"] = len(set(storage.saved))

                # The Atlassian access token expires at the simulator: the server
                # refreshes the user's grant once and the calls go on.
                async with httpx2.AsyncClient(timeout=30) as plain:
                    expired = await plain.post(f"{args.sim.rstrip('/')}/_sim/expire-access-tokens", params={"user": args.user})
                    summary["atlassian_tokens_expired"] = expired.json().get("expired")
                me = await call_json(session, "get_current_user", {})
                summary["account_id_after_atlassian_expiry"] = me.get("account_id")
                issue = await call_json(session, "get_issue", {"issue_key": args.issue})
                summary["issue_key_after_atlassian_expiry"] = issue.get("key")
    return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server", required=True, help="jira-mcp's public URL")
    parser.add_argument("--sim", required=True, help="the simulated Atlassian's URL")
    parser.add_argument("--user", required=True, help="the simulated Atlassian user")
    parser.add_argument("--issue", default="ED-1")
    parser.add_argument("--mcp-ttl", type=float, required=True, help="the server's MCP access-token lifetime, seconds")
    parser.add_argument("--redirect-uri", required=True, help="the client's loopback redirect URI")
    args = parser.parse_args()
    try:
        summary = asyncio.run(run(args))
    except BaseException as e:  # noqa: BLE001 - reported to the Rust driver
        traceback.print_exc()
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        sys.exit(1)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
