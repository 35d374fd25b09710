#!/usr/bin/env bash
# Installs the S3 server the integration tests start: moto in server mode, in a venv at
# .venv-moto (where the tests look for it; SLUICE_MOTO_SERVER overrides). crc32c and awscrt
# make moto compute CRC32C/CRC64NVME checksums correctly. The second server, s3s-fs, is a
# Rust dev-dependency and needs nothing here.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-moto
if [ -x "$venv/bin/moto_server" ] && "$venv/bin/python" -c "import moto, crc32c, awscrt" 2>/dev/null; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check \
  "moto[s3,s3crc32c,stepfunctions,sqs]==5.2.5" flask flask-cors awscrt
"$venv/bin/moto_server" --help >/dev/null
echo "moto installed in $venv"
