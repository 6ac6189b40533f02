"""Joining a Ray cluster, or starting a private local one.

    connect(address=None, num_cpus=None, log=print) -> str   (what it joined or started)

- An address (the argument, or $RAY_ADDRESS, which Ray sets for a job's driver) joins that
  cluster: "auto" for the cluster `ray start` recorded on this machine, "host:6379" for a
  head's GCS, "ray://host:10001" for Ray Client. Nothing else is passed to ray.init: a
  cluster's CPUs are its own (ray.init rejects num_cpus when joining).
- No address starts a private local cluster (ray.init(address="local")), even when another
  cluster runs on the machine: plain ray.init() would join the newest one `ray start` recorded
  (and then reject num_cpus), which is how a test cluster, or a stale record of a crashed
  one, captured `adrec train`.

Authentication (Ray 2.60): a cluster started by ray.init() or by `ray start` on a machine
that has a token (~/.ray/auth_token) requires that token. Ray itself uses the token when a
driver joins with "auto" but not with an explicit address; connect() does the same for every
address (RAY_AUTH_MODE unset and a token in $RAY_AUTH_TOKEN, $RAY_AUTH_TOKEN_PATH or
~/.ray/auth_token: token mode). RAY_AUTH_MODE=disabled or =token, when set, is respected.
A cluster that refuses the connection gets an error that says what to set.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

AUTH_MODE = "RAY_AUTH_MODE"


def token_available(env: dict | None = None, home: Path | None = None) -> bool:
    """Whether Ray would find an auth token: $RAY_AUTH_TOKEN, the file $RAY_AUTH_TOKEN_PATH
    names, or ~/.ray/auth_token."""
    env = os.environ if env is None else env
    if env.get("RAY_AUTH_TOKEN", "").strip():
        return True
    if env.get("RAY_AUTH_TOKEN_PATH") and Path(env["RAY_AUTH_TOKEN_PATH"]).is_file():
        return True
    return ((home or Path.home()) / ".ray" / "auth_token").is_file()


def init_arguments(
    address: str | None, num_cpus: int | None, env: dict | None = None
) -> tuple[str, dict]:
    """("join" or "start", the ray.init keyword arguments) for `address` and the
    environment: an address (argument or $RAY_ADDRESS) joins, none starts a private local
    cluster with `num_cpus` logical CPUs (default: max(4, the machine's cores))."""
    env = os.environ if env is None else env
    given = address
    address = address or env.get("RAY_ADDRESS") or None
    if address and address.startswith(("http://", "https://")):
        where = "--address" if given else "$RAY_ADDRESS"
        raise ValueError(
            f"{where} is {address}, the dashboard / Jobs API, which `ray job submit` takes; a "
            "program joins the head's GCS address (host:6379, or 'auto' on the head's machine)"
            + ("" if given else ", so unset RAY_ADDRESS or set it to that")
        )
    if address and address != "local":
        return "join", {"address": address}
    cpus = num_cpus or max(4, os.cpu_count() or 1)
    return "start", {"address": "local", "num_cpus": cpus}


def _use_token_if_available() -> None:
    """Token mode when RAY_AUTH_MODE is unset and a token exists, as ray.init does for
    address="auto" (Ray's helper refreshes the cached config of this process too)."""
    if os.environ.get(AUTH_MODE) is not None or not token_available():
        return
    try:
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available,
        )
    except ImportError:  # another Ray version: the environment variable alone
        os.environ[AUTH_MODE] = "token"
        return
    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


def _auth_hint() -> str:
    mode = os.environ.get(AUTH_MODE, "unset")
    return (
        f"RAY_AUTH_MODE is {mode}. A cluster with token authentication (Ray 2.60's default "
        "for ray.init() and for `ray start` where ~/.ray/auth_token exists) needs "
        "RAY_AUTH_MODE=token and its token in $RAY_AUTH_TOKEN or ~/.ray/auth_token (`ray "
        "get-auth-token` on the head prints it); a cluster started with RAY_AUTH_MODE=disabled "
        "needs nothing. Also check the address (the head's GCS, host:6379, not the dashboard "
        "URL) and that the head is up."
    )


def describe_cluster() -> str:
    import ray

    res = ray.cluster_resources()
    nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
    gpus = f", {res['GPU']:g} GPUs" if res.get("GPU") else ""
    return f"{nodes} node(s), {res.get('CPU', 0):g} CPUs{gpus}"


def connect(
    address: str | None = None,
    num_cpus: int | None = None,
    quiet: bool = True,
    log: Callable[[str], object] | None = print,
) -> str:
    """Join the cluster at `address` (or $RAY_ADDRESS), or start a private local one with
    enough logical CPUs for data tasks and training workers side by side on a small machine.
    Says which (through `log`) and returns that line; returns "" when this process is already
    connected."""
    import ray
    import ray.data

    if ray.is_initialized():
        return ""
    action, kwargs = init_arguments(address, num_cpus)
    if action == "join":
        _use_token_if_available()
    try:
        ctx = ray.init(**kwargs, log_to_driver=not quiet, include_dashboard=False)
    except ConnectionError as exc:
        raise ConnectionError(
            f"could not join the Ray cluster at {kwargs['address']}: {exc}. {_auth_hint()}"
        ) from exc
    ray.data.DataContext.get_current().enable_progress_bars = not quiet
    if quiet:  # adrec prints its own progress; Ray's per-dataset INFO lines drown it
        for name in ("ray.data", "ray.train", "ray.serve", "ray"):
            logging.getLogger(name).setLevel(logging.WARNING)
    gcs = ctx.address_info.get("gcs_address", "?")
    if action == "join":
        line = f"joined the Ray cluster at {kwargs['address']} (GCS {gcs}; {describe_cluster()})"
    else:
        line = (
            f"started a private local Ray cluster (GCS {gcs}; {describe_cluster()}); it stops "
            "when this command ends. Pass --address to use a running cluster"
        )
    if log:
        log(line)
    return line


def disconnect() -> None:
    """Leave the cluster connect() joined, or stop the private one it started."""
    import ray

    if ray.is_initialized():
        ray.shutdown()
