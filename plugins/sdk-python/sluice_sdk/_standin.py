"""Look-alikes of the classes componentize-py generates for the ``columnar-plugin`` world
(``wit_world.exports.columnar``, ``wit_world.imports.types``, ``componentize_py_types.Err``),
so the SDK's glue runs natively under CPython, in tests and in ``sluice_sdk.testing``.

They have the same names, fields (in the same order) and shapes as the generated ones:
records are dataclasses, a variant is one dataclass per case with a ``value`` field, an
enum is an ``Enum``, ``option<T>`` is ``T | None``, ``list<u8>`` is ``bytes``, and a
``result`` error is raised as ``Err(value)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from types import SimpleNamespace
from typing import Any, Generic, Optional, TypeVar, Union

E = TypeVar("E")


@dataclass(frozen=True)
class Err(Generic[E], Exception):
    """The failure case of a ``result`` (componentize-py raises it from exports)."""

    value: E


# -- interface `types` ---------------------------------------------------------------------


@dataclass
class RunContext:
    run_id: str
    run_time_micros: int
    table: str
    params: list


@dataclass
class RowReject:
    row: int
    column: Optional[str]
    reason: str


@dataclass
class Counter:
    name: str
    value: int


@dataclass
class DataError:
    input: str
    row: Optional[int]
    column: Optional[str]
    message: str


@dataclass
class PluginError_Config:
    value: str


@dataclass
class PluginError_Schema:
    value: str


@dataclass
class PluginError_Data:
    value: DataError


@dataclass
class PluginError_Internal:
    value: str


PluginError = Union[PluginError_Config, PluginError_Schema, PluginError_Data, PluginError_Internal]


class LogLevel(Enum):
    TRACE = 0
    DEBUG = 1
    INFO = 2
    WARN = 3
    ERROR = 4


types = SimpleNamespace(
    RunContext=RunContext,
    RowReject=RowReject,
    Counter=Counter,
    DataError=DataError,
    PluginError_Config=PluginError_Config,
    PluginError_Schema=PluginError_Schema,
    PluginError_Data=PluginError_Data,
    PluginError_Internal=PluginError_Internal,
    LogLevel=LogLevel,
)


# -- interface `columnar` ------------------------------------------------------------------


class ColumnType(Enum):
    BOOLEAN = 0
    INT8 = 1
    INT16 = 2
    INT32 = 3
    INT64 = 4
    UINT8 = 5
    UINT16 = 6
    UINT32 = 7
    UINT64 = 8
    FLOAT32 = 9
    FLOAT64 = 10
    TEXT = 11
    DATE = 12
    TIMESTAMP = 13
    TIMESTAMP_UTC = 14


@dataclass
class Field:
    name: str
    type: ColumnType
    nullable: bool


@dataclass
class TextData:
    bytes: bytes
    offsets: bytes


@dataclass
class ColumnData_Boolean:
    value: bytes


@dataclass
class ColumnData_Int:
    value: bytes


@dataclass
class ColumnData_Uint:
    value: bytes


@dataclass
class ColumnData_Float:
    value: bytes


@dataclass
class ColumnData_Text:
    value: TextData


ColumnData = Union[ColumnData_Boolean, ColumnData_Int, ColumnData_Uint, ColumnData_Float, ColumnData_Text]


@dataclass
class Column:
    validity: bytes
    data: ColumnData


@dataclass
class Batch:
    rows: int
    columns: list


@dataclass
class InputSpec:
    name: str
    description: str
    required_columns: list
    extra_columns: bool


@dataclass
class OutputSpec:
    name: str
    description: str
    schema: Optional[list]


@dataclass
class PluginInfo:
    name: str
    version: str
    description: str
    inputs: list
    outputs: list
    stateful: bool


@dataclass
class NamedFields:
    name: str
    fields: list


@dataclass
class OutputBatch:
    output: str
    batch: Batch


@dataclass
class Emitted:
    batches: list
    rejects: list
    counters: list
    more: bool


columnar = SimpleNamespace(
    ColumnType=ColumnType,
    Field=Field,
    TextData=TextData,
    ColumnData_Boolean=ColumnData_Boolean,
    ColumnData_Int=ColumnData_Int,
    ColumnData_Uint=ColumnData_Uint,
    ColumnData_Float=ColumnData_Float,
    ColumnData_Text=ColumnData_Text,
    Column=Column,
    Batch=Batch,
    InputSpec=InputSpec,
    OutputSpec=OutputSpec,
    PluginInfo=PluginInfo,
    NamedFields=NamedFields,
    OutputBatch=OutputBatch,
    Emitted=Emitted,
)


def wire() -> Any:
    from ._adapter import Wire

    return Wire(columnar, types, Err)
