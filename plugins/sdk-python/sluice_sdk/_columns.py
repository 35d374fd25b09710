"""Columns as the contract carries them, and their conversion to and from Python lists.

The ``columnar`` interface passes a column as little-endian buffers (``list<u8>``, which
componentize-py hands over as ``bytes`` in one copy): a validity buffer (one byte per row, 1
value, 0 NULL; empty when the column has no NULLs) and the values, by case:

- ``boolean``: one byte per row, 0 or 1;
- ``int``: 8 bytes per row, two's complement (signed integers, dates as days, timestamps as
  microseconds); ``uint``: 8 bytes per row, unsigned; ``float``: 8 bytes per row, binary64;
- ``text``: the UTF-8 bytes of every value back to back, and ``rows + 1`` u32 offsets.

A :class:`WireColumn` holds one column in that form, independent of the binding classes.
:func:`decode` turns it into a list (``None`` for NULL) and :func:`encode` a list into it,
both with built-ins that run in C (``memoryview.cast().tolist()``, ``array``,
``str.join``), so no Python code runs per value except a comprehension where it is the
fastest way. :func:`take` and :func:`slice_rows` select rows without decoding at all.
"""

from __future__ import annotations

import struct
import sys
from array import array
from itertools import accumulate, compress, repeat
from operator import add, sub
from typing import Any

__all__ = ["WireColumn", "decode", "encode", "take", "keep_runs", "filter_rows", "slice_rows", "check"]

#: The struct format of a fixed-width case's values.
FORMAT = {"int": "q", "uint": "Q", "float": "d"}
#: Bytes per row of each fixed-width case.
WIDTH = {"boolean": 1, "int": 8, "uint": 8, "float": 8}
#: The value a NULL slot gets in each case.
_FILL = {"boolean": False, "int": 0, "uint": 0, "float": 0.0, "text": ""}
#: The narrower array type that checks the range of each narrower integer type.
NARROW = {"int8": "b", "int16": "h", "int32": "i", "date32": "i", "uint8": "B", "uint16": "H", "uint32": "I"}

_LITTLE = sys.byteorder == "little"
_ONES = bytes([0] + [1] * 255)  # bytes.translate table: 0 stays 0, anything else becomes 1
_U32_MAX = 0xFFFFFFFF
_U32 = struct.Struct("<I")

if array("I").itemsize != 4 or array("q").itemsize != 8:  # pragma: no cover - every CPython we know
    raise ImportError("sluice_sdk needs 4-byte array('I') and 8-byte array('q')")


class WireColumn:
    """One column in the contract's form: ``case`` (``"boolean"``, ``"int"``, ``"uint"``,
    ``"float"`` or ``"text"``), ``validity`` (empty when no NULLs), ``data`` and, for text,
    ``offsets``. All three buffers are ``bytes``."""

    __slots__ = ("case", "validity", "data", "offsets")

    def __init__(self, case: str, validity: bytes, data: bytes, offsets: bytes | None = None) -> None:
        self.case = case
        self.validity = validity
        self.data = data
        self.offsets = offsets

    def __len__(self) -> int:
        if self.case == "text":
            return max(len(self.offsets) // 4 - 1, 0)
        return len(self.data) // WIDTH[self.case]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WireColumn):
            return NotImplemented
        return (self.case, self.validity, self.data, self.offsets) == (other.case, other.validity, other.data, other.offsets)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        extra = "" if self.offsets is None else f", offsets={len(self.offsets)} bytes"
        return f"<WireColumn {self.case} {len(self)} rows, validity={len(self.validity)} bytes, data={len(self.data)} bytes{extra}>"


def check(column: WireColumn, rows: int) -> str | None:
    """What is wrong with the buffers' sizes for ``rows`` rows, or ``None``. Cheap: sizes and
    the end offsets only, not every value."""
    v = column.validity
    if v and len(v) != rows:
        return f"validity of {len(v)} bytes for {rows} rows (1 per row, or none)"
    case = column.case
    if case == "text":
        offsets = column.offsets
        if offsets is None:
            return "text without offsets"
        if rows == 0 and not offsets:
            return None
        if len(offsets) != 4 * (rows + 1):
            return f"{len(offsets)} bytes of offsets for {rows} rows (4 per row, plus 4)"
        first, last = _U32.unpack_from(offsets, 0)[0], _U32.unpack_from(offsets, len(offsets) - 4)[0]
        if not first <= last <= len(column.data):
            return f"text offsets run from {first} to {last} over {len(column.data)} bytes"
        return None
    width = WIDTH[case]
    if len(column.data) != width * rows:
        return f"{len(column.data)} bytes of {case} values for {rows} rows ({width} per row)"
    return None


def _unpack(fmt: str, data: bytes) -> list:
    if _LITTLE:
        return memoryview(data).cast(fmt).tolist()
    a = array(fmt, data)  # pragma: no cover - big-endian hosts only
    a.byteswap()  # pragma: no cover
    return a.tolist()  # pragma: no cover


def _pack(fmt: str, values: Any) -> bytes:
    a = array(fmt, values)
    if not _LITTLE:  # pragma: no cover - big-endian hosts only
        a.byteswap()
    return a.tobytes()


def offsets_of(column: WireColumn) -> list[int]:
    if not column.offsets:
        return [0]
    return _unpack("I", column.offsets)


# ---------------------------------------------------------------------------------------
# Wire -> list


def decode_values(column: WireColumn) -> list:
    """The values of every row, NULL slots included (they hold whatever the sender put there)."""
    case = column.case
    if case == "text":
        data = column.data
        offs = offsets_of(column)
        if data.isascii():
            # One decode, then str slices (ASCII: byte offsets are character offsets).
            text = data.decode("ascii")
            return [text[a:b] for a, b in zip(offs, offs[1:])]
        return [data[a:b].decode() for a, b in zip(offs, offs[1:])]
    if case == "boolean":
        return list(map(bool, column.data))
    return _unpack(FORMAT[case], column.data)


def decode(column: WireColumn) -> list:
    """The column as a list, ``None`` for NULL."""
    values = decode_values(column)
    validity = column.validity
    if validity:
        return [v if ok else None for v, ok in zip(values, validity)]
    return values


# ---------------------------------------------------------------------------------------
# list -> wire


def encode(case: str, values: list, narrow: str | None = None) -> WireColumn:
    """``values`` (a list in wire form, ``None`` for NULL) as a column of ``case``.

    ``narrow`` is an ``array`` type code that the values must also fit (``"b"`` for int8 ...),
    checked in C. Raises what ``array``, ``bytes``, ``str.join`` or ``str.encode`` raise on a
    value that does not fit (``TypeError``, ``OverflowError``, ``ValueError``,
    ``UnicodeEncodeError``); the caller finds the row.
    """
    validity = b""
    if None in values:
        validity = bytes([v is not None for v in values])
        fill = _FILL[case]
        values = [fill if v is None else v for v in values]
    if case == "text":
        joined = "".join(values)
        if joined.isascii():
            data = joined.encode("ascii")
            lengths = map(len, values)
        else:
            # One encode of it all; only the non-ASCII values are encoded again, for their
            # length in bytes.
            data = joined.encode()
            lengths = [len(v) if v.isascii() else len(v.encode()) for v in values]
        if len(data) > _U32_MAX:
            raise OverflowError(f"{len(data)} bytes of text in one batch; the contract's u32 offsets hold at most 4 GiB a batch")
        return WireColumn("text", validity, data, _pack("I", accumulate(lengths, initial=0)))
    if case == "boolean":
        # bools are 0 and 1 already; translate makes any other int that got here a 1.
        return WireColumn("boolean", validity, bytes(values).translate(_ONES))
    if narrow is not None:
        array(narrow, values)  # the range check, in C
    return WireColumn(case, validity, _pack(FORMAT[case], values))


# ---------------------------------------------------------------------------------------
# Selecting rows in wire form


def _validity(v: bytes) -> bytes:
    return v if 0 in v else b""


def take(column: WireColumn, rows: list[int]) -> WireColumn:
    """The rows at ``rows`` (in range, in any order, repeats allowed), without decoding."""
    validity = column.validity
    if validity:
        validity = _validity(bytes(map(validity.__getitem__, rows)))
    case = column.case
    data = column.data
    if case == "boolean":
        return WireColumn(case, validity, bytes(map(data.__getitem__, rows)))
    if case == "text":
        offs = offsets_of(column)
        parts = [data[offs[i] : offs[i + 1]] for i in rows]
        return WireColumn(case, validity, b"".join(parts), _pack("I", accumulate(map(len, parts), initial=0)))
    fmt = FORMAT[case]
    if _LITTLE:
        values = memoryview(data).cast(fmt)
        return WireColumn(case, validity, array(fmt, map(values.__getitem__, rows)).tobytes())
    values = _unpack(fmt, data)  # pragma: no cover
    return WireColumn(case, validity, _pack(fmt, map(values.__getitem__, rows)))  # pragma: no cover


def keep_runs(keep: Any) -> tuple[bytes, list[tuple[int, int]]]:
    """A filter mask as bytes (1 keep, 0 drop) and its runs of kept rows, ``(start, stop)``:
    a filter copies each run of every column in one piece, so dropping a few rows of a
    big batch costs a few slices, not a Python object per value."""
    try:
        mask = bytes(keep).translate(_ONES)  # a list of bools (or 0/1 ints)
    except (TypeError, ValueError):
        mask = bytes(map(bool, keep))
    # The pieces between dropped rows are the runs (and empty pieces): all of it in C,
    # several times faster inside the component than a Python loop over `bytes.find`.
    lengths = list(map(len, mask.split(b"\x00")))
    starts = list(compress(accumulate(map(add, lengths, repeat(1)), initial=0), lengths))
    lengths = compress(lengths, lengths)
    return mask, list(zip(starts, map(add, starts, lengths)))


def _join(buffer: bytes, runs: list[tuple[int, int]], width: int) -> bytes:
    # bytes slices: a copy each, but much cheaper to make than memoryview slices.
    if width == 1:
        return b"".join([buffer[a:b] for a, b in runs])
    return b"".join([buffer[a * width : b * width] for a, b in runs])


def filter_rows(column: WireColumn, mask: bytes, runs: list[tuple[int, int]]) -> WireColumn:
    """The rows ``mask`` keeps (``runs``: as :func:`keep_runs` gives them), without decoding."""
    validity = column.validity
    if validity:
        validity = _validity(_join(validity, runs, 1))
    case = column.case
    if case == "text":
        offs = offsets_of(column)
        data = column.data
        data = b"".join([data[offs[a] : offs[b]] for a, b in runs])
        lengths = map(sub, compress(offs[1:], mask), compress(offs, mask))
        return WireColumn(case, validity, data, _pack("I", accumulate(lengths, initial=0)))
    return WireColumn(case, validity, _join(column.data, runs, WIDTH[case]))


def slice_rows(column: WireColumn, start: int, stop: int) -> WireColumn:
    """Rows ``start`` up to ``stop`` (``0 <= start <= stop <= len``), without decoding."""
    validity = column.validity
    if validity:
        validity = _validity(validity[start:stop])
    case = column.case
    if case == "text":
        offs = offsets_of(column)[start : stop + 1]
        base = offs[0]
        data = column.data[base : offs[-1]]
        offsets = column.offsets[4 * start : 4 * (stop + 1)] if base == 0 else _pack("I", [o - base for o in offs])
        return WireColumn(case, validity, data, offsets)
    width = WIDTH[case]
    return WireColumn(case, validity, column.data[width * start : width * stop])
