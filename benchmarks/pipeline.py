"""The log pipeline at 1M, 3M and 10M events: Ray Data (adrec.distributed.pipeline) against the
same computation in one process with pandas / pyarrow (adrec.data.log_prep.prepare_local, the
same read, validation, sort, deduplication and windows, then the same Parquet outputs), with
Polars and with DuckDB (benchmarks/pipeline_baselines.py: each engine's own defaults, all
cores; the windows from the same NumPy kernel), in the same run, on the same simulated log.
Every engine's windows are compared with pandas' (a digest of the rows sorted by user and
point) up to --check-max events. `ray1` (one node of 1 CPU) and `ray2nodes` (two raylets of 1
CPU each, ray.cluster_utils.Cluster) show what a second node changes. Writes
reports/pipeline/pipeline.md and pipeline.json.

    OMP_NUM_THREADS=1 nice -n 10 uv run --group bench python benchmarks/pipeline.py \
        --sizes 1000000,3000000,10000000 --engines ray,local,polars,duckdb,ray1,ray2nodes

Each measured run is a child process of this script (`_run`); a sampler walks /proc every
0.25 s and records the peak, over time, of the summed memory of that child and every process
under it (for Ray: the driver, GCS, raylet, workers and their helpers), as PSS (shared pages
split between the processes that map them: the object store is counted once) and as RSS
(shared pages counted in every process: an upper bound). "windowing s" is the pipeline's own
time (read, validate, partition, sort, deduplicate, windows, write); Ray's start-up
(ray.init) and shutdown and the child's imports are reported apart. Events/s = events / windowing s.
"CPU s" is the user + system time of every process of the run (the most each one reached
while sampled), and "machine load" the mean 1-minute load average during the run: the machine
is shared, and wall times move with what else runs on it.

The log: `events/date=YYYY-MM-DD/part-0.parquet` in the product's event schema (user_id,
timestamp, item_id, category, action, value), about 100 events per user over 56 days, 20k
items in 12 categories; generated vectorised (the simulator's per-user loop is too slow for
10M events); 0.1% of the rows exact duplicates, so the deduplication does work.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

ROOT = Path(__file__).resolve().parents[1]
DAY = 86_400
START = 1_767_225_600  # 2026-01-01T00:00:00Z
CATEGORIES = ("books", "electronics", "fashion", "home", "garden", "sports", "toys", "food",
              "beauty", "music", "office", "travel")  # fmt: skip
ACTIONS = ("view", "cart", "purchase")


# ---- the simulated log ---------------------------------------------------------------------


def generate(n_events: int, folder: Path, seed: int = 0, days: int = 56) -> dict:
    """A simulated log of n_events rows under folder/events (one Parquet file per day)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from adrec.data.schema import EVENT_SCHEMA

    if folder.exists():
        shutil.rmtree(folder)
    rng = np.random.default_rng(seed)
    n_users, n_items = max(1, n_events // 100), 20_000
    item_cat = rng.integers(0, len(CATEGORIES), n_items)
    price = np.round(rng.lognormal(3.0, 0.8, n_items), 2)
    per_day = np.bincount(rng.integers(0, days, n_events), minlength=days)
    files = 0
    for day, n in enumerate(per_day):
        if not n:
            continue
        user = rng.integers(1, n_users + 1, n)
        item = rng.zipf(1.3, n) % n_items
        ts = START + day * DAY + rng.integers(0, DAY, n)
        u = rng.random(n)
        action = np.where(u < 0.05, 2, np.where(u < 0.2, 1, 0))
        value = np.where(action == 2, price[item], 0.0)
        n_dup = n // 1000
        if n_dup:  # exact repeats of earlier rows of the day
            src, dst = rng.choice(n, n_dup, replace=False), rng.choice(n, n_dup, replace=False)
            user[dst], item[dst], ts[dst] = user[src], item[src], ts[src]
            action[dst], value[dst] = action[src], value[src]
        order = np.lexsort((ts, user))
        table = pa.table(
            {
                "user_id": user[order],
                "timestamp": pa.array(ts[order].astype("datetime64[s]")),
                "item_id": item[order] + 1,
                "category": pa.array(np.asarray(CATEGORIES)[item_cat[item[order]]]),
                "action": pa.array(np.asarray(ACTIONS)[action[order]]),
                "value": value[order],
            },
            schema=EVENT_SCHEMA,
        )
        date = time.strftime("%Y-%m-%d", time.gmtime(START + day * DAY))
        out = folder / "events" / f"date={date}"
        out.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, out / "part-0.parquet")
        files += 1
    return {"events": int(n_events), "users": n_users, "items": n_items, "files": files}


# ---- one measured run (a child process) ----------------------------------------------------


def run_one(engine: str, data: Path, out: Path, cpus: int, window: int) -> dict:
    """The pipeline on `data` with `engine` (ray or local); returns its timings and counts."""
    t_import = time.perf_counter()
    import pyarrow as pa
    import pyarrow.parquet as pq

    from adrec.detectors.behaviour.windows import InteractionWindow

    win = InteractionWindow(window, window)
    if out.exists():
        shutil.rmtree(out)
    if engine == "local":
        from adrec.data.log_prep import prepare_local

        t0 = time.perf_counter()
        res = prepare_local(str(data), window=win)
        out.mkdir(parents=True)
        for name in ("log", "sequences", "windows"):
            pq.write_table(getattr(res.partition, name), out / f"{name}.parquet")
        pq.write_table(pa.Table.from_pandas(res.vocab.to_frame()), out / "items.parquet")
        pq.write_table(res.rejects, out / "rejects.parquet")
        seconds = time.perf_counter() - t0
        return {"engine": engine, "import_s": t0 - t_import, "startup_s": 0.0,
                "windowing_s": seconds, **res.report}  # fmt: skip
    if engine in ("polars", "duckdb"):
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from pipeline_baselines import run_engine

        t0 = time.perf_counter()
        log_t, windows, report = run_engine(engine, str(data), win, window)
        out.mkdir(parents=True)
        pq.write_table(log_t, out / "log.parquet")
        pq.write_table(windows, out / "windows.parquet")
        seconds = time.perf_counter() - t0
        return {"engine": engine, "import_s": t0 - t_import, "startup_s": 0.0,
                "windowing_s": seconds, **report}  # fmt: skip
    import ray

    from adrec.distributed.pipeline import PipelineOptions, run_pipeline

    t1 = time.perf_counter()
    cluster = None
    if engine == "ray2nodes":  # a second node, simulated: two raylets of 1 CPU each
        from ray.cluster_utils import Cluster

        cluster = Cluster(initialize_head=True,
                          head_node_args={"num_cpus": 1, "include_dashboard": False})  # fmt: skip
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False, configure_logging=False)
    else:  # ray: one node of `cpus` CPUs; ray1: one node of 1 CPU
        ray.init(address="local", num_cpus=1 if engine == "ray1" else cpus,
                 include_dashboard=False, log_to_driver=False, configure_logging=False)  # fmt: skip
    nodes = len([n for n in ray.nodes() if n["Alive"]])
    t2 = time.perf_counter()
    try:
        report = run_pipeline(str(data), str(out), PipelineOptions(window=win),
                              log=lambda m: print(m, file=sys.stderr, flush=True))  # fmt: skip
        t3 = time.perf_counter()
    finally:
        ray.shutdown()
        if cluster is not None:
            cluster.shutdown()
    return {"engine": engine, "import_s": t1 - t_import, "startup_s": t2 - t1, "nodes": nodes,
            "windowing_s": t3 - t2, "shutdown_s": time.perf_counter() - t3,
            "stage_s": report["seconds"], **report}  # fmt: skip


def output_digest(engine: str, out: Path) -> str:
    """windows_digest of a run's windows (read back after the run, in the parent)."""
    import pyarrow.parquet as pq

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from pipeline_baselines import windows_digest

    path = out / "windows" if engine.startswith("ray") else out / "windows.parquet"
    return windows_digest(pq.read_table(str(path)))


# ---- memory of a process tree --------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(entry.name))
    return kids


TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process so far (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    except (OSError, IndexError, ValueError):
        return 0.0


def _name(pid: int) -> str:
    """A short name of a process: a Ray worker's or helper's title, else the program."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        return "?"
    text = [a.decode(errors="replace") for a in args if a]
    if not text:
        return "?"
    if text[0].startswith("ray::"):
        return text[0].split()[0]
    for a in text:
        base = a.rsplit("/", 1)[-1]
        if base.endswith(".py") or base in ("gcs_server", "raylet"):
            return base
    return text[0].rsplit("/", 1)[-1][:40]


def cpu_by_name(cpu: dict[int, float], names: dict[int, str]) -> dict[str, list]:
    """CPU seconds and process count by process name, most CPU first."""
    out: dict[str, list] = {}
    for p, c in cpu.items():
        e = out.setdefault(names.get(p, "?"), [0.0, 0])
        e[0] += c
        e[1] += 1
    return {k: [round(v[0], 1), v[1]] for k, v in sorted(out.items(), key=lambda kv: -kv[1][0])}


def load_average() -> float:
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def _tree(pid: int) -> list[int]:
    kids, out, todo = _children(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def _memory_kib(pid: int) -> tuple[int, int]:
    """(PSS, RSS) of one process in KiB (0, 0 when it is gone)."""
    pss = rss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss = int(line.split()[1])
    except OSError:
        pass
    return pss, rss


class TreeSampler:
    """The peak summed PSS and RSS of a process and everything under it, sampled."""

    def __init__(self, pid: int, every: float = 0.25):
        self.pid, self.every = pid, every
        self.peak_pss = self.peak_rss = 0
        self.peak_procs = 0
        self.cpu: dict[int, float] = {}  # the most CPU seconds seen of each process
        self.names: dict[int, str] = {}  # what each process is (its command, shortened)
        self.loads: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.every)

    def sample(self) -> None:
        pids = _tree(self.pid)
        mem = [_memory_kib(p) for p in pids]
        self.peak_pss = max(self.peak_pss, sum(m[0] for m in mem))
        self.peak_rss = max(self.peak_rss, sum(m[1] for m in mem))
        self.peak_procs = max(self.peak_procs, len(pids))
        for p in pids:
            self.cpu[p] = max(self.cpu.get(p, 0.0), _cpu_s(p))
            if p not in self.names:
                self.names[p] = _name(p)
        self.loads.append(load_average())

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def measure(
    engine: str, data: Path, out: Path, cpus: int, window: int, echo, check: bool = False
) -> dict:
    """Run one engine in a child process, sampling its process tree's memory; with `check`,
    the digest of its windows (output_digest, computed here after the run)."""
    result = out.with_suffix(".result.json")
    cmd = [sys.executable, __file__, "_run", engine, str(data), str(out), str(result),
           str(cpus), str(window)]  # fmt: skip
    env = {**os.environ, "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0",
           "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "disabled")}  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    tail: list[str] = []
    with TreeSampler(proc.pid) as sampler:
        for line in proc.stderr:
            tail = [*tail[-39:], line.rstrip()]
            if line.startswith(("pipeline", "  ")):
                echo(f"    [{engine}] {line.rstrip()}")
        rc = proc.wait()
    if rc != 0:
        raise RuntimeError(
            f"{engine} run on {data} failed with exit status {rc}; its last lines:\n"
            + "\n".join(tail)
        )
    r = json.loads(result.read_text())
    r.update(process_s=time.perf_counter() - t0, peak_pss_gib=sampler.peak_pss / 2**20,
             peak_rss_gib=sampler.peak_rss / 2**20, processes=sampler.peak_procs,
             cpu_s=sum(sampler.cpu.values()),
             cpu_by_process=cpu_by_name(sampler.cpu, sampler.names),
             load_average=float(np.mean(sampler.loads)) if sampler.loads else None)  # fmt: skip
    r["events_per_s"] = r["rows_in"] / r["windowing_s"]
    if check:
        r["windows_digest"] = output_digest(engine, out)
    shutil.rmtree(out, ignore_errors=True)
    return r


# ---- the report ----------------------------------------------------------------------------


def fit_line(x, y) -> tuple[float, float]:
    """(slope, intercept) of the least-squares line y = slope * x + intercept."""
    slope, intercept = np.polyfit(np.asarray(x, float), np.asarray(y, float), 1)
    return float(slope), float(intercept)


def growth(runs: list[dict], engine: str) -> dict:
    rows = sorted((r for r in runs if r["engine"] == engine), key=lambda r: r["rows_in"])
    if len(rows) < 2:
        return {}
    ev = [r["rows_in"] / 1e6 for r in rows]
    s = [r["windowing_s"] for r in rows]
    slope, intercept = fit_line(ev, s)
    out = {"slope_s_per_million": slope, "intercept_s": intercept,
           "sizes": [r["rows_in"] for r in rows]}  # fmt: skip
    out["ratio_last_to_first"] = s[-1] / s[0]
    cpu = [r["cpu_s"] for r in rows]
    out["cpu_slope_s_per_million"], out["cpu_intercept_s"] = fit_line(ev, cpu)
    out["cpu_ratio_last_to_first"] = cpu[-1] / cpu[0]
    out["events_ratio"] = rows[-1]["rows_in"] / rows[0]["rows_in"]
    return out


def stage_model(tasks: list[list[float]], cpus: int) -> float:
    """A stage's wall time on `cpus` CPUs from its tasks' own seconds: the tasks spread evenly
    but the longest one cannot be split."""
    walls = [t[0] for t in tasks]
    return max(max(walls, default=0.0), sum(walls) / cpus)


def projection(r: dict, cpus: int) -> dict:
    """The measured per-task cost model of a Ray run: its stages on its own CPUs and on twice
    as many (a second node of the same size), plus the driver's part (vocabulary, listing,
    scheduling: the measured time the model does not explain), which stays."""
    tasks = r["tasks"]
    here = stage_model(tasks["read"], cpus) + stage_model(tasks["partition"], cpus)
    other = max(0.0, r["windowing_s"] - here)
    two = stage_model(tasks["read"], 2 * cpus) + stage_model(tasks["partition"], 2 * cpus)
    # The same from the tasks' CPU seconds: what the stages would take on CPUs of their own
    # (a machine not shared with other jobs), the driver's part left out (a lower bound).
    cpu_tasks = {k: [[t[1], t[1]] for t in v] for k, v in tasks.items()}
    cpu_here = sum(stage_model(cpu_tasks[k], cpus) for k in ("read", "partition"))
    cpu_two = sum(stage_model(cpu_tasks[k], 2 * cpus) for k in ("read", "partition"))
    return {"model_here_s": here + other, "driver_and_scheduling_s": other,
            "model_two_nodes_s": two + other,
            "cpu_model_here_s": cpu_here, "cpu_model_two_nodes_s": cpu_two,
            "task_cpu_s": sum(t[1] for t in tasks["read"] + tasks["partition"]),
            "task_wall_s": sum(t[0] for t in tasks["read"] + tasks["partition"])}  # fmt: skip


def render(result: dict) -> str:
    lines = [
        "# Log pipeline: Ray Data vs one process",
        "",
        f"Command: `{result['command']}`",
        "",
        f"Machine: {result['machine']}. Ray local cluster with {result['cpus']} CPUs; "
        f"window {result['window']} interactions; OMP_NUM_THREADS="
        f"{result['omp_threads']}.",
        "",
        "| events | engine | windowing s | events/s | start-up s | CPU s (all processes) | "
        "peak PSS GiB | peak RSS GiB | processes | machine load | rows out | rejected | "
        "windows | partitions |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["runs"]:
        lines.append(
            f"| {r['rows_in']:,} | {r['engine']} | {r['windowing_s']:.1f} | "
            f"{r['events_per_s']:,.0f} | {r['startup_s']:.1f} | {r['cpu_s']:.0f} | "
            f"{r['peak_pss_gib']:.2f} | {r['peak_rss_gib']:.2f} | {r['processes']} | "
            f"{r['load_average']:.1f} | {r['rows_out']:,} | "
            f"{r['rows_rejected']:,} | {r['windows']:,} | {r.get('partitions', 1)} |"
        )
    lines += ["", "| engine | slope s per 1M events | intercept s | time ratio (events ratio) "
              "| CPU s slope per 1M | CPU s intercept | CPU s ratio |",
              "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for engine, g in result["growth"].items():
        if g:
            lines.append(
                f"| {engine} | {g['slope_s_per_million']:.2f} | {g['intercept_s']:.2f} | "
                f"{g['ratio_last_to_first']:.2f} ({g['events_ratio']:.0f}x) | "
                f"{g['cpu_slope_s_per_million']:.2f} | {g['cpu_intercept_s']:.2f} | "
                f"{g['cpu_ratio_last_to_first']:.2f} |"
            )
    lines += ["", "Ray (one node, all CPUs) against the best single-process baseline of the same "
              "size (the fastest of pandas/pyarrow, Polars and DuckDB):", "",
              "| events | best single process | its s | Ray s | Ray / best time | "
              "Ray / best peak PSS | Ray / pandas time | windows equal to pandas' |",
              "|---:|---|---:|---:|---:|---:|---:|---|"]  # fmt: skip
    for n, c in result["comparison"].items():
        lines.append(
            f"| {int(n):,} | {c['best']} | {c['best_s']:.1f} | {c['ray_s']:.1f} | "
            f"{c['time_ratio']:.2f} | {c['pss_ratio']:.2f} | "
            f"{c.get('pandas_time_ratio', float('nan')):.2f} | {c.get('equal', 'not checked')} |"
        )
    if result.get("nodes"):
        lines += ["", "Nodes, simulated on this machine: one raylet of 1 CPU (ray1) against two "
                  "raylets of 1 CPU each (ray2nodes, ray.cluster_utils.Cluster), the same "
                  "pipeline:", "",
                  "| events | 1 node x 1 CPU s | 2 nodes x 1 CPU s | speed-up | nodes that ran "
                  "tasks |", "|---:|---:|---:|---:|---:|"]  # fmt: skip
        for n, c in result["nodes"].items():
            lines.append(f"| {int(n):,} | {c['one_s']:.1f} | {c['two_s']:.1f} | "
                         f"{c['speedup']:.2f} | {c['task_nodes']} |")  # fmt: skip
    if result.get("projection"):
        lines += ["", "Per-task cost model of the Ray runs (each task's own seconds; a stage takes "
                  "max(longest task, sum of tasks / CPUs)):", "",
                  "| events | Ray measured s | tasks' wall s (sum) | tasks' CPU s (sum) | "
                  "driver + scheduling s | model: 2 nodes s | tasks on idle CPUs: 1 node s | "
                  "tasks on idle CPUs: 2 nodes s | best one process s | its CPU s |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
        for n, p in result["projection"].items():
            lines.append(
                f"| {int(n):,} | {p['measured_s']:.1f} | {p['task_wall_s']:.1f} | "
                f"{p['task_cpu_s']:.1f} | {p['driver_and_scheduling_s']:.1f} | "
                f"{p['model_two_nodes_s']:.1f} | {p['cpu_model_here_s']:.1f} | "
                f"{p['cpu_model_two_nodes_s']:.1f} | {p.get('one_process_s', float('nan')):.1f} | "
                f"{p.get('one_process_cpu_s', float('nan')):.1f} |"
            )
    if result.get("skipped"):
        lines += ["", "Not run: " + "; ".join(result["skipped"])]
    return "\n".join(lines) + "\n"


def main(
    sizes: Annotated[str, typer.Option(help="Comma list of event counts.")] = (
        "1000000,3000000,10000000"
    ),
    engines: Annotated[
        str,
        typer.Option(
            help="Comma list: ray, local (pandas/pyarrow), polars, duckdb, ray1 (one node of 1 "
            "CPU), ray2nodes (two nodes of 1 CPU each)."
        ),
    ] = "ray,local,polars,duckdb",
    check_max: Annotated[
        int, typer.Option(help="Compare every engine's windows with pandas' up to this size.")
    ] = 1_000_000,
    cpus: Annotated[int, typer.Option(help="CPUs of the local Ray cluster.")] = 2,
    window: Annotated[int, typer.Option(help="Interaction window size (and stride).")] = 10,
    work: Annotated[Path, typer.Option(help="Scratch folder for logs and outputs.")] = Path(
        "/tmp/adrec-pipeline-bench"
    ),
    out_dir: Annotated[Path, typer.Option(help="Where the reports go.")] = Path("reports/pipeline"),
    budget: Annotated[
        float, typer.Option(help="Skip a size whose projected total (s) would pass this.")
    ] = 3600.0,
) -> None:
    echo = lambda m: typer.echo(m, err=True)  # noqa: E731
    t_start = time.perf_counter()
    result = {
        "command": "OMP_NUM_THREADS=" + os.environ.get("OMP_NUM_THREADS", "(unset)") + " "
        + "uv run python benchmarks/pipeline.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
        "cpus": cpus, "window": window, "omp_threads": os.environ.get("OMP_NUM_THREADS"),
        "runs": [], "skipped": [],
    }  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    per_event = None
    for n in (int(s) for s in sizes.split(",")):
        spent = time.perf_counter() - t_start
        if per_event is not None and spent + per_event * n > budget:
            result["skipped"].append(f"{n:,} events (projected {per_event * n:.0f} s)")
            continue
        t0 = time.perf_counter()
        data = work / f"log-{n}"
        echo(f"generating {n:,} events ...")
        facts = generate(n, data)
        echo(f"  {facts} in {time.perf_counter() - t0:.1f} s")
        for engine in engines.split(","):
            echo(f"  {engine} ...")
            out = work / f"out-{engine}-{n}"
            r = measure(engine, data, out, cpus, window, echo, check=n <= check_max)
            r["generated"] = facts
            result["runs"].append(r)
            pss, rss = r["peak_pss_gib"], r["peak_rss_gib"]
            echo(f"  {engine}: {r['windowing_s']:.1f} s, {r['events_per_s']:,.0f} events/s, "
                 f"peak PSS {pss:.2f} GiB, RSS {rss:.2f} GiB")  # fmt: skip
            _write(result, out_dir)
        shutil.rmtree(data, ignore_errors=True)
        per_event = (time.perf_counter() - t0) / n
    _write(result, out_dir)
    typer.echo(render(result))


SINGLE = ("local", "polars", "duckdb")  # the single-process baselines


def _write(result: dict, out_dir: Path) -> None:
    engines = sorted({r["engine"] for r in result["runs"]})
    result["growth"] = {e: growth(result["runs"], e) for e in engines}
    comp = {}
    by = {(r["rows_in"], r["engine"]): r for r in result["runs"]}
    for (n, e), r in by.items():
        base = [by[(n, b)] for b in SINGLE if (n, b) in by]
        if e != "ray" or not base:
            continue
        best = min(base, key=lambda b: b["windowing_s"])
        c = {"best": best["engine"], "best_s": best["windowing_s"], "ray_s": r["windowing_s"],
             "time_ratio": r["windowing_s"] / best["windowing_s"],
             "pss_ratio": r["peak_pss_gib"] / best["peak_pss_gib"]}  # fmt: skip
        if (n, "local") in by:
            c["pandas_time_ratio"] = r["windowing_s"] / by[(n, "local")]["windowing_s"]
            ref = by[(n, "local")].get("windows_digest")
            if ref is not None:
                same = [x["engine"] for (m, _), x in by.items()
                        if m == n and x.get("windows_digest") == ref]  # fmt: skip
                c["equal"] = ", ".join(sorted(same))
        comp[str(n)] = c
    result["comparison"] = comp
    nodes = {}
    for (n, e), r in by.items():
        if e == "ray2nodes" and (n, "ray1") in by:
            one = by[(n, "ray1")]
            nodes[str(n)] = {"one_s": one["windowing_s"], "two_s": r["windowing_s"],
                             "speedup": one["windowing_s"] / r["windowing_s"],
                             "task_nodes": r.get("task_nodes", "?")}  # fmt: skip
    result["nodes"] = nodes
    proj = {}
    for (n, e), r in by.items():
        if e == "ray" and "tasks" in r:
            proj[str(n)] = {"measured_s": r["windowing_s"], **projection(r, result["cpus"])}
            base = [by[(n, b)] for b in SINGLE if (n, b) in by]
            if base:
                best = min(base, key=lambda b: b["windowing_s"])
                proj[str(n)]["one_process_s"] = best["windowing_s"]
                proj[str(n)]["one_process_cpu_s"] = best["cpu_s"]
    result["projection"] = proj
    (out_dir / "pipeline.json").write_text(json.dumps(result, indent=2, default=float))
    (out_dir / "pipeline.md").write_text(render(result))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_run":
        _, _, engine, data, out, result_path, cpus, window = sys.argv
        sys.path.insert(0, str(ROOT))
        res = run_one(engine, Path(data), Path(out), int(cpus), int(window))
        Path(result_path).write_text(json.dumps(res, default=float))
    else:
        typer.run(main)
