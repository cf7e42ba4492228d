"""What the server logs through: any structlog-like logger, or the standard library by default."""

from __future__ import annotations

import logging
from typing import Any, Protocol


class Logger(Protocol):
    """What the server logs through: structlog's bound loggers fit, and so does the stdlib adapter."""

    def info(self, event: str, **fields: Any) -> Any:
        """Log at INFO."""

    def warning(self, event: str, **fields: Any) -> Any:
        """Log at WARNING."""

    def error(self, event: str, **fields: Any) -> Any:
        """Log at ERROR."""

    def exception(self, event: str, **fields: Any) -> Any:
        """Log at ERROR with the exception being handled."""


class StdlibLogger:
    """A `Logger` over the standard library's logging: `event key=value ...` lines."""

    def __init__(self, name: str = "fastagi.server") -> None:
        self._logger = logging.getLogger(name)

    def _log(self, level: int, event: str, fields: dict[str, Any], exc_info: bool = False) -> None:
        if self._logger.isEnabledFor(level):
            text = " ".join([event, *(f"{key}={value!r}" for key, value in fields.items())])
            self._logger.log(level, "%s", text, exc_info=exc_info)

    def info(self, event: str, **fields: Any) -> None:
        """Log at INFO."""
        self._log(logging.INFO, event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        """Log at WARNING."""
        self._log(logging.WARNING, event, fields)

    def error(self, event: str, **fields: Any) -> None:
        """Log at ERROR."""
        self._log(logging.ERROR, event, fields)

    def exception(self, event: str, **fields: Any) -> None:
        """Log at ERROR with the exception being handled."""
        self._log(logging.ERROR, event, fields, exc_info=True)
