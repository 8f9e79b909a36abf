"""OAuth for remote MCP servers, on the MCP SDK's own client (`mcp.client.auth`): the httpx `Auth` each http/sse
server's transport carries.

What a server gets (`auth_for`):
- no OAuth at all when its config sets an `Authorization` header (the user brought a token) or `oauth: false`;
- `oauth.grantType: client_credentials` (CI): the SDK's `ClientCredentialsOAuthProvider` with the configured client id
  and secret (usually `${VAR}`s), tokens kept in memory only; it needs no person, so runs use it as they are;
- otherwise `TauOAuthProvider`, the SDK's `OAuthClientProvider` (metadata discovery RFC 9728/8414, dynamic client
  registration or a client ID metadata document, PKCE, scopes from `WWW-Authenticate`, step-up on
  `insufficient_scope`, RFC 8707 resource, refresh) with tokens in `OAuthStore` and one of two policies:
  * **interactive** (`McpAuth.authorizer` set: `tau mcp login`, and the conformance driver): the SDK's whole flow,
    starting without the stored access token (a login always asks; what is stored is replaced only when the new
    tokens arrive, and `McpAuth.logged_in` names the servers that got them); the authorization step goes to the
    authorizer (a browser and a loopback redirect, `tau.mcp.oauth_loopback`). At most `max_authorizations` per
    connection, so a server that keeps refusing cannot loop a login forever. `oauth.authServerMetadataUrl` replaces
    the first well-known metadata URL;
  * **headless** (every run): the stored access token, refreshed through the stored token endpoint when expired, or
    once more when the server rejects it early (as Claude Code does). A refresh holds the record's cross-process
    lock and first reads the record again: tokens another run stored meanwhile are used instead of spending the
    (possibly rotating) refresh token twice, and a login removed meanwhile stays removed. When the server still
    answers 401, or 403 `insufficient_scope`, that request fails at once — no discovery, no client registration, no
    browser and no waiting — and the provider keeps the reason (`take_refusal`: an `McpLoginRequired`, "run `tau
    mcp login NAME`") for whoever reports the failure: a server that cannot start, or one tool call, while the
    connection stays up for the others. A refused scope is remembered so the next login asks for it too.

Pre-registered clients (`oauth.clientId` [+ `clientSecret`]) skip registration; their token-endpoint method is the
configured one, else `client_secret_basic` when the authorization server lists it (or lists nothing), else
`client_secret_post` (none without a secret). `oauth.scopes` pins the requested scopes. After a successful login the
discovered metadata is stored beside the tokens so a headless refresh needs no rediscovery.

`secret_values(auth)` lists what an `Auth` holds that must never be printed (tokens, client secret), for the
redaction of server errors (`tau.mcp.toolsets`). Nothing here logs (the SDK's `mcp` logger is silenced there too).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urljoin

import httpx2
from mcp.client.auth import OAuthClientProvider, OAuthFlowError
from mcp.client.auth.utils import (
    build_oauth_authorization_server_metadata_discovery_urls,
    extract_field_from_www_auth,
    extract_scope_from_www_auth,
    union_scopes,
)
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from pydantic import AnyUrl

from tau.mcp.config import McpServerConfig
from tau.mcp.oauth_store import OAuthStore, ServerTokens

if TYPE_CHECKING:
    from mcp.shared.auth import OAuthToken

__all__ = [
    "Authorizer",
    "McpAuth",
    "McpLoginRequired",
    "TauOAuthProvider",
    "auth_for",
    "describe_login",
    "login_hint",
    "secret_values",
]

CLIENT_NAME = "tau"
MAX_AUTHORIZATIONS = 3


def login_hint(server: str) -> str:
    return f"run `tau mcp login {server}`"


class McpLoginRequired(Exception):
    """A headless run reached a server that wants a person to log in (or to grant more scopes)."""

    def __init__(self, server: str, reason: str) -> None:
        super().__init__(f"{reason}: {login_hint(server)}")
        self.server = server


class Authorizer(Protocol):
    """Where the authorization step of a login happens (`tau.mcp.oauth_loopback.LoopbackAuthorizer`)."""

    def redirect_uri(self, port: int | None) -> str: ...

    async def authorize(self, url: str, redirect_uri: str) -> AuthorizationCodeResult: ...


@dataclass
class McpAuth:
    """How servers authenticate in one process: where logins are kept, and who (if anyone) can log in now."""

    store: OAuthStore = field(default_factory=lambda: OAuthStore(None))
    authorizer: Authorizer | None = None
    max_authorizations: int = MAX_AUTHORIZATIONS
    logged_in: set[str] = field(default_factory=set)  # servers an interactive login completed for (names)

    @classmethod
    def headless(cls, env: Mapping[str, str]) -> McpAuth:
        return cls(OAuthStore.for_env(env))


def wants_oauth(config: McpServerConfig) -> bool:
    has_token = any(name.lower() == "authorization" for name in config.headers)
    return config.transport != "stdio" and config.url is not None and config.oauth.enabled and not has_token


def auth_for(config: McpServerConfig, auth: McpAuth) -> httpx2.Auth | None:
    """The httpx `Auth` for `config`'s transport, or None (stdio, `oauth: false`, an explicit Authorization header)."""
    if not wants_oauth(config):
        return None
    assert config.url is not None
    oauth = config.oauth
    if oauth.grant == "client_credentials":
        from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider

        assert oauth.client_id is not None and oauth.client_secret is not None
        post = oauth.token_endpoint_auth_method == "client_secret_post"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "omitting issuer is deprecated": documented, the config may set it
            return ClientCredentialsOAuthProvider(
                config.url,
                OAuthStore(None).tokens(config.name, config.url),
                oauth.client_id,
                oauth.client_secret,
                token_endpoint_auth_method="client_secret_post" if post else "client_secret_basic",
                scope=oauth.scopes,
                issuer=oauth.issuer,
            )
    return TauOAuthProvider(config, auth.store.tokens(config.name, config.url), auth)


def _static_client(config: McpServerConfig, redirect: str | None) -> OAuthClientInformationFull | None:
    oauth = config.oauth
    if not oauth.client_id:
        return None
    return OAuthClientInformationFull(
        client_id=oauth.client_id,
        client_secret=oauth.client_secret,
        client_name=CLIENT_NAME,
        redirect_uris=[AnyUrl(redirect)] if redirect else None,
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method=oauth.token_endpoint_auth_method
        or ("client_secret_basic" if oauth.client_secret else "none"),
    )


class TauOAuthProvider(OAuthClientProvider):
    """The SDK's provider with tau's storage of discovery results and its interactive/headless policy."""

    def __init__(self, config: McpServerConfig, storage: ServerTokens, auth: McpAuth) -> None:
        assert config.url is not None
        self.server = config
        self.tokens_store = storage
        self.auth = auth
        self.authorizer = auth.authorizer
        self.max_authorizations = auth.max_authorizations
        self.authorizations = 0
        self.refusal: McpLoginRequired | None = None
        self._code: AuthorizationCodeResult | None = None
        oauth = config.oauth
        redirect = self.authorizer.redirect_uri(oauth.callback_port) if self.authorizer else None
        self._redirect = redirect
        self._static = _static_client(config, redirect)
        metadata = OAuthClientMetadata(
            client_name=CLIENT_NAME,
            redirect_uris=[AnyUrl(redirect)] if redirect else None,
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
            scope=oauth.scopes,
        )
        super().__init__(
            config.url,
            metadata,
            storage,
            redirect_handler=self._send_to_authorization,
            callback_handler=self._authorization_result,
            client_metadata_url=oauth.client_metadata_url,
        )

    # -- state -------------------------------------------------------------------------------------------------

    async def _initialize(self) -> None:
        await super()._initialize()
        server, resource, server_url = self.tokens_store.discovery()
        self.context.oauth_metadata = self.context.oauth_metadata or server
        self.context.protected_resource_metadata = self.context.protected_resource_metadata or resource
        self.context.auth_server_url = self.context.auth_server_url or server_url
        if self.authorizer is not None:
            self.context.current_tokens = None  # a login always asks; what is stored is replaced only on success
        if self.context.current_tokens is not None:
            self.context.token_expiry_time = self.tokens_store.record.expires_at
        if self._static is not None:  # the config's client (its secret as configured now), never a stored one
            self.context.client_info = self._static.model_copy()
            self._choose_static_method()
        elif self._stale_registration(self.context.client_info):
            self.context.client_info = None  # register again (see below)

    def _stale_registration(self, info: OAuthClientInformationFull | None) -> bool:
        """A dynamic registration this login cannot use: registered for another loopback port (a login picks a free
        one), or for fewer scopes than a run was refused for."""
        if info is None or self._redirect is None or info.client_id == self.server.oauth.client_metadata_url:
            return False
        if self._redirect not in [str(uri) for uri in info.redirect_uris or []]:
            return True
        pending = (self.tokens_store.record.pending_scope or "").split()
        return not set(pending) <= set((info.scope or "").split())

    async def _handle_token_response(self, response: httpx2.Response) -> None:
        await super()._handle_token_response(response)
        self.tokens_store.set_discovery(
            self.context.oauth_metadata, self.context.protected_resource_metadata, self.context.auth_server_url
        )
        self.tokens_store.set_pending_scope(None)
        self.auth.logged_in.add(self.server.name)

    # -- the authorization step (interactive only) -----------------------------------------------------------

    async def _perform_authorization(self) -> httpx2.Request:
        self.authorizations += 1
        if self.authorizations > self.max_authorizations:
            raise OAuthFlowError(
                f"MCP server '{self.server.name}' asked for authorization {self.max_authorizations} times "
                "in one connection; giving up"
            )
        context = self.context
        context.client_metadata.scope = self._wanted_scope(context.client_metadata.scope)
        if self._static is not None:
            self._choose_static_method()  # the authorization server's metadata is known now
        return await super()._perform_authorization()

    def _wanted_scope(self, challenged: str | None) -> str | None:
        """What to ask for: the config's pinned scopes, else the challenge plus what a run was refused for."""
        return self.server.oauth.scopes or union_scopes(challenged, self.tokens_store.record.pending_scope)

    def _widened_registration(self, outgoing: httpx2.Request) -> httpx2.Request:
        """The dynamic registration request asking for the scopes this login will ask for (an authorization server
        may refuse scopes a client was not registered with); any other request unchanged."""
        metadata = self.context.oauth_metadata
        endpoint = str(metadata.registration_endpoint) if metadata and metadata.registration_endpoint else None
        endpoint = endpoint or urljoin(self.context.get_authorization_base_url(self.context.server_url), "/register")
        if outgoing.method != "POST" or str(outgoing.url) != endpoint:
            return outgoing
        try:
            body = json.loads(outgoing.content)
        except ValueError:
            return outgoing
        scope = self._wanted_scope(body.get("scope")) if isinstance(body, dict) else None
        if scope is None or scope == body.get("scope"):
            return outgoing
        body["scope"] = scope
        return httpx2.Request("POST", outgoing.url, json=body, headers={"Content-Type": "application/json"})

    def _choose_static_method(self) -> None:
        info = self.context.client_info
        metadata = self.context.oauth_metadata
        if info is None or self._static is None or info.client_id != self._static.client_id:
            return
        if not info.client_secret or self.server.oauth.token_endpoint_auth_method:
            return
        supported = (metadata.token_endpoint_auth_methods_supported if metadata else None) or []
        if supported and "client_secret_basic" not in supported and "client_secret_post" in supported:
            info.token_endpoint_auth_method = "client_secret_post"

    async def _send_to_authorization(self, url: str) -> None:
        if self.authorizer is None or self._redirect is None:  # headless: never reached (see _auth_flow)
            raise McpLoginRequired(self.server.name, "needs login")
        self._code = await self.authorizer.authorize(url, self._redirect)

    async def _authorization_result(self) -> AuthorizationCodeResult:
        code, self._code = self._code, None
        if code is None:
            raise OAuthFlowError("no authorization result")
        return code

    # -- the flow ----------------------------------------------------------------------------------------------

    async def _auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        interactive = self.authorizer is not None
        flow = super()._auth_flow(request) if interactive else self._headless_flow(request)
        try:
            outgoing = await flow.__anext__()
            while True:
                response = yield self._rewritten(outgoing) if interactive else outgoing
                outgoing = await flow.asend(response)
        except StopAsyncIteration:
            return
        finally:
            await flow.aclose()

    def _rewritten(self, outgoing: httpx2.Request) -> httpx2.Request:
        return self._metadata_override(self._widened_registration(outgoing))

    def _metadata_override(self, outgoing: httpx2.Request) -> httpx2.Request:
        """`oauth.authServerMetadataUrl` (Claude Code's): fetched in place of the first well-known URL of the
        authorization server's metadata (the others stay the fallback); the document must still name the issuer
        the protected resource advertised."""
        override = self.server.oauth.auth_server_metadata_url
        if override is None or outgoing.method != "GET":
            return outgoing
        first = build_oauth_authorization_server_metadata_discovery_urls(
            self.context.auth_server_url, self.context.server_url
        )[0]
        if str(outgoing.url) != first:
            return outgoing
        return httpx2.Request("GET", override, headers=outgoing.headers)

    async def _headless_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        """The stored token, refreshed when due; a server that still refuses is `McpLoginRequired`, at once."""
        async with self.context.lock:
            if not self._initialized:
                await self._initialize()
            self.context.protocol_version = request.headers.get(MCP_PROTOCOL_VERSION_HEADER)
            refreshed = False
            if not self.context.is_token_valid() and self.context.can_refresh_token():
                refreshed = True
                async with self.tokens_store.refresh_lock():
                    if not self._adopt_stored() and self.context.can_refresh_token():
                        await self._handle_refresh_response((yield await self._refresh_token()))
            if self.context.is_token_valid():
                self._add_auth_header(request)
            response = yield request
            if response.status_code == 401 and not refreshed and self.context.can_refresh_token():
                # rejected before its stated expiry (revoked, clock skew): refresh once and retry, as Claude Code does
                async with self.tokens_store.refresh_lock():
                    renewed = self._adopt_stored()
                    if not renewed and self.context.can_refresh_token():
                        renewed = await self._handle_refresh_response((yield await self._refresh_token()))
                if renewed:
                    self._add_auth_header(request)
                    response = yield request
            self._refuse(response)

    def _adopt_stored(self) -> bool:
        """Read the stored login again (under the refresh lock) before spending the refresh token: another process
        (a parallel run, a new login) may have stored newer tokens, which are taken instead — so a rotating refresh
        token is spent once — and True is returned when they are valid. A login removed since (`tau mcp logout`)
        drops the tokens this run holds."""
        current = self.context.current_tokens
        record = self.tokens_store.reload()
        stored = self.tokens_store.stored_token()
        if stored is None:
            self.context.clear_tokens()
            return False
        if current is not None and stored.access_token == current.access_token:
            return False
        self.context.current_tokens = stored
        self.context.token_expiry_time = record.expires_at
        return self.context.is_token_valid()

    def _refuse(self, response: httpx2.Response) -> None:
        """Note why the server refused (the transport turns the refusal into a failed request, the connection
        stays up); `take_refusal` hands the reason to whoever reports the failure."""
        if response.status_code == 401:
            stored = self.context.current_tokens is not None or self.tokens_store.record.tokens is not None
            self.refusal = McpLoginRequired(self.server.name, "login expired" if stored else "needs login")
        elif response.status_code == 403 and extract_field_from_www_auth(response, "error") == "insufficient_scope":
            scope = extract_scope_from_www_auth(response)
            granted = self.context.current_tokens.scope if self.context.current_tokens else None
            self.tokens_store.set_pending_scope(union_scopes(granted, scope))
            self.refusal = McpLoginRequired(self.server.name, f"needs more permissions ({scope or 'a wider scope'})")

    def take_refusal(self) -> McpLoginRequired | None:
        refusal, self.refusal = self.refusal, None
        return refusal


def stored_token(auth: McpAuth, config: McpServerConfig) -> OAuthToken | None:
    """What is stored for `config` (for `tau mcp ls`); None when nothing is."""
    return auth.store.tokens(config.name, config.url).stored_token() if config.url is not None else None


def describe_login(auth: McpAuth, config: McpServerConfig) -> dict[str, Any]:
    """`{"kind": ..., ...}` for listings: none, client_credentials, logged_in (scope, expires_at) or not_logged_in."""
    if not wants_oauth(config):
        return {"kind": "none"}
    if config.oauth.grant == "client_credentials":
        return {"kind": "client_credentials"}
    assert config.url is not None
    record = auth.store.load(config.name, config.url)
    if record is None or record.tokens is None:
        return {"kind": "not_logged_in"}
    token = stored_token(auth, config)
    return {
        "kind": "logged_in",
        "scope": token.scope if token else None,
        "expires_at": record.expires_at,
        "refreshable": bool(token and token.refresh_token),
    }


def secret_values(auth: object) -> list[str]:
    """The access and refresh tokens and the client secret an `Auth` from `auth_for` holds now (masked in errors)."""
    if not isinstance(auth, OAuthClientProvider):
        return []
    context = auth.context
    values = [context.client_info.client_secret if context.client_info else None]
    if context.current_tokens is not None:
        values += [context.current_tokens.access_token, context.current_tokens.refresh_token]
    if isinstance(auth, TauOAuthProvider):
        stored = auth.tokens_store.record.tokens or {}
        values += [stored.get("access_token"), stored.get("refresh_token")]
        values += [(auth.tokens_store.record.client_info or {}).get("client_secret")]
    return [value for value in values if isinstance(value, str) and value]
