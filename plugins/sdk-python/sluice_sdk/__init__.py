"""sluice_sdk: write a Sluice table plugin in Python.

A plugin is a subclass of :class:`Plugin`. The SDK turns it into the ``columnar``
interface of the ``sluice:plugin`` WIT contract (world ``columnar-plugin``), which
componentize-py builds into a WebAssembly component. The host converts Arrow batches to
typed columns and back, so a plugin sees each column as a plain Python list. The SDK
reads the JSON config into your ``Config`` dataclass, checks the declared input columns
before your ``__init__`` runs, checks what you emit against the declared outputs, and maps
your errors to the contract's typed errors (an uncaught exception becomes an internal
error carrying its traceback)::

    from dataclasses import dataclass
    from sluice_sdk import Plugin, Info, Input, Output, ConfigError, export

    @dataclass
    class Config:
        column: str = "name"

    class Upper(Plugin):
        info = (Info("upper", "0.1.0", "Upper-cases one text column")
                .input(Input.any("rows"))
                .output(Output.dynamic("rows")))
        Config = Config

        def __init__(self, config, inputs, ctx):
            self.schema = inputs["rows"]
            if self.schema.get(config.column) is None:
                raise ConfigError(f"column: no input column `{config.column}`")
            self.column = config.column

        def output_schemas(self):
            return {"rows": self.schema}

        def push(self, input, batch, out):
            upper = [v.upper() if v is not None else None for v in batch[self.column]]
            out.emit("rows", batch.replace(self.column, upper))

    Columnar = export(Upper)   # componentize-py calls the class named `Columnar`

Build (see the SDK's README)::

    componentize-py -d wit -w columnar-plugin componentize app -p . -p <dir holding sluice_sdk> -o plugin.wasm

The contract version is the version of the WIT package the component is built against;
the host reads it from the component's export names, so the SDK carries no copy of it.
"""

from __future__ import annotations

import sys
from typing import Any

from . import _host
from ._adapter import Exports, Wire
from ._text import rust_debug as quote
from .batch import Batch
from .config import parse_config
from .emit import Emit
from .errors import ConfigError, DataError, InternalError, PluginError, SchemaError
from .info import Info, Input, Output
from .plugin import Context, Plugin
from .types import TYPES, Field, Schema, parse_type

__all__ = [
    "Batch",
    "ConfigError",
    "Context",
    "DataError",
    "Emit",
    "Field",
    "Info",
    "Input",
    "InternalError",
    "Output",
    "Plugin",
    "PluginError",
    "Schema",
    "SchemaError",
    "TYPES",
    "export",
    "log",
    "parse_config",
    "parse_type",
    "quote",
]

log = _host.log


def export(plugin: type[Plugin]) -> type:
    """The class componentize-py calls for the contract's ``columnar`` interface, made for
    ``plugin``. Bind it to the name ``Columnar`` in the app module::

        Columnar = export(MyPlugin)

    componentize-py imports the app module when it builds the component, so mistakes in
    ``info`` (a bad name or version, a repeated output, the reserved ``rejects`` output)
    fail the build here, not the first run.
    """
    if not (isinstance(plugin, type) and issubclass(plugin, Plugin)):
        raise TypeError(f"export() takes a Plugin subclass, got {plugin!r}")
    info = getattr(plugin, "info", None)
    if not isinstance(info, Info):
        raise TypeError(f"{plugin.__name__}.info must be an Info(...), got {info!r}")
    problems = info.problems()
    if problems:
        raise ValueError(f"{plugin.__name__}.info: " + "; ".join(problems))
    if plugin.push is Plugin.push:
        raise TypeError(f"{plugin.__name__} must define push(self, input, batch, out)")
    _check_config_type(plugin)

    bindings = _component_bindings()
    attrs: dict[str, Any] = {"plugin": plugin, "__module__": plugin.__module__, "__doc__": f"The exports of {plugin.__name__}."}
    if bindings is not None:
        wire, host, types = bindings
        attrs.update(wire=wire, route_stdio=True)
        levels = {level: getattr(types.LogLevel, level.upper()) for level in _host.LEVELS}
        _host.set_sink(lambda level, message: host.log(levels[level], message))
        _keep_sources(plugin)
    return type("Columnar", (Exports,), attrs)


def _component_bindings() -> tuple[Wire, Any, Any] | None:
    """The generated bindings, when running inside a componentize-py build or component."""
    try:
        import componentize_py_runtime  # noqa: F401  (built into the component only)
    except ImportError:
        return None
    from componentize_py_types import Err
    from wit_world.exports import columnar
    from wit_world.imports import host, types

    return Wire(columnar, types, Err), host, types


def _check_config_type(plugin: type[Plugin]) -> None:
    import dataclasses
    import typing

    config = plugin.Config
    if config is None:
        return
    if dataclasses.is_dataclass(config) and isinstance(config, type):
        typing.get_type_hints(config)  # unresolvable annotations fail the build, not the run


def _keep_sources(plugin: type) -> None:
    """Puts the plugin's and the SDK's source lines in ``linecache`` at build time, so the
    tracebacks in error messages show code lines at run time (the sandbox has no files)."""
    import linecache
    import os

    files = set()
    module = sys.modules.get(plugin.__module__)
    if module is not None and getattr(module, "__file__", None):
        files.add(module.__file__)
    here = os.path.dirname(__file__)
    try:
        files.update(os.path.join(here, f) for f in os.listdir(here) if f.endswith(".py"))
    except OSError:
        pass
    for path in files:
        try:
            lines = linecache.getlines(path)
        except Exception:
            continue
        if lines:
            linecache.cache[path] = (sum(map(len, lines)), None, lines, path)
