"""The Serve configs this repository ships validate with Ray 2.60's own schema (imports Ray,
so it lives beside the integration tests; no cluster is needed)."""

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError
from ray.serve.schema import ServeDeploySchema

ROOT = Path(__file__).resolve().parents[2]


SERVICE = ROOT / "cluster" / "recommend-service" / "ray-service.recommend.yaml"


def _serve_config_output(tmp_dir: Path) -> dict:
    """What `cluster/serve_config.py --run-dir ... --port ...` prints for `serve deploy`."""
    run = tmp_dir / "run"
    run.mkdir(parents=True, exist_ok=True)
    (run / "engine.json").write_text("{}")
    out = subprocess.run(
        [sys.executable, str(ROOT / "cluster" / "serve_config.py"), "--run-dir", str(run),
         "--port", "8123"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    config = yaml.safe_load(out.stdout)
    assert config["http_options"]["port"] == 8123
    assert config["applications"][0]["args"]["run_dir"] == str(run.resolve())
    return config


def _config(name: str, tmp_dir: Path) -> dict:
    if name == "ray-service.recommend.yaml":
        return yaml.safe_load(yaml.safe_load(SERVICE.read_text())["spec"]["serveConfigV2"])
    if name == "serve_apps/recommend.yaml":
        return yaml.safe_load((ROOT / "serve_apps" / "recommend.yaml").read_text())
    return _serve_config_output(tmp_dir)


@pytest.mark.parametrize(
    "name", ["ray-service.recommend.yaml", "serve_apps/recommend.yaml", "serve_config.py output"]
)
def test_serve_config_validates(name, tmp_path):
    config = _config(name, tmp_path)
    schema = ServeDeploySchema.model_validate(config)
    assert [a.import_path for a in schema.applications] == ["serve_apps.recommend_app:build_app"]
    for dep in schema.applications[0].deployments:
        assert not {"num_replicas", "autoscaling_config"} <= dep.model_fields_set, dep.name
    # Ray Serve itself rejects the combination these configs avoid.
    broken = copy.deepcopy(config)
    for dep in broken["applications"][0]["deployments"]:
        if "autoscaling_config" in dep:
            dep["num_replicas"] = 2
    with pytest.raises(ValidationError, match="num_replicas"):
        ServeDeploySchema.model_validate(broken)
