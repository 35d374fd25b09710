#!/usr/bin/env python3
"""Pipeline 004's delta at scale: `export-delta` beside DuckDB computing the same delta.

Generates two versions of a full export (`PK;COL_1;COL_2;COL_3`, headerless; DuckDB
writes them, so 100M rows take seconds): version 2 changes 1% of the rows, drops 0.5% and
adds 0.5% new keys. Sluice runs the example pipeline (examples/exports/pipeline.toml) on
version 1 (all INSERT), then on version 2, diffed against version 1 through the version
registry: that second run is the one measured. With `--parts N` the table runs split by
key in N parts (`[tables.T.split]`), so the plugin holds 1/N of the previous export.

DuckDB computes the same delta in the same invocation: a FULL OUTER JOIN on PK where a
side is missing or a column IS DISTINCT FROM, written to Parquet (zstd), under the same
memory limit (`SET memory_limit`), spilling to disk as it needs. Both deltas' row counts
are printed, and must agree.

    cargo build --release -p sluice
    /tmp/bench-venv/bin/python bench/exports.py --rows 100000000 --parts 64 --memory-mib 1024
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def generate(folder, rows):
    """Versions 1 and 2 of the export as plain `;`-separated CSV, written by DuckDB."""
    import duckdb

    con = duckdb.connect()
    # r: a per-row draw in [0, 1000) from a hash, so the versions are reproducible.
    v1 = f"SELECT 'PK' || i AS pk, i % 1000 AS c1, 'value ' || (i % 97) AS c2, 'other ' || (i % 13) AS c3 FROM range({rows}) t(i)"
    v2 = f"""
        SELECT pk, CASE WHEN r < 15 THEN c1 + 1 ELSE c1 END, c2, c3
        FROM (SELECT *, hash(i, 7) % 1000 AS r FROM (SELECT i, 'PK' || i AS pk, i % 1000 AS c1,
              'value ' || (i % 97) AS c2, 'other ' || (i % 13) AS c3 FROM range({rows}) t(i)))
        WHERE r >= 5
        UNION ALL
        SELECT 'NEW' || j, j % 1000, 'value new', 'other new' FROM range({rows // 200}) t(j)"""
    for version, query in (("V1", v1), ("V2", v2)):
        path = os.path.join(folder, f"data/tenant/test_table/{version}/export.csv")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        con.execute(f"COPY ({query}) TO '{path}' (DELIMITER ';', HEADER false)")
    return [os.path.join(folder, f"data/tenant/test_table/{v}/export.csv") for v in ("V1", "V2")]


def measure(cmd, env=None):
    """Wall and CPU seconds and peak RSS (MiB) of a command; its stdout."""
    start = time.perf_counter()
    out = tempfile.TemporaryFile()
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    out.seek(0)
    err.seek(0)
    if status != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {err.read().decode()[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.read().decode()


def sluice_pipeline(folder, parts, memory_mib):
    text = open(os.path.join(ROOT, "examples/exports/pipeline.toml")).read()
    text = text.replace('path = "data/tenant/test_table/${VERSION}/*.csv.gz"',
                        'path = "data/tenant/test_table/${VERSION}/*.csv"')
    text = text.replace('config = { key = ["PK"], op_column = "op" }',
                        f'config = {{ key = ["PK"], op_column = "op" }}\nlimits = {{ memory_mib = {memory_mib} }}')
    if parts > 1:
        text += f'\n[tables.test_table.split]\nby = ["PK"]\nparts = {parts}\n'
    path = os.path.join(folder, "pipeline.toml")
    open(path, "w").write(text)
    return path


def run_sluice(sluice, pipeline, version, env):
    cmd = [sluice, "run", pipeline, "--var", f"VERSION={version}", "--progress", "never"]
    wall, cpu, rss, out = measure(cmd, env)
    table = json.loads(out)["tables"][0]
    if table["status"] != "succeeded":
        raise SystemExit(f"{version}: {table['status']}")
    return wall, cpu, rss, table["rows_out"]


DUCKDB_DELTA = """
import sys, duckdb
v1, v2, out, memory, threads = sys.argv[1:6]
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
con.execute(f"SET memory_limit = '{memory}MiB'")
con.execute(f"SET threads = {threads}")
con.execute("SET preserve_insertion_order = false")
cols = {"PK": "VARCHAR", "COL_1": "BIGINT", "COL_2": "VARCHAR", "COL_3": "VARCHAR"}
read = lambda p: f"read_csv('{p}', delim=';', header=false, columns={cols})"
pick = lambda c: f"CASE WHEN c.PK IS NULL THEN p.{c} ELSE c.{c} END AS {c}"
con.execute(f'''COPY (
  SELECT CASE WHEN p.PK IS NULL THEN 'INSERT' WHEN c.PK IS NULL THEN 'DELETE' ELSE 'UPDATE' END AS op,
         {", ".join(pick(c) for c in cols)}
  FROM {read(v1)} p FULL OUTER JOIN {read(v2)} c ON p.PK = c.PK
  WHERE p.PK IS NULL OR c.PK IS NULL OR p.COL_1 IS DISTINCT FROM c.COL_1
     OR p.COL_2 IS DISTINCT FROM c.COL_2 OR p.COL_3 IS DISTINCT FROM c.COL_3
) TO '{out}' (FORMAT parquet, COMPRESSION zstd)''')
print(con.execute(f"SELECT count(*) FROM '{out}'").fetchone()[0])
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--parts", type=int, default=1, help="run the table split by key in this many parts")
    ap.add_argument("--sluice", default=os.path.join(ROOT, "target/release/sluice"))
    ap.add_argument("--memory-mib", type=int, default=2048,
                    help="the plugin's memory cap, and DuckDB's memory_limit")
    ap.add_argument("--py", default=sys.executable, help="a Python with duckdb")
    ap.add_argument("--work", default=None, help="a folder for the exports (default: a temporary one)")
    args = ap.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="sluice-exports-bench-")
    env = dict(os.environ, SLUICE_LOG="warn")
    try:
        v1, v2 = generate(work, args.rows)
        pipeline = sluice_pipeline(work, args.parts, args.memory_mib)
        run_sluice(args.sluice, pipeline, "V1", env)
        sluice = run_sluice(args.sluice, pipeline, "V2", env)
        print("sluice: {:.1f} s wall, {:.1f} s CPU, {:.0f} MiB, {:,} delta rows".format(*sluice), file=sys.stderr)
        threads = str(os.cpu_count())
        wall, cpu, rss, out = measure([args.py, "-c", DUCKDB_DELTA, v1, v2, os.path.join(work, "duckdb.parquet"),
                                       str(args.memory_mib), threads])
        duckdb = (wall, cpu, rss, int(out.split()[-1]))
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    split = f", split in {args.parts} parts" if args.parts > 1 else ""
    print(f"Delta of two {args.rows:,}-row exports (memory budget {args.memory_mib} MiB{split}):\n")
    print("| tool | delta rows | wall s | CPU s | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|")
    for name, (wall, cpu, rss, rows) in (("sluice export-delta", sluice), ("duckdb FULL OUTER JOIN", duckdb)):
        print(f"| {name} | {rows:,} | {wall:.1f} | {cpu:.1f} | {rss:.0f} |")
    if sluice[3] != duckdb[3]:
        raise SystemExit(f"the deltas differ: {sluice[3]:,} rows against {duckdb[3]:,}")


if __name__ == "__main__":
    main()
