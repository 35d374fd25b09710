"""Columns as the contract carries them: buffers in and out, lazily decoded, passed on as
they came when the plugin does not read them."""

import random
import struct
import unittest
from itertools import compress
from datetime import date, datetime, timezone

import support  # noqa: F401
from sluice_sdk import Batch, Emit, Info, Input, Output, Plugin, Schema
from sluice_sdk import _standin as wire
from sluice_sdk._columns import WireColumn, decode, encode, filter_rows, keep_runs, slice_rows, take
from sluice_sdk.testing import _WIRE, _host_check, exports_of, run


def offsets(*values):
    return struct.pack(f"<{len(values)}I", *values)


ALL_TYPES = [
    ("b", "bool"),
    ("i8", "int8"),
    ("i64", "int64"),
    ("u8", "uint8"),
    ("u64", "uint64"),
    ("f32", "float32"),
    ("f64", "float64"),
    ("s", "utf8"),
    ("d", "date32"),
    ("t", "timestamp"),
    ("tz", "timestamp_utc"),
]
ALL_VALUES = {
    "b": [True, None, False],
    "i8": [-128, None, 127],
    "i64": [-(1 << 63), None, (1 << 63) - 1],
    "u8": [0, None, 255],
    "u64": [0, None, (1 << 64) - 1],
    "f32": [1.5, None, float("inf")],
    "f64": [-0.0, None, 1e300],
    "s": ["plain", None, "naïve ß 🙂"],
    "d": [date(1, 1, 1), None, date(9999, 12, 31)],
    "t": [datetime(1970, 1, 1, 0, 0, 0, 1), None, datetime(2024, 2, 29, 23, 59, 59)],
    "tz": [datetime(1969, 12, 31, 23, 59, 59, tzinfo=timezone.utc), None, datetime(2000, 1, 1, tzinfo=timezone.utc)],
}


class EncodingTest(unittest.TestCase):
    def test_the_buffers_of_each_case(self):
        c = encode("int", [1, None, -2])
        self.assertEqual((c.case, c.validity, c.data), ("int", b"\x01\x00\x01", struct.pack("<3q", 1, 0, -2)))
        self.assertEqual(encode("uint", [(1 << 64) - 1]).data, b"\xff" * 8)
        self.assertEqual(encode("float", [0.5, 2]).data, struct.pack("<2d", 0.5, 2.0))
        self.assertEqual(encode("boolean", [True, None, False]).data, b"\x01\x00\x00")
        t = encode("text", ["ab", None, "", "é"])
        self.assertEqual((t.validity, t.data, t.offsets), (b"\x01\x00\x01\x01", "abé".encode(), offsets(0, 2, 2, 2, 4)))
        # No NULL: an empty validity, which the host reads as all valid.
        self.assertEqual(encode("text", ["x"]).validity, b"")
        self.assertEqual(encode("int", []).data, b"")

    def test_round_trips(self):
        for case, values in [
            ("int", [0, None, -1, 1 << 62]),
            ("uint", [None, 0, (1 << 64) - 1]),
            ("float", [1.25, None, float("-inf")]),
            ("boolean", [None, True, False]),
            ("text", ["ascii", None, "", "mixed ü", "🙂"]),
            ("text", [None, None]),
        ]:
            self.assertEqual(decode(encode(case, values)), values, case)

    def test_every_type_through_a_run(self):
        class Echo(Plugin):
            info = Info("echo", "0.1.0").input(Input.any("rows")).output(Output.dynamic("rows"))

            def __init__(self, config, inputs, ctx):
                self.schema = inputs["rows"]

            def output_schemas(self):
                return {"rows": self.schema}

            def push(self, input, batch, out):
                out.emit("rows", Batch.from_columns(self.schema, [list(batch[f.name]) for f in self.schema]))

        batch = Batch.from_columns(ALL_TYPES, ALL_VALUES)
        out = run(Echo, {"rows": batch}).outputs["rows"]
        self.assertEqual(out.to_pylist(), batch.to_pylist())
        self.assertEqual(out, batch)

    def test_rows_selected_in_buffer_form(self):
        c = encode("text", ["a", None, "ccc", "dd"])
        self.assertEqual(decode(take(c, [3, 0, 0])), ["dd", "a", "a"])
        self.assertEqual(take(c, [0, 2]).validity, b"", "no NULL left: no validity")
        self.assertEqual(decode(filter_rows(c, *keep_runs([False, True, True, False]))), [None, "ccc"])
        self.assertEqual(decode(slice_rows(c, 1, 3)), [None, "ccc"])
        self.assertEqual(slice_rows(c, 2, 4).offsets, offsets(0, 3, 5))
        n = encode("int", [5, None, 7])
        self.assertEqual(decode(take(n, [2, 1])), [7, None])
        self.assertEqual(decode(filter_rows(n, *keep_runs([1, 0, 1]))), [5, 7])
        self.assertEqual(decode(slice_rows(n, 1, 1)), [])
        b = encode("boolean", [True, False, None])
        self.assertEqual(decode(filter_rows(b, *keep_runs([0, 1, 1]))), [False, None])


    def test_keep_runs(self):
        self.assertEqual(keep_runs([]), (b"", []))
        self.assertEqual(keep_runs([False, False])[1], [])
        self.assertEqual(keep_runs([True, True, False, True]), (b"\x01\x01\x00\x01", [(0, 2), (3, 4)]))
        self.assertEqual(keep_runs([2, 0, "x", None, 256])[1], [(0, 1), (2, 3), (4, 5)], "truthiness, as compress")

    def test_buffer_selection_matches_list_selection(self):
        rng = random.Random(7)
        makers = {
            "int": lambda: rng.randrange(-(1 << 63), 1 << 63),
            "uint": lambda: rng.randrange(0, 1 << 64),
            "float": lambda: rng.random() * 1e6,
            "boolean": lambda: rng.random() < 0.5,
            "text": lambda: "".join(rng.choices("ab€🙂", k=rng.randrange(0, 5))),
        }
        for case, make in makers.items():
            for n in (0, 1, 7, 200):
                for nulls in (0.0, 0.3):
                    values = [None if rng.random() < nulls else make() for _ in range(n)]
                    c = encode(case, values)
                    keep = [rng.random() < 0.7 for _ in range(n)]
                    self.assertEqual(decode(filter_rows(c, *keep_runs(keep))), list(compress(values, keep)), (case, n))
                    rows = [rng.randrange(n) for _ in range(n // 2)] if n else []
                    self.assertEqual(decode(take(c, rows)), [values[i] for i in rows], (case, n))
                    a = rng.randrange(n + 1)
                    b = rng.randrange(a, n + 1)
                    self.assertEqual(decode(slice_rows(c, a, b)), values[a:b], (case, n))


def from_host(schema, columns, rows):
    """A batch as the SDK gets it from the host: every column still buffers."""
    return Batch(Schema(schema), [_WIRE.unwire(c) for c in columns], rows)


class LazinessTest(unittest.TestCase):
    schema = [("id", "int64"), ("name", "utf8"), ("day", "date32")]

    def host_batch(self):
        return _host_check("in", Schema(self.schema), wire.Batch(3, [_WIRE.column(c) for c in Batch.from_columns(
            self.schema, {"id": [1, 2, 3], "name": ["a", None, "c"], "day": [0, 1, None]})._encode()]))

    def test_unread_columns_go_back_as_they_came(self):
        b = self.host_batch()
        ids = b._raw[0]
        self.assertIsInstance(ids, WireColumn)
        out = Emit({"rows": b.schema}, 3)
        out.emit("rows", b.replace("name", ["x", "y", "z"]))
        [(_, _, columns)] = out._batches
        self.assertIs(columns[0], ids, "not decoded, not re-encoded")
        self.assertIs(columns[2], b._raw[2])
        self.assertIsInstance(b._raw[0], WireColumn, "still buffers")

    def test_reading_a_date_as_dates_keeps_its_buffers(self):
        b = self.host_batch()
        self.assertEqual(b["day"], [date(1970, 1, 1), date(1970, 1, 2), None])
        self.assertIsInstance(b._raw[2], WireColumn)
        self.assertEqual(b.raw("day"), [0, 1, None])
        self.assertIsInstance(b._raw[2], list, "raw hands out the batch's own list")

    def test_a_read_column_is_the_batchs_own_list(self):
        b = self.host_batch()
        names = b["name"]
        self.assertIs(b["name"], names)
        names[0] = "changed"  # documented: the list is the batch's
        out = Emit({"rows": b.schema}, 3)
        out.emit("rows", b)
        self.assertEqual(decode(out._batches[0][2][1]), ["changed", None, "c"])

    def test_filter_take_slice_of_unread_columns(self):
        b = self.host_batch()
        f = b.filter([True, False, True])
        self.assertIsInstance(f._raw[1], WireColumn)
        self.assertEqual(f.to_pylist(), [{"id": 1, "name": "a", "day": date(1970, 1, 1)}, {"id": 3, "name": "c", "day": None}])
        self.assertEqual(b.take([2, -3]).raw("id"), [3, 1])
        self.assertEqual(b.slice(1).raw("name"), [None, "c"])
        self.assertEqual(b.slice(5).num_rows, 0)
        with self.assertRaises(IndexError):
            b.take([3])
        self.assertEqual(Batch.concat([b, b.slice(2)]).raw("id"), [1, 2, 3, 3])
        self.assertEqual(b, self.host_batch())

    def test_text_offsets_need_not_start_at_zero(self):
        # The WIT only says value i is bytes[offsets[i]..offsets[i + 1]].
        c = _WIRE.unwire(wire.Column(b"", wire.ColumnData_Text(wire.TextData(b"xxabcdyy", offsets(2, 3, 6)))))
        b = Batch(Schema([("s", "utf8")]), [c], 2)
        self.assertEqual(b.slice(1).raw("s"), ["bcd"])
        self.assertEqual(b.filter([True, False]).raw("s"), ["a"])
        self.assertEqual(b.take([1, 0]).raw("s"), ["bcd", "a"])
        self.assertEqual(b.raw("s"), ["a", "bcd"])


class EmitCheckTest(unittest.TestCase):
    def test_values_changed_after_the_check_fail_at_emit_naming_output_column_row(self):
        schema = Schema([("n", "int8"), ("s", "utf8")])
        out = Emit({"rows": schema}, 2)
        b = Batch.from_columns(schema, [[1, 2], ["a", "b"]])
        b.raw("n")[1] = 300
        with self.assertRaisesRegex(ValueError, r"output `rows`: column `n` \(int8\): row 1 holds 300, outside -128..=127"):
            out.emit("rows", b)
        b.raw("n")[1] = "x"
        with self.assertRaisesRegex(TypeError, r"output `rows`: column `n` \(int8\) takes int values; row 1 is str 'x'"):
            out.emit("rows", b)
        b.raw("n")[1] = 2
        b.raw("s")[0] = "\ud800"
        with self.assertRaisesRegex(ValueError, r"output `rows`: column `s` \(utf8\): row 0 holds '\\ud800'"):
            out.emit("rows", b)

    def test_not_null_outputs(self):
        schema = Schema([("n", "int64", False)])
        out = Emit({"rows": schema}, 2)
        with self.assertRaisesRegex(ValueError, "output `rows`: column `n` is NOT NULL but row 1 is None"):
            out.emit("rows", Batch.from_columns([("n", "int64")], [[1, None]]))
        host = from_host([("n", "int64")], [_WIRE.column(encode("int", [None, 1]))], 2)
        with self.assertRaisesRegex(ValueError, "output `rows`: column `n` is NOT NULL but row 0 is None"):
            out.emit("rows", host)

    def test_the_glue_refuses_malformed_input(self):
        ex = exports_of(type("P", (Plugin,), {
            "info": Info("p", "0.1.0").input(Input.any("rows")).output(Output.dynamic("rows")),
            "output_schemas": lambda self: {"rows": []},
            "push": lambda self, input, batch, out: None,
        }))
        w = ex._wire()
        session = ex.open("", [wire.NamedFields("rows", w.fields(Schema([("s", "utf8")])))], wire.RunContext("r", 0, "t", []))
        for column, message in [
            (wire.Column(b"", wire.ColumnData_Int(b"\0" * 16)), "input `rows` column `s` (utf8) came as int values"),
            (wire.Column(b"", wire.ColumnData_Text(wire.TextData(b"ab", offsets(0, 1)))), "8 bytes of offsets for 2 rows"),
            (wire.Column(b"\x01", wire.ColumnData_Text(wire.TextData(b"ab", offsets(0, 1, 2)))), "validity of 1 bytes for 2 rows"),
            (wire.Column(b"", wire.ColumnData_Text(wire.TextData(b"ab", offsets(0, 1, 3)))), "text offsets run from 0 to 3 over 2 bytes"),
        ]:
            with self.assertRaises(wire.Err) as caught:
                session.push("rows", wire.Batch(2, [column]))
            self.assertIn(message, caught.exception.value.value)


if __name__ == "__main__":
    unittest.main()
