"""RecBole's SASRec on exactly adrec's leave-last-out split, run side by side.

RecBole 1.2.1 pins ray<=2.6.3, so it cannot live in adrec's environment: this module writes
RecBole atomic files and starts `benchmarks/recbole_sasrec.py` in an isolated uv
environment, streams its progress and reads its JSON result back. Whatever goes wrong there
(no network for the install, a RecBole error, a timeout) comes back as
{"status": "unavailable", "why": ...}, never as an exception, so the report can say so."""

from __future__ import annotations

import collections
import json
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "recbole_sasrec.py"
RECBOLE_PYTHON = (
    "uv", "run", "--no-project", "--python", "3.11",
    "--with", "recbole==1.2.1", "--with", "setuptools<70", "python",
)  # fmt: skip
DATASET = "ml100k"


def write_atomic_inter(ratings: pd.DataFrame, path: Path) -> Path:
    """RecBole's .inter file whose timestamp is each interaction's position in adrec's
    per-user order (stable sort by timestamp: ties keep the frame's order), so RecBole's
    time ordering reproduces adrec's sequences, and its leave-one-out targets ours, exactly."""
    for col in ("user_id", "item_id", "timestamp"):
        if col not in ratings:
            raise ValueError(f"ratings lack the column {col!r}")
    ordered = ratings.sort_values(["user_id", "timestamp"], kind="stable")
    frame = pd.DataFrame(
        {
            "user_id:token": ordered["user_id"].to_numpy(),
            "item_id:token": ordered["item_id"].to_numpy(),
            "timestamp:float": ordered.groupby("user_id", sort=False).cumcount().to_numpy(),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, sep="\t", index=False)
    return path


def run_recbole_sasrec(
    ratings: pd.DataFrame,
    out_dir: Path,
    max_len: int,
    epochs: int,
    *,
    seed: int = 0,
    log: Callable[[str], None] = print,
    timeout_s: float | None = None,
    python: Sequence[str] = RECBOLE_PYTHON,
    threads: int = 2,
) -> dict:
    """Train and evaluate RecBole's SASRec (at most `epochs`, early stopping on validation
    NDCG@10) on the ratings' leave-last-out split; returns its JSON result. RecBole runs in
    `out_dir`, where it also leaves its logs and checkpoints."""
    out_dir = Path(out_dir).resolve()  # RecBole runs with out_dir as its working directory
    data_path = out_dir / "data"
    write_atomic_inter(ratings, data_path / DATASET / f"{DATASET}.inter")
    result_path = out_dir / "result.json"
    result_path.unlink(missing_ok=True)
    cmd = [*python, str(SCRIPT), "--data-path", str(data_path), "--dataset", DATASET,
           "--out", str(result_path), "--max-len", str(max_len), "--epochs", str(epochs),
           "--seed", str(seed), "--threads", str(threads)]  # fmt: skip
    if not SCRIPT.exists():
        return _unavailable(f"{SCRIPT} is missing (run from a checkout of the repository)")
    tail: collections.deque[str] = collections.deque(maxlen=30)
    try:
        proc = subprocess.Popen(
            cmd, cwd=out_dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    except OSError as exc:
        return _unavailable(f"could not start {cmd[0]!r}: {exc}")
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        proc.kill()

    timer = threading.Timer(timeout_s, kill) if timeout_s else None
    if timer:
        timer.start()
    try:
        for line in proc.stdout:
            tail.append(line.rstrip())
            if line.startswith("[recbole]"):
                log(line.rstrip())
        code = proc.wait()
    finally:
        if timer:
            timer.cancel()
    if code != 0 or not result_path.exists():
        why = f"timed out after {timeout_s} s" if killed.is_set() else f"exit {code}"
        return _unavailable(f"RecBole run failed ({why}): " + "\n".join(tail))
    result = json.loads(result_path.read_text())
    result["command"] = " ".join(cmd)
    return result


def _unavailable(why: str) -> dict:
    return {"status": "unavailable", "why": why}
