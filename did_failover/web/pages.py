"""What every page of the web app stands on: the shared parts (`Web`), the templates, the error pages,
and `page`, the route wrapper that finds the session, checks CSRF and maps refusals to 404."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from did_failover.admin.service import Service
from did_failover.errors import Forbidden, InputError, NotFound
from did_failover.storage.base import Repository
from did_failover.web import auth, forms
from fastagi.server import IPNetwork

_templates = Environment(loader=PackageLoader("did_failover.web"), autoescape=select_autoescape(default=True))
_templates.globals["clock"] = lambda moment: moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"
_templates.globals["legs"] = lambda call: " → ".join(call.forwarded_to()) or "-"


class Web:
    """What every request uses: the repository, the service layer, sessions and the login throttle."""

    def __init__(
        self,
        repo: Repository,
        login_key: str,
        *,
        session_idle: float = 1800.0,
        session_lifetime: float = 43200.0,
        max_ring: int = 180,
        failures: auth.FailureStore | None = None,
        webhook_allow: Sequence[IPNetwork] = (),
        webhook_timeout: float = 5.0,
    ) -> None:
        self.repo = repo
        self.service = Service(repo, max_ring, webhook_allow, webhook_timeout)
        self.sessions = auth.Sessions(repo, session_idle, session_lifetime)
        self.login_form = auth.LoginForm(login_key)
        self.throttle = auth.Throttle(failures or repo)


def render(request: Request, name: str, code: int = 200, **values: Any) -> HTMLResponse:
    """A page, with the login (or None) every page needs for its header."""
    values.setdefault("login", request.state.login)
    return HTMLResponse(_templates.get_template(name).render(**values), status_code=code)


def error_page(request: Request, code: int, title: str, message: str) -> HTMLResponse:
    return render(request, "error.html", code, status=code, title=title, message=message)


def not_found(request: Request) -> HTMLResponse:
    return error_page(request, 404, "Not found", "There is nothing here.")


Page = Callable[[Request, Web], Awaitable[Response]]


def page(handler: Page, *, public: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """A route that finds the session first, checks CSRF on a POST, and maps a refusal to 404."""

    async def endpoint(request: Request) -> Response:
        web: Web = request.app.state.web
        request.state.login = await web.sessions.find(auth.cookie(request, auth.SESSION_COOKIE))
        if request.method == "POST":
            form = await request.form()
            request.state.form = form
            sent = form.get("csrf")
            sent_text = sent if isinstance(sent, str) else ""
            if public:
                valid = web.login_form.valid(auth.cookie(request, auth.LOGIN_COOKIE), sent_text)
            else:
                login = request.state.login
                valid = login is not None and auth.same(login.csrf, sent_text)
            if not valid:
                message = "This form has expired or did not come from this site. Reload the page, try again."
                return error_page(request, 403, "Forbidden", message)
        if not public and request.state.login is None:
            return RedirectResponse("/login", status_code=303)
        try:
            return await handler(request, web)
        except (NotFound, Forbidden):
            return not_found(request)
        except InputError as exc:
            return error_page(request, 400, "Bad request", exc.words(forms.label).splitlines()[0])

    return endpoint


def form_text(request: Request, name: str) -> str:
    value = request.state.form.get(name)
    return value if isinstance(value, str) else ""
