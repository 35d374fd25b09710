"""Column types, fields and schemas.

A column's type is one of the names below, the same names a pipeline file or a kit file
uses (aliases such as ``"string"``, ``"int"`` or ``"date"`` are accepted and normalised):

========================  ==========================  ===================================
type                      Python value                wire value (``Batch.raw``)
========================  ==========================  ===================================
``bool``                  ``bool``                    ``bool``
``int8`` ... ``int64``    ``int``                     ``int``
``uint8`` ... ``uint64``  ``int``                     ``int``
``float32``, ``float64``  ``float``                   ``float``
``utf8``                  ``str``                     ``str``
``date32``                ``datetime.date``           days since 1970-01-01 (``int``)
``timestamp``             naive ``datetime``          microseconds since 1970-01-01
``timestamp_utc``         ``datetime`` in UTC         microseconds since 1970-01-01 UTC
========================  ==========================  ===================================

``None`` is NULL in every type.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Union, overload

__all__ = ["TYPES", "Field", "Schema", "parse_type", "FieldLike"]

#: The canonical type names, in the order of the contract's ``column-type`` enum.
TYPES = (
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float32",
    "float64",
    "utf8",
    "date32",
    "timestamp",
    "timestamp_utc",
)

_ALIASES = {
    "string": "utf8",
    "str": "utf8",
    "text": "utf8",
    "boolean": "bool",
    "int": "int64",
    "bigint": "int64",
    "float": "float32",
    "double": "float64",
    "date": "date32",
    "timestamp_us": "timestamp",
    "timestamptz": "timestamp_utc",
}

#: The case of the contract's ``column`` variant that carries each type.
CASE = {
    "bool": "boolean",
    "int8": "int",
    "int16": "int",
    "int32": "int",
    "int64": "int",
    "date32": "int",
    "timestamp": "int",
    "timestamp_utc": "int",
    "uint8": "uint",
    "uint16": "uint",
    "uint32": "uint",
    "uint64": "uint",
    "float32": "float",
    "float64": "float",
    "utf8": "text",
}

#: Inclusive value range of each integer type (dates and timestamps: what the wire holds).
INT_RANGE = {
    "int8": (-(1 << 7), (1 << 7) - 1),
    "int16": (-(1 << 15), (1 << 15) - 1),
    "int32": (-(1 << 31), (1 << 31) - 1),
    "int64": (-(1 << 63), (1 << 63) - 1),
    "date32": (-(1 << 31), (1 << 31) - 1),
    "timestamp": (-(1 << 63), (1 << 63) - 1),
    "timestamp_utc": (-(1 << 63), (1 << 63) - 1),
    "uint8": (0, (1 << 8) - 1),
    "uint16": (0, (1 << 16) - 1),
    "uint32": (0, (1 << 32) - 1),
    "uint64": (0, (1 << 64) - 1),
}

# The contract's `column-type` enum member names (as componentize-py spells them).
WIRE_NAME = {
    "bool": "BOOLEAN",
    "utf8": "TEXT",
    "date32": "DATE",
    "timestamp": "TIMESTAMP",
    "timestamp_utc": "TIMESTAMP_UTC",
    **{t: t.upper() for t in TYPES if t.startswith(("int", "uint", "float"))},
}
FROM_WIRE_NAME = {v: k for k, v in WIRE_NAME.items()}


def parse_type(name: str) -> str:
    """The canonical name of a column type (``"string"`` -> ``"utf8"``); ``ValueError`` if unknown."""
    if not isinstance(name, str):
        raise TypeError(f"a column type is a string such as \"int64\", not {type(name).__name__}")
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in CASE:
        raise ValueError(f"unknown column type `{name}`; known: {', '.join(TYPES)}")
    return key


@dataclass(frozen=True)
class Field:
    """One column of a schema: a name, a type (see :data:`TYPES`) and whether it may hold NULLs."""

    name: str
    type: str
    nullable: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise TypeError(f"a field name is a string, not {type(self.name).__name__}")
        canonical = parse_type(self.type)
        if canonical != self.type:
            object.__setattr__(self, "type", canonical)

    @classmethod
    def of(cls, value: FieldLike) -> Field:
        """A field from a ``Field`` or a tuple ``(name, type)`` / ``(name, type, nullable)``."""
        if isinstance(value, Field):
            return value
        if isinstance(value, tuple) and 2 <= len(value) <= 3:
            return cls(*value)
        raise TypeError(f"expected a Field or a (name, type[, nullable]) tuple, got {value!r}")

    def with_name(self, name: str) -> Field:
        return Field(name, self.type, self.nullable)

    def with_type(self, type: str, nullable: bool | None = None) -> Field:
        return Field(self.name, type, self.nullable if nullable is None else nullable)

    def __repr__(self) -> str:
        null = "" if self.nullable else ", nullable=False"
        return f"Field({self.name!r}, {self.type!r}{null})"


FieldLike = Union[Field, tuple]


class Schema(Sequence):
    """An ordered list of :class:`Field`, looked up by position or by name.

    ``schema[0]`` and ``schema["id"]`` are fields; ``"id" in schema`` tests a name;
    ``schema.index("id")`` is the position. Schemas compare equal to lists of the same fields.
    """

    __slots__ = ("_fields", "_index")

    def __init__(self, fields: Iterable[FieldLike] = ()) -> None:
        if isinstance(fields, Schema):
            self._fields, self._index = fields._fields, fields._index
            return
        self._fields: tuple[Field, ...] = tuple(Field.of(f) for f in fields)
        self._index: dict[str, int] = {}
        for i, f in enumerate(self._fields):
            if f.name in self._index:
                raise ValueError(f"column `{f.name}` appears twice in a schema")
            self._index[f.name] = i

    @property
    def names(self) -> list[str]:
        """The column names, in order."""
        return [f.name for f in self._fields]

    @property
    def fields(self) -> tuple[Field, ...]:
        return self._fields

    def index(self, name: str) -> int:  # type: ignore[override]
        """The position of column ``name``; ``KeyError`` if there is none."""
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"no column `{name}`; the columns are {self.names}") from None

    def get(self, name: str) -> Field | None:
        """The field named ``name``, or ``None``."""
        i = self._index.get(name)
        return None if i is None else self._fields[i]

    def replace(self, name: str, field: FieldLike) -> Schema:
        """A copy with the field ``name`` replaced (same position)."""
        fields = list(self._fields)
        fields[self.index(name)] = Field.of(field)
        return Schema(fields)

    def append(self, *fields: FieldLike) -> Schema:
        """A copy with ``fields`` added at the end."""
        return Schema(self._fields + tuple(Field.of(f) for f in fields))

    @overload
    def __getitem__(self, key: int | str) -> Field: ...
    @overload
    def __getitem__(self, key: slice) -> Schema: ...
    def __getitem__(self, key):
        if isinstance(key, str):
            return self._fields[self.index(key)]
        if isinstance(key, slice):
            return Schema(self._fields[key])
        return self._fields[key]

    def __len__(self) -> int:
        return len(self._fields)

    def __iter__(self) -> Iterator[Field]:
        return iter(self._fields)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, str):
            return item in self._index
        return item in self._fields

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Schema):
            return self._fields == other._fields
        if isinstance(other, (list, tuple)):
            try:
                return self._fields == tuple(Field.of(f) for f in other)
            except (TypeError, ValueError):
                return False
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._fields)

    def __repr__(self) -> str:
        return f"Schema({list(self._fields)!r})"
