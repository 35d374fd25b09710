#!/bin/sh
# Builds a Python plugin folder (an `app.py` with `Columnar = export(...)`) into a component,
# the way `sluice plugin build` and tests/build.rs do:
#   plugins/sdk-python/build.sh plugins/date-cleanup-py /tmp/date_cleanup_py.wasm [module]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
app_dir=$(cd "$1" && pwd)
out=$2
module=${3:-app}
exec "${SLUICE_COMPONENTIZE_PY:-componentize-py}" -d "$root/wit" -w columnar-plugin \
    componentize "$module" -p "$app_dir" -p "$here" -o "$out"
