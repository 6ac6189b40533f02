"""What a Ray worker process pays to start: it imports the module of the function it runs
(a Ray Data task's map, a Ray Train loop), and on a small machine each heavy package costs
seconds per process (a read of a small folder starts several; a Ray Train run a dozen). So
the modules whose functions Ray Data ships to tasks stay free of torch, and the
recommender's training loop loads neither scikit-learn nor the detectors."""

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


def _loads_without(modules: tuple[str, ...], heavy: str) -> None:
    code = f"""
import sys
for name in {modules!r}:
    __import__(name)
assert {heavy!r} not in sys.modules, "{heavy} loaded"
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_the_modules_of_ray_data_task_functions_load_without_torch():
    _loads_without(TASK_MODULES, "torch")


def test_the_recommenders_train_loop_loads_without_scikit_learn():
    _loads_without(("adrec.distributed.train",), "sklearn")


@pytest.mark.parametrize(
    ("images", "tasks"),
    [(1, 1), (IMAGES_PER_READ, 1), (IMAGES_PER_READ + 1, 2), (12, 2),
     (IMAGES_PER_READ * MAX_READ_TASKS, MAX_READ_TASKS), (100_000, MAX_READ_TASKS)],
)  # fmt: skip
def test_a_read_task_gets_several_images_and_a_large_folder_a_bounded_number(images, tasks):
    assert read_tasks(images) == tasks
