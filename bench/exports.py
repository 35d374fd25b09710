#!/usr/bin/env python3
"""Pipeline 004's delta at scale: time and peak memory of `export-delta`.

Runs the example pipeline (examples/exports/pipeline.toml) over two versions of a
generated export: version 1 (all INSERT against nothing) and version 2 (diffed against
version 1 through the version registry). Version 2 changes 1% of the rows, drops 0.5% and
adds 0.5% new keys. Also times the 100,000-row real export of the fixtures.

    cargo build --release -p sluice
    python3 bench/exports.py --rows 10000000
"""
import argparse
import gzip
import json
import os
import random
import shutil
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def generate(path, rows, version, seed=7):
    rng = random.Random(seed)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with gzip.open(path, "wt", compresslevel=1) as f:
        for i in range(rows):
            pk = i
            col1 = i % 1000
            if version == 2:
                r = rng.random()
                if r < 0.005:
                    continue  # deleted
                if r < 0.015:
                    col1 += 1  # updated
            f.write(f"PK{pk};{col1};value {i % 97};other {i % 13}\n")
        if version == 2:
            for j in range(rows // 200):
                f.write(f"NEW{j};{j % 1000};value new;other new\n")


def run(sluice, pipeline, version, env):
    cmd = [sluice, "run", pipeline, "--var", f"VERSION={version}", "--progress", "never"]
    start = time.perf_counter()
    out = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.read().decode()[-2000:]}")
    out.seek(0)
    table = json.load(out)["tables"][0]
    if table["status"] != "succeeded":
        raise SystemExit(f"{version}: {table['status']}")
    rows = f"{table['rows_in']:,} in, {table['rows_out']:,} out"
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--sluice", default=os.path.join(ROOT, "target/release/sluice"))
    ap.add_argument("--memory-mib", type=int, default=2048, help="the plugin's memory cap for the generated run")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="sluice-exports-bench-")
    env = dict(os.environ, SLUICE_LOG="warn")
    results = []
    try:
        # The real fixtures: the 100,000-row export against its predecessor.
        real = os.path.join(work, "real")
        shutil.copytree(os.path.join(ROOT, "examples/exports"), real, ignore=shutil.ignore_patterns("out"))
        pipeline = os.path.join(real, "pipeline.toml")
        for v in ["20201230_V0001", "20201230_V0002"]:
            run(args.sluice, pipeline, v, env)
        results.append(("100,000-row real export (3 -> 100,000 rows)", *run(args.sluice, pipeline, "20201231_V0001", env)))

        gen = os.path.join(work, "gen")
        os.makedirs(gen)
        text = open(os.path.join(ROOT, "examples/exports/pipeline.toml")).read()
        text = text.replace('config = { key = ["PK"], op_column = "op" }',
                            f'config = {{ key = ["PK"], op_column = "op" }}\nlimits = {{ memory_mib = {args.memory_mib} }}')
        open(os.path.join(gen, "pipeline.toml"), "w").write(text)
        for version in (1, 2):
            generate(os.path.join(gen, f"data/tenant/test_table/V{version}/export.csv.gz"), args.rows, version)
        label = f"{args.rows:,} rows"
        results.append((f"{label}: first version (all INSERT)", *run(args.sluice, os.path.join(gen, "pipeline.toml"), "V1", env)))
        results.append((f"{label}: second version against the first", *run(args.sluice, os.path.join(gen, "pipeline.toml"), "V2", env)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("| run | rows | wall s | CPU s | peak RSS MiB |")
    print("|---|---|---|---|---|")
    for label, wall, cpu, rss, rows in results:
        print(f"| {label} | {rows} | {wall:.2f} | {cpu:.2f} | {rss:.0f} |")


if __name__ == "__main__":
    main()
