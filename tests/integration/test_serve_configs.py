"""The Serve configs this repository ships validate with Ray 2.60's own schema (imports Ray,
so it lives beside the integration tests; no cluster is needed)."""

import copy
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError
from ray.serve.schema import ServeDeploySchema

ROOT = Path(__file__).resolve().parents[2]


def _configs() -> dict[str, dict]:
    service = yaml.safe_load((ROOT / "cluster" / "ray-service.recommend.yaml").read_text())
    return {
        "ray-service.recommend.yaml": yaml.safe_load(service["spec"]["serveConfigV2"]),
        "serve_apps/recommend.yaml": yaml.safe_load(
            (ROOT / "serve_apps" / "recommend.yaml").read_text()
        ),
    }


@pytest.mark.parametrize("name", sorted(_configs()))
def test_serve_config_validates(name):
    config = _configs()[name]
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
