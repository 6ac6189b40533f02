"""Joining or starting a Ray cluster, and the resource plan of a training run: decisions made
before Ray is touched (no Ray import here)."""

from __future__ import annotations

import pytest

from adrec.distributed.cluster import init_arguments, token_available
from adrec.distributed.resources import (
    SKIP_ENV,
    Node,
    ResourcePlanError,
    max_workers,
    plan_training,
)


@pytest.mark.parametrize(
    "address, env, expected",
    [
        (None, {}, ("start", {"address": "local", "num_cpus": 6})),
        ("local", {}, ("start", {"address": "local", "num_cpus": 6})),
        ("auto", {}, ("join", {"address": "auto"})),
        ("10.0.0.5:6379", {}, ("join", {"address": "10.0.0.5:6379"})),
        (None, {"RAY_ADDRESS": "10.0.0.5:6379"}, ("join", {"address": "10.0.0.5:6379"})),
        ("auto", {"RAY_ADDRESS": "10.0.0.5:6379"}, ("join", {"address": "auto"})),
    ],
)
def test_an_address_joins_and_none_starts_a_private_cluster(address, env, expected):
    # Joining never passes num_cpus (ray.init rejects it for an existing cluster); starting
    # uses address="local", so a cluster that `ray start` recorded is never joined by chance.
    assert init_arguments(address, 6, env) == expected


def test_a_private_cluster_gets_at_least_four_logical_cpus():
    action, kwargs = init_arguments(None, None, {})
    assert action == "start" and kwargs["num_cpus"] >= 4


def test_an_auth_token_is_found_where_ray_looks(tmp_path):
    home = tmp_path / "home"
    assert not token_available({}, home)
    assert token_available({"RAY_AUTH_TOKEN": "abc"}, home)
    path = tmp_path / "token"
    assert not token_available({"RAY_AUTH_TOKEN_PATH": str(path)}, home)
    path.write_text("abc")
    assert token_available({"RAY_AUTH_TOKEN_PATH": str(path)}, home)
    (home / ".ray").mkdir(parents=True)
    (home / ".ray" / "auth_token").write_text("abc")
    assert token_available({}, home)


HEAD_2 = [Node(2)]


def test_the_default_two_workers_fit_on_a_two_cpu_head_at_half_a_cpu():
    plan = plan_training(2, nodes=HEAD_2, env={})
    assert plan.cpus_per_worker == 0.5
    assert 2 * plan.cpus_per_worker + plan.data_cpus <= 2  # a CPU left for the data task
    assert "0.5 CPU" in plan.describe() and "2 CPUs" in plan.describe()


@pytest.mark.parametrize(
    "workers, nodes, cpus",
    [
        (1, HEAD_2, 1.0),
        (2, [Node(6)], 1.0),
        (4, HEAD_2, 0.25),
        (2, [Node(0), Node(4), Node(4)], 1.0),  # a head with no CPUs, as on KubeRay
        (3, [Node(1.5), Node(1.5)], 0.5),
    ],
)
def test_workers_get_the_largest_share_that_leaves_the_data_task_a_cpu(workers, nodes, cpus):
    assert plan_training(workers, nodes=nodes, env={}).cpus_per_worker == cpus


def test_workers_that_cannot_fit_fail_fast_saying_what_to_change():
    with pytest.raises(ResourcePlanError) as err:
        plan_training(5, nodes=HEAD_2, env={})
    message = str(err.value)
    assert "use --workers 4 or fewer" in message
    assert "2 CPUs" in message and "wait forever" in message
    assert "--num-cpus" in message  # or give the cluster more CPUs


def test_a_trainer_that_takes_whole_cpus_only_fits_one_worker_on_two_cpus():
    with pytest.raises(ResourcePlanError, match="use --workers 1 or fewer"):
        plan_training(2, nodes=HEAD_2, env={}, choices=(1.0,))
    assert plan_training(1, nodes=HEAD_2, env={}, choices=(1.0,)).cpus_per_worker == 1.0


def test_a_cluster_too_small_for_any_worker_says_to_add_cpus():
    with pytest.raises(ResourcePlanError) as err:
        plan_training(1, nodes=[Node(1)], env={})
    assert "--workers" not in str(err.value).split("To fix:")[1]
    assert "more CPUs" in str(err.value)


def test_gpu_workers_need_a_gpu_each():
    nodes = [Node(4, 1), Node(4, 1)]
    assert plan_training(2, use_gpu=True, nodes=nodes, env={}).cpus_per_worker == 1.0
    with pytest.raises(ResourcePlanError, match="use --workers 2 or fewer"):
        plan_training(3, use_gpu=True, nodes=nodes, env={})
    with pytest.raises(ResourcePlanError, match="drop --use-gpu"):
        plan_training(1, use_gpu=True, nodes=HEAD_2, env={})
    assert max_workers(nodes, use_gpu=True) == 2


def test_the_check_can_be_skipped_for_an_autoscaling_cluster():
    plan = plan_training(8, nodes=[Node(0)], env={SKIP_ENV: "1"})
    assert plan.workers == 8 and plan.cpus_per_worker == 1.0 and not plan.checked
    assert "skipped" in plan.describe()


@pytest.mark.parametrize(
    "address, env", [("http://127.0.0.1:8265", {}), (None, {"RAY_ADDRESS": "http://h:8265"})]
)
def test_a_dashboard_url_is_refused_with_the_address_to_use(address, env):
    with pytest.raises(ValueError, match="host:6379"):
        init_arguments(address, None, env)
