#!/usr/bin/env python3
"""Python plugins beside Rust plugins and Polars, on the SPEC.md shipments workload.

In one invocation, one process at a time, on the same input:
  - dates:  the SPEC.md transform B with the Rust `date-cleanup`, with its Python port
            (`plugins/date-cleanup-py`), and with Polars (../shared/bench/peers/polars_dates.py);
  - copy:   CSV -> Parquet (zstd 3) through the Rust `passthrough`, through a Python plugin
            that only emits each batch it gets (the Python testbed in `pass` mode: the cost
            of crossing into Python and back), and with Polars;
and prints wall seconds, CPU seconds (user+sys), peak RSS and rows per second (medians of
--n runs, after one warm-up run that fills the compiled-plugin cache). Then the Python
plugin's start: `sluice plugin inspect` with an empty cache (compile) and a warm one.

usage: bench/python_plugins.py [--data /tmp/bench-data] [--size 1m] [--n 3]
           [--py /tmp/bench-venv/bin/python] [--sluice target/release/sluice]
           [--date-cleanup-py WASM] [--testbed-py WASM]
The Python components default to the ones tests/build.rs builds into
target/wasm-guests/python/ (or build them with `sluice plugin build plugins/date-cleanup-py`).
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from compare import POLARS_COPY, SHARED, measure

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROWS = {"1m": 1_000_000, "10m": 10_000_000}
TYPES = ('{ shipment_id = "int64", order_id = "int64", shipment_date = "utf8", delivery_date = "utf8", '
         'carrier = "utf8", status = "utf8", weight_kg = "float64" }')


def pipeline(tmp, name, plugin, source, out_dir, config=""):
    path = os.path.join(tmp, f"{name}.toml")
    with open(path, "w") as f:
        f.write(f"[tables.bench]\nplugin = {plugin!r}\ninput = {{ path = {source!r}, types = {TYPES} }}\n"
                f"output = {{ location = {out_dir!r}, compression = \"zstd\", level = 3 }}\n{config}")
    return path


def dates_config():
    with open(os.path.join(ROOT, "bench", "workloads", "dates.toml")) as f:
        text = f.read()
    return text[text.index("[tables.dates.config]"):].replace("tables.dates.", "tables.bench.")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/tmp/bench-data")
    ap.add_argument("--size", default="1m")
    ap.add_argument("--n", type=int, default=3)
    ap.add_argument("--py", default="/tmp/bench-venv/bin/python")
    ap.add_argument("--sluice", default=os.path.join(ROOT, "target", "release", "sluice"))
    guests = os.path.join(ROOT, "target", "wasm-guests", "python")
    ap.add_argument("--date-cleanup-py", default=os.path.join(guests, "date_cleanup_py.wasm"))
    ap.add_argument("--testbed-py", default=os.path.join(guests, "testbed_py.wasm"))
    a = ap.parse_args()

    source = os.path.join(a.data, f"shipments_{a.size}.csv")
    if not os.path.exists(source):
        subprocess.run([a.py, os.path.join(SHARED, "gen.py"), "--out", a.data, "--workload", "shipments",
                        "--rows", str(ROWS[a.size])], check=True)
    tmp = tempfile.mkdtemp(prefix="sluice-pybench-")
    cache = os.path.join(tmp, "cache")
    out_dir, out_file = os.path.join(tmp, "out"), os.path.join(tmp, "out.parquet")
    flags = ["--progress", "never", "--log", "warn", "--cache-dir", cache]
    run = lambda toml: [a.sluice, "run", toml] + flags  # noqa: E731
    cmds = [
        ("dates", "sluice + Rust date-cleanup", run(pipeline(tmp, "rust-dates", "date-cleanup", source, out_dir, dates_config()))),
        ("dates", "sluice + Python date-cleanup", run(pipeline(tmp, "py-dates", a.date_cleanup_py, source, out_dir, dates_config()))),
        ("dates", "Polars", [a.py, os.path.join(SHARED, "peers", "polars_dates.py"), source, out_file]),
        ("copy", "sluice + Rust passthrough", run(pipeline(tmp, "rust-copy", "passthrough", source, out_dir))),
        ("copy", "sluice + Python passthrough", run(pipeline(tmp, "py-copy", a.testbed_py, source, out_dir,
                                                              '[tables.bench.config]\nmode = "pass"\n'))),
        ("copy", "Polars", [a.py, "-c", POLARS_COPY, source, out_file]),
    ]
    rows = []
    for workload, tool, cmd in cmds:
        if tool.startswith("sluice"):
            measure(cmd, dict(os.environ))  # warm-up: compiles the plugin into the cache
        runs = [measure(cmd, dict(os.environ)) for _ in range(a.n)]
        wall, cpu, rss = (statistics.median(x) for x in zip(*runs))
        rows.append((workload, tool, wall, cpu, rss, ROWS[a.size] / wall))
        print(f"{workload:<6} {tool:<30} {wall:6.2f}s {cpu:6.2f}s {rss:7.1f} MiB", file=sys.stderr)

    starts = []
    for label, fresh in (("cold (empty cache: compile)", True), ("warm (cached native code)", False)):
        start_cache = os.path.join(tmp, "start-cache")
        if fresh:
            subprocess.run(["rm", "-rf", start_cache], check=True)
        t = time.perf_counter()
        subprocess.run([a.sluice, "plugin", "inspect", a.date_cleanup_py, "--cache-dir", start_cache],
                       check=True, stdout=subprocess.DEVNULL)
        starts.append((label, time.perf_counter() - t))

    print(f"\nshipments_{a.size}.csv ({ROWS[a.size]:,} rows), median of {a.n} runs, one process at a time\n")
    print("| workload | tool | wall s | CPU s | peak RSS MiB | rows/s |")
    print("|---|---|---:|---:|---:|---:|")
    for workload, tool, wall, cpu, rss, rate in rows:
        print(f"| {workload} | {tool} | {wall:.2f} | {cpu:.2f} | {rss:.0f} | {rate:,.0f} |")
    print("\nPython date-cleanup start (`sluice plugin inspect`, load + instantiate + describe):\n")
    print("| start | wall s |")
    print("|---|---:|")
    for label, secs in starts:
        print(f"| {label} | {secs:.2f} |")


if __name__ == "__main__":
    main()
