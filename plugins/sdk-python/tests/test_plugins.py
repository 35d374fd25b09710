"""The Python plugins in the repository, run natively: date-cleanup-py (against the Rust
plugin's fixture and unit tests), the testbed, and the `sluice plugin new --lang python`
template (against the shared fixture)."""

import json
import tempfile
import unittest
from datetime import date
from pathlib import Path

import support
from sluice_sdk import Batch, ConfigError, DataError, Field, InternalError, SchemaError
from sluice_sdk.testing import ContractError, run, run_fixture

dc = support.load_app(support.DATE_CLEANUP / "app.py", "date_cleanup_app")
tb = support.load_app(support.TESTBED / "app.py", "testbed_app")

ALL = ["YYYY-MM-DD", "DD/MM/YYYY", "YYYY-MM-DD HH:MM:SS"]


def parse(text, layouts=ALL):
    """As parse.rs's `parse`: days, "impossible" or "unrecognised"."""
    for name in layouts:
        parsed = dc.LAYOUTS[name](text) if text.isascii() else None
        if parsed is not None:
            return "impossible" if parsed is dc.IMPOSSIBLE else parsed
    return "unrecognised"


class DateCleanupTest(unittest.TestCase):
    def test_the_rust_plugins_fixture(self):
        for case in sorted((support.DATE_CLEANUP / "fixtures").iterdir()):
            run_fixture(dc.DateCleanup, case)

    def test_layouts_and_calendar(self):
        # parse.rs's own test, case for case.
        self.assertEqual(parse("1970-01-02"), 1)
        self.assertEqual(parse("04/03/2021"), parse("2021-03-04"))
        self.assertEqual(parse("2021-03-04 10:22:01"), parse("2021-03-04"))
        self.assertEqual(parse("2024-02-29"), 19782)
        for bad in ["2021-02-30", "31/04/2023", "2021-02-29 08:00:00", "2021-13-01", "2021-00-10", "0000-00-00", "2021-01-01 24:00:00"]:
            self.assertEqual(parse(bad), "impossible", bad)
        for odd in ["NaN", " 2021-03-04", "2021-3-4", "2021-03-04T10:00:00", "", "２０２１-03-04", "2021-0٣-04"]:
            self.assertEqual(parse(odd), "unrecognised", odd)
        self.assertEqual(parse("03/04/2021", ["MM/DD/YYYY"]), parse("2021-03-04"))

    def rows(self, **columns):
        fields = [(name, "int64" if name in ("id", "zip") else "utf8") for name in columns]
        return Batch.from_columns(fields, columns)

    def test_reject_policy_counts_and_reasons(self):
        batch = self.rows(id=[1, 2, 3, 4], d=["2021-01-01", "bad\"one", "2021-02-30", None], e=["x", "2021-01-01", "y", None])
        config = {"columns": {"d": {"invalid": "reject"}, "e": {"invalid": "reject"}}}
        r = run(dc.DateCleanup, {"rows": batch}, config)
        self.assertEqual(r.outputs["rows"]["id"], [4])
        # Column by column (sorted by name), each row rejected once.
        self.assertEqual(
            [(x.row, x.column, x.reason) for x in r.rejects],
            [(1, "d", 'invalid date "bad\\"one"'), (2, "d", 'invalid date "2021-02-30"'), (0, "e", 'invalid date "x"')],
        )
        self.assertEqual(r.counters, {"d.rejected": 2, "e.rejected": 2})

    def test_date32_input_only_loses_sentinels(self):
        batch = Batch.from_columns([("d", "date32")], [[date(1900, 1, 1), date(2021, 1, 1), None]])
        r = run(dc.DateCleanup, {"rows": batch}, {"columns": {"d": {}}})
        self.assertEqual(r.outputs["rows"]["d"], [None, date(2021, 1, 1), None])
        self.assertEqual(r.counters, {"d.sentinel": 1})

    def test_pad_writes_other_types_as_arrow_does(self):
        batch = Batch.from_columns([("f", "float64"), ("b", "bool"), ("n", "int64")], [[1.5, None], [True, False], [-5, 7]])
        r = run(dc.DateCleanup, {"rows": batch}, {"columns": {}, "pad": {"f": 5, "b": 5, "n": 3}})
        out = r.outputs["rows"]
        self.assertEqual((out["f"], out["b"], out["n"]), (["001.5", None], ["0true", "false"], ["0-5", "007"]))

    def test_bad_configs(self):
        batch = self.rows(id=[1], d=["2021-01-01"])
        cases = [
            ({}, ConfigError, "invalid plugin config: missing field `columns`"),
            ({"columns": {"x": {}}}, ConfigError, "columns: no input column `x`"),
            ({"columns": {"id": {}}}, SchemaError, "column `id` is int64, expected utf8 or date32"),
            ({"columns": {"d": {"formats": []}}}, ConfigError, "columns.d.formats is empty"),
            ({"columns": {}, "sentinels": ["1900-02-30"]}, ConfigError, 'sentinel "1900-02-30" is not a YYYY-MM-DD date'),
            ({"columns": {}, "pad": {"nope": 5}}, ConfigError, "pad: no input column `nope`"),
            ({"columns": {}, "late": [{"name": "l", "later": "d", "earlier": "id", "more_than_days": 1}]}, ConfigError,
             "late `l`: `d` is neither a cleaned nor a date32 column"),
            ({"columns": {"d": {"formats": ["YYYY"]}}}, ConfigError, "invalid plugin config: columns.d.formats[0]: unknown variant `YYYY`"),
        ]
        for config, error, message in cases:
            with self.assertRaises(error, msg=json.dumps(config)) as caught:
                run(dc.DateCleanup, {"rows": batch}, config)
            self.assertTrue(str(caught.exception).startswith(message), str(caught.exception))

    def test_batch_size_does_not_change_the_output(self):
        values = ["2021-03-04", "NaN", "1900-01-01", "04/03/2021", "2021-02-30", None] * 5
        batch = self.rows(id=list(range(30)), d=values, e=list(reversed(values)))
        config = {"columns": {"d": {"formats": ALL}, "e": {"formats": ALL, "invalid": "reject"}},
                  "late": [{"name": "late", "later": "e", "earlier": "d", "more_than_days": 0}]}
        one = run(dc.DateCleanup, {"rows": batch}, config)
        many = run(dc.DateCleanup, {"rows": batch}, config, batch_rows=7)
        self.assertEqual(one.outputs["rows"], many.outputs["rows"])
        self.assertEqual(one.rejects, many.rejects)
        self.assertEqual(one.counters, many.counters)


class TestbedTest(unittest.TestCase):
    people = Batch.from_columns([("id", "int64"), ("name", "utf8")], {"id": [1, 2, 3, 4, 5], "name": ["ann", "multi\nline", "bad", "bob", "bad"]})

    def run_mode(self, **config):
        return run(tb.Testbed, {"rows": self.people}, config, batch_rows=config.pop("batch_rows", None))

    def test_honest_modes(self):
        self.assertEqual(self.run_mode(mode="pass").outputs["rows"], self.people)
        r = self.run_mode(mode="reject", column="name", equals="bad")
        self.assertEqual(r.outputs["rows"]["id"], [1, 2, 4])
        self.assertEqual([(x.row, x.column, x.reason) for x in r.rejects], [(2, "name", "value is on the reject list"), (4, "name", "value is on the reject list")])
        with self.assertRaises(DataError) as caught:
            self.run_mode(mode="data-error", column="name", equals="bad", batch_rows=2)
        e = caught.exception
        self.assertEqual((e.input, e.row, e.column, e.message), ("rows", 0, "name", "this value cannot be processed"))
        self.assertEqual(self.run_mode(mode="huge-output", count=3).outputs["rows"].num_rows, 15)
        self.assertEqual(self.run_mode(mode="spin", count=1).outputs["rows"], self.people)
        r = self.run_mode(mode="log-flood", count=4)
        self.assertEqual(r.logs, [("info", f"flood line {i}") for i in range(4)])

    def test_extra_columns(self):
        r = self.run_mode(mode="batch-dependent", batch_rows=2)
        self.assertEqual(r.outputs["rows"]["extra"], [2, 2, 2, 2, 1])
        self.assertEqual(r.schemas["rows"][2], Field("extra", "int64", nullable=False))
        self.assertEqual(len(set(self.run_mode(mode="clock").outputs["rows"]["extra"])), 1)
        self.assertEqual(len(set(self.run_mode(mode="random", batch_rows=1).outputs["rows"]["extra"])), 5)

    def test_misbehaviour(self):
        # wrong-schema gets past the SDK's check: the host must catch it.
        with self.assertRaisesRegex(ContractError, "output `rows` does not match its declared schema: expected 2 columns, got 1"):
            self.run_mode(mode="wrong-schema")
        with self.assertRaisesRegex(InternalError, "uncaught RuntimeError: testbed was told to panic \\(in push"):
            self.run_mode(mode="panic")
        with self.assertRaisesRegex(InternalError, "testbed was told to panic in open"):
            self.run_mode(mode="panic-in-open")
        with self.assertRaisesRegex(ConfigError, "invalid plugin config: mode: unknown variant `no-such-mode`"):
            self.run_mode(mode="no-such-mode")
        with self.assertRaisesRegex(ConfigError, "`column` is required"):
            self.run_mode(mode="reject")
        with self.assertRaisesRegex(ConfigError, "column `id` must be utf8"):
            self.run_mode(mode="reject", column="id")


class TemplateTest(unittest.TestCase):
    def test_the_scaffold_passes_the_shared_fixture(self):
        text = (support.TEMPLATES / "python" / "app.py.tmpl").read_text()
        for key, value in {"{{name}}": "word-count", "{{class}}": "WordCount", "{{crate}}": "word_count"}.items():
            text = text.replace(key, value)
        self.assertNotIn("{{", text)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "app.py"
            path.write_text(text)
            module = support.load_app(path, "template_app")
            self.assertEqual(module.WordCount.info.name, "word-count")
            run_fixture(module.WordCount, support.TEMPLATES / "fixtures" / "basic")
            rows = Batch.from_columns([("a", "utf8"), ("b", "utf8"), ("n", "int64")], [["x", None], ["ß", "y"], [1, 2]])
            r = run(module.WordCount, {"rows": rows})
            self.assertEqual(r.outputs["rows"].to_pylist(), [{"a": "X", "b": "SS", "n": 1}])
            self.assertEqual([(x.row, x.column) for x in r.rejects], [(1, "a")])
            with self.assertRaisesRegex(ConfigError, "column `n` is not text"):
                run(module.WordCount, {"rows": rows}, {"columns": ["n"]})


if __name__ == "__main__":
    unittest.main()
