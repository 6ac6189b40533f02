"""Static checks of the Kubernetes assets in ``cluster/``.

Every ``cluster/*.yaml`` document of a KubeRay kind is validated against the KubeRay v1
CRD schema (``../shared/data/kuberay-crds/``) with jsonschema, made as strict as the API
server with strict field validation: unknown fields are errors, ``int-or-string`` fields
take an int or a string, ``x-kubernetes-list-type: map|set`` lists must not repeat keys.
CEL rules (``x-kubernetes-validations``), defaulting and admission webhooks are NOT
evaluated; nothing here talks to a cluster.

On top of the schema: project policy (auth on, resources set, shared /data claim, entrypoint
and Serve config consistent with the code's entrypoints). Ray is never started; only
``test_serve_config_validates_with_ray_serve_schema`` imports ``ray.serve.schema`` (a few
seconds of import time, no cluster).
"""

from __future__ import annotations

import copy
import functools
import json
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator, FormatChecker, ValidationError, validators

REPO_ROOT = Path(__file__).resolve().parents[2]
CLUSTER_DIR = REPO_ROOT / "cluster"
DATA_DIR = REPO_ROOT.parent / "shared" / "data"
CRD_DIR = DATA_DIR / "kuberay-crds"

CRD_FILES = {
    "RayCluster": "ray.io_rayclusters.yaml",
    "RayJob": "ray.io_rayjobs.yaml",
    "RayService": "ray.io_rayservices.yaml",
}
RAY_API_VERSION = "ray.io/v1"
RAY_VERSION = "2.60.0"

EXPECTED_MANIFESTS = {
    "pvc.yaml": ["PersistentVolumeClaim"],
    "ray-cluster.cpu.yaml": ["RayCluster"],
    "ray-cluster.gpu.yaml": ["RayCluster"],
    "ray-job.train.yaml": ["RayJob"],
    "ray-job.train-detector.gpu.yaml": ["RayJob"],
    "ray-service.recommend.yaml": ["RayService"],
}
MANIFEST_PATHS = sorted(CLUSTER_DIR.glob("*.yaml"))

SERVE_IMPORT_PATH = "serve_apps.recommend_app:build_app"
SERVE_DEPLOYMENTS = {"Ingress", "Detector", "Recommender"}
AUTOSCALED_DEPLOYMENTS = {"Detector", "Recommender"}
DATA_MOUNT = "/data"

# The CRDs are ~1 MB of YAML each: the libyaml loader reads them in well under a second.
_FAST_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# --------------------------------------------------------------------------- loading


def _require_crd_dir() -> None:
    if not CRD_DIR.is_dir():
        pytest.fail(
            f"KubeRay CRDs not found: expected the folder {CRD_DIR} (the shared data folder "
            f"next to the repository, {DATA_DIR}) with {sorted(CRD_FILES.values())}. "
            "The manifest tests cannot run without them.",
            pytrace=False,
        )
    missing = [name for name in CRD_FILES.values() if not (CRD_DIR / name).is_file()]
    if missing:
        pytest.fail(f"KubeRay CRD files missing from {CRD_DIR}: {missing}", pytrace=False)


def _load_manifest(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        docs = [doc for doc in yaml.safe_load_all(fh) if doc is not None]
    assert docs, f"{path.name}: no YAML documents"
    for doc in docs:
        assert isinstance(doc, dict), f"{path.name}: a document is not a mapping"
    return docs


@functools.cache
def _manifest(name: str) -> tuple[dict[str, Any], ...]:
    return tuple(_load_manifest(CLUSTER_DIR / name))


def _single(name: str) -> dict[str, Any]:
    docs = _manifest(name)
    assert len(docs) == 1, f"{name}: expected exactly one document, found {len(docs)}"
    return copy.deepcopy(docs[0])


# ------------------------------------------------------- OpenAPI v3 (k8s) -> JSON Schema


def _to_json_schema(node: dict[str, Any]) -> dict[str, Any]:
    """Turn a Kubernetes structural OpenAPI v3 schema into a strict Draft 7 schema.

    Walks only schema positions (never a ``properties`` map's field names). Unknown
    keywords (``x-kubernetes-*``, ``format: int-or-string`` ...) are ignored by jsonschema.
    """
    out = dict(node)
    if "properties" in node:
        out["properties"] = {name: _to_json_schema(sub) for name, sub in node["properties"].items()}
        if "additionalProperties" not in node and not node.get(
            "x-kubernetes-preserve-unknown-fields"
        ):
            # The API server drops (kubectl --validate=strict: rejects) unknown fields;
            # a misspelt field would otherwise pass silently.
            out["additionalProperties"] = False
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = _to_json_schema(node["additionalProperties"])
    if isinstance(node.get("items"), dict):
        out["items"] = _to_json_schema(node["items"])
    for key in ("allOf", "anyOf", "oneOf"):
        if key in node:
            out[key] = [_to_json_schema(sub) for sub in node[key]]
    if isinstance(node.get("not"), dict):
        out["not"] = _to_json_schema(node["not"])
    if node.get("x-kubernetes-int-or-string") and "anyOf" not in node and "type" not in node:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and isinstance(node.get("type"), str):
        out["type"] = [node["type"], "null"]
    return out


def _list_type(
    validator: Any, list_type: str, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    """``x-kubernetes-list-type``: ``set`` items and ``map`` keys must be unique."""
    if not validator.is_type(instance, "array"):
        return
    if list_type == "set":
        seen: list[Any] = []
        for item in instance:
            if item in seen:
                yield ValidationError(f"duplicate item {item!r} in a list of type set")
            seen.append(item)
    elif list_type == "map":
        keys = schema.get("x-kubernetes-list-map-keys", [])
        item_props = (schema.get("items") or {}).get("properties", {})
        seen_ids: set[tuple[str, ...]] = set()
        for item in instance:
            if not isinstance(item, dict):
                continue
            values = {key: item.get(key, item_props.get(key, {}).get("default")) for key in keys}
            ident = tuple(json.dumps(v, sort_keys=True) for v in values.values())
            if ident in seen_ids:
                yield ValidationError(f"duplicate entry for list-map keys {keys}: {values}")
            seen_ids.add(ident)


_CRDValidator = validators.extend(Draft7Validator, {"x-kubernetes-list-type": _list_type})

_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("int32")
def _is_int32(value: Any) -> bool:
    return not isinstance(value, int) or isinstance(value, bool) or -(2**31) <= value < 2**31


@_FORMATS.checks("int64")
def _is_int64(value: Any) -> bool:
    return not isinstance(value, int) or isinstance(value, bool) or -(2**63) <= value < 2**63


@functools.cache
def _crd_validator(kind: str) -> Any:
    _require_crd_dir()
    path = CRD_DIR / CRD_FILES[kind]
    with path.open(encoding="utf-8") as fh:
        crds = [d for d in yaml.load_all(fh, Loader=_FAST_SAFE_LOADER) if d]
    matches = [
        d
        for d in crds
        if d.get("kind") == "CustomResourceDefinition"
        and d.get("spec", {}).get("names", {}).get("kind") == kind
    ]
    assert len(matches) == 1, f"{path.name}: expected one CRD of kind {kind}, found {len(matches)}"
    crd = matches[0]
    assert crd["spec"]["group"] == "ray.io"
    versions = [v for v in crd["spec"]["versions"] if v.get("name") == "v1"]
    assert versions, f"{path.name}: CRD {kind} has no v1 version"
    schema = _to_json_schema(versions[0]["schema"]["openAPIV3Schema"])
    _CRDValidator.check_schema(schema)
    return _CRDValidator(schema, format_checker=_FORMATS)


def _schema_errors(doc: dict[str, Any]) -> list[ValidationError]:
    return sorted(
        _crd_validator(doc["kind"]).iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))
    )


def _describe(errors: list[ValidationError]) -> str:
    return "\n".join(
        f"  {'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}" for e in errors
    )


# ------------------------------------------------------------------- manifest helpers


def _cluster_spec(doc: dict[str, Any]) -> dict[str, Any]:
    """The RayCluster spec inside a RayCluster, RayJob or RayService."""
    kind = doc["kind"]
    if kind == "RayCluster":
        return doc["spec"]
    if kind == "RayJob":
        return doc["spec"]["rayClusterSpec"]
    if kind == "RayService":
        return doc["spec"]["rayClusterConfig"]
    raise AssertionError(f"not a Ray kind: {kind}")


def _groups(cluster: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    groups = [("head", cluster["headGroupSpec"])]
    groups += [(g["groupName"], g) for g in cluster.get("workerGroupSpecs", [])]
    return groups


def _ray_container(group: dict[str, Any]) -> dict[str, Any]:
    # KubeRay treats the first container of a pod template as the Ray container.
    return group["template"]["spec"]["containers"][0]


def _cpu(quantity: Any) -> float:
    text = str(quantity)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def _ray_docs() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in MANIFEST_PATHS:
        for doc in _manifest(path.name):
            if doc.get("kind") in CRD_FILES:
                yield path.name, doc


def _pvc_name() -> str:
    return _single("pvc.yaml")["metadata"]["name"]


def _serve_config() -> dict[str, Any]:
    raw = _single("ray-service.recommend.yaml")["spec"]["serveConfigV2"]
    assert isinstance(raw, str), "serveConfigV2 must be a YAML string"
    config = yaml.safe_load(raw)
    assert isinstance(config, dict), "serveConfigV2 does not parse to a mapping"
    return config


def _entrypoint_args(doc: dict[str, Any], module: str = "jobs.train") -> dict[str, str]:
    argv = shlex.split(doc["spec"]["entrypoint"])
    assert argv[:3] == ["python", "-m", module], argv
    opts: dict[str, str] = {}
    rest = argv[3:]
    for i, tok in enumerate(rest):
        if tok.startswith("--"):
            nxt = rest[i + 1] if i + 1 < len(rest) else ""
            opts[tok] = "" if nxt.startswith("--") else nxt
    return opts


# ---------------------------------------------------------------------------- tests


def test_kuberay_crds_are_available() -> None:
    _require_crd_dir()
    for kind in CRD_FILES:
        assert _crd_validator(kind) is not None


def test_expected_manifests_exist() -> None:
    found = {p.name for p in MANIFEST_PATHS}
    missing = sorted(set(EXPECTED_MANIFESTS) - found)
    assert not missing, f"missing from {CLUSTER_DIR}: {missing}"
    for name, kinds in EXPECTED_MANIFESTS.items():
        assert [d.get("kind") for d in _manifest(name)] == kinds, name


@pytest.mark.parametrize("path", MANIFEST_PATHS, ids=[p.name for p in MANIFEST_PATHS])
def test_manifest_matches_crd_schema(path: Path) -> None:
    for doc in _load_manifest(path):
        kind = doc.get("kind")
        name = (doc.get("metadata") or {}).get("name")
        assert name, f"{path.name}: {kind} without metadata.name"
        if kind in CRD_FILES:
            assert doc.get("apiVersion") == RAY_API_VERSION, f"{path.name}: {doc.get('apiVersion')}"
            errors = _schema_errors(doc)
            assert not errors, f"{path.name} ({kind} {name}) violates the CRD schema:\n" + (
                _describe(errors)
            )
        elif kind == "PersistentVolumeClaim":
            # Core kind, no CRD to check against: check what the Ray manifests rely on.
            assert doc.get("apiVersion") == "v1"
            spec = doc["spec"]
            assert "ReadWriteMany" in spec["accessModes"], "pods on many nodes share /data"
            assert spec["resources"]["requests"]["storage"]
        else:
            pytest.fail(f"{path.name}: unexpected kind {kind!r}; teach this test about it")


_DELETE = object()
_HEAD_CONTAINER = ["spec", "headGroupSpec", "template", "spec", "containers", 0]
_GPU_WORKER = ["spec", "workerGroupSpecs", 1, "template", "spec", "containers", 0]

# (manifest, path to mutate, new value or _DELETE, path where the error must be reported)
_BROKEN = [
    pytest.param(
        "ray-cluster.cpu.yaml",
        ["spec", "headGroupSpec"],
        "head",
        ["spec", "headGroupSpec"],
        id="headGroupSpec-is-a-string",
    ),
    pytest.param(
        "ray-cluster.cpu.yaml",
        ["spec", "workerGroupSpecs", 0, "replicas"],
        "1",
        ["spec", "workerGroupSpecs", 0, "replicas"],
        id="replicas-is-a-string",
    ),
    pytest.param(
        "ray-job.train.yaml",
        ["spec", "rayClusterSpec"],
        "cluster",
        ["spec", "rayClusterSpec"],
        id="rayClusterSpec-is-a-string",
    ),
    pytest.param(
        "ray-job.train.yaml",
        ["spec", "shutdownAfterJobFinishes"],
        "yes",
        ["spec", "shutdownAfterJobFinishes"],
        id="shutdownAfterJobFinishes-is-a-string",
    ),
    pytest.param(
        "ray-cluster.cpu.yaml",
        ["spec", "headGroupSpec", "rayStartParams", "num-cpus"],
        0,
        ["spec", "headGroupSpec", "rayStartParams", "num-cpus"],
        id="rayStartParams-value-not-a-string",
    ),
    pytest.param(
        "ray-cluster.gpu.yaml",
        [*_GPU_WORKER, "resources", "limits", "nvidia.com/gpu"],
        0.5,
        [*_GPU_WORKER, "resources", "limits", "nvidia.com/gpu"],
        id="quantity-is-a-float",
    ),
    pytest.param(
        "ray-service.recommend.yaml",
        ["spec", "serveConfigV2"],
        {"applications": []},
        ["spec", "serveConfigV2"],
        id="serveConfigV2-is-a-mapping",
    ),
    pytest.param(
        "ray-cluster.cpu.yaml",
        ["spec", "enableInTreeAutoScaling"],
        True,
        ["spec"],
        id="misspelt-field",
    ),
    pytest.param(
        "ray-cluster.cpu.yaml",
        ["spec", "authOptions", "mode"],
        "password",
        ["spec", "authOptions", "mode"],
        id="auth-mode-not-in-enum",
    ),
    pytest.param(
        "ray-cluster.cpu.yaml",
        ["spec", "workerGroupSpecs", 0, "groupName"],
        _DELETE,
        ["spec", "workerGroupSpecs", 0],
        id="required-groupName-missing",
    ),
    pytest.param(
        "ray-cluster.cpu.yaml",
        [*_HEAD_CONTAINER, "ports", 1, "containerPort"],
        6379,
        [*_HEAD_CONTAINER, "ports"],
        id="duplicate-containerPort",
    ),
]


@pytest.mark.parametrize(("name", "path", "value", "error_at"), _BROKEN)
def test_schema_validation_rejects_broken_manifests(
    name: str, path: list[Any], value: Any, error_at: list[Any]
) -> None:
    doc = _single(name)
    assert not _schema_errors(doc), f"{name} must be valid before it is broken"
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if value is _DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    errors = _schema_errors(doc)
    assert errors, f"mutating {path} of {name} to {value!r} was not rejected"
    where = [list(e.absolute_path) for e in errors]
    assert error_at in where, f"expected an error at {error_at}, got:\n{_describe(errors)}"


def test_ray_manifests_follow_project_policy() -> None:
    claim = _pvc_name()
    seen = 0
    for name, doc in _ray_docs():
        seen += 1
        cluster = _cluster_spec(doc)
        where = f"{name} ({doc['kind']})"
        assert cluster.get("rayVersion") == RAY_VERSION, where
        assert (cluster.get("authOptions") or {}).get("mode") == "token", (
            f"{where}: Ray token auth must stay on (spec authOptions.mode: token)"
        )
        assert cluster["headGroupSpec"]["rayStartParams"].get("num-cpus") == "0", (
            f"{where}: keep workloads off the head"
        )
        images = set()
        for group_name, group in _groups(cluster):
            at = f"{where} group {group_name}"
            if group_name != "head":
                assert group["minReplicas"] <= group.get("replicas", 0) <= group["maxReplicas"], at
            pod = group["template"]["spec"]
            container = _ray_container(group)
            images.add(container["image"])
            res = container.get("resources") or {}
            for section in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    assert resource in (res.get(section) or {}), f"{at}: no {section}.{resource}"
            env_names = {e["name"] for e in container.get("env", [])}
            assert "RAY_AUTH_MODE" not in env_names and "RAY_AUTH_TOKEN" not in env_names, (
                f"{at}: the operator injects RAY_AUTH_* (authOptions); do not set them by hand"
            )
            claims = {
                v["name"]: v["persistentVolumeClaim"]["claimName"]
                for v in pod.get("volumes", [])
                if "persistentVolumeClaim" in v
            }
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            assert claims.get(mounts.get(DATA_MOUNT)) == claim, (
                f"{at}: {DATA_MOUNT} must be the shared claim {claim!r}"
            )
        assert len(images) == 1, f"{where}: head and workers must run one image, got {images}"
    assert seen == 5, f"expected 5 Ray documents, found {seen}"


def test_cpu_cluster_autoscales() -> None:
    spec = _single("ray-cluster.cpu.yaml")["spec"]
    assert spec["enableInTreeAutoscaling"] is True
    assert any(g["maxReplicas"] > g["minReplicas"] for g in spec["workerGroupSpecs"])
    for _, group in _groups(spec):
        assert "nvidia.com/gpu" not in _ray_container(group)["resources"].get("limits", {})


def test_gpu_cluster_requests_gpus() -> None:
    spec = _single("ray-cluster.gpu.yaml")["spec"]
    gpu_groups = [
        g
        for g in spec["workerGroupSpecs"]
        if int(_ray_container(g)["resources"]["limits"].get("nvidia.com/gpu", 0)) >= 1
    ]
    assert gpu_groups, "no worker group with nvidia.com/gpu limits"
    for group in gpu_groups:
        pod = group["template"]["spec"]
        assert any(t.get("key") == "nvidia.com/gpu" for t in pod.get("tolerations", []))
    for _, group in _groups(spec):
        assert "gpu" in _ray_container(group)["image"], "GPU cluster must use the GPU image"


def test_train_job_entrypoint_and_lifecycle() -> None:
    doc = _single("ray-job.train.yaml")
    spec = doc["spec"]
    assert spec["shutdownAfterJobFinishes"] is True
    opts = _entrypoint_args(doc)
    assert opts.get("--num-workers") == "2"
    assert opts.get("--logs", "").startswith(f"{DATA_MOUNT}/")
    assert opts.get("--run-dir", "").startswith(f"{DATA_MOUNT}/runs/")
    # The cluster must have room for 2 Ray Train workers (1 CPU each by default) at its
    # minimum size: a RayJob that waits for the autoscaler is slower but still works.
    cluster = spec["rayClusterSpec"]
    min_cpus = sum(
        g["minReplicas"] * _cpu(_ray_container(g)["resources"]["limits"]["cpu"])
        for g in cluster["workerGroupSpecs"]
    )
    assert min_cpus >= int(opts["--num-workers"])


def test_detector_job_trains_on_one_gpu_per_worker() -> None:
    doc = _single("ray-job.train-detector.gpu.yaml")
    spec = doc["spec"]
    assert spec["shutdownAfterJobFinishes"] is True
    opts = _entrypoint_args(doc, "jobs.train_detector")
    assert "--use-gpu" in opts
    assert opts.get("--data", "").startswith(f"{DATA_MOUNT}/")
    assert opts.get("--out", "").startswith(f"{DATA_MOUNT}/")
    cluster = spec["rayClusterSpec"]
    min_gpus = sum(
        g["minReplicas"] * int(_ray_container(g)["resources"]["limits"].get("nvidia.com/gpu", 0))
        for g in cluster["workerGroupSpecs"]
    )
    assert min_gpus >= int(opts["--num-workers"])
    for _, group in _groups(cluster):
        assert "gpu" in _ray_container(group)["image"], "GPU job must use the GPU image"


def test_serve_config_is_consistent() -> None:
    """Ray-free checks of serveConfigV2 (schema-level checks: the test below)."""
    config = _serve_config()
    apps = config["applications"]
    assert len(apps) == 1
    app = apps[0]
    assert app["import_path"] == SERVE_IMPORT_PATH
    run_dir = app["args"]["run_dir"]
    assert run_dir.startswith(f"{DATA_MOUNT}/"), "run_dir must be on the shared claim"
    # The service serves what the training job writes.
    assert run_dir == _entrypoint_args(_single("ray-job.train.yaml"))["--run-dir"]

    deployments = {d["name"]: d for d in app.get("deployments", [])}
    assert set(deployments) <= SERVE_DEPLOYMENTS, set(deployments) - SERVE_DEPLOYMENTS
    for dep_name in AUTOSCALED_DEPLOYMENTS:
        assert "autoscaling_config" in deployments.get(dep_name, {}), dep_name
    both = [n for n, d in deployments.items() if "num_replicas" in d and "autoscaling_config" in d]
    assert not both, f"num_replicas and autoscaling_config are mutually exclusive: {both}"
    # The builder's fixed-replica args would fight the autoscaling_config above.
    assert not {"detector_replicas", "recommender_replicas"} & set(app["args"])

    # At maximum scale the replicas must fit into the worker groups at maxReplicas.
    max_cpus_needed = 0.0
    for dep in deployments.values():
        replicas = dep.get("num_replicas") or dep["autoscaling_config"]["max_replicas"]
        max_cpus_needed += replicas * dep.get("ray_actor_options", {}).get("num_cpus", 1)
    cluster = _single("ray-service.recommend.yaml")["spec"]["rayClusterConfig"]
    capacity = sum(
        g["maxReplicas"] * _cpu(_ray_container(g)["resources"]["limits"]["cpu"])
        for g in cluster["workerGroupSpecs"]
    )
    assert max_cpus_needed <= capacity, (max_cpus_needed, capacity)
