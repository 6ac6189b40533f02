"""RecBole 1.2.1's SASRec on atomic files written by adrec.bench.recbole_reference; runs in
RecBole's own environment (it pins ray<=2.6.3, which cannot share adrec's lock):

    uv run --no-project --python 3.11 --with recbole==1.2.1 --with 'setuptools<70' \\
        python benchmarks/recbole_sasrec.py --data-path DIR --out result.json

Configured as close to adrec's SASRec as RecBole allows (full-softmax CE, same width, depth,
heads, dropout, learning rate and sequence length), evaluated by RecBole's own sequential
protocol: leave-one-out by time, full ranking, seen items NOT excluded. Prints one line per
epoch ("[recbole] ...") and writes the result as JSON."""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

# NumPy 2 removed aliases that RecBole 1.2.1 still uses.
for _name, _value in {"float_": np.float64, "complex_": np.complex128, "unicode_": np.str_,
                      "float": float, "int": int, "bool": bool, "object": object, "str": str,
                      "long": int}.items():  # fmt: skip
    if not hasattr(np, _name):
        setattr(np, _name, _value)

# RecBole reloads its own best checkpoint with torch.load, which defaults to weights_only now.
_torch_load = torch.load
torch.load = lambda *a, **k: _torch_load(*a, **{"weights_only": False, **k})


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data-path", required=True, help="folder holding <dataset>/<dataset>.inter")
    p.add_argument("--dataset", default="ml100k")
    p.add_argument("--out", required=True)
    p.add_argument("--max-len", type=int, default=50)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--stopping-step", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=2048)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
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

    config_dict = {
        "data_path": args.data_path,
        "checkpoint_dir": str(Path(args.out).parent / "saved"),
        "USER_ID_FIELD": "user_id",
        "ITEM_ID_FIELD": "item_id",
        "TIME_FIELD": "timestamp",
        "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        "MAX_ITEM_LIST_LENGTH": args.max_len,
        "hidden_size": 64,
        "inner_size": 64,
        "n_layers": 2,
        "n_heads": 2,
        "hidden_dropout_prob": 0.2,
        "attn_dropout_prob": 0.2,
        "loss_type": "CE",
        "train_neg_sample_args": None,
        "learning_rate": 1e-3,
        "train_batch_size": args.batch_size,
        "eval_batch_size": 4096,
        "epochs": args.epochs,
        "stopping_step": args.stopping_step,
        "eval_step": 1,
        "eval_args": {
            "split": {"LS": "valid_and_test"},
            "order": "TO",
            "mode": "full",
            "group_by": "user",
        },  # fmt: skip
        "metrics": ["Hit", "NDCG"],
        "topk": [10],
        "valid_metric": "NDCG@10",
        "seed": args.seed,
        "reproducibility": True,
        "use_gpu": False,
        "show_progress": False,
        "worker": 0,
    }
    config = Config(model="SASRec", dataset=args.dataset, config_dict=config_dict)
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    train, valid, test = data_preparation(config, dataset)
    model = SASRec(config, train.dataset).to(config["device"])

    curve: list[dict] = []
    start = time.perf_counter()

    class LoggingTrainer(Trainer):
        def _valid_epoch(self, valid_data, show_progress=False):
            score, result = super()._valid_epoch(valid_data, show_progress)
            row = {"epoch": len(curve), "valid_ndcg@10": float(score),
                   "seconds": round(time.perf_counter() - start, 1)}  # fmt: skip
            curve.append(row)
            print(f"[recbole] epoch {row['epoch']} valid NDCG@10 {score:.4f} "
                  f"({row['seconds']} s)", flush=True)  # fmt: skip
            return score, result

    trainer = LoggingTrainer(config, model)
    trainer.fit(train, valid, saved=True, show_progress=False)
    train_seconds = time.perf_counter() - start
    test_result = trainer.evaluate(test, load_best_model=True, show_progress=False)
    result = {
        "status": "ok",
        "ndcg@10": float(test_result["ndcg@10"]),
        "hit@10": float(test_result["hit@10"]),
        "best_valid_ndcg@10": float(trainer.best_valid_score),
        "train_seconds": round(train_seconds, 1),
        "epochs": len(curve),
        "valid_curve": curve,
        "protocol": "RecBole sequential: leave-one-out by time, full ranking, seen items kept",
        "config": {
            k: v for k, v in config_dict.items() if k not in ("data_path", "checkpoint_dir")
        },
        "versions": {
            "recbole": recbole.__version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },  # fmt: skip
        "threads": args.threads,
        "users": int(dataset.user_num - 1),
        "items": int(dataset.item_num - 1),
    }
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"[recbole] test NDCG@10 {result['ndcg@10']:.4f} HR@10 {result['hit@10']:.4f}",
          flush=True)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
