#!/usr/bin/env python3
"""What the sandbox limits cost, and plugin start-up time.

1. Passthrough on one input with call deadlines (epoch interruption) on or off and fuel
   metering on or off: wall and CPU seconds of the run, and the time spent inside plugin
   calls (from the run report).
2. Plugin start: `sluice plugin inspect` with the compiled-plugin cache cold (Cranelift
   compiles the component) and warm (the precompiled artifact is loaded).

usage: bench/limits.py [--input /tmp/bench-data/shipments_10m.csv] [--n 3]
                       [--sluice target/release/sluice]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(cmd):
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed")
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime, out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", default="/tmp/bench-data/shipments_10m.csv")
    ap.add_argument("--n", type=int, default=3)
    ap.add_argument("--sluice", default=os.path.join(ROOT, "target", "release", "sluice"))
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="sluice-limits-")
    cache = os.path.join(tmp, "cache")
    configs = [
        ("deadlines on, fuel off (default)", "", []),
        ("deadlines off, fuel off", "", ["--unsafe-no-deadlines"]),
        ("deadlines on, fuel on", "limits = { fuel_per_call = 1000000000000000 }\n", []),
        ("deadlines off, fuel on", "limits = { fuel_per_call = 1000000000000000 }\n", ["--unsafe-no-deadlines"]),
    ]
    print("| configuration | wall s | CPU s | in plugin calls s |")
    print("|---|---:|---:|---:|")
    for name, limits, flags in configs:
        pipeline = os.path.join(tmp, "p.toml")
        with open(pipeline, "w") as f:
            f.write(f"[tables.t]\nplugin = \"passthrough\"\ninput = {{ path = {a.input!r} }}\n"
                    f"output = {{ location = {os.path.join(tmp, 'out')!r} }}\n{limits}")
        cmd = [a.sluice, "run", pipeline, "--log", "warn", "--progress", "never", "--cache-dir", cache] + flags
        timed(cmd)  # warm the cache for this engine configuration
        runs = []
        for _ in range(a.n):
            wall, cpu, out = timed(cmd)
            runs.append((wall, cpu, json.loads(out)["tables"][0]["plugin_call_ms"] / 1000))
        wall, cpu, calls = (statistics.median(x) for x in zip(*runs))
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {calls:.2f} |")

    print()
    print("| plugin start | wall s | CPU s |")
    print("|---|---:|---:|")
    cold = [timed([a.sluice, "plugin", "inspect", "passthrough", "--no-cache"])[:2] for _ in range(a.n)]
    timed([a.sluice, "plugin", "inspect", "passthrough", "--cache-dir", cache])
    warm = [timed([a.sluice, "plugin", "inspect", "passthrough", "--cache-dir", cache])[:2] for _ in range(a.n)]
    for name, runs in [("cold (compile)", cold), ("warm (cached artifact)", warm)]:
        wall, cpu = (statistics.median(x) for x in zip(*runs))
        print(f"| {name} | {wall:.3f} | {cpu:.3f} |")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
