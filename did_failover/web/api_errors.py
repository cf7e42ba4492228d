"""How the API refuses: the JSON error, the status of a service-layer refusal, strict request bodies."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from did_failover.conditions import Condition
from did_failover.errors import Conflict, Forbidden, InputError, InvalidDestination, NotFound
from did_failover.numbers import whole_number


class ApiError(Exception):
    """A refused request: status, the one-line message, and the field it is about."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def error(
    status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse({"error": {"message": message, "field": field}}, status, headers=headers)


def api_name(field: str, item: int | None = None) -> str:
    """How the API names a refused field: a forward's `busy.destination` (`item 2`: its second
    step), any other by its JSON name."""
    condition = Condition.of_field(field)
    name = f"{condition.field}.destination" if condition else field
    return f"{name} item {item}" if item else name


_STATUS: tuple[tuple[type[InputError], int], ...] = ((NotFound, 404), (Conflict, 409), (Forbidden, 403))


def refusal(exc: InputError | InvalidDestination) -> ApiError:
    """A service-layer refusal as the API answers it: the status by its type, the field by its
    JSON name (a forward by its kind)."""
    status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 422)
    condition = Condition.of_field(exc.field or "")
    field = condition.field if condition else exc.field
    return ApiError(status, exc.words(api_name), None if status == 404 else field)


async def body(
    request: Request, fields: dict[str, type | tuple[type, ...]], required: set[str]
) -> dict[str, Any]:
    """The JSON object of the request, checked: known fields only, of their JSON types."""
    try:
        data = json.loads(await request.body() or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "body: not valid JSON") from None
    except RecursionError:
        raise ApiError(400, "body: nested too deeply") from None
    if not isinstance(data, dict):
        raise ApiError(400, "body: must be a JSON object")
    return checked(data, fields, required)


def checked(
    data: Any, fields: dict[str, type | tuple[type, ...]], required: set[str], within: str | None = None
) -> dict[str, Any]:
    """`data` when it is an object of known fields of their JSON types; `within` names the field
    an object nested in the body is (its problems are reported as that field's)."""
    if not isinstance(data, dict):
        raise ApiError(422, f"{within}: must be an object", within)
    for name, value in data.items():
        shown = f"{within}.{name}" if within else name
        if name not in fields:
            raise ApiError(422, f"{shown}: unknown field", within or name)
        wanted = fields[name]
        kinds: tuple[type, ...] = wanted if isinstance(wanted, tuple) else (wanted,)
        bad_bool = isinstance(value, bool) and bool not in kinds  # JSON true is not a number here
        if bad_bool or not isinstance(value, kinds):
            names = " or ".join("null" if k is type(None) else _JSON_TYPE[k] for k in kinds)
            raise ApiError(422, f"{shown}: must be {names}", within or name)
    for name in sorted(required - set(data)):
        raise ApiError(422, f"{within + '.' if within else ''}{name}: required", within or name)
    return data


_JSON_TYPE = {bool: "a boolean", int: "an integer", str: "a string", dict: "an object", list: "an array"}


def query_int(request: Request, name: str, default: int) -> int:
    """A whole-number query parameter: ASCII digits, at most 9 of them (no number here is larger)."""
    text = request.query_params.get(name)
    if text is None:
        return default
    number = whole_number(text, 9)
    if number is None:
        raise ApiError(422, f"{name}: must be a whole number 0..999999999", name)
    return number
