"""What a Ray Data worker process pays to start: every read or map task's worker imports the
module of its function, so the modules whose functions Ray Data ships to tasks stay free of
torch (seconds of CPU per worker process on a small machine; a read of a small folder
starts several)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from adrec.distributed.images import IMAGES_PER_READ, MAX_READ_TASKS, read_tasks

TASK_MODULES = (
    "adrec.distributed.images",
    "adrec.distributed.ingest",
    "adrec.distributed.pipeline",
)


def test_the_modules_of_ray_data_task_functions_load_without_torch():
    code = f"""
import sys
for name in {TASK_MODULES!r}:
    __import__(name)
assert "torch" not in sys.modules, "torch loaded"
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize(
    ("images", "tasks"),
    [(1, 1), (IMAGES_PER_READ, 1), (IMAGES_PER_READ + 1, 2), (12, 2),
     (IMAGES_PER_READ * MAX_READ_TASKS, MAX_READ_TASKS), (100_000, MAX_READ_TASKS)],
)  # fmt: skip
def test_a_read_task_gets_several_images_and_a_large_folder_a_bounded_number(images, tasks):
    assert read_tasks(images) == tasks
