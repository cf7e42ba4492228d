"""did-failover: a FastAGI server giving Asterisk DIDs call transfer on busy, no answer, unavailable or always."""

from __future__ import annotations

__version__ = "0.1.0"
