"""A minimal Python host for `columnar-plugin` components, on wasmtime-py (``pip install
wasmtime``): it runs a built Python plugin end to end, the way the Sluice host does
(describe, open, push, finish), with an empty WASI context and `sluice:plugin/host.log`.

For the SDK's own tests (``test_component.py``) and for poking at a component by hand:

    python3 plugins/sdk-python/tests/component_host.py target/date_cleanup_py.wasm

It is not the Sluice host: no Arrow, no limits beyond optional fuel, no frozen clock.
"""

from __future__ import annotations

import struct
import sys
from types import SimpleNamespace
from typing import Any

import wasmtime
from wasmtime import component as cm

PACKAGE = "sluice:plugin"
VERSION = "0.1.0"

# The SDK's type names -> the contract's `column-type` enum and `column` case.
WIT_TYPE = {
    "bool": "boolean",
    "utf8": "text",
    "date32": "date",
    "timestamp": "timestamp",
    "timestamp_utc": "timestamp-utc",
}
CASE = {"boolean": "boolean", "text": "text", "float32": "float", "float64": "float"}
# The struct format of the 8-byte cases.
FORMAT = {"int": "q", "uint": "Q", "float": "d"}


def wit_type(t: str) -> str:
    return WIT_TYPE.get(t, t)


def case_of(t: str) -> str:
    wt = wit_type(t)
    if wt in CASE:
        return CASE[wt]
    if wt.startswith("uint"):
        return "uint"
    return "int"


def column(t: str, values: list) -> SimpleNamespace:
    """A list of Python values (``None`` for NULL) as a contract ``column``: the buffers,
    written here independently of the SDK so that the two check each other."""
    case = case_of(t)
    rows = len(values)
    validity = bytes(v is not None for v in values) if None in values else b""
    if case == "text":
        parts = [b"" if v is None else v.encode() for v in values]
        ends = [0]
        for p in parts:
            ends.append(ends[-1] + len(p))
        data = record(bytes=b"".join(parts), offsets=struct.pack(f"<{rows + 1}I", *ends))
    elif case == "boolean":
        data = bytes(bool(v) for v in values)
    else:
        data = struct.pack(f"<{rows}{FORMAT[case]}", *(0 if v is None else v for v in values))
    return record(validity=validity, data=cm.Variant(case, data))


def values_of(col: Any, rows: int) -> list:
    """A contract ``column`` (as wasmtime-py returns it) as a list, ``None`` for NULL;
    checks the buffers' sizes and forms as the Sluice host does."""
    validity = col.validity
    assert isinstance(validity, bytes) and len(validity) in (0, rows), f"validity of {len(validity)} bytes for {rows} rows"
    assert not validity or 0 in validity, "a validity without a NULL (it must be empty)"
    case, data = col.data.tag, col.data.payload
    if case == "text":
        raw, offs = getattr(data, "bytes"), data.offsets
        assert len(offs) == 4 * (rows + 1), f"{len(offs)} bytes of offsets for {rows} rows"
        ends = struct.unpack(f"<{rows + 1}I", offs)
        assert ends[0] == 0 and ends[-1] == len(raw)
        values = [raw[a:b].decode() for a, b in zip(ends, ends[1:])]
    elif case == "boolean":
        assert len(data) == rows and not data.strip(b"\x00\x01"), "booleans are one byte, 0 or 1"
        values = [b == 1 for b in data]
    else:
        assert len(data) == 8 * rows, f"{len(data)} bytes of {case} for {rows} rows"
        values = list(struct.unpack(f"<{rows}{FORMAT[case]}", data))
    if validity:
        values = [v if ok else None for v, ok in zip(values, validity)]
    return values


def record(**fields: Any) -> SimpleNamespace:
    """A record value; WIT field names may have dashes, so set them with setattr."""
    ns = SimpleNamespace()
    for k, v in fields.items():
        setattr(ns, k.replace("_", "-"), v)
    return ns


def get(rec: Any, name: str) -> Any:
    return getattr(rec, name)


class PluginError(Exception):
    def __init__(self, kind: str, payload: Any) -> None:
        self.kind = kind
        self.payload = payload
        if kind == "data":
            text = f"data error in input `{get(payload, 'input')}` row {get(payload, 'row')} column {get(payload, 'column')}: {get(payload, 'message')}"
        else:
            text = f"{kind}: {payload}"
        super().__init__(text)


class Trap(Exception):
    pass


class Host:
    """A compiled component; :meth:`instance` makes a fresh instance (one per session, as
    the Sluice host does, so a trap in one cannot leak into the next)."""

    def __init__(self, wasm: str, fuel: bool = False) -> None:
        config = wasmtime.Config()
        config.consume_fuel = fuel
        self.engine = wasmtime.Engine(config)
        self.component = cm.Component.from_file(self.engine, wasm)
        self.wasm = wasm

    def instance(self, fuel: int | None = None, memory_bytes: int | None = None) -> Instance:
        return Instance(self, fuel, memory_bytes)


class Instance:
    def __init__(self, host: Host, fuel: int | None, memory_bytes: int | None) -> None:
        self.logs: list[tuple[str, str]] = []
        self.linker = cm.Linker(host.engine)
        self.linker.add_wasip2()
        with self.linker.root() as root:
            with root.add_instance(f"{PACKAGE}/host@{VERSION}") as inst:
                inst.add_func("log", self._log)
        self.store = wasmtime.Store(host.engine)
        self.store.set_wasi(wasmtime.WasiConfig())
        if fuel is not None:
            self.store.set_fuel(fuel)
        if memory_bytes is not None:
            self.store.set_limits(memory_size=memory_bytes)
        self.instance = self.linker.instantiate(self.store, host.component)
        iface = self.instance.get_export_index(self.store, f"{PACKAGE}/columnar@{VERSION}")
        if iface is None:
            raise RuntimeError(f"{host.wasm} does not export {PACKAGE}/columnar@{VERSION}")
        self.funcs = {}
        for name in ("describe", "open", "[method]session.output-schemas", "[method]session.push", "[method]session.finish"):
            index = self.instance.get_export_index(self.store, name, iface)
            self.funcs[name] = self.instance.get_func(self.store, index)

    def _log(self, store: Any, level: str, message: str) -> None:
        self.logs.append((level, message))

    def call(self, name: str, *args: Any) -> Any:
        func = self.funcs[name]
        try:
            result = func(self.store, *args)
        except wasmtime.WasmtimeError as e:
            raise Trap(str(e)) from None
        except wasmtime.Trap as e:
            raise Trap(str(e)) from None
        try:
            func.post_return(self.store)
        except Exception:
            pass
        return result

    @staticmethod
    def _check(result: Any) -> Any:
        if isinstance(result, cm.Variant):
            raise PluginError(result.tag, result.payload)
        return result

    def describe(self) -> Any:
        return self.call("describe")

    def open(self, config: str, inputs: dict[str, list[tuple[str, str, bool]]], run_time_micros: int = 1_700_000_000_000_000) -> Any:
        named = [
            record(name=name, fields=[record(name=n, type=wit_type(t), nullable=nl) for n, t, nl in fields])
            for name, fields in inputs.items()
        ]
        ctx = record(run_id="run-1", run_time_micros=run_time_micros, table="t", params=[("k", "v")])
        return self._check(self.call("open", config, named, ctx))

    def output_schemas(self, session: Any) -> dict[str, list[tuple[str, str, bool]]]:
        out = {}
        for n in self.call("[method]session.output-schemas", session):
            out[n.name] = [(f.name, getattr(f, "type"), f.nullable) for f in n.fields]
        return out

    def push(self, session: Any, input: str, fields: list[tuple[str, str, bool]], columns: list[list]) -> Any:
        rows = len(columns[0]) if columns else 0
        batch = record(rows=rows, columns=[column(t, list(c)) for (_, t, _), c in zip(fields, columns)])
        return self._check(self.call("[method]session.push", session, input, batch))

    def finish(self, session: Any) -> Any:
        return self._check(self.call("[method]session.finish", session))


def emitted_columns(emitted: Any) -> list[tuple[str, int, list[list]]]:
    """(output, rows, columns as lists) of every batch in an `emitted`."""
    return [(b.output, b.batch.rows, [values_of(c, b.batch.rows) for c in b.batch.columns]) for b in emitted.batches]


def main(argv: list[str]) -> int:
    host = Host(argv[0]).instance()
    info = host.describe()
    print(f"{info.name} {info.version}: {info.description}")
    for i in info.inputs:
        print(f"  input  {i.name}: {[(f.name, getattr(f, 'type')) for f in getattr(i, 'required-columns')]}")
    for o in info.outputs:
        print(f"  output {o.name}: {o.schema}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
