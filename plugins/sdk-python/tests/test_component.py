"""End to end: the Python plugins built with componentize-py and run in wasmtime (through
wasmtime-py's component support, `component_host.py`).

Slow (a build is ~15 s, loading a component ~10 s) and needs `pip install wasmtime` and
componentize-py, so it runs only with SLUICE_PY_E2E=1:

    SLUICE_PY_E2E=1 python3 -m unittest discover -s plugins/sdk-python/tests -p test_component.py

SLUICE_PY_WASM_DIR reuses components built before (date_cleanup_py.wasm, testbed_py.wasm).
"""

import json
import os
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

import support

try:
    import wasmtime  # noqa: F401
except ImportError:  # pragma: no cover
    wasmtime = None

ENABLED = os.environ.get("SLUICE_PY_E2E") == "1" and wasmtime is not None
TOOL = os.environ.get("SLUICE_COMPONENTIZE_PY", "componentize-py")


def build(app_dir: Path, out: Path) -> Path:
    if out.exists():
        return out
    subprocess.run(
        [TOOL, "-d", str(support.ROOT / "wit"), "-w", "columnar-plugin", "componentize", "app",
         "-p", str(app_dir), "-p", str(support.SDK), "-o", str(out)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return out


@unittest.skipUnless(ENABLED, "set SLUICE_PY_E2E=1 (and pip install wasmtime) to build and run the components")
class ComponentTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        from component_host import Host

        given = os.environ.get("SLUICE_PY_WASM_DIR")
        cls.tmp = None if given else tempfile.mkdtemp()
        where = Path(given or cls.tmp)
        cls.date_cleanup = Host(str(build(support.DATE_CLEANUP, where / "date_cleanup_py.wasm")))
        cls.testbed = Host(str(build(support.TESTBED, where / "testbed_py.wasm")), fuel=True)

    @classmethod
    def tearDownClass(cls):
        if cls.tmp:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_date_cleanup_messy_fixture(self):
        from component_host import emitted_columns

        h = self.date_cleanup.instance()
        info = h.describe()
        self.assertEqual((info.name, info.version), ("date-cleanup", "0.1.0"))
        fields = [("id", "int64", True), ("shipment_date", "utf8", True), ("delivery_date", "utf8", True), ("zip", "int64", True)]
        session = h.open((support.DATE_CLEANUP / "fixtures/messy/config.json").read_text(), {"rows": fields})
        self.assertEqual(
            h.output_schemas(session)["rows"],
            [("id", "int64", True), ("shipment_date", "date", True), ("delivery_date", "date", True), ("zip", "text", True), ("is_late", "boolean", True)],
        )
        columns = [
            [1, 2, 3, 4, 5, 6, 7],
            ["2021-03-04", "04/03/2021", "NaN", "1900-01-01", "2021-02-30", "2021-03-04", "2024-02-29 23:59:59"],
            ["2021-03-12", "2021-03-06 10:22:01", "2021-03-06", "null", "0000-00-00", "31/04/2023", "01/03/2024"],
            [8638, 12345, 501, None, 8638, 8638, 0],
        ]
        emitted = h.push(session, "rows", fields, columns)
        [(output, rows, out)] = emitted_columns(emitted)
        self.assertEqual((output, rows), ("rows", 6))
        self.assertEqual(out[0], [1, 2, 3, 4, 5, 7])
        self.assertEqual(out[3], ["08638", "12345", "00501", None, "08638", "00000"])
        self.assertEqual(out[4], [True, False, None, None, None, False])
        self.assertEqual([(r.row, r.column, r.reason) for r in emitted.rejects], [(5, "delivery_date", 'invalid date "31/04/2023"')])
        self.assertEqual(h.finish(session).more, False)

    def test_every_type_crosses_both_ways(self):
        from component_host import emitted_columns

        fields = [
            ("b", "bool", True), ("i8", "int8", True), ("i64", "int64", True), ("u64", "uint64", True),
            ("f32", "float32", True), ("f64", "float64", True), ("s", "utf8", True), ("d", "date32", True),
            ("t", "timestamp", True), ("tz", "timestamp_utc", True), ("key", "utf8", False),
        ]
        columns = [
            [True, None, False, True],
            [-128, 127, None, 0],
            [-(1 << 63), None, (1 << 63) - 1, 5],
            [(1 << 64) - 1, 0, None, 7],
            [1.5, None, -0.0, 2.0],
            [1e300, float("-inf"), None, 0.1],
            ["plain", None, "naïve ß 🙂", ""],
            [0, -719162, None, 2932896],
            [1, None, -1, 1 << 60],
            [None, 0, 86_400_000_000, -5],
            ["keep", "drop", "keep", "keep"],
        ]
        h = self.testbed.instance(fuel=10**12)
        session = h.open(json.dumps({"mode": "pass"}), {"rows": fields})
        [(_, rows, out)] = emitted_columns(h.push(session, "rows", fields, columns))
        self.assertEqual((rows, out), (4, columns))
        # Rows dropped by a filter on one column's values: the other columns are filtered
        # as buffers, never decoded.
        session = h.open(json.dumps({"mode": "reject", "column": "key", "equals": "drop"}), {"rows": fields})
        emitted = h.push(session, "rows", fields, columns)
        [(_, rows, out)] = emitted_columns(emitted)
        self.assertEqual((rows, out), (3, [[c[0], c[2], c[3]] for c in columns]))
        self.assertEqual([r.row for r in emitted.rejects], [1])

    def mode(self, config, **limits):
        from component_host import PluginError, Trap

        h = self.testbed.instance(fuel=limits.get("fuel", 10**12), memory_bytes=limits.get("memory"))
        fields = [("id", "int64", True), ("name", "utf8", True)]
        try:
            session = h.open(json.dumps(config), {"rows": fields})
            return h.push(session, "rows", fields, [[1, 2, 3], ["a", "bad", "c"]]), h.logs
        except (PluginError, Trap) as e:
            return e, h.logs

    def test_testbed_errors_traps_and_logs(self):
        from component_host import PluginError, Trap

        error, logs = self.mode({"mode": "panic"})
        self.assertIsInstance(error, PluginError)
        self.assertEqual(error.kind, "internal")
        self.assertIn('raise RuntimeError("testbed was told to panic")', error.payload, "the traceback shows the code line")
        self.assertEqual(logs[0][0], "error")
        error, logs = self.mode({"mode": "trap"})
        self.assertIsInstance(error, Trap)
        self.assertIn(("error", "plugin panicked: testbed was told to panic"), logs)
        error, _ = self.mode({"mode": "loop"}, fuel=10**9)
        self.assertIsInstance(error, Trap)
        error, _ = self.mode({"mode": "data-error", "column": "name", "equals": "bad"})
        self.assertEqual((error.kind, error.payload.row), ("data", 1))
        emitted, logs = self.mode({"mode": "print"})
        self.assertEqual(logs, [("info", "printed 3 rows"), ("warn", "testbed: a warning through logging")])


if __name__ == "__main__":
    unittest.main()
