"""Run a plugin natively under CPython, the way the host would, for fast unit tests.

``run`` drives the very glue the component uses (``describe``, ``open``, ``push`` per batch,
``finish`` until it says no more) through look-alikes of the generated bindings, so a
plugin's logic, its config handling, its errors and its output schema checks behave as in
the component. It does not run the sandbox: ``sluice plugin test`` is the authority.

    from sluice_sdk.testing import run
    from sluice_sdk import Batch

    rows = Batch.from_columns([("id", "int64"), ("name", "utf8")], {"id": [1, 2], "name": ["a", None]})
    result = run(MyPlugin, {"rows": rows}, config={"columns": ["name"]})
    assert result.outputs["rows"].to_pylist() == [...]

``python3 -m sluice_sdk.testing [app] [fixtures]`` runs the fixture folders of a plugin
project natively (CSV input read close to how the host reads it).
"""

from __future__ import annotations

import csv
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _host, _standin
from ._adapter import Exports
from ._columns import check, offsets_of
from .batch import Batch, text_values
from .calendar import parse_iso_date
from .errors import ConfigError, DataError, InternalError, PluginError, SchemaError
from .plugin import Plugin
from .types import Field, Schema

__all__ = ["run", "Result", "Reject", "ContractError", "read_csv", "run_fixture", "run_fixtures", "exports_of"]


@dataclass
class Reject:
    input: str
    #: Index of the row in its input (across batches).
    row: int
    column: str | None
    reason: str


@dataclass
class Result:
    """What a native run produced."""

    #: Every output's rows, all batches concatenated (an empty batch when none came).
    outputs: dict[str, Batch]
    schemas: dict[str, Schema]
    rejects: list[Reject] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    #: (level, message) of every log line, ``print`` included.
    logs: list[tuple[str, str]] = field(default_factory=list)
    #: How many times ``finish`` was called.
    finish_calls: int = 0


def exports_of(plugin: type[Plugin]) -> Exports:
    """The ``columnar`` exports of ``plugin`` over the native look-alike bindings."""
    cls = type("Columnar", (Exports,), {"plugin": plugin, "wire": _standin.wire(), "route_stdio": False})
    return cls()


def _error_from_wire(err: Any) -> PluginError:
    v = err.value
    if isinstance(v, _standin.PluginError_Config):
        return ConfigError(v.value)
    if isinstance(v, _standin.PluginError_Schema):
        return SchemaError(v.value)
    if isinstance(v, _standin.PluginError_Data):
        d = v.value
        return DataError(d.message, row=d.row, column=d.column, input=d.input)
    return InternalError(v.value)


_WIRE = _standin.wire()


def _wire_batch(batch: Batch) -> Any:
    """``batch`` as the host sends it: buffers per column (empty validity without NULLs)."""
    return _standin.Batch(batch.num_rows, [_WIRE.column(c) for c in batch._encode()])


def run(
    plugin: type[Plugin],
    inputs: dict[str, Batch],
    config: Any = None,
    *,
    batch_rows: int | None = None,
    run_id: str = "test",
    run_time_micros: int = 1_700_000_000_000_000,
    table: str = "test",
    params: dict[str, str] | None = None,
    max_finish_calls: int = 100_000,
) -> Result:
    """Runs ``plugin`` over ``inputs`` (input name -> batch), ``batch_rows`` rows a push
    (default: each input in one batch). ``config`` is JSON text or a value to encode.
    A typed error is raised as the matching :class:`PluginError` (an uncaught exception in
    the plugin as :class:`InternalError` whose message holds the traceback)."""
    exports = exports_of(plugin)
    logs: list[tuple[str, str]] = []
    old = _host._sink
    _host.set_sink(lambda level, message: logs.append((level, message)))
    try:
        text = config if isinstance(config, str) else ("" if config is None else json.dumps(config))
        named = [_standin.NamedFields(name, exports._wire().fields(b.schema)) for name, b in inputs.items()]
        context = _standin.RunContext(run_id, run_time_micros, table, list((params or {}).items()))
        try:
            session = exports.open(text, named, context)
        except _standin.Err as e:
            raise _error_from_wire(e) from None
        schemas = {n.name: Schema(Field(f.name, _from_wire(f.type), f.nullable) for f in n.fields) for n in session.output_schemas()}
        collected: dict[str, list[Batch]] = {name: [] for name in schemas}
        result = Result(outputs={}, schemas=schemas, logs=logs)

        def take(emitted: Any, input: str | None, offset: int) -> None:
            for ob in emitted.batches:
                schema = schemas.get(ob.output)
                if schema is None:
                    raise ContractError(f"emitted to undeclared output `{ob.output}`")
                collected[ob.output].append(_host_check(ob.output, schema, ob.batch))
            for r in emitted.rejects:
                result.rejects.append(Reject(input or "", offset + r.row, r.column, r.reason))
            for c in emitted.counters:
                result.counters[c.name] = result.counters.get(c.name, 0) + c.value

        order = [i.name for i in plugin.info.inputs if i.name in inputs] + [n for n in inputs if plugin.info.get_input(n) is None]
        for name in order:
            batch = inputs[name]
            step = batch_rows or max(batch.num_rows, 1)
            for start in range(0, max(batch.num_rows, 1), step):
                piece = batch.slice(start, start + step)
                if piece.num_rows == 0 and batch.num_rows > 0:
                    continue
                try:
                    take(session.push(name, _wire_batch(piece)), name, start)
                except _standin.Err as e:
                    raise _error_from_wire(e) from None
        while True:
            result.finish_calls += 1
            try:
                emitted = session.finish()
            except _standin.Err as e:
                raise _error_from_wire(e) from None
            if emitted.rejects:
                raise InternalError("finish returned rejects")
            take(emitted, None, 0)
            if not emitted.more:
                break
            if result.finish_calls >= max_finish_calls:
                raise InternalError(f"finish still says more after {max_finish_calls} calls")
        result.outputs = {
            name: Batch.concat(batches) if batches else Batch.empty(schemas[name]) for name, batches in collected.items()
        }
        return result
    finally:
        _host.set_sink(old)


class ContractError(ValueError):
    """What the host would refuse: a batch that breaks its output's declared schema."""


def _host_check(output: str, schema: Schema, batch: Any) -> Batch:
    """The host's checks of a returned batch (`columnar::to_record_batch`), and stricter
    ones on the buffers' form, which the SDK must get right: bytes, 0/1 bytes for
    booleans and validity, an empty validity when there is no NULL, offsets that rise."""
    from .types import CASE

    prefix = f"output `{output}` does not match its declared schema"
    if len(batch.columns) != len(schema):
        raise ContractError(f"{prefix}: expected {len(schema)} columns, got {len(batch.columns)}")
    columns = []
    for f, c in zip(schema, batch.columns):
        where = f"{prefix}: column `{f.name}`"
        buffers = [c.validity] + ([c.data.value.bytes, c.data.value.offsets] if isinstance(c.data, _standin.ColumnData_Text) else [c.data.value])
        if not all(type(b) is bytes for b in buffers):
            raise ContractError(f"{where}: buffers must be bytes, got {[type(b).__name__ for b in buffers]}")
        if c.validity and 0 not in c.validity:
            raise ContractError(f"{where}: a validity without a NULL (send an empty one)")
        if c.validity.strip(b"\x00\x01"):
            raise ContractError(f"{where}: validity bytes other than 0 and 1")
        wc = _WIRE.unwire(c)
        if wc.case != CASE[f.type]:
            raise ContractError(f"{where}: expected {f.type} values, got {wc.case} values")
        problem = check(wc, batch.rows)
        if problem is not None:
            raise ContractError(f"{where}: {problem}")
        if wc.case == "boolean" and wc.data.strip(b"\x00\x01"):
            raise ContractError(f"{where}: boolean bytes other than 0 and 1")
        if wc.case == "text":
            offs = offsets_of(wc)
            if any(b < a for a, b in zip(offs, offs[1:])):
                raise ContractError(f"{where}: text offsets that go back")
            if offs[0] != 0 or offs[-1] != len(wc.data):
                raise ContractError(f"{where}: text offsets from {offs[0]} to {offs[-1]} over {len(wc.data)} bytes (the SDK's own are 0 to all)")
            try:
                wc.data.decode()
            except UnicodeDecodeError as e:
                raise ContractError(f"{where}: text that is not UTF-8 ({e})") from None
        if not f.nullable and 0 in wc.validity:
            raise ContractError(f"{where} is NOT NULL but has NULLs")
        columns.append(wc)
    return Batch(schema, columns, batch.rows)


def _from_wire(column_type: Any) -> str:
    from .types import FROM_WIRE_NAME

    return FROM_WIRE_NAME[column_type.name]


# -- CSV fixtures ------------------------------------------------------------------------

_TS = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?"
)


def _parse_timestamp(text: str) -> int | None:
    m = _TS.fullmatch(text)
    if not m:
        return None
    y, mo, d, hh, mi, ss, frac, zone = m.groups()
    days = parse_iso_date(f"{y}-{mo}-{d}")
    if days is None or int(hh) > 23 or int(mi) > 59 or int(ss or 0) > 59:
        return None
    us = ((days * 24 + int(hh)) * 60 + int(mi)) * 60 + int(ss or 0)
    us = us * 1_000_000 + int((frac or "").ljust(6, "0")[:6] or 0)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "+" else 1
        digits = zone[1:].replace(":", "")
        us += sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60) * 1_000_000
    return us


def _is_int(text: str) -> bool:
    digits = text[1:] if text.startswith("-") else text
    return digits.isascii() and digits.isdigit() and -(1 << 63) <= int(text) < (1 << 63)


def _is_float(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _infer(values: list[str | None]) -> str:
    """The type the host's CSV reader infers: int64, float64, bool, date32, timestamp, else utf8."""
    cands = {"int64": True, "float64": True, "bool": True, "date32": True, "timestamp": True}
    seen = False
    for v in values:
        if v is None:
            continue
        seen = True
        if len(v) > 1 and v.startswith("0") and v.isascii() and v.isdigit():
            return "utf8"
        cands["int64"] = cands["int64"] and _is_int(v)
        cands["float64"] = cands["float64"] and (cands["int64"] or _is_float(v))
        cands["bool"] = cands["bool"] and v.lower() in ("true", "false")
        cands["date32"] = cands["date32"] and len(v) == 10 and parse_iso_date(v) is not None
        cands["timestamp"] = cands["timestamp"] and _parse_timestamp(v) is not None
        if not any(cands.values()):
            return "utf8"
    if not seen:
        return "utf8"
    return next(t for t, ok in cands.items() if ok)


def _convert(values: list[str | None], type_: str, name: str) -> list:
    def one(v: str) -> Any:
        if type_ == "utf8":
            return v
        if type_ in ("bool",):
            low = v.lower()
            if low in ("true", "1"):
                return True
            if low in ("false", "0"):
                return False
        elif type_.startswith(("int", "uint")):
            if _is_int(v):
                return int(v)
        elif type_.startswith("float"):
            if _is_float(v):
                return float(v)
        elif type_ == "date32":
            d = parse_iso_date(v)
            if d is not None:
                return d
        elif type_ in ("timestamp", "timestamp_utc"):
            t = _parse_timestamp(v)
            if t is not None:
                return t
        raise ValueError(f"column `{name}`: {v!r} is not a {type_}")

    return [None if v is None else one(v) for v in values]


def read_csv(path: str | Path, types: dict[str, str] | None = None, *, infer: bool = True) -> Batch:
    """A CSV file with a header line as a batch, empty fields as NULL. Columns in ``types``
    get that type; the others are inferred as the host does (``08638`` stays text), or are
    ``utf8`` with ``infer=False``."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise ValueError(f"{path}: no header line")
    header, body = rows[0], rows[1:]
    columns = []
    fields = []
    for i, name in enumerate(header):
        raw = [(r[i] if i < len(r) else "") or None for r in body]
        type_ = (types or {}).get(name) or (_infer(raw) if infer else "utf8")
        fields.append(Field(name, type_))
        columns.append(_convert(raw, fields[-1].type, name))
    return Batch.from_columns(fields, columns, len(body))


def _same(actual: str | None, expected: str | None) -> bool:
    if actual is None or expected is None:
        return (actual or "") == (expected or "")
    if actual == expected or actual.replace("T", " ", 1) == expected.replace("T", " ", 1):
        return True
    try:
        x, y = float(actual), float(expected)
    except ValueError:
        return False
    return x == y or abs(x - y) <= 1e-9 * max(abs(x), abs(y))


def _cells(batch: Batch, i: int) -> list[str | None]:
    # As the host prints cells (UTC timestamps as the wall time marked `Z`).
    return text_values(batch.schema[i], batch.raw(i))


def run_fixture(plugin: type[Plugin], case: str | Path, config: Any = None) -> str:
    """Runs one fixture folder (``config.json``, ``input/<input>.csv``,
    ``expected/<output>.csv``) natively; returns a summary or raises ``AssertionError``
    saying what differs."""
    case = Path(case)
    if (case / "config.json").exists():
        config = (case / "config.json").read_text()
    inputs = {}
    for spec in plugin.info.inputs:
        types = {f.name: f.type for f in spec.required}
        inputs[spec.name] = read_csv(case / "input" / f"{spec.name}.csv", types)
    result = run(plugin, inputs, config)
    compared = 0
    for name, actual in result.outputs.items():
        path = case / "expected" / f"{name}.csv"
        if not path.exists():
            continue
        expected = read_csv(path, infer=False)
        if actual.column_names != expected.column_names:
            raise AssertionError(f"output `{name}`: columns {actual.column_names}, expected {expected.column_names}")
        if actual.num_rows != expected.num_rows:
            raise AssertionError(f"output `{name}`: {actual.num_rows} rows, expected {expected.num_rows}")
        for c, column in enumerate(actual.column_names):
            a, e = _cells(actual, c), expected.raw(c)
            row = next((r for r in range(len(a)) if not _same(a[r], e[r])), None)
            if row is not None:
                raise AssertionError(f"output `{name}` row {row + 1} column `{column}`: got {a[row]!r}, expected {e[row]!r}")
        compared += 1
    if compared == 0:
        raise AssertionError(f"{case}: no expected/<output>.csv to compare")
    return f"{compared} output(s) match"


def run_fixtures(plugin: type[Plugin], fixtures: str | Path) -> bool:
    """Runs every case folder under ``fixtures``, printing PASS or FAIL for each."""
    ok = True
    for case in sorted(p for p in Path(fixtures).iterdir() if p.is_dir()):
        try:
            print(f"  PASS fixture {case.name:<20} {run_fixture(plugin, case)}")
        except (AssertionError, PluginError, ValueError) as e:
            ok = False
            print(f"  FAIL fixture {case.name:<20} {type(e).__name__}: {e}")
    return ok


def main(argv: list[str]) -> int:
    import importlib

    module_name = argv[0] if argv else "app"
    fixtures = argv[1] if len(argv) > 1 else "fixtures"
    sys.path.insert(0, ".")
    module = importlib.import_module(module_name)
    exports = getattr(module, "Columnar", None)
    plugin = getattr(exports, "plugin", None)
    if plugin is None:
        print(f"{module_name}: no `Columnar = export(...)`", file=sys.stderr)
        return 2
    print(f"{plugin.info.name} {plugin.info.version} (natively, under CPython {sys.version.split()[0]})")
    ok = run_fixtures(plugin, fixtures)
    print("result: " + ("all fixtures match" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
