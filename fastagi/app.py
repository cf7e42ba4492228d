"""Wires the server's routes to their dependencies: the one place where routes are registered."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastagi.session import Handler
from fastagi.settings import Settings


async def build_app(
    settings: Settings,
) -> tuple[dict[str, Handler], Callable[[], Awaitable[None]]]:
    """Return the routes (script path -> handler) and the coroutine that closes what they opened."""
    routes: dict[str, Handler] = {}

    async def close() -> None:
        return None

    return routes, close
