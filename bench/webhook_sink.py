"""A webhook receiver for the benchmark (`bench.run --webhook ok|stuck`): it reads each request, waits
`--delay` seconds (10: a stuck receiver, longer than DID_FAILOVER_WEBHOOK_TIMEOUT), answers 204 and
appends one line per request to OUT; a connection carries as many requests as the client sends.

    python -m bench.webhook_sink OUT PORTFILE [--delay S]
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("portfile", type=Path)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":", 1)[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                await reader.readexactly(length)
                with args.out.open("a") as out:
                    out.write("request\n")
                await asyncio.sleep(args.delay)
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    args.portfile.write_text(str(server.sockets[0].getsockname()[1]))
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
