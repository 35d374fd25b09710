"""Glue between the contract's ``columnar`` interface and a :class:`Plugin` class.

The adapter speaks to the contract through a :class:`Wire`: the classes componentize-py
generates (``wit_world.exports.columnar`` and friends) inside the component, or look-alikes
from ``_standin`` when the SDK runs natively under CPython (tests, ``sluice_sdk.testing``).
Nothing here imports the generated bindings.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from typing import Any

from . import _host
from ._columns import WireColumn, check
from ._text import rust_list
from .batch import Batch
from .config import parse_config
from .emit import Emit
from .errors import ConfigError, DataError, InternalError, PluginError, SchemaError
from .info import Info
from .plugin import Context, Plugin
from .types import CASE, FROM_WIRE_NAME, TYPES, WIRE_NAME, Field, Schema

__all__ = ["Wire", "Exports", "check_inputs", "resolve_outputs"]


class Wire:
    """The generated binding classes the adapter builds and reads."""

    def __init__(self, columnar: Any, types: Any, err: type) -> None:
        self.columnar = columnar
        self.types = types
        self.Err = err
        self.Column = columnar.Column
        self.TextData = columnar.TextData
        # The `column-data` case classes, by case name and back.
        self.data_class = {
            "boolean": columnar.ColumnData_Boolean,
            "int": columnar.ColumnData_Int,
            "uint": columnar.ColumnData_Uint,
            "float": columnar.ColumnData_Float,
            "text": columnar.ColumnData_Text,
        }
        self.case_of = {cls: case for case, cls in self.data_class.items()}
        self.column_type = {t: getattr(columnar.ColumnType, WIRE_NAME[t]) for t in TYPES}

    def column(self, c: WireColumn) -> Any:
        """A contract ``column`` from its buffers."""
        if c.case == "text":
            return self.Column(c.validity, self.data_class["text"](self.TextData(c.data, c.offsets)))
        return self.Column(c.validity, self.data_class[c.case](c.data))

    def unwire(self, column: Any) -> WireColumn:
        """The buffers of a contract ``column`` (``case`` is ``None`` for an unknown class)."""
        data = column.data
        case = self.case_of.get(type(data))
        validity = column.validity
        if case == "text":
            return WireColumn(case, validity, data.value.bytes, data.value.offsets)
        return WireColumn(case, validity, data.value)

    def fields(self, schema: Schema) -> list:
        f = self.columnar.Field
        return [f(x.name, self.column_type[x.type], x.nullable) for x in schema]

    def error(self, e: PluginError, input: str) -> Any:
        t = self.types
        if isinstance(e, ConfigError):
            return t.PluginError_Config(e.message)
        if isinstance(e, SchemaError):
            return t.PluginError_Schema(e.message)
        if isinstance(e, DataError):
            row = e.row if e.row is None else int(e.row)
            return t.PluginError_Data(t.DataError(e.input if e.input is not None else input, row, e.column, e.message))
        return t.PluginError_Internal(e.message)


def schema_of(fields: list) -> Schema:
    """An SDK schema from the contract's fields."""
    return Schema(Field(f.name, FROM_WIRE_NAME[f.type.name], f.nullable) for f in fields)


def check_inputs(info: Info, actual: Mapping[str, Schema]) -> None:
    """Checks the actual inputs against what ``info`` declares (as the Rust SDK does), so a
    plugin's ``__init__`` sees only valid input. Raises :class:`SchemaError`."""
    known = [i.name for i in info.inputs]
    for name in actual:
        if name not in known:
            raise SchemaError(f"unknown input `{name}`; this plugin takes {rust_list(known)}")
    for spec in info.inputs:
        schema = actual.get(spec.name)
        if schema is None:
            raise SchemaError(f"input `{spec.name}` is missing")
        for want in spec.required:
            have = schema.get(want.name)
            if have is None:
                raise SchemaError(f"input `{spec.name}` lacks required column `{want.name}` ({want.type})")
            if have.type != want.type:
                raise SchemaError(f"input `{spec.name}` column `{want.name}` is {have.type}, expected {want.type}")
        if not spec.extra_columns:
            extra = next((f for f in schema if f.name not in spec.required), None)
            if extra is not None:
                raise SchemaError(f"input `{spec.name}` has unexpected column `{extra.name}`")


def resolve_outputs(info: Info, stated: Any) -> dict[str, Schema]:
    """Every declared output's schema: fixed ones from ``info``, dynamic ones from what the
    session stated. Checked at open, so a missing or misnamed output fails before data moves."""
    if stated is None:
        stated = {}
    if not isinstance(stated, Mapping):
        try:
            stated = dict(stated)
        except (TypeError, ValueError):
            raise InternalError(
                f"output_schemas must return a dict of output name to fields, not {type(stated).__name__}"
            ) from None
    declared = [o.name for o in info.outputs]
    for name in stated:
        if name not in declared:
            raise InternalError(f"output_schemas names output `{name}`, which info does not declare ({rust_list(declared)})")
    outputs: dict[str, Schema] = {}
    for o in info.outputs:
        if o.name in stated:
            outputs[o.name] = Schema(stated[o.name])
        elif o.schema is not None:
            outputs[o.name] = o.schema
        else:
            raise InternalError(f"output_schemas lacks the schema of dynamic output `{o.name}`")
    return outputs


def describe_exception(e: BaseException, where: str) -> str:
    """An uncaught exception as the text of an internal error: one summary line, then the
    whole traceback."""
    tb = e.__traceback__
    # Start at the plugin's own code: drop the SDK's frames that called into it.
    while tb is not None and tb.tb_next is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    try:
        detail = "".join(traceback.format_exception(type(e), e, tb)).rstrip()
    except BaseException:  # e.g. MemoryError while formatting
        detail = f"{type(e).__name__}: {e!r} (traceback unavailable)"
    summary = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    return f"uncaught {summary} (in {where})\n{detail}"


class Exports:
    """What componentize-py calls for the ``columnar`` interface: ``describe`` and ``open``.

    :func:`sluice_sdk.export` makes a subclass named ``Columnar`` per plugin class.
    """

    plugin: type[Plugin]
    wire: Wire | None = None
    #: Inside the component: route print/logging to the host log on the first call.
    route_stdio: bool = False

    def _wire(self) -> Wire:
        if self.wire is None:
            raise RuntimeError("sluice_sdk: no bindings (the export is being called outside a component)")
        return self.wire

    def _enter(self) -> None:
        if self.route_stdio:
            _host.route_stdio()

    def describe(self) -> Any:
        self._enter()
        try:
            return self._describe()
        except BaseException as e:
            # `describe` cannot return an error: log why, then trap.
            _host.log("error", describe_exception(e, "describe"))
            raise

    def _describe(self) -> Any:
        w = self._wire()
        c = w.columnar
        info = self.plugin.info
        return c.PluginInfo(
            info.name,
            info.version,
            info.description,
            [c.InputSpec(i.name, i.description, w.fields(i.required), i.extra_columns) for i in info.inputs],
            [c.OutputSpec(o.name, o.description, None if o.schema is None else w.fields(o.schema)) for o in info.outputs],
            info.stateful,
        )

    def open(self, config: str, inputs: list, context: Any) -> Session:
        return self.call("open", "", self._open, config, inputs, context)

    def _open(self, config_text: str, inputs: list, context: Any) -> Session:
        cls = self.plugin
        schemas = {n.name: schema_of(n.fields) for n in inputs}
        check_inputs(cls.info, schemas)
        config = parse_config(config_text, cls.Config, ignore_unknown_keys=cls.ignore_unknown_config_keys)
        ctx = Context(context.run_id, context.run_time_micros, context.table, dict(context.params))
        plugin = cls(config, schemas, ctx)
        outputs = resolve_outputs(cls.info, plugin.output_schemas())
        return Session(self, plugin, schemas, outputs)

    def call(self, where: str, input: str, fn: Any, *args: Any) -> Any:
        """Runs ``fn``; a sluice error becomes the contract's typed error, any other
        exception an internal error carrying the traceback (also logged at error)."""
        self._enter()
        w = self._wire()
        try:
            return fn(*args)
        except PluginError as e:
            raise w.Err(w.error(e, input)) from None
        except BaseException as e:
            text = describe_exception(e, where)
            try:
                _host.log("error", text)
            except BaseException:  # pragma: no cover - a failing log must not hide the error
                pass
            raise w.Err(w.types.PluginError_Internal(text)) from None
        finally:
            _host.flush_stdio()


class Session:
    """One open session (the contract's ``session`` resource).

    No ``__slots__``: componentize-py stores its handle and finalizer as attributes on
    exported resource objects (``__componentize_py_handle``, ``finalizer``).
    """

    def __init__(self, exports: Exports, plugin: Plugin, inputs: dict[str, Schema], outputs: dict[str, Schema]) -> None:
        self._exports = exports
        self._plugin: Plugin | None = plugin
        self._inputs = inputs
        self._outputs = outputs
        self._current = ""
        self._finished = False
        w = exports._wire()
        self._named = [w.columnar.NamedFields(name, w.fields(schema)) for name, schema in outputs.items()]

    def output_schemas(self) -> list:
        return self._named

    def push(self, input: str, batch: Any) -> Any:
        return self._exports.call(f"push of input `{input}`", input, self._push, input, batch)

    def _push(self, input: str, batch: Any) -> Any:
        schema = self._inputs.get(input)
        if schema is None:
            raise SchemaError(f"unknown input `{input}`")
        if self._finished or self._plugin is None:
            raise InternalError("push after finish")
        columns = batch.columns
        if len(columns) != len(schema):
            raise InternalError(f"a batch of {len(columns)} columns for input `{input}` of {len(schema)} columns")
        w = self._exports._wire()
        rows = batch.rows
        raw = []
        for field, column in zip(schema, columns):
            c = w.unwire(column)
            if c.case != CASE[field.type]:
                raise InternalError(f"input `{input}` column `{field.name}` ({field.type}) came as {c.case} values")
            problem = check(c, rows)
            if problem is not None:
                raise InternalError(f"input `{input}` column `{field.name}`: {problem}")
            if c.validity and 0 not in c.validity:
                c.validity = b""  # "no NULLs" is always an empty validity from here on
            raw.append(c)
        self._current = input
        out = Emit(self._outputs, rows)
        # The columns stay buffers until the plugin reads them (see `Batch`).
        self._plugin.push(input, Batch(schema, raw, rows), out)
        return self._emitted(out, False)

    def finish(self) -> Any:
        return self._exports.call("finish", self._current, self._finish)

    def _finish(self) -> Any:
        out = Emit(self._outputs, None)
        plugin = self._plugin
        if plugin is None:
            return self._emitted(out, False)
        if not self._finished:
            self._finished = True
            plugin.finish(out)
        more = bool(plugin.drain(out))
        emitted = self._emitted(out, more)
        if not more:
            # componentize-py never frees an exported resource the host drops, so let go of
            # the plugin (and whatever state it holds) once the session is done.
            self._plugin = None
        return emitted

    def _emitted(self, out: Emit, more: bool) -> Any:
        w = self._exports._wire()
        c = w.columnar
        t = w.types
        column = w.column
        batches = [c.OutputBatch(name, c.Batch(b.num_rows, [column(x) for x in wire])) for name, b, wire in out._batches]
        rejects = [t.RowReject(row, column, reason) for row, column, reason in out._rejects]
        counters = [t.Counter(name, value) for name, value in out._counters.items()]
        return c.Emitted(batches, rejects, counters, more)
