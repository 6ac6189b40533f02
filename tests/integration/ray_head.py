"""A real, private Ray head for job tests: `ray start --head --block` in its own session, on free
ports and in its own temp dir, stopped by killing that session's processes (never Ray's own
stop command, which ends every Ray process on the machine, other people's clusters included).

    with RayHead(num_cpus=2) as head:
        head.dashboard_url   # http://127.0.0.1:<port>, for JobSubmissionClient / ray job submit
        head.gcs_address     # <ip>:<port>, for ray.init(address=...) / --address
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RayHead:
    def __init__(self, num_cpus: int = 2, env: dict | None = None, start_timeout: float = 240):
        self.num_cpus = num_cpus
        self.env = env or {}
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen | None = None
        # A short path: Ray's Unix sockets live under the temp dir (107-byte limit).
        self.temp_dir = Path(tempfile.mkdtemp(prefix="adrec-head-", dir="/tmp"))
        self.ports = {
            "port": free_port(),
            "dashboard-port": free_port(),
            "ray-client-server-port": free_port(),  # default 10001: taken by other heads
            "dashboard-agent-listen-port": free_port(),  # default 52365: likewise
        }

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['dashboard-port']}"

    @property
    def gcs_address(self) -> str:
        return f"127.0.0.1:{self.ports['port']}"

    @property
    def log_path(self) -> Path:
        return self.temp_dir / "ray-start.log"

    def start(self) -> RayHead:
        ray_cli = Path(sys.executable).parent / "ray"
        cmd = [
            str(ray_cli), "start", "--head", "--block", f"--num-cpus={self.num_cpus}",
            f"--temp-dir={self.temp_dir}", "--include-dashboard=true",
            "--dashboard-host=127.0.0.1", "--disable-usage-stats",
            *(f"--{name}={port}" for name, port in self.ports.items()),
        ]  # fmt: skip
        env = {
            **os.environ,
            # Jobs run `python`: the interpreter of this test session first on PATH.
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "RAY_AUTH_MODE": "disabled",
            **self.env,
        }
        env.pop("RAY_ADDRESS", None)
        with self.log_path.open("w") as out:
            self.proc = subprocess.Popen(
                cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ray start exited: {self.log_path.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(f"{self.dashboard_url}/api/version", timeout=2).read()
                return self
            except OSError:
                time.sleep(1)
        self.stop()
        raise TimeoutError(f"the head did not answer in {self.start_timeout} s")

    def stop(self, grace: float = 10) -> None:
        """SIGTERM to the head's process group (ray start and every process it started),
        SIGKILL to what is left after `grace` seconds; then the temp dir goes."""
        if self.proc is not None and self.proc.poll() is None:
            pgid = self.proc.pid  # start_new_session: the group of `ray start`
            try:
                os.killpg(pgid, signal.SIGTERM)
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
            except ProcessLookupError:
                pass
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=30)
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> RayHead:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
