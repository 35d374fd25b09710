"""A Python plugin for tests, the twin of `tests/guests/testbed` (Rust). `{"mode": ...}` picks
what it does on `push`:

- `pass`: copy rows;
- `reject`: reject rows whose `column` equals `equals`, copy the rest;
- `data-error`: fail with a data error on the first row whose `column` equals `equals`;
- `wrong-schema`: emit batches that do not match the declared output schema (past the
  SDK's own check, so the host's check is what catches it);
- `loop`: never return; `alloc`: grow memory without bound;
- `panic`: raise an uncaught exception (Python's panic: the SDK reports it as an internal
  error carrying the traceback, not a trap);
- `trap`: abort the instance (a real trap, as a Rust panic is), after logging
  "plugin panicked: testbed was told to panic" as the Rust SDK's panic hook does;
- `log-flood`: log `count` lines, then copy rows;
- `clock`, `random`, `batch-dependent`: copy rows with an `extra` int64 column holding the
  wall clock (microseconds, `time.time_ns()`), a random number (`random.random()`), or the
  size of the batch the row arrived in;
- `huge-output`: emit each batch `count` times;
- `panic-in-open`: raise while opening the session; `trap-in-open`: abort while opening;
- `running-count`: copy rows with an `extra` column numbering them across batches (state
  the plugin does not declare);
- `spin`: burn `count` million loop iterations per batch, then copy rows (a slow table);
- `print`: `print()` a line and log a `logging` warning (both reach the host log), then copy
  rows.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections import deque
from dataclasses import dataclass
from itertools import repeat
from typing import Literal, Optional

from sluice_sdk import Batch, ConfigError, DataError, Field, Info, Input, Output, Plugin, export, log

Mode = Literal[
    "pass",
    "reject",
    "data-error",
    "wrong-schema",
    "loop",
    "alloc",
    "panic",
    "trap",
    "log-flood",
    "clock",
    "random",
    "batch-dependent",
    "huge-output",
    "panic-in-open",
    "trap-in-open",
    "spin",
    "running-count",
    "print",
]


@dataclass
class Config:
    mode: Mode
    column: Optional[str] = None
    equals: Optional[str] = None
    count: Optional[int] = None


MASK = (1 << 64) - 1


def trap(message: str) -> None:
    """Aborts the instance: the host sees a trap, with this message in the plugin's log."""
    log("error", f"plugin panicked: {message}")
    os.abort()


class Testbed(Plugin):
    info = Info("testbed", "0.1.0", "misbehaves on purpose, as configured").input(Input.any("rows")).output(Output.dynamic("rows"))
    Config = Config
    # As the Rust testbed's config (no `deny_unknown_fields`): other keys are ignored.
    ignore_unknown_config_keys = True

    def __init__(self, config: Config, inputs, ctx) -> None:
        if config.mode == "panic-in-open":
            raise RuntimeError("testbed was told to panic in open")
        if config.mode == "trap-in-open":
            trap("testbed was told to panic in open")
        self.config = config
        self.schema = list(inputs["rows"])
        if config.mode in ("clock", "random", "batch-dependent", "running-count"):
            self.schema.append(Field("extra", "int64", nullable=False))
        self.seen = 0

    def output_schemas(self):
        return {"rows": self.schema}

    def push(self, input: str, batch: Batch, out) -> None:
        mode = self.config.mode
        if mode == "pass":
            out.emit("rows", batch)
        elif mode == "reject":
            hits = set(self.matching_rows(batch))
            for row in sorted(hits):
                out.reject(row, self.config.column, "value is on the reject list")
            out.emit("rows", batch.filter([row not in hits for row in range(batch.num_rows)]))
        elif mode == "data-error":
            rows = self.matching_rows(batch)
            if rows:
                raise DataError("this value cannot be processed", row=rows[0], column=self.config.column or "", input=input)
            out.emit("rows", batch)
        elif mode == "wrong-schema":
            surprise = Batch.from_columns([Field("surprise", "int64", nullable=False)], [list(range(batch.num_rows))])
            out._emit_unchecked("rows", surprise)
        elif mode == "loop":
            x = 1
            while True:
                x = (x * 6364136223846793005 + 1) & MASK
        elif mode == "alloc":
            hoard = []
            while True:
                hoard.append(b"\x01" * (16 << 20))
        elif mode == "panic":
            raise RuntimeError("testbed was told to panic")
        elif mode == "trap":
            trap("testbed was told to panic")
        elif mode == "running-count":  # numbers rows across batches: state, though not declared
            numbers = list(range(self.seen, self.seen + batch.num_rows))
            self.seen += batch.num_rows
            out.emit("rows", batch.append(Field("extra", "int64", nullable=False), numbers))
        elif mode == "spin":
            # A loop in C (about 2 ns an iteration natively), so `count` costs about what it
            # does in the Rust testbed; a Python-level loop would be ~100 times slower.
            deque(repeat(None, (self.config.count if self.config.count is not None else 1) * 1_000_000), maxlen=0)
            out.emit("rows", batch)
        elif mode in ("clock", "random", "batch-dependent"):
            if mode == "clock":
                value = time.time_ns() // 1000
            elif mode == "random":
                value = int(random.random() * (1 << 53))
            else:
                value = batch.num_rows
            out.emit("rows", batch.append(Field("extra", "int64", nullable=False), [value] * batch.num_rows))
        elif mode == "huge-output":
            for _ in range(self.config.count if self.config.count is not None else 10_000):
                out.emit("rows", batch)
        elif mode == "print":
            print(f"printed {batch.num_rows} rows")
            logging.getLogger("testbed").warning("a warning through logging")
            out.emit("rows", batch)
        elif mode == "log-flood":
            for i in range(self.config.count if self.config.count is not None else 10_000):
                log("info", f"flood line {i}")
            out.emit("rows", batch)
        else:  # panic-in-open, trap-in-open: open already failed
            raise AssertionError(f"mode {mode} cannot reach push")

    def matching_rows(self, batch: Batch) -> list[int]:
        name = self.config.column
        if name is None:
            raise ConfigError("`column` is required")
        equals = self.config.equals or ""
        field = batch.schema.get(name)
        if field is None:
            raise ConfigError(f"no column `{name}`")
        if field.type != "utf8":
            raise ConfigError(f"column `{name}` must be utf8")
        return [row for row, value in enumerate(batch[name]) if value == equals]


# componentize-py calls the class named `Columnar` in this module.
Columnar = export(Testbed)
