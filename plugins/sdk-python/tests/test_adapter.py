"""The glue the component runs, driven natively through look-alikes of the bindings."""

import unittest
from dataclasses import dataclass

import support  # noqa: F401
from sluice_sdk import (
    Batch,
    ConfigError,
    DataError,
    Field,
    Info,
    Input,
    InternalError,
    Output,
    Plugin,
    SchemaError,
    export,
    log,
)
from sluice_sdk import _standin as wire
from sluice_sdk.testing import exports_of, run

ROWS = Batch.from_columns([("id", "int64"), ("name", "utf8")], {"id": [1, 2, 3], "name": ["a", None, "c"]})


@dataclass
class EchoConfig:
    fail: str = ""


class Echo(Plugin):
    """Copies rows; `fail` picks a way to go wrong."""

    info = (
        Info("echo", "1.2.3", "copies rows")
        .input(Input.columns("rows", [("id", "int64")]))
        .output(Output.dynamic("rows"))
        .output(Output.fixed("stats", [("rows", "uint64", False)]))
    )
    Config = EchoConfig

    def __init__(self, config, inputs, ctx):
        self.fail = config.fail
        self.schema = inputs["rows"]
        self.seen = 0
        self.ctx = ctx
        if self.fail == "open":
            raise ConfigError("bad open")
        if self.fail == "open-bug":
            {}["missing"]

    def output_schemas(self):
        if self.fail == "no-schema":
            return {}
        if self.fail == "extra-schema":
            return {"rows": self.schema, "nope": []}
        return {"rows": self.schema}

    def push(self, input, batch, out):
        self.seen += batch.num_rows
        if self.fail == "data":
            raise DataError("bad value", row=1, column="name")
        if self.fail == "bug":
            raise ZeroDivisionError("oops")
        if self.fail == "undeclared":
            out.emit("other", batch)
        if self.fail == "wrong-schema":
            out.emit("rows", batch.select(["name"]))
        if self.fail == "reject-range":
            out.reject(99, None, "no such row")
        log("debug", f"run {self.ctx.run_id}")
        names = batch["name"]
        for row, name in enumerate(names):
            if name is None:
                out.reject(row, "name", "missing name")
        out.count("names.missing", names.count(None))
        out.emit("rows", batch.filter([n is not None for n in names]))

    def finish(self, out):
        if self.fail == "reject-in-finish":
            out.reject(0, None, "too late")
        self.left = 3

    def drain(self, out):
        out.emit("stats", {"rows": [self.seen]})
        self.left -= 1
        return self.left > 0


class AdapterTest(unittest.TestCase):
    def test_describe(self):
        info = exports_of(Echo).describe()
        self.assertEqual((info.name, info.version, info.stateful), ("echo", "1.2.3", False))
        self.assertEqual(info.inputs[0].required_columns, [wire.Field("id", wire.ColumnType.INT64, True)])
        self.assertIsNone(info.outputs[0].schema)
        self.assertEqual(info.outputs[1].schema, [wire.Field("rows", wire.ColumnType.UINT64, False)])

    def test_a_run(self):
        r = run(Echo, {"rows": ROWS}, batch_rows=2)
        self.assertEqual(r.outputs["rows"]["name"], ["a", "c"])
        self.assertEqual(r.outputs["stats"]["rows"], [3, 3, 3])  # drained in three pieces
        self.assertEqual(r.finish_calls, 3)
        self.assertEqual([(x.row, x.column, x.reason) for x in r.rejects], [(1, "name", "missing name")])
        self.assertEqual(r.counters, {"names.missing": 1})
        self.assertEqual(r.schemas["stats"], [("rows", "uint64", False)])
        self.assertIn(("debug", "run test"), r.logs)

    def test_inputs_are_checked_before_open(self):
        cases = [
            ({"other": ROWS}, "unknown input `other`; this plugin takes [\"rows\"]"),
            ({}, "input `rows` is missing"),
            ({"rows": ROWS.select(["name"])}, "input `rows` lacks required column `id` (int64)"),
            ({"rows": ROWS.replace("id", ["1", "2", "3"], type="utf8")}, "input `rows` column `id` is utf8, expected int64"),
        ]
        for inputs, message in cases:
            with self.assertRaises(SchemaError) as caught:
                run(Echo, inputs)
            self.assertEqual(str(caught.exception), message)

    def test_exact_inputs_refuse_extra_columns(self):
        class Exact(Echo):
            info = Echo.info
            info = Info("exact", "0.1.0").input(Input.columns("rows", [("id", "int64")], extra_columns=False)).output(Output.dynamic("rows"))

        with self.assertRaisesRegex(SchemaError, "input `rows` has unexpected column `name`"):
            run(Exact, {"rows": ROWS})

    def test_errors_map_to_typed_errors(self):
        with self.assertRaisesRegex(ConfigError, "^bad open$"):
            run(Echo, {"rows": ROWS}, {"fail": "open"})
        with self.assertRaisesRegex(ConfigError, "unknown field `fial`"):
            run(Echo, {"rows": ROWS}, {"fial": "x"})
        with self.assertRaises(DataError) as caught:
            run(Echo, {"rows": ROWS}, {"fail": "data"})
        self.assertEqual((caught.exception.input, caught.exception.row, caught.exception.column), ("rows", 1, "name"))

    def test_an_uncaught_exception_is_an_internal_error_with_its_traceback(self):
        with self.assertRaises(InternalError) as caught:
            run(Echo, {"rows": ROWS}, {"fail": "bug"})
        text = str(caught.exception)
        self.assertTrue(text.startswith("uncaught ZeroDivisionError: oops (in push of input `rows`)\nTraceback"), text)
        self.assertIn('raise ZeroDivisionError("oops")', text)
        self.assertNotIn("sluice_sdk", text, "the SDK's own frames are left out")
        with self.assertRaisesRegex(InternalError, "KeyError: 'missing'"):
            run(Echo, {"rows": ROWS}, {"fail": "open-bug"})

    def test_outputs_are_checked(self):
        for fail, message in [
            ("no-schema", "output_schemas lacks the schema of dynamic output `rows`"),
            ("extra-schema", "output_schemas names output `nope`, which info does not declare ([\"rows\", \"stats\"])"),
            ("undeclared", "emit to output `other`, which this plugin does not declare"),
            ("wrong-schema", "output `rows` does not match its declared schema: expected 2 columns [\"id\", \"name\"], got 1 [\"name\"]"),
            ("reject-range", "reject of row 99 in a batch of 3 rows"),
            ("reject-in-finish", "reject() is for rows of a pushed batch"),
        ]:
            with self.assertRaises(InternalError, msg=fail) as caught:
                run(Echo, {"rows": ROWS}, {"fail": fail})
            self.assertIn(message, str(caught.exception), fail)

    def test_session_lifecycle(self):
        ex = exports_of(Echo)
        w = ex._wire()
        session = ex.open("", [wire.NamedFields("rows", w.fields(ROWS.schema))], wire.RunContext("r", 0, "t", []))
        ids = wire.Column(b"", wire.ColumnData_Int((1).to_bytes(8, "little") + (2).to_bytes(8, "little") + (3).to_bytes(8, "little")))
        names = wire.Column(b"", wire.ColumnData_Text(wire.TextData(b"abc", bytes([0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]))))
        batch = wire.Batch(3, [ids, names])
        with self.assertRaises(wire.Err) as caught:
            session.push("nope", batch)
        self.assertEqual(caught.exception.value, wire.PluginError_Schema("unknown input `nope`"))
        self.assertEqual(len(session.push("rows", batch).batches), 1)
        while session.finish().more:
            pass
        self.assertEqual(session.finish().more, False)  # once more after the end: nothing
        with self.assertRaises(wire.Err) as caught:
            session.push("rows", batch)
        self.assertEqual(caught.exception.value, wire.PluginError_Internal("push after finish"))

    def test_export_refuses_what_the_kit_would(self):
        class Bad(Plugin):
            info = Info("two words", "1.0", "").input(Input.any("rows")).output(Output.dynamic("rejects"))

            def push(self, input, batch, out):
                pass

        with self.assertRaises(ValueError) as caught:
            export(Bad)
        message = str(caught.exception)
        for part in ["name \"two words\" must be one non-empty word", "version \"1.0\" is not MAJOR.MINOR.PATCH", "output `rejects` is reserved"]:
            self.assertIn(part, message)

        class NoPush(Plugin):
            info = Info("x", "1.0.0").output(Output.dynamic("rows"))

        with self.assertRaisesRegex(TypeError, "must define push"):
            export(NoPush)
        self.assertEqual(export(Echo).__name__, "Columnar")


if __name__ == "__main__":
    unittest.main()
