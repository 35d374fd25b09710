"""The ``Plugin`` base class and the run ``Context``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

from .batch import Batch
from .emit import Emit
from .info import Info
from .types import FieldLike, Schema

__all__ = ["Plugin", "Context"]


@dataclass(frozen=True)
class Context:
    """Facts from the host that replace clocks and the environment inside the sandbox.

    Use them instead of ``time.time()`` or random numbers, so a rerun of a table gives
    the same output (the conformance kit checks that).
    """

    run_id: str = ""
    #: The run's start in microseconds since the Unix epoch (UTC).
    run_time_micros: int = 0
    table: str = ""
    #: Values the host captured for this table (e.g. from the input key pattern).
    params: dict[str, str] = field(default_factory=dict)

    @property
    def run_time(self) -> datetime:
        """The run's start as a UTC ``datetime``."""
        return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=self.run_time_micros)


class Plugin:
    """A table plugin. One instance is one session: one table run.

    Subclass it, set ``info`` (and ``Config``), then export it from the app module::

        class Upper(Plugin):
            info = Info("upper", "0.1.0", "Upper-cases names").input(Input.any("rows")).output(Output.dynamic("rows"))

            def __init__(self, config, inputs, ctx):
                self.schema = inputs["rows"]

            def output_schemas(self):
                return {"rows": self.schema}

            def push(self, input, batch, out):
                out.emit("rows", batch.replace("name", [n and n.upper() for n in batch["name"]]))

        Columnar = export(Upper)

    Raise :class:`ConfigError`, :class:`SchemaError` or :class:`DataError` for problems
    with the table; any other exception is reported as an internal error with its traceback.
    """

    #: What the plugin takes and produces (``describe``).
    info: ClassVar[Info]
    #: The config type (usually a dataclass); ``None`` passes the parsed JSON as it is.
    Config: ClassVar[Any] = None
    #: Accept config keys that ``Config`` does not name (by default they are an error).
    ignore_unknown_config_keys: ClassVar[bool] = False

    def __init__(self, config: Any, inputs: dict[str, Schema], ctx: Context) -> None:
        """Opens a session. ``config`` is the table's config read into ``Config``;
        ``inputs`` the actual schema of every input, already checked against ``info``."""

    def output_schemas(self) -> dict[str, Schema | list[FieldLike]]:
        """The schema of every output declared ``Output.dynamic`` for this session.
        Outputs declared ``Output.fixed`` need not be listed: the SDK adds them."""
        return {}

    def push(self, input: str, batch: Batch, out: Emit) -> None:
        """One batch of one input: emit output batches and row rejects through ``out``."""
        raise NotImplementedError(f"{type(self).__name__}.push")

    def finish(self, out: Emit) -> None:
        """All inputs are done: emit whatever state is left (stateless plugins skip it)."""

    def drain(self, out: Emit) -> bool:
        """Called after ``finish``, again and again while it returns ``True``: a plugin with
        a large result emits it here a piece at a time (about 64k rows a call) and frees
        its state as it goes."""
        return False
