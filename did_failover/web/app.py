"""The web page as an ASGI app (Starlette): routes, scope on every request, CSRF on every POST.

Pages render on the server (Jinja2, autoescaped); there is no JavaScript, so the Content-Security-
Policy allows none, and a switch is a small form. Objects outside the user's scope answer 404,
exactly like ones that do not exist.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp
from starlette.types import Scope as AsgiScope

from did_failover.admin.users import USERNAME_RULE
from did_failover.errors import Forbidden, InputError, InvalidSchedule, NotFound
from did_failover.routing.schedule import parse_schedule
from did_failover.web import api, api_errors, auth, forms, webhook_page
from did_failover.web.bodies import MAX_BODY, BodyLimit
from did_failover.web.forms import CONDITIONS, TYPES, TransferForm
from did_failover.web.headers import SecurityHeaders
from did_failover.web.pager import PAGE_SIZE, GridQuery
from did_failover.web.pages import Web, error_page, form_text, not_found, page, render

COLUMNS = [
    ("did", "DID"),
    ("account", "Account"),
    ("busy", "Busy"),
    ("no_answer", "No answer"),
    ("unavailable", "Unavailable"),
    ("always", "Always"),
    ("did_type", "DID type"),
    ("number", "Number"),
    ("status", "Status"),
]


async def home(request: Request, web: Web) -> Response:
    return RedirectResponse("/dids", status_code=303)


async def login_page(request: Request, web: Web) -> Response:
    if request.method == "GET" and request.state.login is not None:
        return RedirectResponse("/dids", status_code=303)
    pre = auth.cookie(request, auth.LOGIN_COOKIE) or auth.token()
    if request.method == "GET":
        response = render(request, "login.html", csrf=web.login_form.token_for(pre), username="", error="")
        auth.set_cookie(response, request, auth.LOGIN_COOKIE, pre)
        return response
    username, password = form_text(request, "username").strip(), form_text(request, "password")
    address = request.client.host if request.client else "-"

    def refused(status: int, error: str) -> HTMLResponse:
        shown = username[:64]
        return render(
            request, "login.html", status, csrf=web.login_form.token_for(pre), username=shown, error=error
        )

    name = auth.login_name(username)
    if name is None:
        return refused(400, f"Username: {USERNAME_RULE}.")
    wait = await web.throttle.retry_after(name, address)
    if wait:
        response = refused(429, f"Too many failed logins. Try again in {wait} seconds.")
        response.headers["Retry-After"] = str(wait)
        return response
    user = await web.repo.get_user(name)
    if user is None or not auth.may_log_in(user):
        await auth.verify_password_or_burn(None, password)
        ok = False
    else:
        ok = await auth.verify_password_or_burn(user.password_hash, password)
    if not ok or user is None:
        await web.throttle.failed(name, address)
        return refused(401, "Wrong username or password.")
    if request.state.login is not None:
        await web.sessions.end(request.state.login)
    value, _ = await web.sessions.start(user)
    done: Response = RedirectResponse("/dids", status_code=303)
    auth.set_cookie(done, request, auth.SESSION_COOKIE, value)
    auth.delete_cookie(done, request, auth.LOGIN_COOKIE)
    return done


async def logout(request: Request, web: Web) -> Response:
    await web.sessions.end(request.state.login)
    response = RedirectResponse("/login", status_code=303)
    auth.delete_cookie(response, request, auth.SESSION_COOKIE)
    return response


async def dids(request: Request, web: Web) -> Response:
    """The grid, a page at a time: First, Previous and Next by cursor, Last from the end."""
    query = GridQuery.read(request.query_params)
    page = await web.service.page_transfers(
        request.state.login.scope,
        search=query.search,
        order=query.order,
        descending=query.direction == "desc",
        limit=PAGE_SIZE,
        offset=query.offset,
        after=query.after,
        before=query.before,
        last=query.last,
    )
    return render(
        request,
        "dids.html",
        rows=page.views,
        total=page.total,
        total_exact=page.total_exact,
        search=query.search,
        order=query.order,
        direction=query.direction,
        columns=COLUMNS,
        sort_url=query.sort_url,
        **query.links(page),
    )


async def did_page(request: Request, web: Web) -> Response:
    scope = request.state.login.scope
    did = request.path_params["did"]
    view = await web.service.show_transfer(scope, did)
    errors: dict[str, str] = {}
    form = TransferForm.from_view(view)
    status = 200
    if request.method == "POST":
        form = TransferForm.from_form(request.state.form)
        try:
            await web.service.set_transfer(scope, view.did, **form.changes())
        except (NotFound, Forbidden):
            raise
        except InputError as exc:
            errors = {forms.slot(exc): exc.words(forms.label)}
            status = 400
        else:
            return RedirectResponse(f"/dids/{view.did}?saved=1", status_code=303)
    calls = await web.service.list_calls(scope, did=view.did, limit=20)
    changes = await web.service.list_changes(scope, did=view.did, limit=20)
    hours = ""
    if view.schedule:
        try:  # a time zone's first use reads its file: not on the event loop
            schedule = await asyncio.to_thread(parse_schedule, view.schedule)
        except InvalidSchedule as exc:
            hours = f"business hours not usable ({exc})"
        else:
            hours = (
                "open now"
                if schedule.is_open(datetime.now(UTC))
                else "closed now: calls go to the After hours list"
            )
    return render(
        request,
        "did.html",
        status,
        view=view,
        form=form.values(),
        errors=errors,
        conditions=CONDITIONS,
        types=TYPES,
        calls=calls,
        changes=changes,
        hours=hours,
        saved=request.query_params.get("saved") == "1" and not errors,
    )


async def did_switch(request: Request, web: Web) -> Response:
    scope = request.state.login.scope
    view = await web.service.show_transfer(scope, request.path_params["did"])
    await web.service.set_transfer(scope, view.did, enabled=form_text(request, "enabled") == "on")
    back = form_text(request, "back")
    return RedirectResponse(
        back if back.startswith("/dids?") or back == "/dids" else "/dids", status_code=303
    )


async def accounts(request: Request, web: Web) -> Response:
    login = request.state.login
    if login.user.role == "customer":
        return not_found(request)
    if request.method == "POST":
        number = request.path_params["number"]
        switches = {name: form_text(request, name) for name in ("transfer", "active")}
        given = {name: value == "on" for name, value in switches.items() if value in ("on", "off")}
        if not given:
            return error_page(request, 400, "Bad request", "Nothing to change.")
        await web.service.set_account(
            login.scope, number, active=given.get("active"), transfer=given.get("transfer")
        )
        return RedirectResponse("/accounts", status_code=303)
    return render(request, "accounts.html", accounts=await web.service.list_accounts(login.scope))


def create_app(web_factory: Callable[[], Awaitable[Web]], on_close: Callable[[], Awaitable[None]]) -> ASGIApp:
    """The ASGI app; `web_factory` opens what it needs at start-up, `on_close` closes it."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.web = await web_factory()
        try:
            yield
        finally:
            await on_close()

    routes = [
        Route("/", page(home)),
        Route("/login", page(login_page, public=True), methods=["GET", "POST"]),
        Route("/logout", page(logout), methods=["POST"]),
        Route("/dids", page(dids)),
        Route("/dids/{did}", page(did_page), methods=["GET", "POST"]),
        Route("/dids/{did}/switch", page(did_switch), methods=["POST"]),
        Route("/accounts", page(accounts)),
        Route("/accounts/{number}", page(accounts), methods=["POST"]),
        Route("/webhooks", page(webhook_page.webhooks), methods=["GET", "POST"]),
        Route("/webhooks/{id}/{action}", page(webhook_page.webhooks), methods=["POST"]),
        Mount("/static", StaticFiles(packages=[("did_failover.web", "static")]), name="static"),
        Mount("/api/v1", app=api.router()),
    ]
    site = Starlette(routes=routes, lifespan=lifespan, exception_handlers={404: _no_route, 405: _no_route})
    return SecurityHeaders(BodyLimit(site, _too_large))


def _too_large(scope: AsgiScope) -> Response:
    """A body over the cap: the JSON error under /api/, a short page otherwise."""
    message = f"body: larger than {MAX_BODY} bytes"
    if str(scope.get("path", "")).startswith("/api/"):
        return api_errors.error(413, message)
    return HTMLResponse(f"<!doctype html><title>Too large</title><p>Request too large: {message}.</p>", 413)


async def _no_route(request: Request, exc: Exception) -> Response:
    """A path no route matches: JSON under /api/, the page otherwise."""
    status = getattr(exc, "status_code", 404)
    if request.url.path.startswith("/api/"):
        message = "not found: no such resource" if status == 404 else "method not allowed here"
        return api_errors.error(status, message)
    request.state.login = None
    return error_page(
        request, status, "Not found" if status == 404 else "Not allowed", "There is nothing here."
    )
