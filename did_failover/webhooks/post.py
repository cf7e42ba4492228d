"""Webhook requests: POSTs to the address the URL guard allowed, a 2xx answer within the timeout
counting as delivered. Redirects are not followed (a 3xx is a failure).

A `Poster` keeps its connection open between the requests of one run of deliveries (HTTP/1.1
keep-alive): a connection, and for https a TLS handshake, per event cost the server more than the
rest of the event together. A connection the receiver closed while idle is opened again once, at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from did_failover import __version__
from did_failover.numbers import whole_number
from did_failover.webhooks.urls import UrlRefused, check_url, resolve
from fastagi.server import IPNetwork

USER_AGENT = f"did-failover/{__version__} (webhooks)"
MAX_LINE = 8192
"""The longest status or header line read from a receiver."""
MAX_HEADERS = 100
MAX_BODY = 65536
"""The longest answer body read (and dropped) to keep a connection; a longer one closes it."""


class _Closed(Exception):
    """The receiver closed the connection before answering (or answered something that is not HTTP)."""


class Poster:
    """Sends requests to one webhook URL, reusing one connection while the receiver keeps it open."""

    def __init__(self, url: str, timeout: float, allow: Sequence[IPNetwork]) -> None:
        self.url = url
        self.timeout = timeout
        self.allow = tuple(allow)
        parts = urlsplit(url)
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._host_header = parts.netloc
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.connections = 0
        """Connections opened so far (the tests and the benchmark count them)."""

    async def post(self, headers: Mapping[str, str], body: bytes) -> str | None:
        """POST `body` (JSON) with `headers`: None when a 2xx answered within the timeout (resolving,
        connecting, TLS and the whole answer together), else why not, in one line."""
        try:
            async with asyncio.timeout(self.timeout):
                if self._writer is not None:
                    try:
                        return await self._exchange(headers, body)
                    except (_Closed, ConnectionError):
                        self.close()  # the receiver closed the idle connection: once more, on a new one
                return await self._exchange(headers, body)
        except TimeoutError:
            self.close()
            return f"no answer within {self.timeout:g} s"
        except UrlRefused as exc:
            return str(exc)
        except _Closed as exc:
            self.close()
            return str(exc)
        except ssl.SSLCertVerificationError as exc:
            self.close()  # says which: an unknown issuer, an expired certificate, another host name
            return f"TLS failed: {exc.verify_message or exc.reason}"
        except ssl.SSLError as exc:
            self.close()
            return f"TLS failed: {exc.reason or exc}"
        except OSError as exc:
            self.close()
            return f"cannot connect: {exc.strerror or exc}"

    async def _exchange(self, headers: Mapping[str, str], body: bytes) -> str | None:
        if self._writer is None:
            await self._connect()
        reader, writer = self._reader, self._writer
        assert reader is not None and writer is not None
        lines = [
            f"POST {self._target} HTTP/1.1",
            f"Host: {self._host_header}",
            f"User-Agent: {USER_AGENT}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        status, keep = await _read_answer(reader)
        if not keep:
            self.close()
        if 200 <= status < 300:
            return None
        if 300 <= status < 400:
            return f"HTTP {status}: a redirect, not followed"
        return f"HTTP {status}"

    async def _connect(self) -> None:
        scheme, host, port = check_url(self.url)
        address = await resolve(host, port, self.allow)
        context = ssl.create_default_context() if scheme == "https" else None
        self._reader, self._writer = await asyncio.open_connection(
            address, port, ssl=context, server_hostname=host if context else None, limit=MAX_LINE
        )
        self.connections += 1

    def close(self) -> None:
        """Close the connection (the next request opens another)."""
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()


async def _read_line(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise _Closed("the answer is not HTTP") from None
        raise _Closed("the connection closed without an answer") from None
    except asyncio.LimitOverrunError:
        raise _Closed("the answer is not HTTP (a line too long)") from None


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """The status of the answer, and whether the connection may carry the next request; the body is
    read and dropped."""
    parts = (await _read_line(reader)).decode("latin-1").split()
    status = whole_number(parts[1], 3) if len(parts) >= 2 else None
    if status is None or not parts[0].startswith("HTTP/"):
        raise _Closed("the answer is not HTTP")
    keep = parts[0] == "HTTP/1.1"
    length: int | None = None
    chunked = False
    for _ in range(MAX_HEADERS):
        line = (await _read_line(reader)).decode("latin-1").strip()
        if not line:
            break
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length" and (declared := whole_number(value, 18)) is not None:
            length = declared
        elif name == "transfer-encoding" and "chunked" in value:
            chunked = True
        elif name == "connection":
            keep = "close" not in value if parts[0] == "HTTP/1.1" else "keep-alive" in value
    else:
        return status, False
    if status in (204, 304) or 100 <= status < 200:
        return status, keep
    if (length is None and not chunked) or (length or 0) > MAX_BODY:
        return status, False  # no length: the body runs to the close
    try:
        if chunked:
            return status, keep and await _drop_chunks(reader)
        await reader.readexactly(length or 0)
    except (asyncio.IncompleteReadError, _Closed):
        return status, False  # the status came whole: it counts; the connection does not
    return status, keep


async def _drop_chunks(reader: asyncio.StreamReader) -> bool:
    """Read a chunked body to its end; False when it is too long to read (the connection closes)."""
    total = 0
    while True:
        size_text = (await _read_line(reader)).split(b";")[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return False
        total += size
        if total > MAX_BODY:
            return False
        if size == 0:
            while (await _read_line(reader)).strip():
                pass  # trailers
            return True
        await reader.readexactly(size + 2)


async def post(
    url: str, headers: Mapping[str, str], body: bytes, timeout: float, allow: Sequence[IPNetwork]
) -> str | None:
    """One POST over a connection of its own (a test ping): None when a 2xx answered in time."""
    poster = Poster(url, timeout, allow)
    try:
        return await poster.post(headers, body)
    finally:
        poster.close()
