"""Ray Train loops resume from the run's last checkpoint when run again with the same
RunConfig(name, storage_path): a longer second run trains only the epochs that are left."""

import numpy as np
import ray.data

from adrec.distributed.train import TrainSettings, train_lstm_ae


def test_second_run_resumes_from_the_last_checkpoint(ray_cluster, tmp_path):
    rng = np.random.default_rng(0)
    windows = ray.data.from_items([{"window": w} for w in rng.normal(size=(64, 7, 4))])
    config = {"hidden": 8, "latent": 2, "lr": 1e-2, "batch_size": 16, "seed": 0,
              "n_features": 4, "mean": [0.0] * 4, "std": [1.0] * 4, "report_every": 1}  # fmt: skip
    settings = TrainSettings(num_workers=1)

    _, first = train_lstm_ae(windows, {**config, "epochs": 2}, tmp_path, settings)
    assert first["epoch"] == 1 and first["start_epoch"] == 0
    assert list((tmp_path / "lstm_ae").glob("checkpoint_*"))

    model, second = train_lstm_ae(windows, {**config, "epochs": 3}, tmp_path, settings)
    # Only epoch 2 ran: the loop started from the checkpoint of epoch 1.
    assert second["epoch"] == 2 and second["start_epoch"] == 2
    assert np.isfinite(second["loss"])
    assert not model.training
