"""The errors a plugin raises. Each maps to a typed error of the contract (``plugin-error``).

Raise them from ``__init__``, ``push``, ``finish`` or ``drain``. Any other exception is a
bug: the SDK turns it into an ``internal`` error whose message is the full Python
traceback (and writes the same text to the host log), so the host's error shows it.
"""

from __future__ import annotations

__all__ = ["PluginError", "ConfigError", "SchemaError", "DataError", "InternalError"]


class PluginError(Exception):
    """Base of the errors that stop the table with a typed error."""

    kind = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = str(message)

    def __str__(self) -> str:
        return self.message


class ConfigError(PluginError):
    """The JSON config is malformed or has bad values."""

    kind = "config"


class SchemaError(PluginError):
    """An input lacks a column, has a wrong type, or an unknown input was named."""

    kind = "schema"


class DataError(PluginError):
    """The data cannot be processed.

    ``row`` is the index of the offending row in the batch being pushed, ``column`` its
    column; ``input`` defaults to the input being pushed (in ``finish``: the last one).
    The host turns the row into the source file and line.
    """

    kind = "data"

    def __init__(self, message: str, *, row: int | None = None, column: str | None = None, input: str | None = None) -> None:
        super().__init__(message)
        self.row = row
        self.column = column
        self.input = input

    def __repr__(self) -> str:
        return f"DataError({self.message!r}, row={self.row!r}, column={self.column!r}, input={self.input!r})"


class InternalError(PluginError):
    """A bug or broken invariant inside the plugin."""

    kind = "internal"
