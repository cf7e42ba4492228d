"""did-failover: FastAGI server giving Asterisk DIDs call transfer on busy, no answer, unavailable, always."""

from __future__ import annotations

__version__ = "0.1.0"
