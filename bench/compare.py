#!/usr/bin/env python3
"""Side-by-side benchmark: Sluice beside DuckDB and Polars on the shared workloads.

For every input (sensor and shipments, csv and gz) it runs, one process at a time:
  - sluice : the SPEC.md transform (resample on sensor, dates on shipments) with the
    pipelines in bench/workloads/, and
  - duckdb, polars : the peers' scripts for the same transform from ../shared/bench/peers/;
  - sluice-copy, duckdb-copy, polars-copy : a plain CSV -> Parquet (zstd 3) copy in each
    (Sluice with the bundled passthrough, whose batches the host takes itself);
  - sluice-sandbox-copy (only when named in --tools) : the same copy through the sandboxed
    passthrough component (named by its path), which pays the two IPC crossings;
and prints wall seconds, CPU seconds (user+sys of the process tree) and peak RSS. Tools run
alternately, run by run; the last table gives, per workload, the median over the runs of
Sluice's cost divided by the best peer's in the same run.
`--verify` checks every transform output with ../shared/bench/verify.py.

usage: bench/compare.py [--data /tmp/bench-data] [--sizes 10m] [--formats csv,gz] [--n 1]
                        [--py /tmp/bench-venv/bin/python] [--sluice target/release/sluice]
Data is generated with ../shared/bench/gen.py when missing; the peers need the packages of
../shared/bench/requirements.txt in the --py interpreter.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "bench")
WORKLOADS = {"sensor": "resample", "shipments": "dates"}

DUCKDB_COPY = (
    "import duckdb,sys; duckdb.sql(f\"COPY (SELECT * FROM read_csv('{sys.argv[1]}')) TO '{sys.argv[2]}' "
    "(FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 3)\")"
)
POLARS_COPY = (
    "import polars as pl,sys; pl.scan_csv(sys.argv[1]).sink_parquet(sys.argv[2], compression='zstd', compression_level=3)"
)


def measure(cmd, env):
    """Runs cmd; returns (wall s, cpu s, peak RSS MiB) of the whole process tree."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{err[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


PASSTHROUGH_WASM = os.path.join(ROOT, "target", "wasm-guests", "wasm32-wasip2", "release", "passthrough.wasm")


def sluice_pipeline(tmp, source, out_dir, plugin="passthrough"):
    path = os.path.join(tmp, f"pipeline-{os.path.basename(plugin)}.toml")
    with open(path, "w") as f:
        f.write(
            f"[tables.bench]\nplugin = {plugin!r}\n"
            f"input = {{ path = {source!r} }}\n"
            f"output = {{ location = {out_dir!r}, compression = \"zstd\", level = 3 }}\n"
        )
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/tmp/bench-data")
    ap.add_argument("--sizes", default="10m")
    ap.add_argument("--formats", default="csv,gz")
    ap.add_argument("--workloads", default="sensor,shipments")
    ap.add_argument("--tools", default="sluice,duckdb,polars,sluice-copy,duckdb-copy,polars-copy")
    ap.add_argument("--verify", action="store_true", help="check transform outputs with verify.py")
    ap.add_argument("--n", type=int, default=1, help="runs per cell; the median is shown")
    ap.add_argument("--py", default="/tmp/bench-venv/bin/python")
    ap.add_argument("--sluice", default=os.path.join(ROOT, "target", "release", "sluice"))
    a = ap.parse_args()

    if not os.path.exists(a.sluice):
        subprocess.run(["cargo", "build", "--release", "-p", "sluice"], cwd=ROOT, check=True)
    tools = a.tools.split(",")
    tmp = tempfile.mkdtemp(prefix="sluice-bench-")
    cache = os.path.join(tmp, "cache")
    rows, ratios = [], []
    for size in a.sizes.split(","):
        for wl in a.workloads.split(","):
            csv = os.path.join(a.data, f"{wl}_{size}.csv")
            if not os.path.exists(csv) or not os.path.exists(csv + ".gz"):
                rows_n = {"1m": 1_000_000, "10m": 10_000_000}[size]
                subprocess.run([a.py, os.path.join(SHARED, "gen.py"), "--out", a.data, "--workload", wl,
                                "--rows", str(rows_n)], check=True)
            for fmt in a.formats.split(","):
                source = csv if fmt == "csv" else csv + ".gz"
                out_dir = os.path.join(tmp, "out")
                out_file = os.path.join(tmp, "out.parquet")
                sluice_flags = ["--progress", "never", "--log", "warn", "--cache-dir", cache]
                workload = os.path.join(ROOT, "bench", "workloads", f"{WORKLOADS[wl]}.toml")
                env = {**os.environ, "SLUICE_INPUT": source, "SLUICE_OUTPUT": out_dir}
                outputs = {"sluice": os.path.join(out_dir, "current", "rows.parquet"), "duckdb": out_file, "polars": out_file}
                cmds = {
                    "sluice": [a.sluice, "run", workload] + sluice_flags,
                    "sluice-copy": [a.sluice, "run", sluice_pipeline(tmp, source, out_dir)] + sluice_flags,
                    "sluice-sandbox-copy": [a.sluice, "run", sluice_pipeline(tmp, source, out_dir, PASSTHROUGH_WASM)]
                    + sluice_flags,
                    "duckdb-copy": [a.py, "-c", DUCKDB_COPY, source, out_file],
                    "polars-copy": [a.py, "-c", POLARS_COPY, source, out_file],
                    "duckdb": [a.py, os.path.join(SHARED, "peers", f"duckdb_{WORKLOADS[wl]}.py"), source, out_file],
                    "polars": [a.py, os.path.join(SHARED, "peers", f"polars_{WORKLOADS[wl]}.py"), source, out_file],
                }
                for tool in tools:
                    if tool.startswith("sluice"):  # warm the compiled-plugin cache outside the timing
                        measure(cmds[tool], env)
                        shutil.rmtree(out_dir, ignore_errors=True)
                # Alternate the tools run by run, so a slow spell of the machine hits all.
                runs = {tool: [] for tool in tools}
                for _ in range(a.n):
                    for tool in tools:
                        runs[tool].append(measure(cmds[tool], env))
                        shutil.rmtree(out_dir, ignore_errors=True)
                for tool in tools:
                    wall, cpu, rss = (statistics.median(x) for x in zip(*runs[tool]))
                    what = "plain copy" if tool.endswith("-copy") else WORKLOADS[wl]
                    if a.verify and tool in outputs:
                        subprocess.run(cmds[tool], env=env, capture_output=True)
                        check = subprocess.run([a.py, os.path.join(SHARED, "verify.py"), wl, source, outputs[tool]],
                                               capture_output=True, text=True)
                        what += " (verified)" if check.returncode == 0 else " (MISMATCH)"
                    rows.append((f"{wl}_{size}.{fmt}", tool, what, wall, cpu, rss))
                    print(f"{rows[-1][0]:<22} {tool:<12} {wall:7.2f}s wall {cpu:7.2f}s cpu {rss:8.1f} MiB", file=sys.stderr)
                    shutil.rmtree(out_dir, ignore_errors=True)
                    if os.path.exists(out_file):
                        os.remove(out_file)
                for mine, suffix, what in (("sluice", "", WORKLOADS[wl]), ("sluice", "-copy", "plain copy"),
                                           ("sluice-sandbox", "-copy", "plain copy in the sandbox")):
                    ratios.append((f"{what}, {wl} {fmt}", *pair_ratios(runs, mine, suffix)))
    print("| input | tool | work | wall s | CPU s | peak RSS MiB |")
    print("|---|---|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.2f} | {r[4]:.2f} | {r[5]:.0f} |")
    print()
    print("Medians over the runs of Sluice / the fastest peer of the same run (by CPU; by wall; "
          "RSS against the leaner peer's):")
    print()
    print("| workload | CPU vs fastest | wall vs fastest | RSS vs leanest |")
    print("|---|---:|---:|---:|")
    for label, *r in ratios:
        if r[0] is not None:
            print(f"| {label} | {r[0]:.2f} | {r[1]:.2f} | {r[2]:.2f} |")
    shutil.rmtree(tmp, ignore_errors=True)


def pair_ratios(runs, tool, suffix):
    """Per run: Sluice's CPU, wall and RSS over the best peer's in that run; the medians."""
    mine = runs.get(tool + suffix)
    peers = [runs[t] for t in ("duckdb" + suffix, "polars" + suffix) if t in runs]
    if not mine or not peers:
        return None, None, None
    per_run = []
    for i, (wall, cpu, rss) in enumerate(mine):
        per_run.append((cpu / min(p[i][1] for p in peers), wall / min(p[i][0] for p in peers),
                        rss / min(p[i][2] for p in peers)))
    return tuple(statistics.median(x) for x in zip(*per_run))


if __name__ == "__main__":
    main()
