"""What one ``push`` or ``finish`` call produces: output batches, row rejects, counters."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from ._columns import WireColumn
from ._text import rust_list
from .batch import Batch
from .types import Schema

__all__ = ["Emit"]


class Emit:
    """Collects the output of one call. The SDK makes one for every ``push`` and ``finish``.

    ``outputs`` are the session's output schemas by name; ``rows`` the size of the batch
    being pushed (``None`` in ``finish``, where rows cannot be rejected).
    """

    def __init__(self, outputs: Mapping[str, Schema], rows: int | None = None) -> None:
        self._outputs = outputs
        self._rows = rows
        # (output, batch, its columns as the contract carries them): encoded at `emit`, so
        # a bad value fails on the plugin's `emit` line and later changes to the lists
        # do not change what was emitted.
        self._batches: list[tuple[str, Batch, list[WireColumn]]] = []
        self._rejects: list[tuple[int, str | None, str]] = []
        self._counters: dict[str, int] = {}

    def emit(self, output: str, batch: Batch | Mapping[str, Iterable] | Sequence[Iterable]) -> None:
        """Emits rows for the named output: a :class:`Batch` of the output's schema, or its
        columns (a mapping of name to values, or a list in schema order) to build one.
        Empty batches are dropped.

        The values are checked (type, range, NOT NULL) and converted to the contract's
        buffers here; columns of an input batch that were never read go back as the
        buffers they came in, without any conversion."""
        schema = self._outputs.get(output)
        if schema is None:
            raise ValueError(f"emit to output `{output}`, which this plugin does not declare; it declares {rust_list(self._outputs)}")
        if not isinstance(batch, Batch):
            batch = Batch.from_columns(schema, batch)
        elif batch.schema is not schema:
            _check_schema(output, schema, batch.schema)
        if batch.num_rows > 0:
            self._batches.append((output, batch, batch._encode(output, schema)))

    def _emit_unchecked(self, output: str, batch: Batch) -> None:
        """Emits without checking the output name or schema: only for testing the host's
        own checks (the test plugin's ``wrong-schema`` mode)."""
        if batch.num_rows > 0:
            self._batches.append((output, batch, batch._encode(output)))

    def reject(self, row: int, column: str | None, reason: str) -> None:
        """Rejects row ``row`` of the pushed batch: the host writes it, with its source file
        and line, to the table's ``rejects`` output. The row must not also be emitted."""
        if self._rows is None:
            raise ValueError("reject() is for rows of a pushed batch; finish() has none")
        if not isinstance(row, int) or not 0 <= row < self._rows:
            raise IndexError(f"reject of row {row!r} in a batch of {self._rows} rows")
        self._rejects.append((row, column, str(reason)))

    def count(self, name: str, n: int = 1) -> None:
        """Adds ``n`` to a named counter; the host sums it over the run and puts it in the
        run report (e.g. ``shipment_date.invalid_to_null``)."""
        if n == 0:
            return
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"counter `{name}`: counts are whole numbers >= 0, got {n!r}")
        self._counters[name] = self._counters.get(name, 0) + n

    # -- for the SDK and for a plugin's own tests --------------------------------------

    def batches(self, output: str) -> list[Batch]:
        """The batches emitted so far for ``output``."""
        return [b for o, b, _ in self._batches if o == output]

    @property
    def emitted(self) -> list[tuple[str, Batch]]:
        return [(o, b) for o, b, _ in self._batches]

    @property
    def rejects(self) -> list[tuple[int, str | None, str]]:
        """(row, column, reason) of every reject so far."""
        return list(self._rejects)

    @property
    def rejected(self) -> int:
        """How many rows were rejected so far in this call."""
        return len(self._rejects)

    @property
    def counters(self) -> dict[str, int]:
        return dict(self._counters)


def _check_schema(output: str, declared: Schema, actual: Schema) -> None:
    want = [(f.name, f.type) for f in declared]
    have = [(f.name, f.type) for f in actual]
    if want == have:
        return
    prefix = f"output `{output}` does not match its declared schema"
    if len(want) != len(have) or [n for n, _ in want] != [n for n, _ in have]:
        raise ValueError(
            f"{prefix}: expected {len(want)} columns {rust_list(n for n, _ in want)}, "
            f"got {len(have)} {rust_list(n for n, _ in have)}"
        )
    for (name, t), (_, u) in zip(want, have):
        if t != u:
            raise ValueError(f"{prefix}: column `{name}` is {u}, expected {t}")
