"""The Ray Data log pipeline (adrec.distributed.pipeline) on a local cluster: exact row
accounting with every bad-data case, the same log, windows and rejects as the one-process
computation, progress lines, and a malformed file failing with its name."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from adrec.data.log_prep import prepare_local
from adrec.data.logs import write_event_log
from adrec.data.simulator import SimulationConfig, simulate
from adrec.data.validate import REJECT_REASONS, Known
from adrec.detectors.behaviour.windows import InteractionWindow

BAD = """user_id,item_id,timestamp,category,action,value
u1,i1,2024-01-01T10:00:00Z,shoes,view,0
u1,i2,2024-01-01T11:00:00Z,shoes,purchase,20.5
u1,i2,2024-01-01T11:00:00Z,shoes,purchase,20.5
,i1,2024-01-01T10:00:00Z,shoes,view,0
u3,,2024-01-01T10:00:00Z,shoes,view,0
u3,i1,,shoes,view,0
u3,i1,yesterday,shoes,view,0
u3,i1,1850-01-01,shoes,view,0
u3,i1,2024-01-02,shoes,view,4 stars
u3,i1,2024-01-02,garden,view,0
u3,i1,2024-01-02,shoes,teleport,0
u3,i1,2024-01-02,shoes,view
"""
KNOWN = Known(categories={"shoes", "books"}, actions={"view", "cart", "purchase"})


def _read(folder) -> pd.DataFrame:
    return pq.read_table(str(folder)).to_pandas()


@pytest.fixture(scope="module")
def simulated_csv(tmp_path_factory):
    """A simulated log as 3 CSV files, with one file of every bad-data case."""
    root = tmp_path_factory.mktemp("csvlog")
    events, _, _ = simulate(SimulationConfig(n_users=60, n_days=28, n_items=80, n_categories=4))
    categories = {"shoes", "books", *events["category"].unique()}
    events["timestamp"] = events["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    for k, part in enumerate(pd.Series(range(len(events))).groupby(lambda i: i % 2)):
        events.iloc[part[1].to_numpy()].to_csv(root / f"part-{k}.csv", index=False)
    (root / "part-2.csv").write_text(BAD)
    known = Known(categories=categories, actions=KNOWN.actions)
    return root, known, len(events)


def test_ray_pipeline_equals_the_one_process_computation(ray_cluster, simulated_csv, tmp_path):
    from adrec.distributed.pipeline import PipelineOptions, read_rejects, run_pipeline

    root, known, n_events = simulated_csv
    window = InteractionWindow(5, 5)
    lines: list[str] = []
    opts = PipelineOptions(known=known, window=window, partitions=3, task_cpus=0.5)
    report = run_pipeline(str(root), str(tmp_path / "out"), opts, log=lines.append)
    assert report["rows_in"] == n_events + 12
    assert report["rejected"] == {r: 1 for r in REJECT_REASONS}
    assert report["rows_in"] == report["rows_out"] + report["rows_rejected"]
    assert report["partitions"] == 3 and report["files"] == 3
    assert any(line.startswith("  read ") for line in lines)
    assert sum(line.startswith("  partition ") for line in lines) == 3

    local = prepare_local(str(root), known=known, window=window)
    assert {k: report[k] for k in local.report if k != "format"} == {
        k: v for k, v in local.report.items() if k != "format"
    }
    rejects = read_rejects(str(tmp_path / "out"))
    assert rejects["reason"].value_counts().to_dict() == {r: 1 for r in REJECT_REASONS}

    out = tmp_path / "out"
    ours = _read(out / "windows").sort_values(["user_id", "end"]).reset_index(drop=True)
    ref = local.partition.windows.to_pandas().sort_values(["user_id", "end"])
    ref = ref.reset_index(drop=True)
    assert len(ours) == len(ref) == report["windows"] > 0
    for col in ("user_id", "end", "time", "window_start"):
        assert (ours[col].to_numpy() == ref[col].to_numpy()).all()
    assert np.array_equal(np.stack(ours["features"]), np.stack(ref["features"]))
    steps = [np.stack([np.stack(x) for x in frame["steps"]]) for frame in (ours, ref)]
    assert np.array_equal(*steps)
    log = _read(out / "log").sort_values(["user_id", "timestamp", "order"])
    assert len(log) == report["rows_out"]
    # Every user lies in one partition, its rows in time order.
    assert (_read(out / "log").groupby("user_id")["bucket"].nunique() == 1).all()


def test_a_malformed_file_fails_the_run_naming_it(ray_cluster, tmp_path):
    from adrec.distributed.pipeline import PipelineOptions, run_pipeline

    events, _, _ = simulate(SimulationConfig(n_users=10, n_days=14, n_items=30, n_categories=3))
    write_event_log(events, tmp_path / "log")
    broken = sorted((tmp_path / "log").rglob("*.parquet"))[3]
    broken.write_bytes(b"PAR1 truncated")
    with pytest.raises(ValueError, match=str(broken.name)):
        run_pipeline(str(tmp_path / "log"), str(tmp_path / "out"),
                     PipelineOptions(task_cpus=0.5), log=lambda m: None)  # fmt: skip
