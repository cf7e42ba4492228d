"""fastagi: an asyncio FastAGI library (sans-I/O protocol, the session, the server, a fake Asterisk).

It knows nothing of did-failover and can serve any AGI script::

    import asyncio
    from fastagi.server import Server, ServerConfig
    from fastagi.session import AGISession

    async def hello(session: AGISession) -> None:
        await session.verbose("hello from fastagi")
        await session.exec("Playback", "hello-world")

    asyncio.run(Server(ServerConfig(port=4573), {"hello": hello}).serve())

and the dialplan runs it with `AGI(agi://127.0.0.1:4573/hello)`. `fastagi.client` plays Asterisk's
side of a session over a real socket, for tests.
"""

from __future__ import annotations
