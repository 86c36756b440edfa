#!/usr/bin/env bash
# Create benchmarks/peers/.venv with Cornac and Surprise for benchmarks/speed.py.
# Every install goes through the project's constraints (torch stays pinned to
# the CPU build should anything pull it in).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"
"$python" -m venv "$here/.venv"
"$here/.venv/bin/python" -m pip install --quiet --upgrade pip setuptools wheel -c "$root/constraints.txt"
"$here/.venv/bin/python" -m pip install -c "$root/constraints.txt" -r "$here/requirements.txt"
"$here/.venv/bin/python" -c "import cornac, surprise; print('cornac', cornac.__version__, 'surprise', surprise.__version__)"
"$here/.venv/bin/python" -c "import lenskit; print('lenskit', lenskit.__version__)"
