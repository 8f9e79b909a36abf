"""An MCP server that needs OAuth, for tests: `python oauth_server.py PORT [hidden-metadata]`. Built on the MCP SDK's
own server (`MCPServer` with an `OAuthAuthorizationServerProvider`): the SDK serves protected-resource and
authorization-server metadata, dynamic registration, /authorize (PKCE), /token (authorization_code, refresh_token) and
bearer checks.

The provider is in memory and approves every authorization at once (the person at the browser is automated by the
test), issues access tokens for one hour and rotates refresh tokens (a spent refresh token is refused). Tools:
`whoami` (scopes of the caller's token) and `admin_report`, which needs the `admin` scope: a call without it gets 403
`insufficient_scope` (step-up). A small ASGI middleware in front (`Guard`) adds what the SDK's server lacks:
- the step-up refusal above;
- the `client_credentials` grant at /token for the pre-registered CI client `ci-client` / `ci-secret`
  (client_secret_basic or client_secret_post), access tokens with scope `read` and no refresh token;
- `hidden-metadata`: the authorization server metadata is not at its well-known URL (404) but at
  `/custom/oauth-metadata` (what Claude Code's `authServerMetadataUrl` is for);
- a count of the requests per path.

Test controls (no auth): `GET /test/stats` (JSON: registrations, authorizations with the scopes asked, token grants
by type, step-up refusals, tool calls with the caller's scopes, requests per path), `POST /test/revoke-access` (every
access token stops working; refresh tokens still work), `POST /test/revoke-all` (refresh tokens too).
"""

from __future__ import annotations

import base64
import json
import secrets
import sys
import time
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    RefreshToken,
    TokenError,
    construct_redirect_uri,
)
from mcp.server.auth.routes import build_metadata
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions, RevocationOptions
from mcp.server.mcpserver import MCPServer
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

PORT = int(sys.argv[1])
HIDDEN_METADATA = sys.argv[2:] == ["hidden-metadata"]
BASE = f"http://127.0.0.1:{PORT}"
SCOPES = ["read", "admin"]
CI_CLIENT = ("ci-client", "ci-secret")
STATS: dict[str, Any] = {
    "registrations": 0,
    "authorizations": [],
    "grants": {},
    "refused": 0,
    "calls": [],
    "paths": {},
    "client_auth": [],
}
REGISTRATION = ClientRegistrationOptions(enabled=True, valid_scopes=SCOPES)


def count_grant(kind: str) -> None:
    STATS["grants"][kind] = STATS["grants"].get(kind, 0) + 1


class Provider:
    def __init__(self) -> None:
        self.clients: dict[str, OAuthClientInformationFull] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, RefreshToken] = {}

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        return self.clients.get(client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        STATS["registrations"] += 1
        assert client_info.client_id is not None
        self.clients[client_info.client_id] = client_info

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        STATS["authorizations"].append(" ".join(params.scopes or []))
        code = secrets.token_urlsafe(16)
        assert client.client_id is not None
        self.codes[code] = AuthorizationCode(
            code=code,
            scopes=params.scopes or ["read"],
            expires_at=time.time() + 300,
            client_id=client.client_id,
            code_challenge=params.code_challenge,
            redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            resource=params.resource,
        )
        return construct_redirect_uri(str(params.redirect_uri), code=code, state=params.state)

    async def load_authorization_code(self, client: OAuthClientInformationFull, code: str) -> AuthorizationCode | None:
        return self.codes.get(code)

    def _issue(self, client_id: str, scopes: list[str], resource: str | None) -> OAuthToken:
        access, refresh = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        self.access[access] = AccessToken(
            token=access, client_id=client_id, scopes=scopes, expires_at=int(time.time()) + 3600, resource=resource
        )
        self.refresh[refresh] = RefreshToken(token=refresh, client_id=client_id, scopes=scopes, resource=resource)
        return OAuthToken(access_token=access, expires_in=3600, refresh_token=refresh, scope=" ".join(scopes))

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        count_grant("authorization_code")
        self.codes.pop(authorization_code.code, None)
        assert client.client_id is not None
        return self._issue(client.client_id, authorization_code.scopes, authorization_code.resource)

    async def load_refresh_token(self, client: OAuthClientInformationFull, refresh_token: str) -> RefreshToken | None:
        return self.refresh.get(refresh_token)

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        count_grant("refresh_token")
        if self.refresh.pop(refresh_token.token, None) is None:
            raise TokenError("invalid_grant", "refresh token revoked")
        assert client.client_id is not None
        return self._issue(client.client_id, scopes or refresh_token.scopes, refresh_token.resource)

    async def load_access_token(self, token: str) -> AccessToken | None:
        return self.access.get(token)

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        self.access.pop(token.token, None)
        self.refresh.pop(token.token, None)


provider = Provider()
server = MCPServer(
    "oauth-test",
    auth_server_provider=provider,
    auth=AuthSettings(
        issuer_url=BASE,  # type: ignore[arg-type]
        resource_server_url=f"{BASE}/mcp",  # type: ignore[arg-type]
        validate_token_resource=False,
        client_registration_options=REGISTRATION,
        required_scopes=["read"],
    ),
)


@server.tool()
def whoami() -> str:
    """The scopes of the caller's token."""
    token = get_access_token()
    scopes = " ".join(token.scopes) if token else "<anonymous>"
    STATS["calls"].append(["whoami", scopes])
    return scopes


@server.tool()
def admin_report() -> str:
    """Something only the admin scope may see."""
    token = get_access_token()
    STATS["calls"].append(["admin_report", " ".join(token.scopes) if token else "<anonymous>"])
    return "all systems nominal"


@server.custom_route("/custom/oauth-metadata", methods=["GET"])
async def custom_metadata(request: Request) -> Response:
    metadata = build_metadata(BASE, None, REGISTRATION, RevocationOptions())  # type: ignore[arg-type]
    return JSONResponse(metadata.model_dump(mode="json", exclude_none=True))


@server.custom_route("/test/stats", methods=["GET"])
async def stats(request: Request) -> Response:
    return JSONResponse(STATS)


@server.custom_route("/test/revoke-access", methods=["POST"])
async def revoke_access(request: Request) -> Response:
    provider.access.clear()
    return JSONResponse({"ok": True})


@server.custom_route("/test/revoke-all", methods=["POST"])
async def revoke_all(request: Request) -> Response:
    provider.access.clear()
    provider.refresh.clear()
    return JSONResponse({"ok": True})


class Guard:
    """Step-up, the client_credentials grant, hidden metadata and request counts (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        STATS["paths"][path] = STATS["paths"].get(path, 0) + 1
        if HIDDEN_METADATA and path.startswith("/.well-known/oauth-authorization-server"):
            await JSONResponse({"error": "not here"}, status_code=404)(scope, receive, send)
            return
        if scope["method"] != "POST" or path not in ("/mcp", "/token"):
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if path == "/token" and parse_qs(body.decode()).get("grant_type") == ["client_credentials"]:
            await client_credentials(scope, body)(scope, receive, send)
            return
        if path == "/mcp" and self._refused(scope, body):
            STATS["refused"] += 1
            metadata = f"{BASE}/.well-known/oauth-protected-resource/mcp"
            challenge = f'Bearer error="insufficient_scope", scope="read admin", resource_metadata="{metadata}"'
            response = JSONResponse(
                {"error": "insufficient_scope"}, status_code=403, headers={"WWW-Authenticate": challenge}
            )
            await response(scope, receive, send)
            return
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def _refused(self, scope: Scope, body: bytes) -> bool:
        try:
            message = json.loads(body or b"{}")
        except ValueError:
            return False
        if not isinstance(message, dict) or message.get("method") != "tools/call":
            return False
        if (message.get("params") or {}).get("name") != "admin_report":
            return False
        headers = dict(scope["headers"])
        bearer = headers.get(b"authorization", b"").decode().removeprefix("Bearer ")
        token = provider.access.get(bearer)
        return token is None or "admin" not in token.scopes


def client_credentials(scope: Scope, body: bytes) -> Response:
    """The token response of the client_credentials grant for the CI client (RFC 6749 §4.4)."""
    form = {key: values[0] for key, values in parse_qs(body.decode()).items()}
    basic = dict(scope["headers"]).get(b"authorization", b"").decode()
    if basic.startswith("Basic "):
        client_id, _, secret = base64.b64decode(basic.removeprefix("Basic ")).decode().partition(":")
        STATS["client_auth"].append("client_secret_basic")
    else:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        STATS["client_auth"].append("client_secret_post")
    if (client_id, secret) != CI_CLIENT:
        return JSONResponse({"error": "invalid_client"}, status_code=401)
    count_grant("client_credentials")
    access = secrets.token_urlsafe(16)
    provider.access[access] = AccessToken(
        token=access, client_id=client_id, scopes=["read"], expires_at=int(time.time()) + 3600, resource=None
    )
    return JSONResponse({"access_token": access, "token_type": "Bearer", "expires_in": 3600, "scope": "read"})


if __name__ == "__main__":
    app = Guard(server.streamable_http_app())
    uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning")
