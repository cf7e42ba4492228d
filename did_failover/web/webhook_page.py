"""The Webhooks page (admins and resellers; a customer gets 404): the list with how far behind each
subscription is, the add form (the signing secret is shown once, in the answer), remove, test and
rotate the secret (the new one shown once, the old one signing 24 hours more)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from did_failover.errors import Forbidden, InputError, NotFound
from did_failover.storage.webhook_records import WEBHOOK_KINDS
from did_failover.web import forms
from did_failover.web.pages import Web, form_text, not_found, render

_EMPTY_FORM = {"url": "", "events": list(WEBHOOK_KINDS), "reseller": ""}
"""The add form as it first shows: every event ticked."""


async def webhooks(request: Request, web: Web) -> Response:
    """The Webhooks page (admins and resellers): the list, the add form, remove, test and rotate."""
    login = request.state.login
    if login.user.role == "customer":
        return not_found(request)
    values: dict[str, Any] = {"form": _EMPTY_FORM}
    code = 200
    if request.method == "POST":
        action = request.path_params.get("action", "add")
        webhook_id = request.path_params.get("id", "")
        try:
            if action == "add":
                form = request.state.form
                events = [e for e in form.getlist("events") if isinstance(e, str)]
                reseller = form_text(request, "reseller").strip() or None
                values["form"] = {
                    "url": form_text(request, "url"),
                    "events": events,
                    "reseller": reseller or "",
                }
                hook = await web.service.add_webhook(login.scope, form_text(request, "url"), events, reseller)
                values["created"] = hook
                values["form"] = _EMPTY_FORM
            elif action == "remove":
                await web.service.remove_webhook(login.scope, webhook_id)
                return RedirectResponse("/webhooks", status_code=303)
            elif action == "test":
                hook, problem = await web.service.test_webhook(login.scope, webhook_id)
                values["tested"] = (hook, problem)
            elif action == "rotate":
                values["rotated"] = await web.service.rotate_webhook(login.scope, webhook_id)
            else:
                return not_found(request)
        except (NotFound, Forbidden):
            return not_found(request)
        except InputError as exc:
            values["error"] = exc.words(forms.label).splitlines()[0]
            code = 400
    views = await web.service.list_webhooks(login.scope)
    return render(request, "webhooks.html", code, webhooks=views, **values)
