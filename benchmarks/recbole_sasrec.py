"""RecBole 1.2.1's SASRec on atomic files written by adrec.bench.recbole_reference; runs in
RecBole's own environment (it pins ray<=2.6.3, which cannot share adrec's lock):

    uv run --no-project --python 3.11 --with recbole==1.2.1 --with 'setuptools<70' \\
        python benchmarks/recbole_sasrec.py --data-path DIR --out result.json [--config default]

Two configurations (`--config`):

- `matched` (the default of this script): as close to adrec's SASRec as RecBole allows
  (full-softmax CE, same width, depth, heads, dropout, learning rate and sequence length),
  with `--epochs` / `--stopping-step` / `--batch-size` / `--max-len` as given.
- `default`: RecBole's own defaults for SASRec (its `properties/overall.yaml`,
  `properties/model/SASRec.yaml` and `properties/quick_start_config/sequential.yaml`: 300
  epochs at most, stopping_step 10, batch 2048, lr 1e-3, hidden 64, inner 256, 2 layers,
  2 heads, dropout 0.5, GELU, MAX_ITEM_LIST_LENGTH 50, CE loss). Only what RecBole needs to
  read our data (`data_path`, field names, `load_col`), the leave-one-out `eval_args`, the
  validation metric NDCG@10, the seed and the checkpoint folder are set, plus
  `train_neg_sample_args: None`, which RecBole 1.2.1 itself requires with CE loss for a
  sequential model (it raises otherwise). `--max-len`, `--epochs`, `--stopping-step` and
  `--batch-size` are refused in this mode.

Both are evaluated by RecBole's own sequential protocol: leave-one-out by time, full ranking,
seen items NOT excluded. Prints one line per epoch ("[recbole] ...", with the machine's load
average) and writes the result as JSON, with the configuration RecBole actually ran."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

CONFIGS = ("matched", "default")
EVAL_ARGS = {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": "full", "group_by": "user"}
# RecBole's own default seed (overall.yaml), used in `default` mode unless --seed is given.
RECBOLE_DEFAULT_SEED = 2020
# The keys of RecBole's final configuration copied into the result: what decides the model,
# its training and its evaluation.
REPORTED_KEYS = (
    "n_layers", "n_heads", "hidden_size", "inner_size", "hidden_dropout_prob",
    "attn_dropout_prob", "hidden_act", "layer_norm_eps", "initializer_range", "loss_type",
    "MAX_ITEM_LIST_LENGTH", "epochs", "train_batch_size", "learner", "learning_rate",
    "weight_decay", "clip_grad_norm", "stopping_step", "eval_step", "train_neg_sample_args",
    "eval_args", "repeatable", "metrics", "topk", "valid_metric", "seed", "reproducibility",
    "shuffle", "device",
)  # fmt: skip
MATCHED_ONLY = ("max_len", "epochs", "stopping_step", "batch_size")


def data_fields(data_path: str, checkpoint_dir: str) -> dict:
    """What RecBole needs to read the atomic file written by adrec.bench.recbole_reference."""
    return {
        "data_path": data_path,
        "checkpoint_dir": checkpoint_dir,
        "USER_ID_FIELD": "user_id",
        "ITEM_ID_FIELD": "item_id",
        "TIME_FIELD": "timestamp",
        "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
    }


def build_config_dict(
    config: str,
    *,
    data_path: str,
    checkpoint_dir: str,
    seed: int | None = None,
    max_len: int | None = None,
    epochs: int | None = None,
    stopping_step: int | None = None,
    batch_size: int | None = None,
) -> dict:
    """The `config_dict` handed to recbole.config.Config for one of CONFIGS. In `default`
    mode everything not listed here comes from RecBole's own yaml files."""
    if config not in CONFIGS:
        raise ValueError(f"config must be one of {CONFIGS}, got {config!r}")
    fields = data_fields(data_path, checkpoint_dir)
    common = {
        "train_neg_sample_args": None,  # RecBole 1.2.1 refuses CE loss with negative sampling
        "eval_args": EVAL_ARGS,
        "valid_metric": "NDCG@10",
    }
    if config == "default":
        given = {
            k: v
            for k, v in dict(
                max_len=max_len, epochs=epochs, stopping_step=stopping_step, batch_size=batch_size
            ).items()
            if v is not None
        }
        if given:
            raise ValueError(f"the default configuration takes no {sorted(given)}")
        return {**fields, **common, "seed": RECBOLE_DEFAULT_SEED if seed is None else seed}
    return {
        **fields,
        "MAX_ITEM_LIST_LENGTH": 50 if max_len is None else max_len,
        "hidden_size": 64,
        "inner_size": 64,
        "n_layers": 2,
        "n_heads": 2,
        "hidden_dropout_prob": 0.2,
        "attn_dropout_prob": 0.2,
        "loss_type": "CE",
        "learning_rate": 1e-3,
        "train_batch_size": 2048 if batch_size is None else batch_size,
        "eval_batch_size": 4096,
        "epochs": 30 if epochs is None else epochs,
        "stopping_step": 3 if stopping_step is None else stopping_step,
        "eval_step": 1,
        **common,
        "metrics": ["Hit", "NDCG"],
        "topk": [10],
        "seed": 0 if seed is None else seed,
        "reproducibility": True,
        "use_gpu": False,
        "show_progress": False,
        "worker": 0,
    }


def _patch_for_recbole() -> None:
    """What RecBole 1.2.1 needs on today's NumPy and torch (only in RecBole's process)."""
    import numpy as np
    import torch

    # NumPy 2 removed aliases that RecBole 1.2.1 still uses.
    for name, value in {"float_": np.float64, "complex_": np.complex128, "unicode_": np.str_,
                        "float": float, "int": int, "bool": bool, "object": object, "str": str,
                        "long": int}.items():  # fmt: skip
        if not hasattr(np, name):
            setattr(np, name, value)
    # RecBole reloads its own best checkpoint with torch.load, which defaults to weights_only.
    torch_load = torch.load
    torch.load = lambda *a, **k: torch_load(*a, **{"weights_only": False, **k})


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--data-path", required=True, help="folder holding <dataset>/<dataset>.inter")
    p.add_argument("--dataset", default="ml100k")
    p.add_argument("--out", required=True)
    p.add_argument("--config", choices=CONFIGS, default="matched")
    p.add_argument("--max-len", type=int, default=None, help="matched only (default 50)")
    p.add_argument("--epochs", type=int, default=None, help="matched only (default 30)")
    p.add_argument("--stopping-step", type=int, default=None, help="matched only (default 3)")
    p.add_argument("--batch-size", type=int, default=None, help="matched only (default 2048)")
    p.add_argument("--seed", type=int, default=None, help="default: 0 (matched), 2020 (default)")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    config_dict = build_config_dict(
        args.config,
        data_path=args.data_path,
        checkpoint_dir=str(Path(args.out).resolve().parent / "saved"),
        seed=args.seed,
        max_len=args.max_len,
        epochs=args.epochs,
        stopping_step=args.stopping_step,
        batch_size=args.batch_size,
    )

    _patch_for_recbole()
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    import recbole
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.model.sequential_recommender import SASRec
    from recbole.trainer import Trainer
    from recbole.utils import init_seed

    # recbole/model/sequential_recommender/sine.py switches anomaly detection on at import
    # (about 8x slower training).
    torch.autograd.set_detect_anomaly(False)

    config = Config(model="SASRec", dataset=args.dataset, config_dict=config_dict)
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    train, valid, test = data_preparation(config, dataset)
    model = SASRec(config, train.dataset).to(config["device"])
    print(f"[recbole] config {args.config}: " + json.dumps(
        {k: _jsonable(config[k]) for k in REPORTED_KEYS if k in config.final_config_dict}
    ), flush=True)  # fmt: skip

    curve: list[dict] = []
    load_start = _load()
    start, cpu_start = time.perf_counter(), time.process_time()

    class LoggingTrainer(Trainer):
        def _valid_epoch(self, valid_data, show_progress=False):
            score, result = super()._valid_epoch(valid_data, show_progress)
            seconds = round(time.perf_counter() - start, 1)
            row = {"epoch": len(curve), "valid_ndcg@10": float(score), "seconds": seconds,
                   "loadavg": _load()}  # fmt: skip
            curve.append(row)
            print(f"[recbole] epoch {row['epoch']} valid NDCG@10 {score:.4f} "
                  f"({row['seconds']} s, load {row['loadavg']})", flush=True)  # fmt: skip
            return score, result

    trainer = LoggingTrainer(config, model)
    trainer.fit(train, valid, saved=True, show_progress=False)
    train_seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start  # every thread of this process
    test_result = trainer.evaluate(test, load_best_model=True, show_progress=False)
    best_epoch = max(curve, key=lambda r: r["valid_ndcg@10"])["epoch"] if curve else None
    result = {
        "status": "ok",
        "config_mode": args.config,
        "ndcg@10": float(test_result["ndcg@10"]),
        "hit@10": float(test_result["hit@10"]),
        "best_valid_ndcg@10": float(trainer.best_valid_score),
        "best_epoch": best_epoch,
        "train_seconds": round(train_seconds, 1),
        "cpu_seconds": round(cpu_seconds, 1),
        "epochs": len(curve),
        "valid_curve": curve,
        "loadavg_start": load_start,
        "loadavg_end": _load(),
        "protocol": "RecBole sequential: leave-one-out by time, full ranking, seen items kept",
        "overrides": _jsonable(
            {k: v for k, v in config_dict.items() if k not in ("data_path", "checkpoint_dir")}
        ),
        "config": {k: _jsonable(config[k]) for k in REPORTED_KEYS if k in config.final_config_dict},
        "versions": {
            "recbole": recbole.__version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },  # fmt: skip
        "threads": args.threads,
        "cpu_count": os.cpu_count(),
        "users": int(dataset.user_num - 1),
        "items": int(dataset.item_num - 1),
    }
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"[recbole] test NDCG@10 {result['ndcg@10']:.4f} HR@10 {result['hit@10']:.4f} "
          f"after {result['epochs']} epochs, {result['train_seconds']} s", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
