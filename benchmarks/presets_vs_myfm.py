"""embrec's presets beside myFM, one split, one run: test RMSE and seconds.

    PYTHONPATH=src .venv/bin/python benchmarks/presets_vs_myfm.py --data-dir ../shared/data \\
        [--dataset ml-latest-small] [--split random:0.1] [--seed 0] \\
        [--presets fast,bayes,best,neural] [--myfm relational,tutorial] \\
        [--json benchmarks/results/presets_vs_myfm.json]

The split is embrec's own: the ratings are read and split by the functions
``embrec train --dataset D --split S --seed N`` calls (``load_source`` and
``make_split``), so the defaults give exactly the ml-latest-small random 10 %
test part (seed 0) of the presets table in ``docs/accuracy.md``.

* myFM, in the peers' virtual environment ``benchmarks/peers/.venv`` (made by
  ``benchmarks/peers/setup.sh``; never a dependency of embrec): the training and
  test parts go to it as ``.npz`` files of raw ids, ratings and unix times (in a
  temporary folder, deleted after the run), and ``run_peers.py myfm EXAMPLE``
  fits myFM set up as one of its documented MovieLens examples and scores the
  test part (``benchmarks/peers/myfm_peer.py`` says which features each uses).
* embrec: each preset is the whole command ``embrec train --dataset D --data-dir
  DIR --split S --seed N --preset P --ranker none --json``, run as a subprocess
  (its bundle goes to the temporary folder). Its training part's fingerprint is
  checked against the one split here.

Seconds are each command's wall time, from start to exit (reading, feature
building, fitting, predicting; embrec also saves its bundle). The load average
(1 minute) is read before and after each row. RMSE is over every test rating,
predictions clipped to the rating scale (a cold item gets each method's own
fallback: embrec's baseline, myFM's unknown-id column or empty row). Prints a
markdown table; ``--json`` also writes it with the config, seed, split report
and data fingerprints.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PEERS_PYTHON = HERE / "peers" / ".venv" / "bin" / "python"
RUN_PEERS = HERE / "peers" / "run_peers.py"
MYFM_LABELS = {
    "relational": "myFM, its ml-100k example (date, ids, implicit feedback; rank 10, 512 sweeps)",
    "tutorial": "myFM, its tutorial's grouped MF (ids; rank 10, 200 sweeps)",
}


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def write_part(path: Path, part, scale) -> None:
    """Raw user and item ids, ratings, unix times and the rating scale, for the peer."""
    timestamps = (part.timestamps if part.timestamps is not None
                  else np.zeros(len(part), dtype=np.int64))
    np.savez(path, users=part.user_ids.to_raw(part.users), items=part.item_ids.to_raw(part.items),
             values=part.values.astype(np.float64), timestamps=timestamps,
             scale=np.array([scale.low, scale.high]))


def timed(command: list[str]) -> tuple[dict, float, list[float]]:
    """The last JSON line a command prints, its wall seconds, the load average before and after."""
    before = load_average()
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    last = [line for line in done.stdout.splitlines() if line.startswith("{")][-1]
    return json.loads(last), seconds, [before, load_average()]


def run_myfm(python: Path, example: str, folder: Path) -> dict:
    command = [str(python), str(RUN_PEERS), "myfm", example,
               str(folder / "train.npz"), str(folder / "test.npz")]
    result, seconds, load = timed(command)
    print(f"  {MYFM_LABELS[example]}: RMSE {result['rmse']:.4f} in {seconds:.1f} s", flush=True)
    return {"method": MYFM_LABELS[example], "rmse": result["rmse"], "mae": result["mae"],
            "seconds": seconds, "load_average": load,
            "command": f"run_peers.py myfm {example} TRAIN.npz TEST.npz", "details": result}


def run_preset(args: argparse.Namespace, preset: str, folder: Path,
               train_fingerprint: str) -> dict:
    flags = ["train", "--dataset", args.dataset, "--data-dir", str(args.data_dir),
             "--split", args.split, "--seed", str(args.seed), "--preset", preset,
             "--ranker", "none", "--json"]
    command = [sys.executable, "-m", "embrec", *flags, "--out", str(folder / preset)]
    result, seconds, load = timed(command)
    if result["fingerprint"] != train_fingerprint:
        raise SystemExit(f"embrec train split {args.split} differently: training part "
                         f"{result['fingerprint']}, here {train_fingerprint}")
    print(f"  preset {preset}: RMSE {result['test_rmse']:.4f} in {seconds:.1f} s", flush=True)
    return {"method": f"embrec --preset {preset} ({result['model']})",
            "rmse": result["test_rmse"], "mae": result["test_mae"], "seconds": seconds,
            "load_average": load, "command": "embrec " + " ".join(flags), "details": result}


def markdown(rows: list[dict]) -> str:
    lines = ["| method | test RMSE | MAE | seconds | load average (before, after) |",
             "| --- | ---: | ---: | ---: | --- |"]
    for r in sorted(rows, key=lambda r: r["rmse"]):
        lines.append(f"| {r['method']} | {r['rmse']:.4f} | {r['mae']:.4f} | {r['seconds']:.1f} | "
                     f"{r['load_average'][0]:.2f}, {r['load_average'][1]:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--split", default="random:0.1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--presets", default="fast",
                        help="embrec presets, comma separated ('' for none)")
    parser.add_argument("--myfm", default="relational,tutorial",
                        help="myFM examples, comma separated ('' for none): "
                             + ", ".join(MYFM_LABELS))
    parser.add_argument("--peers-python", type=Path, default=PEERS_PYTHON)
    parser.add_argument("--json", type=Path, help="also write the rows and the config here")
    args = parser.parse_args()
    presets = [p for p in args.presets.split(",") if p]
    examples = [e for e in args.myfm.split(",") if e]
    if examples and not args.peers_python.exists():
        raise SystemExit(f"{args.peers_python} not found; run benchmarks/peers/setup.sh "
                         "or give --peers-python")

    from embrec.data.datasets import load_source
    from embrec.data.splits import make_split

    started_at = datetime.now(UTC)
    ratings = load_source(args.dataset, data_dir=args.data_dir)
    split = make_split(ratings, args.split, data_dir=args.data_dir, seed=args.seed)
    print(f"{ratings!r}\n{split!r}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="presets-vs-myfm-") as tmp:
        folder = Path(tmp)
        write_part(folder / "train.npz", split.train, ratings.scale)
        write_part(folder / "test.npz", split.test, ratings.scale)
        rows += [run_myfm(args.peers_python, example, folder) for example in examples]
        rows += [run_preset(args, preset, folder, split.train.fingerprint())
                 for preset in presets]
    header = (f"{args.dataset} (fingerprint {ratings.fingerprint()}), split {split.name} "
              f"seed {args.seed}: train {len(split.train):,}, test {len(split.test):,} "
              f"({split.cold_test_ratings} test ratings of cold items or users); measured "
              f"{started_at:%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
              f"{os.cpu_count()} cores")
    table = markdown(rows)
    print(f"\n{header}\n\n{table}")
    if args.json:
        config = {"dataset": args.dataset, "fingerprint": ratings.fingerprint(),
                  "train_fingerprint": split.train.fingerprint(),
                  "test_fingerprint": split.test.fingerprint(), "split": split.report(),
                  "seed": args.seed, "presets": presets, "myfm_examples": examples,
                  "measured": started_at.isoformat(timespec="seconds"),
                  "machine": platform.machine(), "cores": os.cpu_count()}
        args.json.write_text(json.dumps({"config": config, "header": header, "rows": rows},
                                        indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
