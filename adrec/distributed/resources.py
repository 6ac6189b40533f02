"""Resource plan of a Ray Train run: how many CPUs each training worker asks for, so that the
workers and the Ray Data tasks that feed them fit on the cluster together, or a fast failure
that says what to change.

Why: Ray Train places its workers first, then their dataset shards are produced by Ray Data
tasks, which ask for a whole CPU by default. On a 2-CPU head, 2 workers of 1 CPU each held
both CPUs and the data task waited in PENDING_NODE_ASSIGNMENT forever, with no message
(issue 13); 2 workers of 0.5 CPU left it one CPU and trained.

    plan_training(workers, use_gpu, nodes=None) -> TrainingPlan     (raises ResourcePlanError)

The plan keeps DATA_CPUS free on one node (the largest) and gives each worker the largest
share of WORKER_CPU_CHOICES (1, 0.5, 0.25) with which all workers fit in what is left, node
by node. GPU workers also need one GPU each. Logical CPUs are not cores: a worker at 0.5 CPU
still runs, it only lets Ray schedule the data task beside it. On an autoscaling cluster the nodes
are the autoscaler's node groups at their maximum counts (what the cluster can grow to);
elsewhere the nodes up when the plan is made. ADREC_SKIP_RESOURCE_CHECK=1 skips the check
(workers then ask for 1 CPU each).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

DATA_CPUS = 1.0  # a Ray Data task at its default request, feeding the training workers
WORKER_CPU_CHOICES = (1.0, 0.5, 0.25)
SKIP_ENV = "ADREC_SKIP_RESOURCE_CHECK"


class ResourcePlanError(ValueError):
    """The requested training cannot run beside its data tasks on this cluster."""


@dataclass(frozen=True)
class Node:
    cpus: float
    gpus: float = 0.0


@dataclass(frozen=True)
class TrainingPlan:
    workers: int
    cpus_per_worker: float
    use_gpu: bool
    cluster_cpus: float
    cluster_gpus: float
    data_cpus: float = DATA_CPUS
    checked: bool = True

    @property
    def cpus_needed(self) -> float:
        return self.workers * self.cpus_per_worker + self.data_cpus

    def describe(self) -> str:
        gpu = " and 1 GPU" if self.use_gpu else ""
        if not self.checked:
            return (
                f"{self.workers} Ray Train worker(s) at {self.cpus_per_worker:g} CPU{gpu} each "
                f"(resource check skipped: ${SKIP_ENV} is set)"
            )
        return (
            f"{self.workers} Ray Train worker(s) at {self.cpus_per_worker:g} CPU{gpu} each, "
            f"{self.data_cpus:g} CPU kept for the Ray Data tasks that feed them, on a cluster of "
            f"{self.cluster_cpus:g} CPUs" + (f" and {self.cluster_gpus:g} GPUs" if gpu else "")
        )


def cluster_nodes() -> list[Node]:
    """The nodes the connected Ray cluster can have: on an autoscaling cluster (KubeRay with
    enableInTreeAutoscaling), every node group at its maximum count, as Ray Train checks its
    worker group against; otherwise the alive nodes with their total CPUs and GPUs."""
    import ray

    groups = _autoscaling_nodes()
    if groups:
        return groups
    return [
        Node(float(n["Resources"].get("CPU", 0)), float(n["Resources"].get("GPU", 0)))
        for n in ray.nodes()
        if n.get("Alive")
    ]


def _autoscaling_nodes(cap: int = 256) -> list[Node] | None:
    """Node groups of the autoscaler's cluster config (None without one). A group without a
    maximum counts as `cap` nodes."""
    try:  # the config Ray Train's worker group reads for the same purpose (internal API)
        from ray._private.state import state

        config = state.get_cluster_config()
    except Exception:  # noqa: BLE001 - no autoscaler, or another Ray version: alive nodes
        return None
    if config is None or not config.node_group_configs:
        return None
    nodes = []
    for group in config.node_group_configs:
        count = cap if group.max_count < 0 else min(group.max_count, cap)
        cpus, gpus = group.resources.get("CPU", 0), group.resources.get("GPU", 0)
        nodes += [Node(float(cpus), float(gpus))] * count
    return nodes or None


def available_cpus() -> float:
    """CPUs of the connected cluster that nothing holds now."""
    import ray

    return float(ray.available_resources().get("CPU", 0))


def _fits(nodes: list[Node], workers: int, cpus: float, use_gpu: bool, data: float) -> bool:
    """Whether `workers` bundles of `cpus` (and a GPU each when use_gpu) fit on the nodes with
    `data` CPUs kept free on the node with the most CPUs."""
    caps = sorted(nodes, key=lambda n: n.cpus, reverse=True)
    if not caps or caps[0].cpus < data:
        return False
    free = [n.cpus - (data if i == 0 else 0.0) for i, n in enumerate(caps)]
    slots = 0
    for n, left in zip(caps, free, strict=True):
        by_cpu = math.floor(left / cpus + 1e-9)
        slots += min(by_cpu, math.floor(n.gpus + 1e-9)) if use_gpu else by_cpu
    return slots >= workers


def max_workers(
    nodes: list[Node], use_gpu: bool, data: float = DATA_CPUS, least: float = WORKER_CPU_CHOICES[-1]
) -> int:
    """The most workers that fit at `least` CPUs each."""
    n = 0
    while _fits(nodes, n + 1, least, use_gpu, data):
        n += 1
    return n


def plan_training(
    workers: int,
    use_gpu: bool = False,
    nodes: list[Node] | None = None,
    data_cpus: float = DATA_CPUS,
    env: dict | None = None,
    choices: tuple[float, ...] = WORKER_CPU_CHOICES,
) -> TrainingPlan:
    """The CPUs per worker (the largest of `choices`) with which `workers` training workers
    and the data tasks fit on the cluster (`nodes`, default: the connected cluster's);
    ResourcePlanError otherwise, with what to change."""
    env = os.environ if env is None else env
    if workers < 1:
        raise ResourcePlanError(f"--workers must be at least 1, not {workers}")
    nodes = cluster_nodes() if nodes is None else nodes
    total_cpus = sum(n.cpus for n in nodes)
    total_gpus = sum(n.gpus for n in nodes)
    if env.get(SKIP_ENV, "") not in ("", "0"):
        return TrainingPlan(workers, choices[0], use_gpu, total_cpus, total_gpus, data_cpus, False)
    for cpus in choices:
        if _fits(nodes, workers, cpus, use_gpu, data_cpus):
            return TrainingPlan(workers, cpus, use_gpu, total_cpus, total_gpus, data_cpus)
    raise ResourcePlanError(_explain(nodes, workers, use_gpu, data_cpus, min(choices)))


def _explain(nodes: list[Node], workers: int, use_gpu: bool, data: float, least: float) -> str:
    cpus = sum(n.cpus for n in nodes)
    gpus = sum(n.gpus for n in nodes)
    fit = max_workers(nodes, use_gpu, data, least)
    have = f"this Ray cluster has {cpus:g} CPUs" + (f" and {gpus:g} GPUs" if use_gpu else "")
    have += f" on {len(nodes)} node(s)"
    need = f"{workers} training worker(s) need at least {least:g} CPU" + (
        " and 1 GPU each" if use_gpu else " each"
    )
    need += f", and the Ray Data tasks that feed them {data:g} CPU beside them"
    change = []
    if fit >= 1:
        change.append(f"use --workers {fit} or fewer")
    elif use_gpu and gpus < 1:
        change.append("drop --use-gpu or add GPU nodes")
    change.append(
        "give the cluster more CPUs"
        + (" and GPUs" if use_gpu else "")
        + " (`ray start --head --num-cpus N`, worker nodes, or larger KubeRay worker groups)"
    )
    return (
        f"{need}; {have}, so training would wait forever for CPUs. To fix: "
        f"{', or '.join(change)}. ({SKIP_ENV}=1 skips this check.)"
    )
