#!/usr/bin/env python3
"""Sluice reading from and writing to a local S3 server, beside the same run on local files.

Starts `s3-test-server` (s3s-fs, a Rust S3 server) on 127.0.0.1, links the input into
its bucket folder, and runs one workload twice: local file -> local folder, and
s3://bench/in/... -> s3://bench/out/... (multipart upload, commit manifest, table lock).
Prints wall seconds, Sluice's CPU seconds and peak RSS, and the server's CPU seconds.

    cargo build --release -p sluice -p sluice-tests --bins
    python3 bench/s3.py --input /tmp/bench-data/shipments_10m.csv.gz --workload bench/workloads/dates.toml
"""
import argparse
import os
import shutil
import socket
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """User + system CPU of a running process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def run(cmd, env):
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({status}): {proc.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", default="/tmp/bench-data/shipments_10m.csv.gz")
    ap.add_argument("--workload", default=os.path.join(HERE, "workloads/dates.toml"))
    ap.add_argument("--sluice", default=os.path.join(ROOT, "target/release/sluice"))
    ap.add_argument("--server", default=os.path.join(ROOT, "target/release/s3-test-server"))
    ap.add_argument("--repeat", type=int, default=2, help="runs of each; the best is kept")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="sluice-s3-bench-")
    s3_root = os.path.join(work, "s3")
    name = os.path.basename(args.input)
    os.makedirs(os.path.join(s3_root, "bench/in"))
    try:
        os.link(args.input, os.path.join(s3_root, "bench/in", name))
    except OSError:
        shutil.copy(args.input, os.path.join(s3_root, "bench/in", name))
    port = free_port()
    server = subprocess.Popen([args.server, "--root", s3_root, "--port", str(port)], stdout=subprocess.PIPE)
    server.stdout.readline()  # "listening on ..."
    env = dict(os.environ, AWS_ACCESS_KEY_ID="sluice-test-key", AWS_SECRET_ACCESS_KEY="sluice-test-secret",
               AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true", SLUICE_LOG="warn")
    common = [args.sluice, "run", args.workload, "--progress", "never", "--cache-dir", os.path.join(work, "cache")]
    rows = []
    try:
        for label in ("local file -> local folder", "S3 -> S3 (s3s-fs on 127.0.0.1)"):
            best = None
            for i in range(args.repeat):
                if label.startswith("local"):
                    out = os.path.join(work, f"out-{i}")
                    env_run = dict(env, SLUICE_INPUT=args.input, SLUICE_OUTPUT=out)
                    cmd = common
                else:
                    env_run = dict(env, SLUICE_INPUT=f"s3://bench/in/{name}", SLUICE_OUTPUT=f"s3://bench/out/run-{i}")
                    cmd = common + ["--s3-endpoint", f"http://127.0.0.1:{port}", "--s3-path-style"]
                server_cpu = cpu_seconds(server.pid)
                wall, cpu, rss = run(cmd, env_run)
                server_cpu = cpu_seconds(server.pid) - server_cpu
                if best is None or wall < best[0]:
                    best = (wall, cpu, rss, server_cpu)
            rows.append((label, *best))
    finally:
        server.kill()
        shutil.rmtree(work, ignore_errors=True)

    size_mb = os.path.getsize(args.input) / 1e6
    print(f"input: {name} ({size_mb:.0f} MB), workload: {os.path.relpath(args.workload, ROOT)}, best of {args.repeat}\n")
    print("| run | wall s | Sluice CPU s | Sluice peak RSS MiB | server CPU s | input MB/s |")
    print("|---|---|---|---|---|---|")
    for label, wall, cpu, rss, server_cpu in rows:
        server = f"{server_cpu:.2f}" if label.startswith("S3") else "-"
        print(f"| {label} | {wall:.2f} | {cpu:.2f} | {rss:.0f} | {server} | {size_mb / wall:.0f} |")


if __name__ == "__main__":
    main()
