"""The host's log, and ``print`` / ``logging`` routed to it inside the component."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Callable

__all__ = ["log", "LEVELS"]

#: The contract's log levels, lowest first.
LEVELS = ("trace", "debug", "info", "warn", "error")
_ALIASES = {"warning": "warn", "critical": "error", "fatal": "error", "exception": "error"}

# Where log lines go: the host's `log` import inside the component (set by `export`), a test
# harness's list natively, else the process's stderr.
_sink: Callable[[str, str], None] | None = None


def set_sink(sink: Callable[[str, str], None] | None) -> None:
    global _sink
    _sink = sink


def log(level: str, message: str) -> None:
    """Sends a line to the host's log at ``level`` (``"trace"``, ``"debug"``, ``"info"``,
    ``"warn"`` or ``"error"``). The host keeps a bounded number of lines per session and
    counts the rest as dropped in the run report, so log per batch, not per row."""
    level = _ALIASES.get(level.lower(), level.lower()) if isinstance(level, str) else str(level)
    if level not in LEVELS:
        raise ValueError(f"log level {level!r}; use one of {', '.join(LEVELS)}")
    sink = _sink
    if sink is None:
        sys.__stderr__.write(f"[{level}] {message}\n")
    else:
        sink(level, str(message))


class _LineWriter(io.TextIOBase):
    """A text stream whose lines go to the host log (``print`` inside the component)."""

    def __init__(self, level: str, name: str) -> None:
        self._level = level
        self._name = name
        self._pending = ""

    @property
    def name(self) -> str:  # type: ignore[override]
        return self._name

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        data = self._pending + text
        *lines, self._pending = data.split("\n")
        for line in lines:
            log(self._level, line)
        if len(self._pending) > 4096:
            self.flush()
        return len(text)

    def flush(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, ""
            log(self._level, pending)


class _LogHandler(logging.Handler):
    """Python's ``logging`` records to the host log, at the matching level."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if record.levelno >= logging.ERROR:
                level = "error"
            elif record.levelno >= logging.WARNING:
                level = "warn"
            elif record.levelno >= logging.INFO:
                level = "info"
            else:
                level = "debug"
            log(level, self.format(record))
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


_routed = False


def route_stdio() -> None:
    """Inside the component: ``print`` goes to the host log at info, ``sys.stderr`` at warn,
    and ``logging`` records at their level (the sandbox has no terminal). Called on the
    first call from the host, never at build time."""
    global _routed
    if _routed:
        return
    _routed = True
    sys.stdout = _LineWriter("info", "<stdout>")
    sys.stderr = _LineWriter("warn", "<stderr>")
    handler = _LogHandler()
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)


def flush_stdio() -> None:
    if _routed:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # pragma: no cover
                pass
