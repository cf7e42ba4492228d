"""The REST API under /api/v1, served by `did-failover web`: the same roles, scope and service layer
as the web page, JSON in and out, bearer tokens.

Errors are `{"error": {"message": ..., "field": ...}}`, the one-line message naming the field by its
JSON name (`busy.destination item 2: ...`), the status chosen by the refusal's type: 400 a body
that is not JSON, 401 no valid token, 403 a change the role may not make (a customer's to a DID or
account; docs/api.md "Roles"), 404 anything outside the caller's scope (exactly as if absent), 409
already exists, 422 a refused value, 429 too many failed logins. Bodies are strict: unknown fields are
refused, booleans must be JSON booleans. Webhook subscriptions: web/api_webhooks.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router
from starlette.types import Receive, Send
from starlette.types import Scope as AsgiScope

from did_failover.admin.service import Scope
from did_failover.admin.users import USERNAME_RULE
from did_failover.admin.views import TransferView, account_dict, call_dict, change_dict, did_dict
from did_failover.errors import InputError, InvalidDestination, StorageUnavailable
from did_failover.storage import LOGIN_TOKEN
from did_failover.web import api_webhooks, auth
from did_failover.web.api_errors import ApiError, body, checked, error, query_int, refusal
from did_failover.web.openapi import FORWARD_KINDS, OPTIONAL_KINDS, SPEC, WAZO_ALIASES

LOGIN_TOKEN_LIFETIME = timedelta(hours=24)
Handler = Callable[[Request, "Api"], Awaitable[Response]]


class Api:
    """The web's shared parts, as the API handlers use them."""

    def __init__(self, request: Request) -> None:
        self.web = request.app.state.web
        self.service = self.web.service
        self.scope: Scope = Scope()


def endpoint(handler: Handler, *, public: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate the bearer token (unless public) and map every refusal to its JSON error."""

    async def run(request: Request) -> Response:
        api = Api(request)
        try:
            if not public:
                api.scope = await _authenticate(request, api)
            return await handler(request, api)
        except ApiError as exc:
            headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
            return error(exc.status, exc.message, exc.field, headers)
        except (InputError, InvalidDestination) as exc:
            refused = refusal(exc)
            return error(refused.status, refused.message, refused.field)
        except StorageUnavailable as exc:
            return error(503, str(exc))

    return run


async def _authenticate(request: Request, api: Api) -> Scope:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value or len(value) > 200:
        raise ApiError(401, "authentication: send Authorization: Bearer TOKEN")
    found = await api.web.repo.token_user(auth.digest(value.strip()))
    if found is None:
        raise ApiError(401, "authentication: the token is not valid")
    token, user = found
    if token.expires_at is not None and token.expires_at <= datetime.now(UTC):
        raise ApiError(401, "authentication: the token has expired")
    if not auth.may_log_in(user):
        raise ApiError(401, "authentication: the token's user is deactivated")
    return auth.scope_of(user, via="api")


# -- tokens and health -------------------------------------------------------------------------------------


async def tokens(request: Request, api: Api) -> Response:
    data = await body(request, {"username": str, "password": str}, {"username", "password"})
    name = auth.login_name(data["username"])
    if name is None:
        raise ApiError(422, f"username: not a valid username: {USERNAME_RULE}", "username")
    address = request.client.host if request.client else "-"
    wait = await api.web.throttle.retry_after(name, address)
    if wait:
        return error(
            429, f"too many failed logins: try again in {wait} seconds", None, {"Retry-After": str(wait)}
        )
    user = await api.web.repo.get_user(name)
    usable = user is not None and auth.may_log_in(user)
    ok = await auth.verify_password_or_burn(user.password_hash if usable and user else None, data["password"])
    if not ok or user is None:
        await api.web.throttle.failed(name, address)
        raise ApiError(401, "authentication: wrong username or password")
    value = auth.token()
    expires = datetime.now(UTC).replace(microsecond=0) + LOGIN_TOKEN_LIFETIME
    await api.web.repo.add_token(user.username, LOGIN_TOKEN, auth.digest(value), expires)
    return JSONResponse({"token": value, "expires_at": expires.isoformat()}, 201)


async def health(request: Request, api: Api) -> Response:
    try:
        version = await api.web.repo.schema_version()
    except StorageUnavailable as exc:
        return JSONResponse({"status": "error", "database": str(exc)}, 503)
    return JSONResponse({"status": "ok", "database": "ok", "schema_version": version})


async def openapi(request: Request, api: Api) -> Response:
    return JSONResponse(SPEC)


# -- DIDs ----------------------------------------------------------------------------------------------------


async def dids(request: Request, api: Api) -> Response:
    if request.method == "POST":
        data = await body(
            request,
            {"did": str, "account": str, "primary": str, "ring_timeout": int, "max_channels": int},
            {"did", "account", "primary"},
        )
        row = await api.service.add_did(
            api.scope,
            data["did"],
            data["account"],
            data["primary"],
            data.get("ring_timeout", 30),
            data.get("max_channels", 0),
        )
        return JSONResponse(did_dict(row), 201)
    direction = request.query_params.get("direction", "asc")
    if direction not in ("asc", "desc"):
        raise ApiError(422, "direction: must be asc or desc", "direction")
    last = request.query_params.get("last", "false")
    if last not in ("true", "false"):
        raise ApiError(422, "last: must be true or false", "last")
    page = await api.service.page_transfers(
        api.scope,
        search=request.query_params.get("search", ""),
        order=request.query_params.get("order", "did"),
        descending=direction == "desc",
        limit=query_int(request, "limit", 50),
        offset=query_int(request, "offset", 0),
        after=request.query_params.get("after") or None,
        before=request.query_params.get("before") or None,
        last=last == "true",
    )
    return JSONResponse(
        {
            "items": [v.as_dict() for v in page.views],
            "total": page.total,
            "total_exact": page.total_exact,
            "next": page.next,
            "previous": page.previous,
        }
    )


async def did(request: Request, api: Api) -> Response:
    number = request.path_params["did"]
    if request.method == "GET":
        view = await api.service.show_transfer(api.scope, number)  # the scope check
        row = await api.web.repo.get_did(view.did)
        if row is None:
            raise ApiError(404, f"DID {view.did} not found")
        return JSONResponse({**did_dict(row), "transfer": view.status})
    if request.method == "DELETE":
        await api.service.remove_did(api.scope, number)
        return Response(status_code=204)
    data = await body(
        request,
        {"account": str, "primary": str, "ring_timeout": int, "max_channels": int, "active": bool},
        set(),
    )
    if not data:
        raise ApiError(422, "body: nothing to change")
    return JSONResponse(did_dict(await api.service.set_did(api.scope, number, **data)))


def _forwards(view: TransferView) -> dict[str, Any]:
    out: dict[str, Any] = {
        kind: {"enabled": getattr(view, kind) is not None, "destination": getattr(view, kind)}
        for kind in FORWARD_KINDS
    }
    out.update(enabled=view.enabled, timeout=view.transfer_timeout, caller_id=view.caller_id)
    return out


_FORWARD: dict[str, type | tuple[type, ...]] = {"enabled": bool, "destination": (str, type(None))}


def _destination(kind: str, forward: Any) -> str:
    """The destination the service layer is given for one forward: `none` when disabled."""
    data = checked(forward, _FORWARD, {"enabled"}, within=kind)
    if not data["enabled"]:
        return "none"
    if not data.get("destination"):
        raise ApiError(422, f"{kind}.destination: an enabled forward needs a destination", kind)
    return str(data["destination"])


def _kind(name: str) -> str:
    """A forward's name in a path, Wazo's taken for ours; 404 naming the five otherwise."""
    kind = WAZO_ALIASES.get(name, name)
    if kind not in FORWARD_KINDS:
        raise ApiError(404, f"forward {name[:40]} not found: the forwards are {', '.join(FORWARD_KINDS)}")
    return kind


def _by_our_names(data: dict[str, Any]) -> dict[str, Any]:
    """A PUT body with Wazo's forward names as ours; 422 when a forward is given under both."""
    out = dict(data)
    for alias, kind in WAZO_ALIASES.items():
        if alias in out:
            if kind in out:
                raise ApiError(422, f"{alias}: {kind} is given too (send one of them)", kind)
            out[kind] = out.pop(alias)
    return out


async def forwards(request: Request, api: Api) -> Response:
    number = request.path_params["did"]
    named = request.path_params.get("kind")
    kind = _kind(named) if named is not None else None
    view = await api.service.show_transfer(api.scope, number)
    if request.method == "GET":
        shown = _forwards(view)
        return JSONResponse(shown[kind] if kind else shown)
    if kind is not None:
        changes = {kind: _destination(kind, await body(request, _FORWARD, {"enabled"}))}
    else:
        fields: dict[str, type | tuple[type, ...]] = {k: dict for k in (*FORWARD_KINDS, *WAZO_ALIASES)}
        fields.update(enabled=bool, timeout=int, caller_id=str)
        data = _by_our_names(await body(request, fields, {"enabled", "timeout", "caller_id"}))
        for missing in [k for k in FORWARD_KINDS if k not in data and k not in OPTIONAL_KINDS]:
            raise ApiError(422, f"{missing}: required", missing)
        changes = {k: _destination(k, data[k]) for k in FORWARD_KINDS if k in data}
        changes.update(enabled=data["enabled"], timeout=data["timeout"], caller_id=data["caller_id"])
    await api.service.set_transfer(api.scope, view.did, **changes)
    return Response(status_code=204)


async def schedule(request: Request, api: Api) -> Response:
    view = await api.service.show_transfer(api.scope, request.path_params["did"])
    if request.method == "GET":
        return JSONResponse({"schedule": view.schedule})
    data = await body(request, {"schedule": (str, type(None))}, {"schedule"})
    await api.service.set_transfer(api.scope, view.did, schedule=data["schedule"] or "none")
    return Response(status_code=204)


# -- accounts, calls, changes -----------------------------------------------------------------------------


def _no_customer(api: Api) -> None:
    if api.scope.customer is not None:
        raise ApiError(403, "a customer user may change only the transfer settings of its DIDs")


async def accounts(request: Request, api: Api) -> Response:
    if request.method == "POST":
        _no_customer(api)
        data = await body(
            request,
            {"number": str, "name": str, "type": str, "reseller": (str, type(None))},
            {"number", "name", "type"},
        )
        row = await api.service.add_account(
            api.scope, data["number"], data["name"], data["type"], data.get("reseller")
        )
        return JSONResponse(account_dict(row), 201)
    return JSONResponse({"items": [account_dict(a) for a in await api.service.list_accounts(api.scope)]})


async def account(request: Request, api: Api) -> Response:
    number = request.path_params["number"]
    if request.method == "GET":
        visible = {a.number: a for a in await api.service.list_accounts(api.scope)}
        if number not in visible:
            raise ApiError(404, f"account {number} not found")
        return JSONResponse(account_dict(visible[number]))
    data = await body(request, {"name": str, "active": bool, "transfer": bool}, set())
    if api.scope.customer is not None:
        if number != api.scope.customer:  # another account: absent, as for everyone outside scope
            raise ApiError(404, f"account {number} not found")
        _no_customer(api)
    if not data:
        raise ApiError(422, "body: nothing to change")
    return JSONResponse(account_dict(await api.service.set_account(api.scope, number, **data)))


async def calls(request: Request, api: Api) -> Response:
    query = request.query_params
    rows = await api.service.list_calls(
        api.scope,
        did=query.get("did"),
        account=query.get("account"),
        since=query.get("since"),
        limit=query_int(request, "limit", 50),
        every_owner=query.get("every_owner") in ("1", "true"),
    )
    return JSONResponse({"items": [call_dict(c) for c in rows], "total": len(rows)})


async def changes(request: Request, api: Api) -> Response:
    query = request.query_params
    rows = await api.service.list_changes(
        api.scope,
        did=query.get("did"),
        account=query.get("account"),
        actor=query.get("actor"),
        since=query.get("since"),
        limit=query_int(request, "limit", 50),
    )
    return JSONResponse({"items": [change_dict(c) for c in rows], "total": len(rows)})


async def not_found(scope: AsgiScope, receive: Receive, send: Send) -> None:
    """No such resource under /api/v1: the JSON error, like every other refusal."""
    await error(404, "not found: no such resource")(scope, receive, send)


ROUTES = [
    Route("/tokens", endpoint(tokens, public=True), methods=["POST"]),
    Route("/health", endpoint(health, public=True), methods=["GET"]),
    Route("/openapi.json", endpoint(openapi, public=True), methods=["GET"]),
    Route("/dids", endpoint(dids), methods=["GET", "POST"]),
    Route("/dids/{did}", endpoint(did), methods=["GET", "PATCH", "DELETE"]),
    Route("/dids/{did}/forwards", endpoint(forwards), methods=["GET", "PUT"]),
    Route("/dids/{did}/forwards/{kind}", endpoint(forwards), methods=["GET", "PUT"]),
    Route("/dids/{did}/schedule", endpoint(schedule), methods=["GET", "PUT"]),
    Route("/accounts", endpoint(accounts), methods=["GET", "POST"]),
    Route("/accounts/{number}", endpoint(account), methods=["GET", "PATCH"]),
    Route("/calls", endpoint(calls), methods=["GET"]),
    Route("/changes", endpoint(changes), methods=["GET"]),
]


def router() -> Router:
    """The /api/v1 routes, with a JSON 404 for paths that match none."""
    return Router(routes=[*ROUTES, *api_webhooks.routes(endpoint)], default=not_found)
