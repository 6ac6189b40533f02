"""The detector benchmark, in process and Ray-free: every registered detector, and PyOD's
implementation where it has one, on the same splits and seeds, in one run.

Parts (each a protocol):
- `mvtec`: ADBench's MVTec AD ResNet18 embeddings, semi-supervised. Per category and seed,
  the normals are shuffled; `mvtec_fit` of them fit the detector, the next `mvtec_calib` set
  its threshold (99th percentile of their scores), and the rest plus every anomaly are the test.
- `digits`: scikit-learn's bundled handwritten digits (1,797 images of 8x8 = 64 pixels), each
  digit in turn the normal class and every other digit an anomaly, split as MVTec.
- `nab`, `merlion`: univariate series. The first `series_fit_fraction` of each series (NAB's
  15% probationary period) is the normal part: its windows of `window` points (128) fit the
  detector (the last `calib_share` of them set the threshold) and one window ending at every
  later point scores that point: no test point reaches a fit. 2-D detectors get per-window
  features (adrec.data.anomaly_benchmarks.window_features), 3-D ones the windows. One seed
  (the split is fixed by time).
- `life_events`: adrec's own planted life events (`adrec.data.simulator`), behaviour windows
  split by day into fit / calibration / test; 2-D detectors get the flattened window.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from adrec.base import BaseDetector
from adrec.bench import pyod_reference
from adrec.data import anomaly_benchmarks as ab
from adrec.data.simulator import SimulationConfig
from adrec.detectors.registry import accepts, detector_class, detector_names
from adrec.metrics.detection import detection_report
from adrec.metrics.time_series import time_series_report

PARTS = ("mvtec", "digits", "nab", "merlion", "life_events")
TABULAR_PARTS = ("mvtec", "digits", "life_events")  # seeded splits; every detector runs
SERIES_PARTS = ("nab", "merlion")
# Detectors run on the long NAB / Merlion series by default (fast on 10^4-10^5 windows);
# every registered detector runs on MVTec, digits and the life events.
SERIES_DETECTORS = (
    "iforest", "knn", "lof", "pca", "gmm", "hotelling_t2", "ae", "lstm_ae", "window_features"
)  # fmt: skip
QUICK_CATEGORIES = ("bottle", "carpet", "screw")
QUICK_DIGITS = (0, 3, 8)
QUICK_SERIES_PER_CATEGORY = 1


@dataclass(frozen=True)
class BenchConfig:
    data_root: Path = Path("../shared/data")
    parts: tuple[str, ...] = PARTS
    detectors: tuple[str, ...] | None = None  # MVTec, digits, life events; None: all
    series_detectors: tuple[str, ...] | None = None  # NAB and Merlion; None: SERIES_DETECTORS
    seeds: tuple[int, ...] = (0, 1, 2)
    categories: tuple[str, ...] | None = None  # MVTec; None: all 15
    digits: tuple[int, ...] | None = None  # the normal digits, one task each; None: 0-9
    series_per_category: int | None = None  # NAB / Merlion: the first k of each; None: all
    mvtec_fit: float = 0.5  # MVTec and digits: the share of normals that fits
    mvtec_calib: float = 0.1  # and the share that sets the threshold
    window: int = 128
    series_fit_fraction: float = 0.15
    calib_share: float = 1 / 3
    life_events: SimulationConfig = field(default_factory=SimulationConfig)
    test_params: bool = False  # each detector's tiny get_test_params() instead of its defaults
    with_pyod: bool = True
    threads: int = 1

    @classmethod
    def quick(cls, **overrides: Any) -> BenchConfig:
        """A smoke run: three MVTec categories, a few series, one seed, fewer users."""
        small = SimulationConfig(n_users=120, n_days=56)
        base = cls(
            seeds=(0,),
            categories=QUICK_CATEGORIES,
            digits=QUICK_DIGITS,
            series_per_category=QUICK_SERIES_PER_CATEGORY,
            life_events=small,
        )
        return replace(base, **overrides)

    def __post_init__(self) -> None:
        unknown = set(self.parts) - set(PARTS)
        if unknown:
            raise ValueError(f"unknown parts {sorted(unknown)}; choose from {list(PARTS)}")
        if not self.seeds:
            raise ValueError("seeds must not be empty")
        if self.digits is not None and not set(self.digits) <= set(range(10)):
            raise ValueError(f"digits must be in 0-9, got {self.digits}")
        if not (
            0 < self.mvtec_fit and 0 < self.mvtec_calib and self.mvtec_fit + self.mvtec_calib < 1
        ):
            raise ValueError("need mvtec_fit > 0, mvtec_calib > 0 and their sum < 1")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["data_root"] = str(self.data_root)
        return d


class Progress:
    def __init__(self, echo: Callable[[str], None]) -> None:
        self.echo = echo
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def __call__(self, msg: str) -> None:
        self.echo(f"[{self.elapsed:7.1f}s] {msg}")


# -- running one detector ------------------------------------------------------------------
Registry = dict[str, type[BaseDetector]]


def _adrec_detector(cls: type[BaseDetector], seed: int, test_params: bool) -> BaseDetector:
    params = cls.get_test_params() if test_params else {}
    if accepts(cls, "random_state"):
        params = {**params, "random_state": seed}
    return cls(**params)


def _timed_run(make, fit, calib, test) -> tuple[Any, dict]:
    """Fit (threshold included) and score, timed in wall seconds and in CPU seconds of this
    process (what the run itself cost, whatever else shares the machine)."""
    det = make()
    t0, c0 = time.perf_counter(), time.process_time()
    det.fit(fit, calib)
    t1, c1 = time.perf_counter(), time.process_time()
    scores = det.decision_function(test)
    t2, c2 = time.perf_counter(), time.process_time()
    if not np.isfinite(scores).all():
        raise ValueError("non-finite scores")
    times = {"fit_s": t1 - t0, "score_s": t2 - t1, "fit_cpu_s": c1 - c0, "score_cpu_s": c2 - c1}
    return (det, scores), times


@dataclass(frozen=True)
class Task:
    """One data set item (a category, a series, a simulation) ready for detectors."""

    part: str
    dataset: str
    category: str
    seed: int
    inputs: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]  # ndim -> (fit, calib, test)
    labels: np.ndarray
    metrics: Callable[[np.ndarray, np.ndarray, float], dict]


def _run_task(task: Task, registry: Registry, cfg: BenchConfig, progress: Progress) -> list[dict]:
    rows = []
    for i, (name, cls) in enumerate(registry.items()):
        ndim = cls.input_ndim
        if ndim not in task.inputs:
            continue
        fit, calib, test = task.inputs[ndim]
        impls: list[tuple[str, Callable[[], Any]]] = [
            ("adrec", partial(_adrec_detector, cls, task.seed, cfg.test_params))
        ]
        if cfg.with_pyod and name in pyod_reference.REFERENCES and pyod_reference.pyod_version():
            make = partial(pyod_reference.make_pyod, name, task.seed, fit.shape[-1])
            impls.append(("pyod", make))
            if (i + len(task.dataset) + task.seed) % 2:  # take turns at running first
                impls.reverse()
        for impl, make in impls:
            row = {
                "part": task.part,
                "dataset": task.dataset,
                "category": task.category,
                "seed": task.seed,
                "detector": name,
                "impl": impl,
            }
            try:
                (det, scores), times = _timed_run(make, fit, calib, test)
                row.update(times)
                row.update(task.metrics(task.labels, scores, det.threshold_))
                note = f"AUROC {row['auroc']:.3f}" if row.get("auroc") is not None else ""
            except Exception as exc:  # one failing detector must not stop the benchmark
                row["error"] = f"{type(exc).__name__}: {exc}"[:300]
                note = f"FAILED {row['error']}"
            rows.append(row)
            progress(f"{task.part} {task.dataset} seed {task.seed} {name} [{impl}] {note}")
    return rows


# -- the parts ---------------------------------------------------------------------------------
def _mvtec_tasks(cfg: BenchConfig):
    files = ab.mvtec_files(cfg.data_root / "adbench" / "mvtec-resnet18")
    for category in cfg.categories or sorted(files):
        if category not in files:
            raise ValueError(f"unknown MVTec category {category!r}; have {sorted(files)}")
        X, y = ab.load_adbench_npz(files[category])
        for seed in cfg.seeds:
            split, labels = _semi_supervised_split(X, y, seed, cfg)
            yield Task("mvtec", category, category, seed, {2: split}, labels, detection_report)


def _digits_tasks(cfg: BenchConfig):
    from sklearn.datasets import load_digits

    X, digit = load_digits(return_X_y=True)
    X = X.astype(np.float32)
    for normal_digit in cfg.digits if cfg.digits is not None else range(10):
        y = (digit != normal_digit).astype(np.int64)
        name = f"digit {normal_digit}"
        for seed in cfg.seeds:
            split, labels = _semi_supervised_split(X, y, seed, cfg)
            yield Task("digits", name, name, seed, {2: split}, labels, detection_report)


def _semi_supervised_split(X: np.ndarray, y: np.ndarray, seed: int, cfg: BenchConfig):
    """(fit, calib, test) rows and the test labels: shuffled normals split by the MVTec
    shares, the rest of the normals and every anomaly in the test."""
    normal, anomalous = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    order = np.random.default_rng(seed).permutation(normal)
    n_fit, n_cal = int(cfg.mvtec_fit * len(order)), int(cfg.mvtec_calib * len(order))
    test = np.concatenate([order[n_fit + n_cal :], anomalous])
    return (X[order[:n_fit]], X[order[n_fit : n_fit + n_cal]], X[test]), y[test]


def _series_task(part: str, series: ab.Series, cfg: BenchConfig) -> Task:
    w = ab.window_series(series, cfg.window, cfg.series_fit_fraction)
    n_cal = max(1, int(cfg.calib_share * len(w.fit)))
    windows = (w.fit[:-n_cal], w.fit[-n_cal:], w.test)
    features = tuple(ab.window_features(x) for x in windows)
    inputs = {2: features, 3: windows}
    return Task(part, series.name, series.category, 0, inputs, w.test_labels, time_series_report)


def _first_per_category(names: list[str], category: Callable[[str], str], k: int | None):
    seen: dict[str, int] = {}
    for name in sorted(names):
        seen[category(name)] = seen.get(category(name), 0) + 1
        if k is None or seen[category(name)] <= k:
            yield name


def _nab_tasks(cfg: BenchConfig):
    root = cfg.data_root / "nab"
    names = json.loads((root / "labels" / "combined_windows.json").read_text())
    if cfg.series_per_category is not None:  # prefer series with anomalies in a subset
        names = [n for n in names if names[n]]
    chosen = _first_per_category(names, lambda n: n.split("/")[0], cfg.series_per_category)
    for series in ab.load_nab(root, list(chosen)):
        yield _series_task("nab", series, cfg)


def _merlion_tasks(cfg: BenchConfig):
    directory = cfg.data_root / "merlion-synthetic"
    names = [p.name for p in directory.glob("*_anomaly.csv")]
    trend = {p.name: pd.read_csv(p, nrows=0).columns[1] for p in directory.glob("*_anomaly.csv")}
    for name in _first_per_category(names, trend.__getitem__, cfg.series_per_category):
        yield _series_task("merlion", ab.load_merlion_series(directory / name), cfg)


def _life_event_tasks(cfg: BenchConfig):
    from adrec.data.life_event_windows import DaySplit, WindowSpec, build_windows, label_windows
    from adrec.data.simulator import simulate

    for seed in cfg.seeds:
        sim = replace(cfg.life_events, seed=seed)
        events, truth, _ = simulate(sim)
        spec = WindowSpec(sim.categories, sim.start_date, window_days=7)
        w = build_windows(events, spec, DaySplit.from_fractions(sim.n_days))
        parts = {s: w["window"][w["split"] == s] for s in ("fit", "calib", "test")}
        test = w["split"] == "test"
        labels = label_windows(w["user_id"][test], w["end_day"][test], 7, truth)
        keep = labels >= 0  # windows that the event splits are left out, as in the demo
        windows = (parts["fit"], parts["calib"], parts["test"][keep])
        flat = tuple(x.reshape(len(x), -1) for x in windows)
        name = f"{sim.n_users} users x {sim.n_days} days"
        inputs = {2: flat, 3: windows}
        yield Task("life_events", name, "life_events", seed, inputs, labels[keep], detection_report)


TASKS = {
    "mvtec": _mvtec_tasks,
    "digits": _digits_tasks,
    "nab": _nab_tasks,
    "merlion": _merlion_tasks,
    "life_events": _life_event_tasks,
}


def _detectors_for(cfg: BenchConfig, part: str, registry: Registry) -> Registry:
    wanted = cfg.detectors if part in TABULAR_PARTS else cfg.series_detectors
    if wanted is None and part in SERIES_PARTS:
        wanted = tuple(n for n in SERIES_DETECTORS if n in registry)
    if wanted is None:
        wanted = tuple(sorted(registry))
    unknown = set(wanted) - set(registry)
    if unknown:
        raise ValueError(f"unknown detectors {sorted(unknown)}; registered: {sorted(registry)}")
    return {n: registry[n] for n in wanted}


def _detector_params(chosen_by_part: dict[str, Registry], cfg: BenchConfig) -> dict:
    """Each detector's parameters (seed 0) and, where it has one, its PyOD counterpart's."""
    out: dict[str, dict] = {}
    for chosen in chosen_by_part.values():
        for name, cls in chosen.items():
            entry = {"adrec": _adrec_detector(cls, 0, cfg.test_params).get_params()}
            ref = pyod_reference.REFERENCES.get(name)
            if cfg.with_pyod and ref is not None and pyod_reference.pyod_version():
                defaults = pyod_reference.pyod_defaults(name)
                entry["pyod"] = {"class": ref.pyod_class, **defaults}
            out[name] = json.loads(json.dumps(entry, default=str))
    return out


def run_benchmark(
    cfg: BenchConfig, echo: Callable[[str], None] = print, registry: Registry | None = None
) -> dict:
    """Run every part of `cfg` and return the result (config, environment, rows, wall time).
    `registry` (name -> detector class) defaults to every registered detector."""
    import torch

    if registry is None:
        registry = {name: detector_class(name) for name in detector_names()}
    from threadpoolctl import threadpool_limits

    progress = Progress(echo)
    torch.set_num_threads(cfg.threads)
    pyod = pyod_reference.pyod_version()
    if cfg.with_pyod and pyod is None:
        progress("PyOD is not installed: adrec only (run with `uv run --group bench ...`)")
    rows: list[dict] = []
    part_seconds = {}
    chosen_by_part = {part: _detectors_for(cfg, part, registry) for part in cfg.parts}
    with threadpool_limits(cfg.threads):
        for part, chosen in chosen_by_part.items():
            t0 = progress.elapsed
            progress(f"{part}: detectors {', '.join(chosen)}")
            for task in TASKS[part](cfg):
                rows.extend(_run_task(task, chosen, cfg, progress))
            part_seconds[part] = round(progress.elapsed - t0, 1)
    return {
        "config": cfg.to_dict(),
        "detector_params": _detector_params(chosen_by_part, cfg),
        "environment": {
            "threads": cfg.threads,
            "torch_threads": torch.get_num_threads(),
            **{
                v: os.environ.get(v)
                for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
            },
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "pyod": pyod if cfg.with_pyod else None,
            "pyod_notes": {k: r.note for k, r in pyod_reference.REFERENCES.items() if r.note},
        },
        "part_seconds": part_seconds,
        "wall_s": round(progress.elapsed, 1),
        "rows": rows,
    }


# -- the report --------------------------------------------------------------------------------
RANK_METRICS = ("auroc", "auprc", "best_f1", "f1_at_threshold")
TIMES = ("fit_s", "score_s", "fit_cpu_s", "score_cpu_s")
SERIES_METRICS = (
    "auroc", "auprc", "point_f1", "pa_f1", "event_precision", "event_recall", "event_f1"
)  # fmt: skip


def _frame(result: dict, part: str) -> pd.DataFrame:
    df = pd.DataFrame([r for r in result["rows"] if r["part"] == part])
    if df.empty or "error" not in df:
        return df.assign(error=None) if not df.empty else df
    return df


def summarize(result: dict) -> dict[str, list[dict]]:
    """Per part and detector (adrec and PyOD side by side) the mean metrics and times.

    MVTec, digits and life events: per seed, the mean over categories; then the mean and
    standard deviation of that over seeds. Series: the mean over series (AUROC / AUPRC over
    series that have anomalies) and the total fit and score time. An adrec row where PyOD
    ran too has `time_ratio` and `cpu_ratio`: adrec's fit + score seconds (wall, CPU) over
    PyOD's, on the runs where both succeeded."""
    out: dict[str, list[dict]] = {}
    for part in PARTS:
        df = _frame(result, part)
        if df.empty:
            continue
        ok = df[df["error"].isna()]
        metrics = [m for m in (SERIES_METRICS if part in SERIES_PARTS else RANK_METRICS) if m in ok]
        times = [t for t in TIMES if t in ok]
        ok = ok.astype({m: float for m in metrics})
        failed = df[df["error"].notna()].groupby(["detector", "impl"]).size()
        rows = []
        for (det, impl), g in ok.groupby(["detector", "impl"], sort=True):
            row = {
                "detector": det,
                "impl": impl,
                "n_runs": len(g),
                "failed": int(failed.get((det, impl), 0)),
            }
            if part in SERIES_PARTS:
                row.update({m: g[m].mean() for m in metrics})
                row.update({t: g[t].sum() for t in times})
            else:
                per_seed = g.groupby("seed")[[*metrics, *times]].mean()
                row.update({m: per_seed[m].mean() for m in per_seed})
                row.update({f"{m}_std": per_seed[m].std(ddof=0) for m in metrics})
            rows.append(
                {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
            )
        for (det, impl), n in failed.items():
            if not any(r["detector"] == det and r["impl"] == impl for r in rows):
                rows.append({"detector": det, "impl": impl, "n_runs": 0, "failed": int(n)})
        ratios = speed_ratios(ok)
        for row in rows:
            if row["impl"] == "adrec" and row["detector"] in ratios:
                row.update(ratios[row["detector"]])
        out[part] = rows
    return out


def speed_ratios(ok: pd.DataFrame) -> dict[str, dict]:
    """Per detector with both implementations: fit + score seconds summed over the runs
    (data set and seed) where both succeeded, adrec's and PyOD's, and their ratios."""
    if ok.empty or "pyod" not in set(ok["impl"]):
        return {}
    ok = ok.assign(total_s=ok["fit_s"] + ok["score_s"])
    if "fit_cpu_s" in ok:
        ok = ok.assign(total_cpu_s=ok["fit_cpu_s"] + ok["score_cpu_s"])
    key = ["part", "dataset", "seed", "detector"]
    cols = [c for c in ("total_s", "total_cpu_s") if c in ok]
    wide = ok.pivot_table(index=key, columns="impl", values=cols, aggfunc="sum").dropna()
    out = {}
    for det, g in wide.groupby(level="detector"):
        sums = g.sum()
        entry = {
            "paired_runs": len(g),
            "adrec_total_s": sums[("total_s", "adrec")],
            "pyod_total_s": sums[("total_s", "pyod")],
        }
        entry["time_ratio"] = entry["adrec_total_s"] / max(entry["pyod_total_s"], 1e-12)
        if "total_cpu_s" in cols:
            entry["adrec_total_cpu_s"] = sums[("total_cpu_s", "adrec")]
            entry["pyod_total_cpu_s"] = sums[("total_cpu_s", "pyod")]
            cpu = entry["adrec_total_cpu_s"] / max(entry["pyod_total_cpu_s"], 1e-12)
            entry["cpu_ratio"] = cpu
        out[str(det)] = {k: float(v) for k, v in entry.items()}
    return out


def speed_summary(result: dict) -> list[dict]:
    """speed_ratios over every part at once (each paired run counted once)."""
    df = pd.DataFrame(result["rows"])
    if df.empty:
        return []
    ok = df[df["error"].isna()] if "error" in df else df
    return [{"detector": d, **v} for d, v in sorted(speed_ratios(ok).items())]


def per_category(result: dict, part: str) -> pd.DataFrame:
    """Mean AUROC per category (rows) and detector/implementation (columns)."""
    df = _frame(result, part)
    if df.empty or "auroc" not in df:
        return pd.DataFrame()
    ok = df[df["error"].isna()].astype({"auroc": float})
    ok = ok.assign(column=ok["detector"] + np.where(ok["impl"] == "pyod", " (PyOD)", ""))
    return ok.pivot_table(index="category", columns="column", values="auroc", aggfunc="mean")


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "–"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def _side_by_side(rows: list[dict], metrics: tuple[str, ...], spread: bool) -> list[str]:
    by = {(r["detector"], r["impl"]): r for r in rows}
    head = ["detector", *metrics, "fit s", "score s", "PyOD AUROC", "PyOD fit s", "PyOD score s"]
    head += ["time ratio", "CPU ratio"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for det in sorted({d for d, _ in by}):
        a, p = by.get((det, "adrec"), {}), by.get((det, "pyod"), {})
        cells = [det + (f" ({a['failed']} failed)" if a.get("failed") else "")]
        for m in metrics:
            cell = _fmt(a.get(m))
            if spread and a.get(f"{m}_std") is not None:
                cell += f" ± {a[f'{m}_std']:.3f}"
            cells.append(cell)
        cells += [_fmt(a.get("fit_s"), 2), _fmt(a.get("score_s"), 2)]
        pyod_auroc = _fmt(p.get("auroc"))
        if spread and p.get("auroc_std") is not None:
            pyod_auroc += f" ± {p['auroc_std']:.3f}"
        cells += [pyod_auroc, _fmt(p.get("fit_s"), 2), _fmt(p.get("score_s"), 2)]
        cells += [_fmt(a.get("time_ratio"), 2), _fmt(a.get("cpu_ratio"), 2)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _speed_lines(summary: list[dict]) -> list[str]:
    head = ["detector", "paired runs", "adrec s", "PyOD s", "time ratio"]
    head += ["adrec CPU s", "PyOD CPU s", "CPU ratio"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in summary:
        cells = [r["detector"], str(int(r["paired_runs"])), _fmt(r["adrec_total_s"], 1)]
        cells += [_fmt(r["pyod_total_s"], 1), _fmt(r["time_ratio"], 2)]
        cells += [_fmt(r.get("adrec_total_cpu_s"), 1), _fmt(r.get("pyod_total_cpu_s"), 1)]
        cells.append(_fmt(r.get("cpu_ratio"), 2))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


TITLES = {
    "mvtec": "MVTec AD (ADBench ResNet18 embeddings), mean over categories",
    "digits": "scikit-learn digits (one digit normal, the others anomalies), mean over digits",
    "nab": "NAB, mean over series",
    "merlion": "Merlion synthetic, mean over series",
    "life_events": "adrec planted life events (simulated)",
}


def render_markdown(result: dict) -> str:
    cfg, env = result["config"], result["environment"]
    summary = summarize(result)
    lines = [
        "# Detector benchmark",
        "",
        f"Wall time {result['wall_s']:.1f} s (parts: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in result["part_seconds"].items())
        + f"); threads {env['threads']} (torch {env['torch_threads']}, "
        f"OMP_NUM_THREADS={env['OMP_NUM_THREADS']}); {env['cpu_count']} CPUs; "
        f"torch {env['torch']}; PyOD {env['pyod'] or 'not installed'}; series windows of "
        f"{cfg['window']} points.",
        f"Seeds {cfg['seeds']}; detector parameters: "
        + ("each class's get_test_params()" if cfg["test_params"] else "each class's defaults")
        + ".",
        "",
    ]
    for part in cfg["parts"]:
        if part not in summary:
            lines += [f"## {TITLES[part]}", "", "No chosen detector takes this input.", ""]
    speed = speed_summary(result)
    if speed:
        lines += [
            "## Speed beside PyOD, every part",
            "",
            "Fit (threshold included) + score seconds summed over every run (data set and "
            "seed) where both implementations succeeded; ratio = adrec / PyOD, wall clock and "
            "CPU time of the process (the CPU ratio does not move when other jobs share the "
            "machine).",
            "",
            *_speed_lines(speed),
            "",
        ]
    for part, rows in summary.items():
        spread = part in TABULAR_PARTS
        metrics = SERIES_METRICS if part in SERIES_PARTS else RANK_METRICS
        lines += [f"## {TITLES[part]}", ""]
        if spread:
            lines.append(
                f"Mean ± std over seeds {cfg['seeds']} of the mean over data sets; fit and score "
                "times are seconds per data set. F1 at the threshold uses the 99th percentile "
                "of held-out normal scores. Ratios: adrec's fit + score seconds over PyOD's."
            )
        else:
            lines.append(
                "AUROC / AUPRC averaged over series with anomalies; point_f1 unadjusted, pa_f1 "
                "point-adjusted (inflated; shown beside, not instead), event_* event-wise, all "
                "at the 99th-percentile threshold of held-out normal windows; times summed over "
                "series."
            )
        lines += ["", *_side_by_side(rows, metrics, spread), ""]
        cats = per_category(result, part)
        if part != "life_events" and not cats.empty:
            lines += [f"AUROC per category ({part}):", "", *_pivot_markdown(cats), ""]
    errors: dict[tuple, list[str]] = {}
    for r in result["rows"]:
        if r.get("error"):
            key = (r["part"], r["detector"], r["impl"], r["error"])
            errors.setdefault(key, []).append(f"{r['dataset']}/{r['seed']}")
    if errors:
        lines += ["## Failures (same error grouped; data set/seed listed)", ""]
        for (part, det, impl, error), where in errors.items():
            shown = ", ".join(where[:5]) + (f" and {len(where) - 5} more" if len(where) > 5 else "")
            lines.append(f"- {part} {det} [{impl}] x{len(where)}: {error} ({shown})")
        lines.append("")
    lines += ["## Parameters", "", "| detector | adrec | PyOD |", "|---|---|---|"]
    for name, entry in sorted(result.get("detector_params", {}).items()):
        pyod = entry.get("pyod")
        cells = [_kwargs(entry["adrec"]), _kwargs(pyod) if pyod else "–"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    notes = {k: v for k, v in env.get("pyod_notes", {}).items() if k in result["detector_params"]}
    if notes:
        lines += [
            "PyOD counterparts: " + "; ".join(f"{k}: {v}" for k, v in notes.items()) + ".",
            "",
        ]
    return "\n".join(lines)


def _kwargs(d: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in d.items()).replace("|", "/")


def _pivot_markdown(table: pd.DataFrame) -> list[str]:
    cols = list(table.columns)
    lines = ["| category | " + " | ".join(cols) + " |", "|" + "---|" * (len(cols) + 1)]
    for cat, row in table.iterrows():
        lines.append(f"| {cat} | " + " | ".join(_fmt(row[c]) for c in cols) + " |")
    return lines


def write_report(result: dict, out_dir: str | Path) -> tuple[Path, Path]:
    """`detectors.md` and `detectors.json` (config, environment, summary, every row)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / "detectors.md", out / "detectors.json"
    md.write_text(render_markdown(result))
    js.write_text(
        json.dumps(
            {**result, "summary": summarize(result), "speed": speed_summary(result)},
            indent=1,
            default=_json_default,
        )
    )
    return md, js


def _json_default(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")
