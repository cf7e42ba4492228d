"""One webhook request: a POST over a fresh connection to the address the URL guard allowed, a 2xx
answer within the timeout counting as delivered. Redirects are not followed (a 3xx is a failure)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from did_failover import __version__
from did_failover.webhooks.urls import UrlRefused, check_url, resolve
from fastagi.server import IPNetwork

USER_AGENT = f"did-failover/{__version__} (webhooks)"
MAX_STATUS_LINE = 1024


def _target(url: str) -> tuple[str, str]:
    """The request target (path and query) and the Host header of `url`."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return target, parts.netloc


async def post(
    url: str, headers: Mapping[str, str], body: bytes, timeout: float, allow: Sequence[IPNetwork]
) -> str | None:
    """POST `body` (JSON) with `headers` to `url`: None when a 2xx answered within `timeout` seconds
    (resolving, connecting and the answer's status line together), else why not, in one line."""
    try:
        async with asyncio.timeout(timeout):
            return await _post(url, headers, body, allow)
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except UrlRefused as exc:
        return str(exc)
    except ssl.SSLError as exc:
        return f"TLS failed: {exc.reason or exc}"
    except OSError as exc:
        return f"cannot connect: {exc.strerror or exc}"


async def _post(url: str, headers: Mapping[str, str], body: bytes, allow: Sequence[IPNetwork]) -> str | None:
    scheme, host, port = check_url(url)
    address = await resolve(host, port, allow)
    context = ssl.create_default_context() if scheme == "https" else None
    reader, writer = await asyncio.open_connection(
        address, port, ssl=context, server_hostname=host if context else None
    )
    try:
        target, netloc = _target(url)
        lines = [
            f"POST {target} HTTP/1.1",
            f"Host: {netloc}",
            f"User-Agent: {USER_AGENT}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            "Connection: close",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        status_line = await reader.readline()
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    parts = status_line[:MAX_STATUS_LINE].decode("latin-1").split()
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        return "the answer is not HTTP" if status_line else "the connection closed without an answer"
    status = int(parts[1])
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        return f"HTTP {status}: a redirect, not followed"
    return f"HTTP {status}"
