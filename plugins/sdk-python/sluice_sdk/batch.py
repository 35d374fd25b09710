"""Batches: rows held as columns, each column a Python list with ``None`` for NULL.

A batch from the host keeps each column as the buffers the contract carried it in (see
``_columns``) until the plugin reads it: ``batch.raw("col")`` decodes it into a list of
wire values (``int`` days for ``date32``, ``int`` microseconds for timestamps, the plain
values for every other type), and ``batch["col"]`` also converts dates and timestamps to
``datetime`` objects. A column the plugin never reads is never decoded: ``select``,
``rename``, ``replace`` and ``append`` pass it on as it is, ``filter``, ``take`` and
``slice`` select its rows in buffer form, and ``emit`` sends its buffers back unchanged.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from itertools import chain, compress
from typing import Any, Union

from ._columns import NARROW, WireColumn, decode, encode, filter_rows, keep_runs, slice_rows
from ._columns import take as take_rows
from .types import CASE, INT_RANGE, Field, FieldLike, Schema

__all__ = ["Batch", "to_wire_values", "from_wire_values", "text_values"]

_NoneType = type(None)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()  # 719163
_EPOCH = datetime(1970, 1, 1)
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)

ColumnKey = Union[str, int]
#: The types whose Python values are objects made from the wire's ints.
_AS_OBJECTS = frozenset(("date32", "timestamp", "timestamp_utc"))


# ---------------------------------------------------------------------------------------
# Wire values <-> Python values


def from_wire_values(field: Field, raw: list) -> list:
    """The Python values of a column in wire form (dates and timestamps become objects)."""
    t = field.type
    if t == "date32":
        fromordinal = date.fromordinal
        try:
            return [None if d is None else fromordinal(d + _EPOCH_ORDINAL) for d in raw]
        except (ValueError, OverflowError):
            bad = next(d for d in raw if d is not None and not (-_EPOCH_ORDINAL < d <= 2_932_896))
            raise ValueError(
                f"column `{field.name}`: day {bad} since 1970-01-01 is outside the years 1 to 9999 that "
                f"datetime.date holds; read the days with batch.raw({field.name!r})"
            ) from None
    if t == "timestamp" or t == "timestamp_utc":
        epoch = _EPOCH_UTC if t == "timestamp_utc" else _EPOCH
        td = timedelta
        try:
            return [None if us is None else epoch + td(0, 0, us) for us in raw]
        except (ValueError, OverflowError):
            raise ValueError(
                f"column `{field.name}`: a timestamp is outside the years 1 to 9999 that datetime holds; "
                f"read the microseconds with batch.raw({field.name!r})"
            ) from None
    return raw


def to_wire_values(field: Field, values: Iterable) -> list:
    """``values`` checked against ``field`` and put in wire form.

    Accepts ``date`` objects or ``int`` days for ``date32``, ``datetime`` objects or ``int``
    microseconds for timestamps (a naive ``datetime`` in a ``timestamp_utc`` column is taken
    as UTC), ``int`` for ``float`` columns. Raises ``TypeError`` or ``ValueError`` naming the
    column and the first bad row.
    """
    if not isinstance(values, list):
        values = list(values)
    kinds = set(map(type, values))
    has_null = _NoneType in kinds
    kinds.discard(_NoneType)
    if has_null and not field.nullable:
        row = values.index(None)
        raise ValueError(f"column `{field.name}` is NOT NULL but row {row} is None")
    if not kinds:
        return values
    t = field.type
    case = CASE[t]
    if case == "text":
        if kinds == {str} or all(issubclass(k, str) for k in kinds):
            return values
        raise _bad_type(field, values, str, "str")
    if case == "boolean":
        if kinds == {bool}:
            return values
        raise _bad_type(field, values, bool, "bool")
    if case == "float":
        if kinds == {float}:
            return values
        if all(issubclass(k, (int, float)) for k in kinds):
            return [None if v is None else float(v) for v in values]
        raise _bad_type(field, values, (int, float), "float")
    # int / uint: integers, dates, timestamps
    if kinds == {int} or all(issubclass(k, int) for k in kinds):
        _check_range(field, values)
        return values
    if t == "date32":
        if all(issubclass(k, date) and not issubclass(k, datetime) or issubclass(k, int) for k in kinds):
            off = _EPOCH_ORDINAL
            if kinds == {date}:
                return [None if v is None else v.toordinal() - off for v in values]
            return [v if v is None or isinstance(v, int) else v.toordinal() - off for v in values]
        raise _bad_type(field, values, (date, int), "datetime.date (or int days since 1970-01-01)", exclude=datetime)
    if t == "timestamp" or t == "timestamp_utc":
        if all(issubclass(k, (datetime, int)) for k in kinds):
            if t == "timestamp":
                aware = next((i for i, v in enumerate(values) if isinstance(v, datetime) and v.tzinfo is not None), None)
                if aware is not None:
                    raise TypeError(
                        f"column `{field.name}` (timestamp, without zone): row {aware} is a datetime with a zone; "
                        "use .replace(tzinfo=None) for a local time, or a timestamp_utc column"
                    )
                return [v if v is None or isinstance(v, int) else (v - _EPOCH) // _US for v in values]
            return [
                v if v is None or isinstance(v, int) else (v - (_EPOCH if v.tzinfo is None else _EPOCH_UTC)) // _US
                for v in values
            ]
        raise _bad_type(field, values, (datetime, int), "datetime (or int microseconds since 1970-01-01)")
    raise _bad_type(field, values, int, "int")


def _check_range(field: Field, values: list) -> None:
    lo, hi = INT_RANGE[field.type]
    low = min(filter(None, values), default=0)
    high = max(filter(None, values), default=0)
    if low < lo or high > hi:
        row, bad = next((i, v) for i, v in enumerate(values) if v is not None and not lo <= v <= hi)
        raise ValueError(f"column `{field.name}` ({field.type}): row {row} holds {bad}, outside {lo}..={hi}")


def _bad_type(field: Field, values: list, allowed, wanted: str, exclude: type | None = None) -> TypeError:
    for row, v in enumerate(values):
        if v is None:
            continue
        if not isinstance(v, allowed) or (exclude is not None and isinstance(v, exclude)):
            return TypeError(
                f"column `{field.name}` ({field.type}) takes {wanted} values; row {row} is "
                f"{type(v).__name__} {_short_repr(v)}"
            )
    return TypeError(f"column `{field.name}` ({field.type}) takes {wanted} values")


def _short_repr(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


# ---------------------------------------------------------------------------------------
# Values as text, as Arrow's cast to utf8 writes them


def text_values(field: Field, raw: list) -> list:
    """The values of a column (wire form) as Arrow's ``cast(.., Utf8)`` writes them.

    ``true``/``false``; integers in decimal; floats as Rust's ``ryu`` writes them (``1.0``,
    ``1e20``, ``NaN``, ``inf``); dates ``YYYY-MM-DD``; timestamps ``YYYY-MM-DDTHH:MM:SS[.f]``
    (``Z`` appended for ``timestamp_utc``). ``None`` stays ``None``.
    """
    t = field.type
    case = CASE[t]
    if case == "text":
        return raw
    if case == "boolean":
        return [None if v is None else ("true" if v else "false") for v in raw]
    if t == "float64":
        return [None if v is None else _ryu(v, False) for v in raw]
    if t == "float32":
        return [None if v is None else _ryu(v, True) for v in raw]
    if t == "date32":
        return [None if v is None else _format_days(v) for v in raw]
    if t == "timestamp":
        return [None if v is None else _format_micros(v, "") for v in raw]
    if t == "timestamp_utc":
        return [None if v is None else _format_micros(v, "Z") for v in raw]
    return [None if v is None else str(v) for v in raw]


def _civil(days: int) -> tuple[int, int, int]:
    """(year, month, day) of a day count since 1970-01-01 (Howard Hinnant's algorithm)."""
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, day


def _format_days(days: int) -> str:
    y, m, d = _civil(days)
    year = f"{y:04d}" if 0 <= y <= 9999 else f"{y:+05d}"
    return f"{year}-{m:02d}-{d:02d}"


def _format_micros(us: int, zone: str) -> str:
    days, rem = divmod(us, 86_400_000_000)
    seconds, micros = divmod(rem, 1_000_000)
    hh, rest = divmod(seconds, 3600)
    mi, ss = divmod(rest, 60)
    if micros == 0:
        frac = ""
    elif micros % 1000 == 0:
        frac = f".{micros // 1000:03d}"
    else:
        frac = f".{micros:06d}"
    return f"{_format_days(days)}T{hh:02d}:{mi:02d}:{ss:02d}{frac}{zone}"


def _shortest_digits(x: float, f32: bool) -> tuple[str, int]:
    """(digits, k) with abs(x) == int(digits) * 10**k, digits the shortest that round-trips."""
    if f32:
        want = struct.unpack("<f", struct.pack("<f", x))[0]
        for p in range(1, 10):
            text = f"{abs(want):.{p - 1}e}"
            if struct.unpack("<f", struct.pack("<f", float(text)))[0] == abs(want):
                break
    else:
        text = repr(abs(x))
    mantissa, _, exp = text.partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    k = (int(exp) if exp else 0) - len(frac)
    stripped = digits.rstrip("0")
    k += len(digits) - len(stripped)
    return stripped, k


def _ryu(x: float, f32: bool) -> str:
    """A float as the ``ryu`` crate formats it (which Arrow uses to write floats as text)."""
    if x != x:
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    if x == 0:
        return sign + "0.0"
    digits, k = _shortest_digits(x, f32)
    length = len(digits)
    kk = length + k
    top, low = (13, -6) if f32 else (16, -5)
    if 0 <= k and kk <= top:
        body = digits + "0" * k + ".0"
    elif 0 < kk <= top:
        body = digits[:kk] + "." + digits[kk:]
    elif low < kk <= 0:
        body = "0." + "0" * (-kk) + digits
    elif length == 1:
        body = f"{digits}e{kk - 1}"
    else:
        body = f"{digits[0]}.{digits[1:]}e{kk - 1}"
    return sign + body


# ---------------------------------------------------------------------------------------
# Batch


class Batch:
    """Rows of one schema, held as columns.

    Read a column with ``batch["name"]`` (or ``batch[0]``): a list of Python values with
    ``None`` for NULL. It is the batch's own list, not a copy, so copy it before changing it
    in place if the batch is still needed. ``batch.raw("name")`` gives the wire values
    (``int`` days and microseconds for dates and timestamps) without any conversion.

    Build output with :meth:`from_columns` or :meth:`from_rows`, or derive it from an input
    batch with :meth:`replace`, :meth:`append`, :meth:`select`, :meth:`filter` and friends,
    which reuse the unchanged columns as they are (a column of an input batch that was
    never read is not even decoded: it goes back to the host as the buffers it came in).
    """

    __slots__ = ("_schema", "_raw", "_rows", "_values")

    def __init__(self, schema: Schema, raw_columns: list, num_rows: int) -> None:
        """Internal: columns already in wire form and checked, each a list of wire values or
        a :class:`~sluice_sdk._columns.WireColumn`. Use :meth:`from_columns`."""
        self._schema = schema
        self._raw = raw_columns
        self._rows = num_rows
        self._values: dict[int, list] = {}

    # -- building ----------------------------------------------------------------------

    @classmethod
    def from_columns(
        cls,
        schema: Schema | Iterable[FieldLike],
        columns: Mapping[str, Iterable] | Sequence[Iterable],
        num_rows: int | None = None,
    ) -> Batch:
        """A batch of ``schema`` from its columns: a mapping of name to values, or a list of
        columns in schema order. Checks every column's values against its field's type."""
        schema = Schema(schema)
        if isinstance(columns, Mapping):
            unknown = [k for k in columns if k not in schema]
            if unknown:
                raise ValueError(f"columns {unknown} are not in the schema {schema.names}")
            missing = [n for n in schema.names if n not in columns]
            if missing:
                raise ValueError(f"no values for columns {missing}")
            columns = [columns[n] for n in schema.names]
        else:
            columns = list(columns)
            if len(columns) != len(schema):
                raise ValueError(f"{len(columns)} columns for a schema of {len(schema)} ({schema.names})")
        raw = [to_wire_values(f, c) for f, c in zip(schema, columns)]
        return cls._checked(schema, raw, num_rows)

    @classmethod
    def from_rows(cls, schema: Schema | Iterable[FieldLike], rows: Iterable[Sequence]) -> Batch:
        """A batch of ``schema`` from rows (tuples or lists in schema order)."""
        schema = Schema(schema)
        rows = list(rows)
        for i, row in enumerate(rows):
            if len(row) != len(schema):
                raise ValueError(f"row {i} has {len(row)} values, the schema {len(schema)} ({schema.names})")
        columns = [list(c) for c in zip(*rows)] if rows else [[] for _ in schema]
        return cls.from_columns(schema, columns, len(rows))

    @classmethod
    def empty(cls, schema: Schema | Iterable[FieldLike]) -> Batch:
        """A batch of ``schema`` with no rows."""
        schema = Schema(schema)
        return cls(schema, [[] for _ in schema], 0)

    @classmethod
    def concat(cls, batches: Iterable[Batch]) -> Batch:
        """The rows of ``batches`` (all of one schema) in one batch."""
        batches = list(batches)
        if not batches:
            raise ValueError("concat needs at least one batch (for its schema)")
        schema = batches[0].schema
        for b in batches[1:]:
            if b.schema != schema:
                raise ValueError(f"concat of batches with different schemas: {schema.names} and {b.schema.names}")
        if len(batches) == 1:
            return cls(schema, list(batches[0]._raw), batches[0]._rows)
        raw = [list(chain.from_iterable(b._peek(i) for b in batches)) for i in range(len(schema))]
        return cls(schema, raw, sum(b._rows for b in batches))

    @classmethod
    def _checked(cls, schema: Schema, raw: list[list], num_rows: int | None) -> Batch:
        if num_rows is None:
            num_rows = len(raw[0]) if raw else 0
        for f, r in zip(schema, raw):
            if len(r) != num_rows:
                raise ValueError(f"column `{f.name}` has {len(r)} values, the batch {num_rows} rows")
        return cls(schema, raw, num_rows)

    # -- reading -----------------------------------------------------------------------

    @property
    def schema(self) -> Schema:
        return self._schema

    @property
    def num_rows(self) -> int:
        return self._rows

    @property
    def column_names(self) -> list[str]:
        return self._schema.names

    @property
    def columns(self) -> Mapping[str, list]:
        """The columns by name (read lazily), in schema order."""
        return _Columns(self)

    def __len__(self) -> int:
        return self._rows

    def _pos(self, key: ColumnKey) -> int:
        if isinstance(key, str):
            return self._schema.index(key)
        if isinstance(key, int) and not isinstance(key, bool):
            if not -len(self._schema) <= key < len(self._schema):
                raise IndexError(f"column {key} of a batch of {len(self._schema)} columns")
            return key % len(self._schema)
        raise TypeError(f"a column is named by a str or an int, not {type(key).__name__}")

    def _peek(self, i: int) -> list:
        """Column ``i``'s wire values for the SDK's own use (decoded afresh if the batch
        still holds buffers: the batch keeps its buffers)."""
        c = self._raw[i]
        return decode(c) if c.__class__ is WireColumn else c

    def _own(self, i: int) -> list:
        """Column ``i``'s wire values as the batch's own list, to hand to the plugin (which
        may change it in place, so from now on the list, not the buffers, is the column)."""
        c = self._raw[i]
        if c.__class__ is WireColumn:
            c = self._raw[i] = decode(c)
        return c

    def column(self, key: ColumnKey) -> list:
        """The values of a column (by name or position); dates and timestamps as objects."""
        i = self._pos(key)
        field = self._schema[i]
        if field.type not in _AS_OBJECTS:
            return self._own(i)  # the values are the wire values
        values = self._values.get(i)
        if values is None:
            # A list of its own: changing it does not change the batch's (raw) values.
            values = from_wire_values(field, self._peek(i))
            self._values[i] = values
        return values

    __getitem__ = column

    def raw(self, key: ColumnKey) -> list:
        """The wire values of a column: like :meth:`column`, but ``int`` days for ``date32``
        and ``int`` microseconds for timestamps (no conversion, the fastest way in)."""
        return self._own(self._pos(key))

    def text(self, key: ColumnKey) -> list:
        """The values of a column as text, as Arrow's cast to ``utf8`` writes them."""
        i = self._pos(key)
        field = self._schema[i]
        if field.type == "utf8":
            return self._own(i)
        return text_values(field, self._peek(i))

    def rows(self) -> Iterator[tuple]:
        """The rows as tuples, in schema order."""
        if not self._schema:
            return iter([()] * self._rows)
        return zip(*(self.column(i) for i in range(len(self._schema))))

    def to_pylist(self) -> list[dict[str, Any]]:
        """The rows as dicts (for tests and debugging; slow on large batches)."""
        names = self._schema.names
        return [dict(zip(names, row)) for row in self.rows()]

    # -- deriving ----------------------------------------------------------------------

    def replace(self, name: str, values: Iterable, type: str | None = None, nullable: bool | None = None) -> Batch:
        """A copy with column ``name``'s values replaced (and its type, if given)."""
        i = self._schema.index(name)
        old = self._schema[i]
        field = old if type is None and nullable is None else old.with_type(type or old.type, nullable)
        raw = list(self._raw)
        raw[i] = to_wire_values(field, values)
        schema = self._schema if field == old else self._schema.replace(name, field)
        return Batch._checked(schema, raw, self._rows)

    def append(self, field: FieldLike, values: Iterable) -> Batch:
        """A copy with one more column at the end."""
        field = Field.of(field)
        return Batch._checked(self._schema.append(field), self._raw + [to_wire_values(field, values)], self._rows)

    def select(self, names: Iterable[ColumnKey]) -> Batch:
        """A batch of just these columns, in this order."""
        positions = [self._pos(n) for n in names]
        return Batch(Schema(self._schema[i] for i in positions), [self._raw[i] for i in positions], self._rows)

    def rename(self, names: Mapping[str, str]) -> Batch:
        """A copy with columns renamed (old name -> new name)."""
        for old in names:
            self._schema.index(old)
        schema = Schema(f.with_name(names.get(f.name, f.name)) for f in self._schema)
        return Batch(schema, list(self._raw), self._rows)

    def filter(self, keep: Sequence[bool]) -> Batch:
        """The rows whose ``keep`` entry is true."""
        if len(keep) != self._rows:
            raise ValueError(f"filter mask of {len(keep)} entries for a batch of {self._rows} rows")
        if not any(c.__class__ is WireColumn for c in self._raw):
            raw = [list(compress(c, keep)) for c in self._raw]
            rows = len(raw[0]) if raw else sum(1 for k in keep if k)
            return Batch(self._schema, raw, rows)
        # Columns still in buffers: copy runs of kept rows.
        mask, runs = keep_runs(keep)
        rows = sum(b - a for a, b in runs)
        if rows == self._rows:
            return Batch(self._schema, list(self._raw), rows)
        raw = [filter_rows(c, mask, runs) if c.__class__ is WireColumn else list(compress(c, mask)) for c in self._raw]
        return Batch(self._schema, raw, rows)

    def take(self, indices: Sequence[int]) -> Batch:
        """The rows at ``indices``, in that order (repeats allowed)."""
        indices = list(indices)
        n = self._rows
        negative = bool(indices) and min(indices) < 0
        if negative or (indices and max(indices) >= n):
            bad = next((i for i in indices if not -n <= i < n), None)  # as a list's IndexError
            if bad is not None:
                raise IndexError(f"row {bad} of a batch of {n} rows")
        positions = None
        raw = []
        for c in self._raw:
            if c.__class__ is WireColumn:
                if positions is None:
                    positions = [i % n for i in indices] if negative else indices
                raw.append(take_rows(c, positions))
            else:
                raw.append([c[i] for i in indices])
        return Batch(self._schema, raw, len(indices))

    def slice(self, start: int, stop: int | None = None) -> Batch:
        """Rows ``start`` up to (not including) ``stop``."""
        rows = range(self._rows)[start:stop]
        begin, end = rows.start, max(rows.start, rows.stop)
        raw = [slice_rows(c, begin, end) if c.__class__ is WireColumn else c[begin:end] for c in self._raw]
        return Batch(self._schema, raw, len(rows))

    # -- to the host -------------------------------------------------------------------

    def _encode(self, output: str | None = None, declared: Schema | None = None) -> list[WireColumn]:
        """The columns as the contract carries them, for ``emit``. Columns the batch still
        holds as buffers go as they are. Errors name the output (if given), column and row;
        with ``declared``, a NULL in a column it declares NOT NULL is one."""
        where = f"output `{output}`: " if output is not None else ""
        columns = []
        for i, f in enumerate(self._schema):
            c = self._raw[i]
            nullable = declared[i].nullable if declared is not None else True
            if c.__class__ is WireColumn:
                if not nullable and 0 in c.validity:
                    raise ValueError(f"{where}column `{f.name}` is NOT NULL but row {c.validity.index(0)} is None")
                columns.append(c)
                continue
            if len(c) != self._rows:
                raise ValueError(f"{where}column `{f.name}` has {len(c)} values, the batch {self._rows} rows")
            if not nullable and None in c:
                raise ValueError(f"{where}column `{f.name}` is NOT NULL but row {c.index(None)} is None")
            case = CASE[f.type]
            narrow = NARROW.get(f.type)
            try:
                columns.append(encode(case, c, narrow))
            except (TypeError, ValueError, OverflowError) as e:
                raise _encode_error(where, f, c, case, narrow, e) from None
        return columns

    # -- misc --------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Batch):
            return NotImplemented
        if self._schema != other._schema or self._rows != other._rows:
            return False
        return all(a == b or self._peek(i) == other._peek(i) for i, (a, b) in enumerate(zip(self._raw, other._raw)))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        cols = ", ".join(f"{f.name}: {f.type}" for f in self._schema)
        return f"<Batch {self._rows} rows [{cols}]>"


def _encode_error(where: str, field: Field, values: list, case: str, narrow: str | None, e: Exception) -> Exception:
    """The error for a column whose values ``encode`` refused: the first bad row, in the
    words ``from_columns`` uses (a list changed in place after it was checked gets here)."""
    try:
        to_wire_values(field, values)
    except (TypeError, ValueError) as checked:
        return type(checked)(f"{where}{checked}")
    kind = TypeError if isinstance(e, TypeError) else ValueError
    for row, v in enumerate(values):
        try:
            encode(case, [v], narrow)
        except (TypeError, ValueError, OverflowError) as one:
            return kind(f"{where}column `{field.name}` ({field.type}): row {row} holds {_short_repr(v)}: {one}")
    return kind(f"{where}column `{field.name}` ({field.type}): {e}")


class _Columns(Mapping):
    __slots__ = ("_batch",)

    def __init__(self, batch: Batch) -> None:
        self._batch = batch

    def __getitem__(self, name: str) -> list:
        if name not in self._batch._schema:
            raise KeyError(name)
        return self._batch.column(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._batch._schema.names)

    def __len__(self) -> int:
        return len(self._batch._schema)
