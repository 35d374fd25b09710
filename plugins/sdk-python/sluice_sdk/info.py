"""What a plugin is, takes and produces (the contract's ``describe``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from ._text import rust_debug
from .types import FieldLike, Schema

__all__ = ["Info", "Input", "Output"]


@dataclass(frozen=True)
class Input:
    """A named input: the columns it must have, and whether others may come along."""

    name: str
    required: Schema = Schema()
    extra_columns: bool = True
    description: str = ""

    @classmethod
    def any(cls, name: str, *, description: str = "") -> Input:
        """An input that takes any columns."""
        return cls(name, Schema(), True, description)

    @classmethod
    def columns(
        cls, name: str, fields: Iterable[FieldLike], *, extra_columns: bool = True, description: str = ""
    ) -> Input:
        """An input that must have these columns, with these types. The SDK checks them
        before the plugin opens. With ``extra_columns=False`` no other column is allowed."""
        return cls(name, Schema(fields), extra_columns, description)

    def describe(self, description: str) -> Input:
        return dataclasses.replace(self, description=description)


@dataclass(frozen=True)
class Output:
    """A named output, with its schema when it depends on neither the input nor the config."""

    name: str
    schema: Schema | None = None
    description: str = ""

    @classmethod
    def fixed(cls, name: str, fields: Iterable[FieldLike], *, description: str = "") -> Output:
        """An output whose schema is always ``fields``."""
        return cls(name, Schema(fields), description)

    @classmethod
    def dynamic(cls, name: str, *, description: str = "") -> Output:
        """An output whose schema the plugin states per session, in ``output_schemas``."""
        return cls(name, None, description)

    def describe(self, description: str) -> Output:
        return dataclasses.replace(self, description=description)


@dataclass(frozen=True)
class Info:
    """What a plugin is: ``Info(name, version, description).input(...).output(...)``.

    ``stateful=True`` says output depends on rows of earlier batches (aggregation, join,
    sort). Inputs are pushed one after another in the order they are declared.
    """

    name: str
    version: str
    description: str = ""
    inputs: tuple[Input, ...] = ()
    outputs: tuple[Output, ...] = ()
    stateful: bool = False

    def input(self, input: Input) -> Info:
        """A copy with one more input."""
        return dataclasses.replace(self, inputs=self.inputs + (input,))

    def output(self, output: Output) -> Info:
        """A copy with one more output."""
        return dataclasses.replace(self, outputs=self.outputs + (output,))

    def with_stateful(self, stateful: bool = True) -> Info:
        return dataclasses.replace(self, stateful=stateful)

    def get_input(self, name: str) -> Input | None:
        return next((i for i in self.inputs if i.name == name), None)

    def get_output(self, name: str) -> Output | None:
        return next((o for o in self.outputs if o.name == name), None)

    def problems(self) -> list[str]:
        """What the conformance kit's ``describe`` check would refuse (empty when fine)."""
        found = []
        if not self.name.strip() or any(c.isspace() for c in self.name):
            found.append(f"name {rust_debug(self.name)} must be one non-empty word")
        parts = self.version.split(".")[:3]
        if sum(1 for p in parts if p[:1].isdigit()) < 3:
            found.append(f"version {rust_debug(self.version)} is not MAJOR.MINOR.PATCH")
        for kind, names in (("input", [i.name for i in self.inputs]), ("output", [o.name for o in self.outputs])):
            for i, name in enumerate(names):
                if not name or name in names[:i]:
                    found.append(f"{kind} name {rust_debug(name)} is empty or repeated")
        if any(o.name == "rejects" for o in self.outputs):
            found.append("output `rejects` is reserved for the host")
        return found
