"""How the tabular detectors scale with the number of rows, beside PyOD: fit on n generated
normal rows (the threshold from them, as PyOD does it), score n test rows (1% planted
anomalies), for n from 10,000 to 300,000; wall and CPU seconds, peak memory, and the growth
exponent b of seconds ~ n^b fitted over the sizes run.

Each (detector, implementation, size) runs in a fresh Python process that loads the data
from .npy files, so its peak resident memory is its own and one run cannot slow the next
through a fragmented heap. Sizes are run in increasing order; a size is skipped (never cut
short) for an implementation whose previous size, extrapolated with exponent 2, would take
longer than the budget. PyOD runs with its own defaults (seeded)."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

SIZES = (10_000, 30_000, 100_000, 300_000)
_PROJECTION_EXPONENT = 2.0  # to decide whether the next size fits in the budget


@dataclass(frozen=True)
class ScaleConfig:
    sizes: tuple[int, ...] = SIZES
    n_features: int = 10
    detectors: tuple[str, ...] | None = None  # None: every tabular detector
    with_pyod: bool = True
    budget_s: float = 600.0  # per run: larger sizes are skipped once a run would exceed it
    seed: int = 0
    threads: int = 1

    def __post_init__(self) -> None:
        if not self.sizes or sorted(self.sizes) != list(self.sizes) or min(self.sizes) < 100:
            raise ValueError(f"sizes must be increasing and >= 100, got {self.sizes}")
        if self.n_features < 2:
            raise ValueError(f"n_features must be >= 2, got {self.n_features}")


def make_data(n: int, n_features: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train [n, d] normal rows, test [n, d] rows, test labels): three correlated Gaussian
    clusters in a 4-dimensional latent space mapped to d features with noise, two features
    on other scales (x 50 and a log-normal one); 1% of the test rows are anomalies (normal
    rows with a random 4-sigma push in three features). float64, as NumPy makes data."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(4, n_features))
    centres = rng.normal(scale=2.0, size=(3, 4))

    def normal(m: int) -> np.ndarray:
        latent = centres[rng.integers(0, 3, size=m)] + rng.normal(size=(m, 4))
        rows = latent @ mixing + 0.3 * rng.normal(size=(m, n_features))
        rows[:, 0] *= 50.0
        rows[:, 1] = np.exp(0.5 * rows[:, 1])
        return rows

    train, test = normal(n), normal(n)
    labels = np.zeros(n, dtype=np.int64)
    anomalous = rng.choice(n, size=max(1, n // 100), replace=False)
    spread = train.std(axis=0)
    for i in anomalous:
        cols = rng.choice(n_features, size=min(3, n_features), replace=False)
        test[i, cols] += 4.0 * spread[cols] * rng.choice([-1.0, 1.0], size=len(cols))
    labels[anomalous] = 1
    return train, test, labels


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _reset_peak() -> bool:
    """Reset the kernel's peak resident size (VmHWM) to the current one (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_mb() -> float:
    """The peak resident size since the last reset (or since the process started)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(name: str, impl: str, data_dir: str, seed: int, threads: int) -> dict:
    """One fit + score in this process (the child's side): seconds, CPU seconds, peak memory
    above what the process held before the fit, AUROC."""
    from sklearn.metrics import roc_auc_score
    from threadpoolctl import threadpool_limits

    train = np.load(Path(data_dir) / "train.npy")
    test = np.load(Path(data_dir) / "test.npy")
    labels = np.load(Path(data_dir) / "labels.npy")
    if impl == "adrec":
        from adrec.detectors.registry import make_detector

        def make():
            return make_detector(name, random_state=seed)
    else:
        from adrec.bench.pyod_reference import make_pyod

        def make():
            return make_pyod(name, seed, train.shape[1])

    # A first fit and score on a few rows loads what either library imports lazily, so the
    # memory counted below is the run's own.
    warm = train[: min(len(train), 300)]
    make().fit(warm).decision_function(warm[:10])
    det = make()
    _reset_peak()
    base_mb = _rss_mb()
    with threadpool_limits(threads):
        t0, c0 = time.perf_counter(), time.process_time()
        det.fit(train)
        t1, c1 = time.perf_counter(), time.process_time()
        scores = det.decision_function(test)
        t2, c2 = time.perf_counter(), time.process_time()
    fit_cpu, score_cpu = c1 - c0, c2 - c1
    peak_mb = _peak_mb()
    return {
        "fit_s": t1 - t0,
        "score_s": t2 - t1,
        "total_s": t2 - t0,
        "cpu_s": fit_cpu + score_cpu,
        "fit_cpu_s": fit_cpu,
        "peak_mb": max(0.0, peak_mb - base_mb),
        "auroc": float(roc_auc_score(labels, scores)),
        "threshold": float(det.threshold_),
    }


def _child_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    return env


def _spawn(name: str, impl: str, data_dir: str, cfg: ScaleConfig) -> dict:
    args = json.dumps([name, impl, data_dir, cfg.seed, cfg.threads])
    code = "import json, sys; from adrec.bench.detector_scale import run_one; "
    code += "print(json.dumps(run_one(*json.loads(sys.argv[1]))))"
    done = subprocess.run(
        [sys.executable, "-c", code, args],
        capture_output=True,
        text=True,
        env=_child_env(cfg.threads),
    )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"error": f"exit {done.returncode}: {tail[0][:300]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def growth_exponent(sizes: list[int], seconds: list[float]) -> float | None:
    """b of seconds ~ a * n^b by least squares on log-log (None below two sizes)."""
    if len(sizes) < 2:
        return None
    slope, _ = np.polyfit(np.log(sizes), np.log(np.maximum(seconds, 1e-6)), 1)
    return float(slope)


def _detectors(cfg: ScaleConfig) -> list[str]:
    from adrec.detectors.registry import detector_names

    tabular = detector_names("tabular")
    chosen = list(cfg.detectors) if cfg.detectors else tabular
    unknown = set(chosen) - set(tabular)
    if unknown:
        raise ValueError(f"not tabular detectors: {sorted(unknown)}; choose from {tabular}")
    return chosen


def run_scale(
    cfg: ScaleConfig,
    echo: Callable[[str], None] = print,
    on_detector: Callable[[dict], None] | None = None,
) -> dict:
    """Every chosen detector at every size; `on_detector(result so far)` after each
    detector (a long run writes its report as it goes)."""
    from adrec.bench import pyod_reference

    names = _detectors(cfg)
    pyod = pyod_reference.pyod_version() if cfg.with_pyod else None
    if cfg.with_pyod and pyod is None:
        echo("PyOD is not installed: adrec only (run with `uv run --group bench ...`)")
    rows: list[dict] = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for n in cfg.sizes:
            data_dir = Path(tmp) / str(n)
            data_dir.mkdir()
            train, test, labels = make_data(n, cfg.n_features, cfg.seed)
            for key, arr in (("train", train), ("test", test), ("labels", labels)):
                np.save(data_dir / f"{key}.npy", arr)
        for name in names:
            impls = ["adrec"] + (["pyod"] if pyod and name in pyod_reference.REFERENCES else [])
            last: dict[str, tuple[int, float]] = {}
            for n in cfg.sizes:
                for impl in impls if n % 2 == 0 else impls[::-1]:  # take turns going first
                    row = {"detector": name, "impl": impl, "n": n}
                    prev = last.get(impl)
                    projected = prev and prev[1] * (n / prev[0]) ** _PROJECTION_EXPONENT
                    if prev is None and impl in last:
                        row["skipped"] = "an earlier size failed"
                    elif projected and projected > cfg.budget_s:
                        row["skipped"] = (
                            f"projected {projected:.0f} s > budget {cfg.budget_s:.0f} s"
                        )
                    else:
                        row.update(_spawn(name, impl, str(Path(tmp) / str(n)), cfg))
                    if "total_s" in row:
                        last[impl] = (n, row["total_s"])
                    elif "error" in row:
                        last[impl] = None
                    rows.append(row)
                    echo(_progress(row, time.perf_counter() - start))
            if on_detector is not None:
                on_detector(_result(cfg, names, pyod, rows, start))
    return _result(cfg, names, pyod, rows, start)


def _result(cfg: ScaleConfig, names: list[str], pyod: str | None, rows: list, start: float):
    from adrec.bench import pyod_reference

    return {
        "config": asdict(cfg),
        "environment": {
            "threads": cfg.threads,
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "pyod": pyod,
            "pyod_defaults": {
                n: pyod_reference.pyod_defaults(n)
                for n in names
                if pyod and n in pyod_reference.REFERENCES
            },
        },
        "wall_s": round(time.perf_counter() - start, 1),
        "rows": list(rows),
    }


def _progress(row: dict, elapsed: float) -> str:
    head = f"[{elapsed:7.1f}s] {row['detector']} [{row['impl']}] n={row['n']}"
    if "total_s" in row:
        return (f"{head}: {row['cpu_s']:.2f} CPU s ({row['total_s']:.2f} s wall), "
                f"{row['peak_mb']:.0f} MB, AUROC {row['auroc']:.3f}")  # fmt: skip
    return f"{head}: {row.get('skipped') or row.get('error')}"


def summarize(result: dict) -> list[dict]:
    """Per detector and implementation: wall and CPU seconds and peak MB per size, the
    growth exponents (of CPU and of wall seconds), and (adrec) the ratios of its seconds to
    PyOD's at each size both ran."""
    out = []
    rows = result["rows"]
    for name in dict.fromkeys(r["detector"] for r in rows):
        for impl in ("adrec", "pyod"):
            mine = [r for r in rows if r["detector"] == name and r["impl"] == impl]
            if not mine:
                continue
            done = [r for r in mine if "total_s" in r]
            sizes = [r["n"] for r in done]
            entry = {
                "detector": name,
                "impl": impl,
                "seconds": {r["n"]: r["total_s"] for r in done},
                "cpu_seconds": {r["n"]: r["cpu_s"] for r in done},
                "peak_mb": {r["n"]: r["peak_mb"] for r in done},
                "auroc": {r["n"]: r["auroc"] for r in done},
                "not_run": {
                    r["n"]: r.get("skipped") or r.get("error") for r in mine if r not in done
                },
                "exponent": growth_exponent(sizes, [r["cpu_s"] for r in done]),
                "exponent_wall": growth_exponent(sizes, [r["total_s"] for r in done]),
            }
            out.append(entry)
    by = {(e["detector"], e["impl"]): e for e in out}
    for e in out:
        ref = by.get((e["detector"], "pyod"))
        if e["impl"] == "adrec" and ref:
            both = [n for n in e["seconds"] if n in ref["seconds"]]
            e["ratio"] = {n: e["seconds"][n] / ref["seconds"][n] for n in both}
            e["cpu_ratio"] = {n: e["cpu_seconds"][n] / ref["cpu_seconds"][n] for n in both}
    return out


def render_markdown(result: dict) -> str:
    cfg, env = result["config"], result["environment"]
    sizes = cfg["sizes"]
    summary = summarize(result)
    lines = [
        "# Detector scale",
        "",
        f"Fit on n generated normal rows ({cfg['n_features']} features; the threshold from the "
        f"training rows, as PyOD sets it), then score n test rows (1% planted anomalies). "
        f"Each run in its own process, {cfg['threads']} thread(s) (OMP_NUM_THREADS, "
        f"OPENBLAS_NUM_THREADS and threadpoolctl), {env['cpu_count']} CPUs, PyOD "
        f"{env['pyod'] or 'not installed'} with its defaults; wall time {result['wall_s']:.0f} s.",
        "",
        "Fit + score seconds as CPU seconds of the process (wall seconds in brackets: on a "
        "shared machine the wall clock also counts other jobs' time); b is the fitted exponent "
        "of CPU seconds ~ n^b; MB is the peak resident memory above what the process held "
        f"before fitting. '–': not run (the previous size projected past "
        f"{cfg['budget_s']:.0f} s, or it failed: see the JSON).",
        "",
    ]
    head = ["detector", "impl", *[_k(n) for n in sizes], "b", *[f"{_k(n)} MB" for n in sizes]]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in summary:
        cells = [e["detector"], "PyOD" if e["impl"] == "pyod" else "adrec"]
        for n in sizes:
            cpu, wall = e["cpu_seconds"].get(n), e["seconds"].get(n)
            cells.append("–" if cpu is None else f"{cpu:.2f} ({wall:.2f})")
        cells.append(_num(e["exponent"], 2))
        cells += [_num(e["peak_mb"].get(n), 0) for n in sizes]
        lines.append("| " + " | ".join(cells) + " |")
    ratios = [e for e in summary if e.get("ratio")]
    if ratios:
        lines += [
            "",
            "adrec's fit + score seconds over PyOD's at the same n: CPU (wall in brackets).",
            "",
            "| detector | " + " | ".join(_k(n) for n in sizes) + " |",
            "|" + "---|" * (len(sizes) + 1),
        ]
        for e in ratios:
            cells = [e["detector"]]
            for n in sizes:
                c, w = e["cpu_ratio"].get(n), e["ratio"].get(n)
                cells.append("–" if c is None else f"{c:.2f} ({w:.2f})")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _k(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def _num(v: float | None, digits: int) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def write_report(result: dict, out_dir: str | Path) -> tuple[Path, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / "detector_scale.md", out / "detector_scale.json"
    md.write_text(render_markdown(result))
    js.write_text(json.dumps({**result, "summary": summarize(result)}, indent=1))
    return md, js
