"""RecBole's SASRec on exactly adrec's leave-last-out split, run side by side.

RecBole 1.2.1 pins ray<=2.6.3, so it cannot live in adrec's environment: this module writes
RecBole atomic files and starts `benchmarks/recbole_sasrec.py` in an isolated uv
environment, streams its progress and reads its JSON result back. Whatever goes wrong there
(no network for the install, a RecBole error, a timeout) comes back as
{"status": "unavailable", "why": ...}, never as an exception, so the report can say so."""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
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
CONFIGS = ("matched", "default")  # as in benchmarks/recbole_sasrec.py


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


def recbole_command(
    data_path: Path,
    result_path: Path,
    *,
    config: str = "matched",
    max_len: int | None = None,
    epochs: int | None = None,
    seed: int | None = None,
    threads: int = 2,
    python: Sequence[str] = RECBOLE_PYTHON,
) -> list[str]:
    """The command that runs benchmarks/recbole_sasrec.py. `config="default"` runs RecBole's
    own SASRec defaults (the script sets only data fields, eval_args, the validation metric,
    seed and checkpoint folder): `max_len` and `epochs` are refused there."""
    if config not in CONFIGS:
        raise ValueError(f"config must be one of {CONFIGS}, got {config!r}")
    cmd = [*python, str(SCRIPT), "--config", config, "--data-path", str(data_path),
           "--dataset", DATASET, "--out", str(result_path), "--threads", str(threads)]  # fmt: skip
    if config == "default":
        if max_len is not None or epochs is not None:
            raise ValueError("RecBole's default configuration takes no max_len or epochs")
    else:
        cmd += ["--max-len", str(50 if max_len is None else max_len)]
        cmd += ["--epochs", str(30 if epochs is None else epochs)]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    return cmd


def run_recbole_sasrec(
    ratings: pd.DataFrame,
    out_dir: Path,
    max_len: int | None = None,
    epochs: int | None = None,
    *,
    config: str = "matched",
    seed: int | None = 0,
    log: Callable[[str], None] = print,
    timeout_s: float | None = None,
    python: Sequence[str] = RECBOLE_PYTHON,
    threads: int = 2,
) -> dict:
    """Train and evaluate RecBole's SASRec (early stopping on validation NDCG@10) on the
    ratings' leave-last-out split; returns its JSON result. `config="matched"`: adrec-like
    settings, at most `epochs`; `config="default"`: RecBole's own SASRec defaults (300 epochs
    at most, stopping_step 10; `max_len` and `epochs` must be None, `seed=None` keeps RecBole's
    2020). RecBole runs in `out_dir`, where it also leaves its logs and checkpoints."""
    out_dir = Path(out_dir).resolve()  # RecBole runs with out_dir as its working directory
    data_path = out_dir / "data"
    result_path = out_dir / "result.json"
    cmd = recbole_command(
        data_path, result_path, config=config, max_len=max_len, epochs=epochs, seed=seed,
        threads=threads, python=python,
    )  # fmt: skip
    write_atomic_inter(ratings, data_path / DATASET / f"{DATASET}.inter")
    result_path.unlink(missing_ok=True)
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
    result_path.write_text(json.dumps(result, indent=2))
    return result


def _unavailable(why: str) -> dict:
    return {"status": "unavailable", "why": why}


def main(argv: list[str] | None = None) -> int:
    """`python -m adrec.bench.recbole_reference --data ../shared/data/ml-100k --config default
    --out-dir reports/recbole_default`: RecBole on adrec's leave-last-out order of a MovieLens
    folder; the result lands in OUT_DIR/result.json."""
    from adrec.data.movielens import load_movielens

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--data", required=True, help="a MovieLens folder (ml-100k or ml-1m layout)")
    p.add_argument("--config", choices=CONFIGS, default="default")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-len", type=int, default=None, help="matched only")
    p.add_argument("--epochs", type=int, default=None, help="matched only")
    args = p.parse_args(argv)
    ratings = load_movielens(args.data).ratings
    load = [round(x, 2) for x in os.getloadavg()]
    print(f"RecBole SASRec ({args.config}) on {args.data}, load average {load}", flush=True)
    result = run_recbole_sasrec(
        ratings, Path(args.out_dir), args.max_len, args.epochs, config=args.config,
        seed=args.seed, threads=args.threads,
    )  # fmt: skip
    print(json.dumps({k: v for k, v in result.items() if k != "valid_curve"}, indent=2))
    return 0 if result.get("status") == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
