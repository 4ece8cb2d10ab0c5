#!/usr/bin/env bash
# Builds the release binary and the peers' Python environments, then runs bench/read.py.
# Peers: personio-py 0.3.0 (v1, Python 3.11) and dlt-source-personio 0.0.4 (v2, needs
# Python >= 3.12: taken from pyenv when present, else the peer is skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p personio-sync
if [ ! -x bench/.venv-v1/bin/python ]; then
  python3 -m venv bench/.venv-v1
  bench/.venv-v1/bin/pip install -q personio-py==0.3.0
fi
py312=""
for p in python3.13 python3.12 /root/.pyenv/versions/3.12*/bin/python3; do
  if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then py312=$p; break; fi
done
if [ ! -x bench/.venv-v2/bin/python ] && [ -n "$py312" ]; then
  "$py312" -m venv bench/.venv-v2
  bench/.venv-v2/bin/pip install -q dlt-source-personio==0.0.4 'dlt[duckdb]==1.31.0'
fi
python3 bench/read.py "$@"
