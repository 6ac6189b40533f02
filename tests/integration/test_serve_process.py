"""`adrec serve` as an operator runs it: a process that serves until it is told to stop, then
removes what it started."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ray_head import free_port

ADREC = str(Path(sys.executable).with_name("adrec"))


def _wait_for_line(proc: subprocess.Popen, pattern: str, timeout: float) -> list[str]:
    """Output lines up to the first matching `pattern` (a failure if the process ends first)."""
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            raise AssertionError(f"adrec serve ended ({proc.returncode}):\n{''.join(lines)}")
        lines.append(line)
        if re.search(pattern, line):
            return lines
    raise AssertionError(f"no line matching {pattern!r} in {timeout} s:\n{''.join(lines)}")


def _accepts(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex((host, port)) == 0


def test_sigterm_stops_the_service_and_its_private_cluster(demo_run):
    _, run_dir, _ = demo_run
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    cmd = [ADREC, "serve", "--run-dir", str(run_dir), "--port", str(port), "--no-throughput-mode"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, start_new_session=True)  # fmt: skip
    try:
        lines = _wait_for_line(proc, r"^serving ", timeout=240)
        gcs = re.search(r"GCS ([\d.]+):(\d+)", "".join(lines))
        assert gcs, "".join(lines)  # a private cluster, started for this command
        host, gcs_port = gcs.group(1), int(gcs.group(2))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=30) as r:
            assert json.load(r)["status"] == "ok"

        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, out
    assert out.strip().endswith("stopped") and "SIGTERM received" not in out, out
    assert not _accepts(host, gcs_port)  # the cluster it started is gone with it
    assert not _accepts("127.0.0.1", port)
