"""`date-cleanup`, in Python: messy date text to `date32`, column by column.

A port of the Rust plugin `plugins/date-cleanup`, with the same config, output, rejects and
counters. Config (JSON):

    {
      "columns": {
        "shipment_date": {"formats": ["YYYY-MM-DD", "DD/MM/YYYY", "YYYY-MM-DD HH:MM:SS"], "invalid": "null"},
        "delivery_date": {"formats": ["YYYY-MM-DD"], "invalid": "reject"}
      },
      "null_tokens": ["", "NaN", "null", "0000-00-00"],
      "sentinels": ["1000-01-01", "1900-01-01"],
      "late": [{"name": "is_late", "later": "delivery_date", "earlier": "shipment_date", "more_than_days": 5}],
      "pad": {"zip": 5}
    }

- a null token or a sentinel date becomes NULL (counted as `<column>.null_token` and
  `<column>.sentinel`);
- a value that matches no layout, or names an impossible date (2021-02-30 never rolls over
  into March), is *invalid*: with `"invalid": "null"` (the default) it becomes NULL and is
  counted as `<column>.invalid_to_null`; with `"reject"` the row goes to the rejects output
  (counted as `<column>.rejected`);
- `late` adds a boolean column `later - earlier > more_than_days` (NULL if either is NULL);
- `pad` left-pads codes that lost their leading zeros (`8638` -> `08638`) to a width.

Input date columns may be text, or `date32` already (then only sentinels apply).

Speed: each distinct text is parsed once and remembered (real date columns repeat the
same few thousand values), so cleaning a column is one dictionary look-up per row, and
the work per row is list comprehensions and built-ins, not Python function calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from sluice_sdk import ConfigError, Field, Info, Input, Output, Plugin, SchemaError, export, quote

# --- Config -------------------------------------------------------------------------------

Layout = Literal["YYYY-MM-DD", "YYYY-MM-DD HH:MM:SS", "DD/MM/YYYY", "MM/DD/YYYY"]


@dataclass
class ColumnConfig:
    formats: list[Layout] = field(default_factory=lambda: ["YYYY-MM-DD", "YYYY-MM-DD HH:MM:SS"])
    invalid: Literal["null", "reject"] = "null"


@dataclass
class LateFlag:
    name: str
    later: str
    earlier: str
    more_than_days: int


@dataclass
class Config:
    columns: dict[str, ColumnConfig]
    null_tokens: list[str] = field(default_factory=lambda: ["", "NaN", "null", "0000-00-00"])
    sentinels: list[str] = field(default_factory=lambda: ["1000-01-01", "1900-01-01"])
    late: list[LateFlag] = field(default_factory=list)
    pad: dict[str, int] = field(default_factory=dict)


# --- Date layouts -------------------------------------------------------------------------
#
# A value must match a layout as a whole (no trimming) and name a real proleptic-Gregorian
# date in years 1 to 9999. Each parser returns days since 1970-01-01, IMPOSSIBLE when the
# value has the layout's shape but names no real date or time, or None when it does not
# have the layout's shape at all (then the next layout is tried).

IMPOSSIBLE = object()
EPOCH = date(1970, 1, 1).toordinal()


def days(year: str, month: str, day: str):
    if not (year.isdigit() and month.isdigit() and day.isdigit()):
        return None  # not the shape: only ASCII digits get here (see `Cleaner.__missing__`)
    try:
        return date(int(year), int(month), int(day)).toordinal() - EPOCH
    except ValueError:  # month 13, day 0, 2021-02-29, year 0
        return IMPOSSIBLE


def iso_date(t: str):  # YYYY-MM-DD
    if len(t) != 10 or t[4] != "-" or t[7] != "-":
        return None
    return days(t[0:4], t[5:7], t[8:10])


def iso_date_time(t: str):  # YYYY-MM-DD HH:MM:SS
    if len(t) != 19 or t[4] != "-" or t[7] != "-":
        return None
    y, m, d = t[0:4], t[5:7], t[8:10]
    if not (y.isdigit() and m.isdigit() and d.isdigit()):
        return None
    if t[10] != " " or t[13] != ":" or t[16] != ":":
        return None
    hh, mi, ss = t[11:13], t[14:16], t[17:19]
    if not (hh.isdigit() and mi.isdigit() and ss.isdigit()):
        return None
    if int(hh) > 23 or int(mi) > 59 or int(ss) > 59:
        return IMPOSSIBLE
    return days(y, m, d)


def day_first(t: str):  # DD/MM/YYYY
    if len(t) != 10 or t[2] != "/" or t[5] != "/":
        return None
    return days(t[6:10], t[3:5], t[0:2])


def month_first(t: str):  # MM/DD/YYYY
    if len(t) != 10 or t[2] != "/" or t[5] != "/":
        return None
    return days(t[6:10], t[0:2], t[3:5])


LAYOUTS = {
    "YYYY-MM-DD": iso_date,
    "YYYY-MM-DD HH:MM:SS": iso_date_time,
    "DD/MM/YYYY": day_first,
    "MM/DD/YYYY": month_first,
}


# --- Cleaning one column ------------------------------------------------------------------

# What a text value turns out to be, besides a day count (an int) or NULL (None).
NULL_TOKEN = object()
SENTINEL = object()
INVALID = object()

# Forget the remembered values past this many distinct ones (bounds memory on unique texts).
MAX_REMEMBERED = 200_000


class Cleaner(dict):
    """Text -> outcome (days, None, NULL_TOKEN, SENTINEL or INVALID) for one date column,
    worked out on first sight of each distinct text (`dict.__missing__`)."""

    def __init__(self, layouts: list[str], null_tokens: list[str], sentinels: set[int]) -> None:
        super().__init__()
        self.parsers = [LAYOUTS[name] for name in layouts]
        self.null_tokens = null_tokens
        self.sentinels = sentinels
        self.reset()

    def reset(self) -> None:
        self.clear()
        self[None] = None  # NULL stays NULL, uncounted
        for token in self.null_tokens:
            self[token] = NULL_TOKEN  # null tokens win over parsing, as in the Rust plugin

    def __missing__(self, text: str):
        outcome = INVALID
        if text.isascii():  # every layout is ASCII: anything else matches none
            for parse in self.parsers:
                parsed = parse(text)
                if parsed is not None:
                    if parsed is not IMPOSSIBLE:
                        outcome = SENTINEL if parsed in self.sentinels else parsed
                    break
        if len(self) >= MAX_REMEMBERED:
            self.reset()
        self[text] = outcome
        return outcome


@dataclass
class DateColumn:
    name: str
    reject: bool  # "invalid": "reject"
    cleaner: Cleaner | None  # None: the column is date32 already


# --- The plugin ---------------------------------------------------------------------------


class DateCleanup(Plugin):
    info = (
        Info("date-cleanup", "0.1.0", "Messy date text to Date32, with sentinels, impossible dates, lateness flags and code padding")
        .input(Input.any("rows", description="a table with the configured date columns (text or date32)"))
        .output(Output.dynamic("rows", description="the input with the date columns as date32, padded codes, and lateness flags at the end"))
    )
    Config = Config

    def __init__(self, config: Config, inputs, ctx) -> None:
        schema = inputs["rows"]

        def column(name: str, what: str) -> Field:
            found = schema.get(name)
            if found is None:
                raise ConfigError(f"{what}: no input column `{name}`")
            return found

        columns = sorted(config.columns.items())  # by name, as the Rust plugin's BTreeMap
        for name, spec in columns:
            found = column(name, "columns")
            if found.type not in ("utf8", "date32"):
                raise SchemaError(f"column `{name}` is {found.type}, expected utf8 or date32")
            if not spec.formats:
                raise ConfigError(f"columns.{name}.formats is empty")

        self.sentinels = set()
        for text in config.sentinels:
            parsed = iso_date(text) if text.isascii() else None
            if parsed is None or parsed is IMPOSSIBLE:
                raise ConfigError(f"sentinel {quote(text)} is not a YYYY-MM-DD date")
            self.sentinels.add(parsed)

        self.dates = [
            DateColumn(
                name,
                spec.invalid == "reject",
                Cleaner(spec.formats, config.null_tokens, self.sentinels) if schema[name].type == "utf8" else None,
            )
            for name, spec in columns
        ]

        self.pads: list[tuple[str, int, bool]] = []
        for name, width in sorted(config.pad.items()):
            found = column(name, "pad")
            if width < 0:
                raise ConfigError(f"invalid plugin config: pad.{name}: invalid value: integer `{width}`, expected usize")
            # Text and integers print as they are; other types as Arrow writes them as text.
            as_is = found.type == "utf8" or found.type.startswith(("int", "uint"))
            self.pads.append((name, width, as_is))

        cleaned = {d.name for d in self.dates}
        self.late: list[LateFlag] = []
        for flag in config.late:
            for name in (column(flag.later, "late").name, column(flag.earlier, "late").name):
                if name not in cleaned and schema[name].type != "date32":
                    raise ConfigError(f"late `{flag.name}`: `{name}` is neither a cleaned nor a date32 column")
            if flag.name in schema:
                raise ConfigError(f"late `{flag.name}`: the input already has a column `{flag.name}`")
            self.late.append(flag)

        fields = list(schema)
        for d in self.dates:
            fields[schema.index(d.name)] = Field(d.name, "date32")
        for name, _, _ in self.pads:
            fields[schema.index(name)] = Field(name, "utf8", schema[name].nullable)
        fields += [Field(flag.name, "bool") for flag in self.late]
        self.output = fields

    def output_schemas(self):
        return {"rows": self.output}

    def push(self, input, batch, out) -> None:
        keep = [True] * batch.num_rows
        result = batch
        for d in self.dates:
            result = result.replace(d.name, self.clean(d, batch, keep, out), type="date32", nullable=True)
        for name, width, as_is in self.pads:
            # Codes as text (integers written out first), from the input column.
            codes = batch.raw(name) if as_is else batch.text(name)
            result = result.replace(name, [None if c is None else str(c).rjust(width, "0") for c in codes], type="utf8")
        for flag in self.late:
            later, earlier, limit = result.raw(flag.later), result.raw(flag.earlier), flag.more_than_days
            result = result.append(
                Field(flag.name, "bool"),
                [None if l is None or e is None else l - e > limit for l, e in zip(later, earlier)],
            )
        if not all(keep):
            result = result.filter(keep)
        out.emit("rows", result)

    def clean(self, d: DateColumn, batch, keep: list[bool], out) -> list:
        """The column's days since 1970-01-01 (None for NULL); rejects and counts as it goes."""
        values = batch.raw(d.name)
        if d.cleaner is None:  # date32 already: only sentinels apply
            hits = sum(map(self.sentinels.__contains__, values))
            out.count(f"{d.name}.sentinel", hits)
            return [None if v in self.sentinels else v for v in values] if hits else values

        outcomes = list(map(d.cleaner.__getitem__, values))
        nulls, sentinels, invalid = outcomes.count(NULL_TOKEN), outcomes.count(SENTINEL), outcomes.count(INVALID)
        if invalid and d.reject:
            for row, outcome in enumerate(outcomes):
                if outcome is INVALID and keep[row]:
                    keep[row] = False
                    out.reject(row, d.name, f"invalid date {quote(values[row])}")
        out.count(f"{d.name}.null_token", nulls)
        out.count(f"{d.name}.sentinel", sentinels)
        out.count(f"{d.name}.{'rejected' if d.reject else 'invalid_to_null'}", invalid)
        if nulls or sentinels or invalid:
            return [v if v.__class__ is int else None for v in outcomes]
        return outcomes


# componentize-py calls the class named `Columnar` in this module.
Columnar = export(DateCleanup)
