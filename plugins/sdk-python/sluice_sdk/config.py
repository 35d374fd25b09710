"""The table's JSON config, read into a dataclass.

Declare the config as a dataclass (nested dataclasses, ``list[T]``, ``dict[str, T]``,
``T | None``, ``Literal["a", "b"]``, ``enum.Enum`` and the JSON scalars ``str``, ``int``,
``float``, ``bool`` are understood) and set it as the plugin's ``Config``::

    @dataclass
    class Config:
        columns: list[str]
        invalid: Literal["null", "reject"] = "null"
        width: int = 5

A field without a default is required. A key in the JSON that names no field is an error
(a misspelt key is caught), unless the plugin sets ``ignore_unknown_config_keys = True``.
A JSON key that is not a Python name maps through ``field(metadata={"json": "the-key"})``.
Every failure is a :class:`ConfigError` whose message starts ``invalid plugin config:`` and
names the key, like the Rust SDK's.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import json
import types
import typing
from typing import Any, Literal, Union

from ._text import backticked, rust_debug
from .errors import ConfigError

__all__ = ["parse_config"]

_NO_DEFAULT = dataclasses.MISSING


def parse_config(text: str | None, into: Any = None, *, ignore_unknown_keys: bool = False) -> Any:
    """Parses JSON ``text`` (empty means ``{}``) into ``into`` (a dataclass or a type such
    as ``dict[str, int]``; ``None`` keeps the parsed JSON). Raises :class:`ConfigError`."""
    if text is None or not text.strip():
        text = "{}"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"invalid plugin config: {e}") from None
    if into is None:
        return value
    return _Reader(ignore_unknown_keys).read(value, into, "")


def _describe(value: Any) -> str:
    """What a JSON value is, in serde's words (``string "x"``, ``integer `5```)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{'true' if value else 'false'}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value!r}`"
    if isinstance(value, str):
        return f"string {rust_debug(value)}"
    if isinstance(value, list):
        return "sequence"
    return "map"


class _Reader:
    def __init__(self, ignore_unknown_keys: bool) -> None:
        self.ignore_unknown_keys = ignore_unknown_keys
        self.hints: dict[type, dict[str, Any]] = {}

    def fail(self, path: str, message: str) -> ConfigError:
        where = f"{path}: " if path else ""
        return ConfigError(f"invalid plugin config: {where}{message}")

    def invalid_type(self, path: str, value: Any, expected: str) -> ConfigError:
        return self.fail(path, f"invalid type: {_describe(value)}, expected {expected}")

    def read(self, value: Any, tp: Any, path: str) -> Any:
        if tp is Any or tp is object:
            return value
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin is typing.Annotated:
            return self.read(value, args[0], path)
        if origin is Union or origin is types.UnionType:
            return self.read_union(value, args, path)
        if origin is Literal:
            if value in args and all(type(value) is type(a) for a in args if a == value):
                return value
            if all(isinstance(a, str) for a in args):
                if not isinstance(value, str):
                    raise self.invalid_type(path, value, f"one of {backticked(args)}")
                raise self.fail(path, f"unknown variant `{value}`, expected {_one_of(args)}")
            raise self.fail(path, f"invalid value: {_describe(value)}, expected one of {', '.join(map(repr, args))}")
        if origin in (list, tuple, set, frozenset, collections.abc.Sequence) or tp in (list, tuple):
            if not isinstance(value, list):
                raise self.invalid_type(path, value, "a sequence")
            if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
                if len(value) != len(args):
                    raise self.fail(path, f"invalid length {len(value)}, expected a tuple of size {len(args)}")
                return tuple(self.read(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
            item = args[0] if args else Any
            items = [self.read(v, item, f"{path}[{i}]") for i, v in enumerate(value)]
            kind = origin or tp
            return items if kind in (list, collections.abc.Sequence) else kind(items)
        if origin in (dict, collections.abc.Mapping, collections.abc.MutableMapping) or tp is dict:
            if not isinstance(value, dict):
                raise self.invalid_type(path, value, "a map")
            item = args[1] if len(args) == 2 else Any
            return {k: self.read(v, item, _join(path, k)) for k, v in value.items()}
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            return self.read_dataclass(value, tp, path)
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            for member in tp:
                if member.value == value and type(member.value) is type(value):
                    return member
            values = [m.value for m in tp]
            if all(isinstance(v, str) for v in values) and isinstance(value, str):
                raise self.fail(path, f"unknown variant `{value}`, expected {_one_of(values)}")
            raise self.invalid_type(path, value, f"one of {', '.join(map(repr, values))}")
        if tp is bool:
            if isinstance(value, bool):
                return value
            raise self.invalid_type(path, value, "a boolean")
        if tp is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            raise self.invalid_type(path, value, "an integer")
        if tp is float:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
            raise self.invalid_type(path, value, "a number")
        if tp is str:
            if isinstance(value, str):
                return value
            raise self.invalid_type(path, value, "a string")
        if tp is type(None):
            if value is None:
                return None
            raise self.invalid_type(path, value, "null")
        raise TypeError(f"config type {tp!r} (at {path or 'the top'}) is not supported by sluice_sdk.parse_config")

    def read_union(self, value: Any, args: tuple, path: str) -> Any:
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return self.read(value, options[0], path)
        errors = []
        for option in options:
            try:
                return self.read(value, option, path)
            except ConfigError as e:
                errors.append(e)
        raise errors[0]

    def read_dataclass(self, value: Any, cls: type, path: str) -> Any:
        if not isinstance(value, dict):
            raise self.invalid_type(path, value, f"struct {cls.__name__}")
        hints = self.hints.get(cls)
        if hints is None:
            hints = typing.get_type_hints(cls, include_extras=True)
            self.hints[cls] = hints
        fields = [f for f in dataclasses.fields(cls) if f.init]
        keys = {f.metadata.get("json", f.name): f for f in fields}
        if not self.ignore_unknown_keys:
            for key in value:
                if key not in keys:
                    raise self.fail(path, f"unknown field `{key}`, expected {_one_of(list(keys))}")
        kwargs = {}
        for key, f in keys.items():
            if key in value:
                kwargs[f.name] = self.read(value[key], hints.get(f.name, Any), _join(path, key))
            elif f.default is _NO_DEFAULT and f.default_factory is _NO_DEFAULT:
                if _optional(hints.get(f.name)):
                    kwargs[f.name] = None
                else:
                    raise self.fail(path, f"missing field `{key}`")
        try:
            return cls(**kwargs)
        except ConfigError:
            raise
        except (TypeError, ValueError) as e:
            # A __post_init__ that checks values: its message is the config's problem.
            raise self.fail(path, str(e)) from None


def _optional(tp: Any) -> bool:
    return typing.get_origin(tp) in (Union, types.UnionType) and type(None) in typing.get_args(tp)


def _one_of(names: Any) -> str:
    names = list(names)
    if len(names) == 1:
        return f"`{names[0]}`"
    return f"one of {backticked(names)}"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else str(key)
