import unittest
from datetime import date, datetime, timezone

import support  # noqa: F401  (puts the SDK on the path)
from sluice_sdk import Batch, Field, Schema, parse_type
from sluice_sdk.batch import _ryu, text_values


class TypesTest(unittest.TestCase):
    def test_names_and_aliases(self):
        self.assertEqual(parse_type("string"), "utf8")
        self.assertEqual(parse_type(" Date "), "date32")
        self.assertEqual(parse_type("timestamptz"), "timestamp_utc")
        self.assertEqual(Field("a", "int").type, "int64")
        with self.assertRaisesRegex(ValueError, "unknown column type `decimal`"):
            Field("a", "decimal")

    def test_schema_lookups(self):
        s = Schema([("id", "int64", False), Field("name", "utf8")])
        self.assertEqual(s.names, ["id", "name"])
        self.assertEqual(s["name"], Field("name", "utf8"))
        self.assertEqual(s.index("name"), 1)
        self.assertIn("id", s)
        self.assertIsNone(s.get("nope"))
        self.assertEqual(s, [("id", "int64", False), ("name", "utf8")])
        with self.assertRaisesRegex(KeyError, "no column `nope`"):
            s.index("nope")
        with self.assertRaisesRegex(ValueError, "appears twice"):
            Schema([("a", "int64"), ("a", "utf8")])


class BatchTest(unittest.TestCase):
    schema = [("id", "int64"), ("day", "date32"), ("at", "timestamp_utc"), ("local", "timestamp"), ("name", "utf8")]

    def test_dates_and_timestamps_convert_both_ways(self):
        b = Batch.from_columns(
            self.schema,
            {
                "id": [1, None],
                "day": [date(2024, 2, 29), None],
                "at": [datetime(1970, 1, 1, 0, 0, 1, tzinfo=timezone.utc), 5],
                "local": [datetime(1970, 1, 2), None],
                "name": ["a", None],
            },
        )
        self.assertEqual(b.raw("day"), [19782, None])
        self.assertEqual(b.raw("at"), [1_000_000, 5])
        self.assertEqual(b.raw("local"), [86_400_000_000, None])
        self.assertEqual(b["day"], [date(2024, 2, 29), None])
        self.assertEqual(b["at"][1], datetime(1970, 1, 1, 0, 0, 0, 5, tzinfo=timezone.utc))
        self.assertIsNone(b["local"][0].tzinfo)
        self.assertEqual(b.num_rows, 2)
        self.assertEqual(list(b.columns), ["id", "day", "at", "local", "name"])
        self.assertEqual(b.to_pylist()[0]["name"], "a")

    def test_wrong_values_name_the_column_and_row(self):
        with self.assertRaisesRegex(TypeError, r"column `id` \(int64\) takes int values; row 1 is str 'x'"):
            Batch.from_columns([("id", "int64")], [[1, "x"]])
        with self.assertRaisesRegex(ValueError, r"column `n` \(int8\): row 0 holds 300"):
            Batch.from_columns([("n", "int8")], [[300]])
        with self.assertRaisesRegex(ValueError, r"column `n` \(uint64\): row 0 holds -1"):
            Batch.from_columns([("n", "uint64")], [[-1]])
        with self.assertRaisesRegex(ValueError, "NOT NULL but row 1 is None"):
            Batch.from_columns([("n", "int64", False)], [[1, None]])
        with self.assertRaisesRegex(TypeError, "takes bool values"):
            Batch.from_columns([("b", "bool")], [[1]])
        with self.assertRaisesRegex(TypeError, "datetime.date"):
            Batch.from_columns([("d", "date32")], [[datetime(2020, 1, 1)]])
        with self.assertRaisesRegex(TypeError, "with a zone"):
            Batch.from_columns([("t", "timestamp")], [[datetime(2020, 1, 1, tzinfo=timezone.utc)]])
        with self.assertRaisesRegex(ValueError, "has 1 values, the batch 2 rows"):
            Batch.from_columns([("a", "int64"), ("b", "int64")], [[1, 2], [1]])
        with self.assertRaisesRegex(ValueError, r"not in the schema"):
            Batch.from_columns([("a", "int64")], {"a": [1], "b": [2]})

    def test_floats_take_ints(self):
        b = Batch.from_columns([("x", "float64")], [[1, 2.5, None]])
        self.assertEqual(b.raw("x"), [1.0, 2.5, None])
        self.assertIs(type(b.raw("x")[0]), float)

    def test_deriving_reuses_columns(self):
        b = Batch.from_columns([("a", "int64"), ("b", "utf8")], [[1, 2, 3], ["x", None, "z"]])
        self.assertIs(b.replace("b", ["X", None, "Z"]).raw("a"), b.raw("a"))
        self.assertEqual(b.replace("a", ["1", "2", "3"], type="utf8").schema["a"].type, "utf8")
        self.assertEqual(b.append(("c", "bool"), [True, False, None]).column_names, ["a", "b", "c"])
        self.assertEqual(b.filter([True, False, True])["b"], ["x", "z"])
        self.assertEqual(b.take([2, 0])["a"], [3, 1])
        self.assertEqual(b.slice(1)["a"], [2, 3])
        self.assertEqual(b.select(["b", "a"]).column_names, ["b", "a"])
        self.assertEqual(b.rename({"a": "id"}).column_names, ["id", "b"])
        self.assertEqual(Batch.concat([b, b.slice(0, 1)])["a"], [1, 2, 3, 1])
        self.assertEqual(list(b.rows())[1], (2, None))
        self.assertEqual(Batch.from_rows([("a", "int64"), ("b", "utf8")], [(1, "x"), (2, None)])["b"], ["x", None])

    def test_out_of_range_dates_point_at_raw(self):
        b = Batch.from_columns([("d", "date32")], [[3_000_000]])
        with self.assertRaisesRegex(ValueError, r"batch.raw\('d'\)"):
            b["d"]


class TextTest(unittest.TestCase):
    """Values as Arrow's cast to utf8 writes them (ryu for floats, chrono for dates)."""

    def test_floats_as_ryu(self):
        cases = {
            1.0: "1.0",
            0.1: "0.1",
            -0.0: "-0.0",
            1e15: "1000000000000000.0",
            1e16: "1e16",
            1.5e17: "1.5e17",
            123.456: "123.456",
            1e-5: "0.00001",
            1.5e-6: "1.5e-6",
            float("nan"): "NaN",
            float("-inf"): "-inf",
        }
        for value, text in cases.items():
            self.assertEqual(_ryu(value, False), text, value)
        self.assertEqual(_ryu(0.1, True), "0.1")
        self.assertEqual(_ryu(16777216.0, True), "16777216.0")
        self.assertEqual(_ryu(1e13, True), "1e13")
        self.assertEqual(_ryu(1e-6, True), "0.000001")

    def test_other_types(self):
        self.assertEqual(text_values(Field("b", "bool"), [True, None]), ["true", None])
        self.assertEqual(text_values(Field("d", "date32"), [0, -1, 19782]), ["1970-01-01", "1969-12-31", "2024-02-29"])
        self.assertEqual(text_values(Field("t", "timestamp"), [1_500_000]), ["1970-01-01T00:00:01.500"])
        self.assertEqual(text_values(Field("t", "timestamp_utc"), [1]), ["1970-01-01T00:00:00.000001Z"])
        self.assertEqual(text_values(Field("n", "uint8"), [7]), ["7"])


if __name__ == "__main__":
    unittest.main()
