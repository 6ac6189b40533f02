"""Command-line options shared by `adrec train` and `adrec bench recommend`: how to read a
log, and the fit step's settings. Each command lists them; these turn them into an InputSpec
and a FitConfig, so both commands read and fit alike."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Format = Annotated[
    str,
    typer.Option(
        help="Log format: auto (detected), parquet, csv, movielens (ml-100k / ml-1m folder) or "
        "reviews (JSON lines: reviewerID, asin, unixReviewTime, overall)."
    ),
]
UserCol = Annotated[str, typer.Option(help="Column of user ids (parquet / csv).")]
ItemCol = Annotated[str, typer.Option(help="Column of item ids (parquet / csv).")]
TimeCol = Annotated[
    str, typer.Option(help="Column of timestamps: unix seconds, ISO 8601 or dates.")
]
CategoryCol = Annotated[
    str | None, typer.Option(help="Column of item categories (optional; '' for none).")
]
CategorySep = Annotated[
    str | None, typer.Option(help="Split a category string into several, e.g. '|'.")
]
ActionCol = Annotated[str | None, typer.Option(help="Column of actions (optional; '' for none).")]
ValueCol = Annotated[
    str | None, typer.Option(help="Column of values, e.g. rating or spend (optional).")
]
TimeUnit = Annotated[str, typer.Option(help="Unit of numeric timestamps: s or ms.")]
Meta = Annotated[
    Path | None, typer.Option(help="Item metadata JSON lines (reviews: asin + categories).")
]

Model = Annotated[str, typer.Option(help="Long-term sequential model: sasrec or gru4rec.")]
Loss = Annotated[
    str, typer.Option(help="Its training loss: full softmax, or sampled (uniform negatives).")
]
Epochs = Annotated[
    int | None,
    typer.Option(min=1, help="Most epochs of the sequential model (early stopping on validation)."),
]
SequenceStride = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Training windows' step for the sequential model: each window's last N "
        "positions are its targets, so every target sees at least max_len - N earlier "
        "items (default 5; 50, the model's max_len, gives plain chunks: less compute).",
    ),
]
SequenceBatchSize = Annotated[
    int | None,
    typer.Option(min=1, help="Training windows per step of the sequential model (default 256)."),
]
SequenceLr = Annotated[
    float | None,
    typer.Option(
        min=1e-6,
        max=1.0,
        help="Adam's learning rate for the sequential model (default 0.002).",
    ),
]
Split = Annotated[
    str, typer.Option(help="leave_last_out (each user's last targets), or global_time.")
]
TargetsPerUser = Annotated[
    int,
    typer.Option(min=1, help="Test and validation targets per user (fewer for short users)."),
]
Detector = Annotated[
    str,
    typer.Option(help="Behaviour detector: a registered name, 'auto' (validation) or 'none'."),
]
Windows = Annotated[
    str, typer.Option(help="Behaviour windows: interactions, days, or auto (validation).")
]
Window = Annotated[int, typer.Option(min=2, help="Interactions in an interaction window.")]
WindowDays = Annotated[int, typer.Option(min=2, help="Days in a day window.")]
MinProfile = Annotated[
    int, typer.Option(min=1, help="Earlier interactions a window is compared with.")
]
Features = Annotated[
    str, typer.Option(help="Window features: all, activity (rhythm only), or auto.")
]
SequenceInput = Annotated[
    str, typer.Option(help="Sequence detectors read: steps, summary, or auto.")
]
Served = Annotated[
    str, typer.Option(help="Served blend: rule (anomaly-aware), gate (learned) or fixed.")
]


def input_spec(
    path: Path,
    format: str,
    user_col: str,
    item_col: str,
    time_col: str,
    category_col: str | None,
    category_sep: str | None,
    action_col: str | None,
    value_col: str | None,
    time_unit: str,
    meta: Path | None,
):
    from adrec.data.readers import InputSpec
    from adrec.data.validate import Columns

    columns = Columns(
        user=user_col,
        item=item_col,
        time=time_col,
        category=category_col or None,
        action=action_col or None,
        value=value_col or None,
        category_sep=category_sep or None,
        time_unit=time_unit,
    )
    return InputSpec(str(path), format, columns, None if meta is None else str(meta))


def fit_config(
    model: str,
    loss: str,
    epochs: int | None,
    stride: int | None,
    split: str,
    targets_per_user: int,
    detector: str,
    windows: str,
    window: int,
    window_days: int,
    min_profile: int,
    features: str,
    sequence_input: str,
    served: str,
    batch_size: int | None = None,
    lr: float | None = None,
):
    from adrec.recommender.config import FitConfig

    cfg = FitConfig(
        split=split,
        targets_per_user=targets_per_user,
        detector=detector,
        windows=windows,
        window=window,
        window_days=window_days,
        min_profile=min_profile,
        features=features,
        sequence_input=sequence_input,
        served=served,
    )
    given = {"max_epochs": epochs, "stride": stride, "batch_size": batch_size, "lr": lr}
    changes = {"kind": model, "loss": loss} | {k: v for k, v in given.items() if v}
    return cfg.with_long_term(**changes)
