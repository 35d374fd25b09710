#!/usr/bin/env bash
# Installs the tools the tests use, in a venv at .venv-moto (where the tests look for them):
# - moto in server mode, the S3 server the integration tests start (SLUICE_MOTO_SERVER
#   overrides); crc32c and awscrt make it compute CRC32C/CRC64NVME checksums correctly. The
#   second server, s3s-fs, is a Rust dev-dependency and needs nothing here.
# - componentize-py, which builds the Python test plugins (SLUICE_COMPONENTIZE_PY overrides).
# - pyarrow, the independent Parquet reader the tests compare against, and DuckDB and
#   Polars, which read partitioned outputs back as other engines would (the tests run this
#   venv's python; SLUICE_TEST_PYTHON overrides).
# - pyiceberg, the independent Iceberg reader (through moto's Glue and S3 for Glue tables),
#   and with SQLite the catalog behind the tests' Iceberg REST server.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-moto
if [ -x "$venv/bin/moto_server" ] && [ -x "$venv/bin/componentize-py" ] && "$venv/bin/python" -c "import moto, crc32c, awscrt, pyparsing, pyarrow, duckdb, polars, pyiceberg, sqlalchemy" 2>/dev/null; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check \
  "moto[s3,s3crc32c,stepfunctions,sqs,glue]==5.2.5" flask flask-cors awscrt componentize-py==0.25.1 "pyarrow>=15" duckdb polars "pyiceberg[sql-sqlite]==0.12.0"
"$venv/bin/moto_server" --help >/dev/null
echo "moto, componentize-py, pyarrow, DuckDB, Polars and pyiceberg installed in $venv"
