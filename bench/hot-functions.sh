#!/bin/bash
# Lists the functions of the release binary that the benchmark workloads execute, hottest
# first, into host/cli/layout/hot-functions.txt, which the release build places together
# (host/cli/build.rs: link_layout). Run it after upgrading dependencies or the toolchain
# (their functions' symbol names change) or when a run's memory grows:
#   cargo build --release -p sluice
#   bench/hot-functions.sh [folder with shipments_10m.csv and sensor_10m.csv]
#   cargo build --release -p sluice
# It runs each workload under valgrind's callgrind (which names every function executed,
# not only the sampled ones) on 30k rows of each input, plain and gzip, with the plugins
# already compiled: compiling is once per plugin, so cranelift stays out of the list.
set -euo pipefail
D=${1:-/tmp/bench-data}
HERE=$(cd "$(dirname "$0")" && pwd)
S=$HERE/../target/release/sluice
OUT=$HERE/../host/cli/layout/hot-functions.txt
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
head -n 30001 "$D/shipments_10m.csv" > "$W/ship.csv"
head -n 30001 "$D/sensor_10m.csv" > "$W/sensor.csv"
gzip -k -1 "$W/ship.csv" "$W/sensor.csv"
cat > "$W/copy.toml" <<'T'
[tables.t]
plugin = "passthrough"
input = { path = "${SLUICE_INPUT}" }
output = { location = "${SLUICE_OUTPUT}", compression = "zstd", level = 3 }
T
run() { # pipeline, input, [callgrind output]: one run under valgrind, profiled when named
  rm -rf "$W/out"
  # Under valgrind even to compile: the CPU it emulates has other features than the
  # machine's, and wasmtime compiles again for a CPU that differs from the cached code's.
  local tool=(valgrind --tool=none)
  [ $# -gt 2 ] && tool=(valgrind --tool=callgrind --demangle=no --dump-instr=no "--callgrind-out-file=$3")
  SLUICE_INPUT=$W/$2 SLUICE_OUTPUT=$W/out "${tool[@]}" "$S" run "$1" --progress never --log warn \
    --cache-dir "$W/cache" >/dev/null 2>"$W/err" || { cat "$W/err"; exit 1; }
}
i=0
for spec in "$HERE/workloads/dates.toml ship.csv" "$HERE/workloads/resample.toml sensor.csv" \
  "$W/copy.toml ship.csv" "$W/copy.toml sensor.csv"; do
  set -- $spec
  run "$1" "$2" # compiles the plugin, outside the profile
  for input in "$2" "$2.gz"; do
    i=$((i + 1))
    run "$1" "$input" "$W/cg.$i"
  done
done
python3 - "$S" "$OUT" "$W"/cg.* <<'PY'
"""Sums each function's own cost over the callgrind files; writes the binary's functions
hottest first (lld places them in this order)."""
import collections, os, re, sys
binary, out, files = os.path.realpath(sys.argv[1]), sys.argv[2], sys.argv[3:]
cost = collections.Counter()
# `ob=`/`fn=` set the object and function that the cost lines below belong to; `cob=` and
# `cfn=` name a call's target. A name is spelled out once, then referred to by its id.
NAME = re.compile(r"^(c?)(ob|fn)=\((\d+)\)(?: (.*))?$")
for path in files:
    names = {"ob": {}, "fn": {}}
    current = {"ob": None, "fn": None}
    skip_next = False
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        m = NAME.match(line)
        if m:
            called, kind, i, name = m.groups()
            if name:
                names[kind][i] = name
            if not called:
                current[kind] = names[kind].get(i)
            continue
        if line.startswith("calls="):
            skip_next = True  # the next cost line is the call's inclusive cost
            continue
        if line[:1].isdigit() or line[:1] in "+-":
            if skip_next:
                skip_next = False
                continue
            parts = line.split()
            if len(parts) >= 2 and current["fn"]:
                cost[(current["ob"], current["fn"])] += int(parts[1])
hot = [(c, fn) for (obj, fn), c in cost.items()
       if obj and os.path.realpath(obj) == binary and fn and not fn.startswith("0x")]
hot.sort(key=lambda t: (-t[0], t[1]))
with open(out, "w") as f:
    f.writelines(fn + "\n" for _, fn in hot)
print(f"{len(hot)} functions -> {out}")
PY
