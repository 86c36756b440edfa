#!/usr/bin/env bash
# Create benchmarks/peers/.venv with the peer libraries: Cornac and Surprise for
# benchmarks/speed.py and accuracy.py, LensKit for accuracy.py and ranking.py,
# implicit for ranking.py, myFM for presets_vs_myfm.py.
# Every install goes through the peers' constraints (constraints.txt here): torch
# stays pinned to the CPU build embrec uses, installed first as `make setup` does.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
"$python" -m venv "$here/.venv"
"$here/.venv/bin/python" -m pip install --quiet --upgrade pip setuptools wheel -c "$here/constraints.txt"
"$here/.venv/bin/python" -m pip install --quiet -c "$here/constraints.txt" torch==2.13.0
"$here/.venv/bin/python" -m pip install -c "$here/constraints.txt" -r "$here/requirements.txt"
"$here/.venv/bin/python" -c "import cornac, surprise; print('cornac', cornac.__version__, 'surprise', surprise.__version__)"
"$here/.venv/bin/python" -c "import lenskit; print('lenskit', lenskit.__version__)"
"$here/.venv/bin/python" -c "import implicit; print('implicit', implicit.__version__)"
"$here/.venv/bin/python" -W ignore::UserWarning -c "import myfm; print('myfm', myfm.__version__)"
