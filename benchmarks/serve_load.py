"""Closed-loop HTTP load sweep: the Serve graph (Ingress -> Detector -> Recommender) against a
plain uvicorn process over the same run directory, in one run, interleaved.

    RAY_AUTH_MODE=disabled OMP_NUM_THREADS=1 uv run python benchmarks/serve_load.py \
        --run-dir /tmp/runs/sim [--clients 1,2,4,8,16,32,64] [--duration 10] [--repeats 3]

Both servers stay up for the whole sweep. For every repeat and concurrency the two are
measured back to back (the order alternates), each for a warm-up and then a fixed duration
in which N clients each send one request, wait for the answer and send the next (closed
loop, HTTP/1.1 keep-alive over loopback). The client is a few lines of asyncio in this
process, the same for both. The plain process is `uvicorn --factory
adrec.serving.plain:app_from_env` with uvicorn's defaults (one worker); the graph is the
Serve application `adrec serve` deploys, on a local Ray cluster this script starts and stops.

The request mix (fixed seed) holds known users without events, known users with a few new
events, new users with their whole history in the request (10-60 events, some of them
unknown items) and k from 1 to 100. Every request of the mix is valid: any non-200 answer
or transport failure counts as an error.

Writes <out>/serve_load.json (every point of every repeat, CPU seconds per request of each
side's processes, the settings and the machine's load) and <out>/serve_load.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from adrec.serving.cluster_env import SERVE_ENV, apply_serve_env

ROOT = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------------------- request mix


def request_mix(run_dir: Path, n: int = 400, seed: int = 0) -> list[bytes]:
    """`n` request bodies: 45% known users alone, 20% known users with 1-5 new events, 30%
    new users sending 10-60 events (a known user's recent history, 1 in 10 items unknown),
    5% k of 50-100; other k drawn from 1, 5, 10, 20."""
    from adrec.data.interactions import load_interactions

    log = load_interactions(Path(run_dir) / "log")
    rng = random.Random(seed)
    bounds = log.user_bounds()
    users = [u for u in range(log.n_users) if bounds[u + 1] > bounds[u]]
    user_ids = log.users.raw_ids(users)
    item_ids = log.items.raw_ids(np.arange(1, log.n_items + 1))
    actions = list(log.action_names or [])

    def event(item, t) -> dict:
        out = {"item_id": item, "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))}
        if actions:
            out["action"] = rng.choice(actions)
        if log.value is not None:
            out["value"] = round(rng.uniform(1, 5), 1)
        return out

    bodies = []
    for i in range(n):
        pick = rng.randrange(len(users))
        u, raw = users[pick], user_ids[pick]
        k = rng.choice((50, 100)) if rng.random() < 0.05 else rng.choice((1, 5, 10, 20))
        kind = rng.random()
        last = int(log.time[bounds[u + 1] - 1])
        if kind < 0.45:
            body = {"user_id": raw, "k": k}
        elif kind < 0.65:
            n_new = rng.randint(1, 5)
            events = [event(rng.choice(item_ids), last + 600 * (j + 1)) for j in range(n_new)]
            body = {"user_id": raw, "k": k, "events": events}
        else:
            m = rng.randint(10, 60)
            rows = range(max(int(bounds[u]), int(bounds[u + 1]) - m), int(bounds[u + 1]))
            raws = log.items.raw_ids(log.item[list(rows)])
            events = [
                event(f"unknown-{i}-{j}" if rng.random() < 0.1 else r, int(log.time[row]))
                for j, (r, row) in enumerate(zip(raws, rows, strict=True))
            ]
            body = {"user_id": f"load-new-{i}", "k": k, "events": events}
        bodies.append(json.dumps(body).encode())
    return bodies


def model_compute(run_dir: Path, bodies: list[bytes], sizes=(1, 8, 32), rounds: int = 3) -> dict:
    """CPU milliseconds per request of the model work alone (RecommendService: parse, build
    the History, detector, sources, ranking, JSON), in this process, over the request mix in
    batches of each size: the floor under either server."""
    import gc

    import torch

    from adrec.serving.models import RecommendRequest
    from adrec.serving.service import RecommendService, query_of

    torch.set_num_threads(1)
    service = RecommendService.load(run_dir)
    queries = [query_of(RecommendRequest.model_validate_json(b)) for b in bodies]
    out = {}
    for size in sizes:
        batches = [queries[i : i + size] for i in range(0, len(queries), size)]
        service.answer(service.prepare(batches[0]))  # warm
        best = float("inf")
        for _ in range(rounds):
            t0 = time.process_time()
            for batch in batches:
                service.answer(service.prepare(batch))
            best = min(best, time.process_time() - t0)
        out[size] = round(1000 * best / len(queries), 2)
    del service
    gc.collect()
    return out


# ---------------------------------------------------------------------------- HTTP client


class Connection:
    """One keep-alive HTTP/1.1 connection: POST a JSON body, read the status and the body
    (Content-Length or chunked)."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self._open()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        header = await self.reader.readuntil(b"\r\n\r\n")
        lines = header.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                key, value = line.split(":", 1)
                headers[key.strip().lower()] = value.strip()
        if "content-length" in headers:
            payload = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(chunk[:-2])
            payload = b"".join(parts)
        else:
            payload = await self.reader.read()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class PointResult:
    target: str
    clients: int
    repeat: int
    duration_s: float
    ok: int = 0
    errors: int = 0
    error_kinds: dict = field(default_factory=dict)
    latencies_ms: list = field(default_factory=list)
    cpu_s: float | None = None
    batches: dict | None = None  # mean batch size per model deployment (graph only)
    load: float | None = None  # the machine's 1-minute load average at the end of the point

    def summary(self) -> dict:
        lat = np.asarray(self.latencies_ms)
        pct = (lambda q: round(float(np.percentile(lat, q)), 2)) if len(lat) else (lambda q: None)
        return {
            "target": self.target,
            "clients": self.clients,
            "repeat": self.repeat,
            "rps": round(self.ok / self.duration_s, 2),
            "p50_ms": pct(50),
            "p95_ms": pct(95),
            "p99_ms": pct(99),
            "ok": self.ok,
            "errors": self.errors,
            "error_kinds": self.error_kinds,
            "cpu_ms_per_request": (
                round(1000 * self.cpu_s / self.ok, 2) if self.cpu_s and self.ok else None
            ),
            **({"mean_batch": self.batches} if self.batches else {}),
            "load_1m": self.load,
        }


async def run_point(
    host: str, port: int, bodies: list[bytes], clients: int, warmup: float, duration: float,
    result: PointResult, cpu_of=None, path: str = "/v1/recommend", timeout: float = 60.0,
) -> PointResult:  # fmt: skip
    """Closed loop: `clients` workers post bodies back to back for warmup + duration seconds;
    requests that complete inside the measured window count."""
    loop = asyncio.get_running_loop()
    start = loop.time() + warmup
    end = start + duration
    cpu0 = None

    async def worker(w: int) -> None:
        conn = Connection(host, port)
        i = w * 7919
        while True:
            now = loop.time()
            if now >= end:
                break
            body = bodies[i % len(bodies)]
            i += 1
            t0 = time.perf_counter()
            try:
                status, _ = await asyncio.wait_for(conn.post(path, body), timeout)
                kind = None if status == 200 else f"http {status}"
            except Exception as exc:  # noqa: BLE001 - every failure is counted, by kind
                conn.close()
                kind = type(exc).__name__
            latency = (time.perf_counter() - t0) * 1000
            done = loop.time()
            if now >= start and done <= end:
                if kind is None:
                    result.ok += 1
                    result.latencies_ms.append(latency)
                else:
                    result.errors += 1
                    result.error_kinds[kind] = result.error_kinds.get(kind, 0) + 1
            if kind is not None and kind.startswith("http") is False:
                await asyncio.sleep(0.05)  # a refused connection is not retried in a spin
        conn.close()

    async def cpu_marks() -> None:
        nonlocal cpu0
        await asyncio.sleep(max(start - loop.time(), 0))
        cpu0 = cpu_of() if cpu_of else None

    tasks = [asyncio.create_task(worker(w)) for w in range(clients)]
    mark = asyncio.create_task(cpu_marks())
    await asyncio.sleep(max(end - loop.time(), 0))
    cpu1 = cpu_of() if cpu_of else None
    await asyncio.gather(*tasks, mark)
    if cpu0 is not None and cpu1 is not None:
        result.cpu_s = cpu1 - cpu0
    return result


# ---------------------------------------------------------------------------- CPU accounting

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _children() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            out.setdefault(ppid, []).append(int(entry))
    return out


def tree_cpu_s(roots: list[int], exclude: int | None = None) -> float:
    """User + system CPU seconds of the processes under `roots` (live ones; Linux /proc)."""
    children = _children()
    total, stack, seen = 0.0, list(roots), set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        stack.extend(children.get(pid, []))
        if pid == exclude:
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / _TICK
    return total


# ---------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(port: int, timeout: float = 180.0, proc: subprocess.Popen | None = None) -> None:
    import urllib.request

    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"nothing healthy on port {port} after {timeout}s")


def start_plain(run_dir: Path, port: int) -> subprocess.Popen:
    """`uvicorn --factory adrec.serving.plain:app_from_env` with uvicorn's default settings."""
    env = {**os.environ, "ADREC_RUN_DIR": str(run_dir)}
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "adrec.serving.plain:app_from_env",
           "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    wait_healthy(port, proc=proc)
    return proc


def start_graph(run_dir: Path, port: int, app_args: dict, num_cpus: int) -> dict[str, int]:
    """A local Ray cluster (this process's children) running the app `adrec serve` deploys;
    returns the ports: "graph" (the ingress replica's own server where Serve runs with
    direct ingress, else the proxy) and "graph-proxy" (Serve's HTTP proxy)."""
    import ray

    from adrec.distributed.serve_graph import deploy, direct_urls

    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    deploy(run_dir, port=port, **app_args)
    direct = [int(u.rsplit(":", 1)[1]) for u in direct_urls()]
    ports = {"graph": direct[0] if direct else port, "graph-proxy": port}
    for p in set(ports.values()):
        wait_healthy(p)
    return ports


async def graph_batch_stats() -> dict:
    """Batches and requests each deployment has run so far (one replica each)."""
    from ray import serve

    out = {}
    for name in ("Ingress", "Detector", "Recommender"):
        handle = serve.get_deployment_handle(name, app_name="adrec")
        out[name] = await handle.batch_stats.remote()
    return out


def stop_graph() -> None:
    import ray
    from ray import serve

    try:
        serve.shutdown()
    except RuntimeError:  # handles made in the stats calls' closed event loops
        pass
    ray.shutdown()


# ---------------------------------------------------------------------------- report


def pooled(points: list[PointResult]) -> dict:
    """Over the repeats of one (target, clients): the median requests/s and the percentiles
    of every latency measured."""
    lat = np.concatenate([np.asarray(p.latencies_ms) for p in points]) if points else np.zeros(0)
    pct = (lambda q: round(float(np.percentile(lat, q)), 1)) if len(lat) else (lambda q: None)
    cpu = [p.cpu_s / p.ok for p in points if p.cpu_s is not None and p.ok]
    batch = [p.batches["Ingress"] for p in points if p.batches]
    load = [p.load for p in points if p.load is not None]
    return {
        "rps": round(float(np.median([p.ok / p.duration_s for p in points])), 1),
        "rps_each": [round(p.ok / p.duration_s, 1) for p in points],
        "p50_ms": pct(50),
        "p95_ms": pct(95),
        "p99_ms": pct(99),
        "errors": sum(p.errors for p in points),
        "requests": sum(p.ok for p in points),
        "cpu_ms_per_request": round(1000 * float(np.median(cpu)), 2) if cpu else None,
        "mean_batch": round(float(np.median(batch)), 2) if batch else None,
        "load_1m": [round(x, 1) for x in load],
    }


def compute_at(compute: dict, batch: float) -> float:
    """Model CPU ms per request at a mean batch size, interpolated in log(batch size)."""
    sizes = sorted(int(k) for k in compute)
    x = np.log(np.clip(batch, sizes[0], sizes[-1]))
    return float(np.interp(x, np.log(sizes), [compute[k] for k in sizes]))


def _load_range(loads: list[float]) -> str:
    return f"{min(loads)}-{max(loads)}" if loads else "-"


def _table(report: dict, graph: str) -> list[str]:
    compute = {int(k): v for k, v in report["model_compute_ms_per_request"].items()}
    rows = [
        f"| clients | {graph} req/s | plain req/s | ratio | {graph} p50 / p95 / p99 ms | "
        "plain p50 / p95 / p99 ms | p99 ratio | errors | mean batch | CPU ms/req (overhead "
        "over model compute) | load (1 min) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report["table"]:
        g, p = row[graph], row["plain"]
        rps = round(g["rps"] / p["rps"], 2) if p["rps"] else None
        p99 = round(g["p99_ms"] / p["p99_ms"], 2) if g["p99_ms"] and p["p99_ms"] else None
        cpu = "-"
        if g["cpu_ms_per_request"] and p["cpu_ms_per_request"]:
            g_over = g["cpu_ms_per_request"] - compute_at(compute, g["mean_batch"] or 1)
            p_over = p["cpu_ms_per_request"] - compute[min(compute)]
            cpu = (f"{graph} {g['cpu_ms_per_request']} (+{g_over:.1f}) / plain "
                   f"{p['cpu_ms_per_request']} (+{p_over:.1f})")  # fmt: skip
        rows.append(
            f"| {row['clients']} | {g['rps']} | {p['rps']} | {rps}x | "
            f"{g['p50_ms']} / {g['p95_ms']} / {g['p99_ms']} | "
            f"{p['p50_ms']} / {p['p95_ms']} / {p['p99_ms']} | {p99}x | "
            f"{g['errors']} / {p['errors']} | {g['mean_batch']} | {cpu} | "
            f"{_load_range(g['load_1m'] + p['load_1m'])} |"
        )
    return rows


def markdown(report: dict) -> str:
    s = report["settings"]
    graphs = [n for n in ("graph", "graph-proxy") if n in report["table"][0]]
    compute = report["model_compute_ms_per_request"]
    lines = [
        "# Serve graph vs plain process: closed-loop load",
        "",
        f"Command: `{report['command']}`",
        "",
        f"Machine: {s['cpus']} CPUs ({s['platform']}), shared; load average before / after "
        f"{s['load_before']} / {s['load_after']}; OMP_NUM_THREADS={s['omp_threads']}. "
        f"{s['repeats']} interleaved repeats of {s['duration_s']} s per point after "
        f"{s['warmup_s']} s of warm-up; {s['mix_size']} request bodies (mix: {s['mix']}). "
        f"Graph: {json.dumps(s['graph_args'])}, cluster environment "
        f"{json.dumps(s['serve_env'])}; `graph` is the ingress replica's own port where "
        "Serve runs with direct ingress, `graph-proxy` the path through Serve's HTTP proxy.",
        "",
        "req/s: median over the repeats; latencies: percentiles of every request of the "
        "repeats; ratio: graph / plain (req/s: higher is better; p99: lower is better); mean "
        "batch: requests per ingress batch; load: the machine's 1-minute load average at the "
        "end of each of the row's points (other jobs share the machine); CPU ms/req: user + "
        "system CPU of each side's processes per answered request (Ray: every process of "
        "the cluster, idle ones included), and in brackets what it adds to the model "
        "compute alone at that batch size (CPU ms per request by batch size, measured "
        f"in-process: {json.dumps(compute)}).",
        "",
    ]
    for name in graphs:
        lines += [*_table(report, name), ""]
    return "\n".join(lines)


async def sweep(names, levels, repeats, ports, bodies, warmup, duration, cpu_of, results):
    """Every repeat, every concurrency, every target (the order alternating), in one event
    loop (Serve's handles in throughput mode live on the loop that made them)."""
    for rep in range(repeats):
        for j, c in enumerate(levels):
            order = names if (rep + j) % 2 == 0 else names[::-1]
            for name in order:
                res = PointResult(name, c, rep, duration)
                before = await graph_batch_stats() if name.startswith("graph") else None
                await run_point("127.0.0.1", ports[name], bodies, c, warmup, duration, res,
                                cpu_of[name])  # fmt: skip
                if before is not None:
                    after = await graph_batch_stats()
                    res.batches = {
                        k: round((after[k]["requests"] - before[k]["requests"])
                                 / max(after[k]["batches"] - before[k]["batches"], 1), 2)
                        for k in after
                    }  # fmt: skip
                res.load = round(os.getloadavg()[0], 2)
                results.setdefault((name, c), []).append(res)
                s = res.summary()
                print(f"repeat {rep} clients {c:>3} {name:<11} {s['rps']:>7} req/s  p50 "
                      f"{s['p50_ms']} p99 {s['p99_ms']} ms  errors {s['errors']} "
                      f"{s['error_kinds'] or ''} cpu/req {s['cpu_ms_per_request']} "
                      f"{s.get('mean_batch', '')} load {res.load}", flush=True)  # fmt: skip


def main(
    run_dir: Annotated[Path, typer.Option(help="A trained run directory.")],
    clients: Annotated[str, typer.Option(help="Concurrency levels, comma separated.")] = (
        "1,2,4,8,16,32,64"
    ),
    duration: Annotated[float, typer.Option(help="Measured seconds per point.")] = 10.0,
    warmup: Annotated[float, typer.Option(help="Unmeasured seconds before each point.")] = 2.0,
    repeats: Annotated[int, typer.Option(help="Interleaved repeats of the whole sweep.")] = 3,
    out: Annotated[Path, typer.Option(help="Folder for serve_load.json / .md.")] = Path(
        "reports/serve_load"
    ),
    graph_args: Annotated[
        str, typer.Option(help="JSON of the Serve app's arguments (AppArgs) beside run_dir.")
    ] = "{}",
    num_cpus: Annotated[int, typer.Option(help="Logical CPUs of the local Ray cluster.")] = 4,
    targets: Annotated[
        str,
        typer.Option(
            help="Comma separated: graph (the ingress replica's own port where "
            "Serve has direct ingress), graph-proxy (through Serve's proxy), plain."
        ),
    ] = "graph,plain",
    serve_env: Annotated[
        str,
        typer.Option(
            help="throughput: start the cluster with adrec's SERVE_ENV (as adrec "
            "serve does); default: Ray's defaults (the proxy in the path)."
        ),
    ] = "throughput",
    port: Annotated[
        int,
        typer.Option(
            help="First of the ports to use: the plain process on it, Serve's proxy on "
            "+1, the ingress replica's own (direct ingress) server from +10 to +19. 0: free "
            "ports and Ray's default range (30000 and up)."
        ),
    ] = 0,
    seed: int = 0,
) -> None:
    run_dir = run_dir.resolve()
    levels = [int(c) for c in clients.split(",")]
    names = targets.split(",")
    args = json.loads(graph_args)
    bodies = request_mix(run_dir, seed=seed)
    compute = model_compute(run_dir, bodies)
    print(f"model compute alone, CPU ms per request by batch size: {compute}", flush=True)
    load_before = [round(x, 2) for x in os.getloadavg()]
    ports, procs, cpu_of = {}, {}, {}
    try:
        if "plain" in names:
            ports["plain"] = port or free_port()
            procs["plain"] = start_plain(run_dir, ports["plain"])
            cpu_of["plain"] = lambda: tree_cpu_s([procs["plain"].pid])
            print(f"plain process up on {ports['plain']}", flush=True)
        if any(n.startswith("graph") for n in names):
            if serve_env == "throughput":
                apply_serve_env()
            if port:
                os.environ["RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT"] = str(port + 10)
                os.environ["RAY_SERVE_DIRECT_INGRESS_MAX_HTTP_PORT"] = str(port + 19)
            ports.update(start_graph(run_dir, port + 1 if port else free_port(), args, num_cpus))
            me = os.getpid()

            def graph_cpu() -> float:
                plain = tree_cpu_s([procs["plain"].pid]) if "plain" in procs else 0.0
                return tree_cpu_s([me], exclude=me) - plain

            cpu_of["graph"] = cpu_of["graph-proxy"] = graph_cpu
            print(f"Serve graph up: {ports}", flush=True)
        results: dict[tuple[str, int], list[PointResult]] = {}
        asyncio.run(sweep(names, levels, repeats, ports, bodies, warmup, duration, cpu_of,
                          results))  # fmt: skip
    finally:
        if "plain" in procs:
            os.killpg(procs["plain"].pid, signal.SIGTERM)
            procs["plain"].wait(30)
        if any(n.startswith("graph") for n in names):
            stop_graph()
    table = []
    for c in levels:
        row = {"clients": c, **{n: pooled(results[(n, c)]) for n in names}}
        for name in ("graph", "graph-proxy"):
            if name in row and "plain" in row:
                g, p = row[name], row["plain"]
                row[f"{name} / plain"] = {
                    "rps": round(g["rps"] / p["rps"], 2) if p["rps"] else None,
                    "p99": round(g["p99_ms"] / p["p99_ms"], 2)
                    if g["p99_ms"] and p["p99_ms"]
                    else None,
                }
        table.append(row)
    report = {
        "command": " ".join(["python", *sys.argv]),
        "settings": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_before": load_before,
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "omp_threads": os.environ.get("OMP_NUM_THREADS"),
            "duration_s": duration,
            "warmup_s": warmup,
            "repeats": repeats,
            "clients": levels,
            "mix_size": len(bodies),
            "mix": "45% known users alone, 20% known users + 1-5 new events, 30% new users "
            "with 10-60 events (10% unknown items), k in 1/5/10/20, 5% k of 50/100",
            "graph_args": args,
            "serve_env": {k: os.environ.get(k) for k in SERVE_ENV},
            "num_cpus": num_cpus,
        },
        "model_compute_ms_per_request": compute,
        "table": table,
        "points": [r.summary() for rs in results.values() for r in rs],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "serve_load.json").write_text(json.dumps(report, indent=2))
    (out / "serve_load.md").write_text(markdown(report))
    if all(n in names for n in ("graph", "plain")):
        print(markdown(report))


if __name__ == "__main__":
    typer.run(main)
