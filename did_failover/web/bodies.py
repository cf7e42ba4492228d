"""Request bodies bounded before anything reads them: the whole body is read here, up to the cap,
and handed on; a larger one is answered 413 and never reaches a form parser, the JSON decoder or
the login throttle."""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from did_failover.numbers import whole_number

MAX_BODY = 64 * 1024
"""Bytes a request body may hold: the largest form or JSON body of the page and the API is a few KiB."""


class BodyLimit:
    """Refuses a body over `limit` bytes with `too_large(scope)`, by its Content-Length or as it comes."""

    def __init__(self, app: ASGIApp, too_large: Callable[[Scope], Response], limit: int = MAX_BODY) -> None:
        self.app = app
        self.too_large = too_large
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = whole_number(dict(scope["headers"]).get(b"content-length", b"0").decode("latin-1"), 18)
        if declared is None or declared > self.limit:
            await self.too_large(scope)(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self.too_large(scope)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body: Message | None = {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        async def replay() -> Message:
            nonlocal body
            if body is not None:
                message, body = body, None
                return message
            return await receive()

        await self.app(scope, replay, send)
