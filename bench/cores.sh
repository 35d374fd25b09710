#!/bin/bash
# One core, then two: median wall seconds of 3 runs, Sluice beside Polars, on the dates
# transform and a plain CSV -> Parquet (zstd 3) copy of the shipments workload.
#   cargo build --release -p sluice
#   bench/cores.sh [/tmp/bench-data/shipments_10m.csv] [python with polars, default /tmp/bench-venv]
# Sluice settles its threads from the cores it may use (taskset limits them), as Polars does.
set -euo pipefail
D=${1:-/tmp/bench-data/shipments_10m.csv}
P=${2:-/tmp/bench-venv/bin/python} # the peers' venv (README: Benchmarks); not .venv-moto, whose botocore needs an older dateutil
PEERS=$(dirname "$0")/../../shared/bench/peers
S=$(dirname "$0")/../target/release/sluice
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cat > "$W/copy.toml" <<T
[tables.t]
plugin = "passthrough"
input = { path = "$D" }
output = { location = "$W/out/copy", compression = "zstd", level = 3 }
T
median() { sort -n | sed -n 2p; }
wall() { # cores, command...: the median wall time of 3 runs
  local cores=$1; shift
  for _ in 1 2 3; do
    rm -rf "$W/out" "$W/p.parquet"
    /usr/bin/time -f "%e" -o "$W/t" taskset -c "$cores" "$@" >/dev/null 2>"$W/err" || { cat "$W/err"; exit 1; }
    cat "$W/t"
  done | median
}
flags=(--progress never --log warn --cache-dir "$W/cache")
SLUICE_INPUT=$D SLUICE_OUTPUT=$W/out/d "$S" run "$(dirname "$0")/workloads/dates.toml" "${flags[@]}" >/dev/null # compile the plugin once
declare -A t
for cores in 0 0,1; do
  t[sd$cores]=$(SLUICE_INPUT=$D SLUICE_OUTPUT=$W/out/d wall $cores "$S" run "$(dirname "$0")/workloads/dates.toml" "${flags[@]}")
  t[sc$cores]=$(wall $cores "$S" run "$W/copy.toml" "${flags[@]}")
  t[pd$cores]=$(wall $cores "$P" "$PEERS/polars_dates.py" "$D" "$W/p.parquet")
  t[pc$cores]=$(wall $cores "$P" -c "import polars as pl,sys; pl.scan_csv(sys.argv[1]).sink_parquet(sys.argv[2], compression='zstd', compression_level=3)" "$D" "$W/p.parquet")
done
echo "$(basename "$D"), median wall seconds of 3 runs"
echo
echo "| | Sluice dates | Sluice copy | Polars dates | Polars copy |"
echo "|---|---:|---:|---:|---:|"
echo "| 1 core | ${t[sd0]} | ${t[sc0]} | ${t[pd0]} | ${t[pc0]} |"
echo "| 2 cores | ${t[sd0,1]} | ${t[sc0,1]} | ${t[pd0,1]} | ${t[pc0,1]} |"
x() { python3 -c "print(f'{$1/$2:.2f}x')"; }
echo "| speed-up | $(x ${t[sd0]} ${t[sd0,1]}) | $(x ${t[sc0]} ${t[sc0,1]}) | $(x ${t[pd0]} ${t[pd0,1]}) | $(x ${t[pc0]} ${t[pc0,1]}) |"
