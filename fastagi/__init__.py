"""fastagi: an asyncio FastAGI library (sans-I/O protocol, the session, the server, a fake Asterisk)."""

from __future__ import annotations
