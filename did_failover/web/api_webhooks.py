"""The API's webhook subscriptions (/api/v1/webhooks): list, add (the secret is in the answer, this
once), show, remove, test and rotate the secret (the new one in the answer, this once); admins and
resellers only (a customer gets 403)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from did_failover.admin.service import Scope, Service
from did_failover.web.api_errors import ApiError, body


class Api(Protocol):
    """What these handlers use of the API's request context (web/api.py `Api`)."""

    service: Service
    scope: Scope


Handler = Callable[[Request, Api], Awaitable[Response]]


async def webhooks(request: Request, api: Api) -> Response:
    if request.method == "GET":
        return JSONResponse({"items": [v.as_dict() for v in await api.service.list_webhooks(api.scope)]})
    data = await body(request, {"url": str, "events": list, "reseller": (str, type(None))}, {"url", "events"})
    if not all(isinstance(name, str) for name in data["events"]):
        raise ApiError(422, "events: must be an array of strings", "events")
    hook = await api.service.add_webhook(api.scope, data["url"], data["events"], data.get("reseller"))
    shown = await api.service.show_webhook(api.scope, hook.id)
    return JSONResponse({**shown.as_dict(), "secret": hook.secret}, 201)


async def webhook(request: Request, api: Api) -> Response:
    webhook_id = request.path_params["id"]
    if request.method == "DELETE":
        await api.service.remove_webhook(api.scope, webhook_id)
        return Response(status_code=204)
    return JSONResponse((await api.service.show_webhook(api.scope, webhook_id)).as_dict())


async def webhook_test(request: Request, api: Api) -> Response:
    hook, problem = await api.service.test_webhook(api.scope, request.path_params["id"])
    return JSONResponse({"id": hook.id, "delivered": problem is None, "error": problem})


async def webhook_rotate(request: Request, api: Api) -> Response:
    hook = await api.service.rotate_webhook(api.scope, request.path_params["id"])
    shown = await api.service.show_webhook(api.scope, hook.id)
    return JSONResponse({**shown.as_dict(), "secret": hook.secret})


def routes(endpoint: Callable[[Handler], Callable[[Request], Awaitable[Response]]]) -> list[Route]:
    """The /webhooks routes, each handler wrapped in the API's `endpoint` (authentication, errors)."""
    return [
        Route("/webhooks", endpoint(webhooks), methods=["GET", "POST"]),
        Route("/webhooks/{id}", endpoint(webhook), methods=["GET", "DELETE"]),
        Route("/webhooks/{id}/test", endpoint(webhook_test), methods=["POST"]),
        Route("/webhooks/{id}/rotate", endpoint(webhook_rotate), methods=["POST"]),
    ]
