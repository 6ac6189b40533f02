"""Functional core, distributed shell: Ray is imported only by the distributed shell
(adrec/distributed: pipelines, training loops, batch jobs, the Serve graph and its
metrics). Everything else (detectors, models, metrics,
ranking, the dashboard, the Ray-free service, the CLI's top level) must not import it, at
module level or inside a function. Read from the source, so it costs milliseconds."""

from __future__ import annotations

import ast
from pathlib import Path

import adrec

PACKAGE = Path(adrec.__file__).parent
SHELL = ("distributed/",)


def ray_imports(path: Path) -> list[int]:
    """Lines of `path` that import ray or one of its modules."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        if any(name == "ray" or name.startswith("ray.") for name in names):
            lines.append(node.lineno)
    return lines


def test_only_the_shell_imports_ray():
    outside = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if not rel.startswith(SHELL) and (found := ray_imports(path)):
            outside[rel] = found
    assert not outside, f"Ray imported outside the shell: {outside}"


def test_the_check_sees_imports_inside_functions(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("import os\n\ndef f():\n    from ray import serve\n    import ray.data\n")
    assert ray_imports(source) == [4, 5]
    source.write_text("from .ray import x\nimport rayon\n")
    assert ray_imports(source) == []
