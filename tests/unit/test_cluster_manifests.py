"""Static checks of the Kubernetes assets in ``cluster/``.

Every manifest (``cluster/<part>/*.yaml``, beside its ``kustomization.yaml``) of a KubeRay
kind is validated against the KubeRay v1 CRD schema (``../shared/data/kuberay-crds/``) with
jsonschema, made as strict as the API server with strict field validation: unknown fields are
errors, ``int-or-string`` fields take an int or a string, ``x-kubernetes-list-type: map|set``
lists must not repeat keys. CEL rules (``x-kubernetes-validations``), defaulting and
admission webhooks are NOT evaluated; nothing here talks to a cluster.

On top of the schema: project policy (auth on, requests and limits on every container,
non-root pods with an fsGroup for the shared /data claim, image names set in one place,
entrypoints and resources consistent with the code, the RayService's Serve config generated
from ``serve_apps/recommend.yaml``, the Dockerfile installing from ``uv.lock``). Ray is never
started or imported (``tests/integration/test_serve_configs.py`` validates the Serve configs
with Ray's own schema); kustomize runs through ``kubectl kustomize`` where kubectl exists.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import json
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator, FormatChecker, ValidationError, validators

from adrec.distributed.resources import Node, plan_training

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
    "storage/pvc.yaml": ["PersistentVolumeClaim"],
    "cpu-cluster/ray-cluster.cpu.yaml": ["RayCluster"],
    "gpu-cluster/ray-cluster.gpu.yaml": ["RayCluster"],
    "train-job/ray-job.train.yaml": ["RayJob"],
    "detector-job/ray-job.train-detector.gpu.yaml": ["RayJob"],
    "recommend-service/ray-service.recommend.yaml": ["RayService"],
}
MANIFEST_PATHS = sorted(p for p in CLUSTER_DIR.glob("*/*.yaml") if p.name != "kustomization.yaml")
MANIFEST_IDS = [str(p.relative_to(CLUSTER_DIR)) for p in MANIFEST_PATHS]

CPU_CLUSTER = "cpu-cluster/ray-cluster.cpu.yaml"
GPU_CLUSTER = "gpu-cluster/ray-cluster.gpu.yaml"
TRAIN_JOB = "train-job/ray-job.train.yaml"
DETECTOR_JOB = "detector-job/ray-job.train-detector.gpu.yaml"
SERVICE = "recommend-service/ray-service.recommend.yaml"
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
        for doc in _manifest(str(path.relative_to(CLUSTER_DIR))):
            if doc.get("kind") in CRD_FILES:
                yield path.name, doc


def _pvc_name() -> str:
    return _single("storage/pvc.yaml")["metadata"]["name"]


def _serve_config() -> dict[str, Any]:
    raw = _single(SERVICE)["spec"]["serveConfigV2"]
    assert isinstance(raw, str), "serveConfigV2 must be a YAML string"
    config = yaml.safe_load(raw)
    assert isinstance(config, dict), "serveConfigV2 does not parse to a mapping"
    return config


def _entrypoint_args(doc: dict[str, Any], module: str = "jobs.train") -> dict[str, str]:
    """The options of the entrypoint's command `python -m <module> ...` (of a `&&` chain)."""
    commands = [shlex.split(c) for c in doc["spec"]["entrypoint"].split("&&")]
    found = [c for c in commands if c[:3] == ["python", "-m", module]]
    assert len(found) == 1, commands
    argv = found[0]
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
    found = set(MANIFEST_IDS)
    missing = sorted(set(EXPECTED_MANIFESTS) - found)
    assert not missing, f"missing from {CLUSTER_DIR}: {missing}"
    for name, kinds in EXPECTED_MANIFESTS.items():
        assert [d.get("kind") for d in _manifest(name)] == kinds, name


@pytest.mark.parametrize("path", MANIFEST_PATHS, ids=MANIFEST_IDS)
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
        CPU_CLUSTER,
        ["spec", "headGroupSpec"],
        "head",
        ["spec", "headGroupSpec"],
        id="headGroupSpec-is-a-string",
    ),
    pytest.param(
        CPU_CLUSTER,
        ["spec", "workerGroupSpecs", 0, "replicas"],
        "1",
        ["spec", "workerGroupSpecs", 0, "replicas"],
        id="replicas-is-a-string",
    ),
    pytest.param(
        TRAIN_JOB,
        ["spec", "rayClusterSpec"],
        "cluster",
        ["spec", "rayClusterSpec"],
        id="rayClusterSpec-is-a-string",
    ),
    pytest.param(
        TRAIN_JOB,
        ["spec", "shutdownAfterJobFinishes"],
        "yes",
        ["spec", "shutdownAfterJobFinishes"],
        id="shutdownAfterJobFinishes-is-a-string",
    ),
    pytest.param(
        CPU_CLUSTER,
        ["spec", "headGroupSpec", "rayStartParams", "num-cpus"],
        0,
        ["spec", "headGroupSpec", "rayStartParams", "num-cpus"],
        id="rayStartParams-value-not-a-string",
    ),
    pytest.param(
        GPU_CLUSTER,
        [*_GPU_WORKER, "resources", "limits", "nvidia.com/gpu"],
        0.5,
        [*_GPU_WORKER, "resources", "limits", "nvidia.com/gpu"],
        id="quantity-is-a-float",
    ),
    pytest.param(
        SERVICE,
        ["spec", "serveConfigV2"],
        {"applications": []},
        ["spec", "serveConfigV2"],
        id="serveConfigV2-is-a-mapping",
    ),
    pytest.param(
        CPU_CLUSTER,
        ["spec", "enableInTreeAutoScaling"],
        True,
        ["spec"],
        id="misspelt-field",
    ),
    pytest.param(
        CPU_CLUSTER,
        ["spec", "authOptions", "mode"],
        "password",
        ["spec", "authOptions", "mode"],
        id="auth-mode-not-in-enum",
    ),
    pytest.param(
        CPU_CLUSTER,
        ["spec", "workerGroupSpecs", 0, "groupName"],
        _DELETE,
        ["spec", "workerGroupSpecs", 0],
        id="required-groupName-missing",
    ),
    pytest.param(
        CPU_CLUSTER,
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
    spec = _single(CPU_CLUSTER)["spec"]
    assert spec["enableInTreeAutoscaling"] is True
    assert any(g["maxReplicas"] > g["minReplicas"] for g in spec["workerGroupSpecs"])
    for _, group in _groups(spec):
        assert "nvidia.com/gpu" not in _ray_container(group)["resources"].get("limits", {})


def test_gpu_cluster_requests_gpus() -> None:
    spec = _single(GPU_CLUSTER)["spec"]
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
    doc = _single(TRAIN_JOB)
    spec = doc["spec"]
    assert spec["shutdownAfterJobFinishes"] is True
    opts = _entrypoint_args(doc)
    assert opts.get("--num-workers") == "2"
    assert opts.get("--logs", "").startswith(f"{DATA_MOUNT}/")
    assert opts.get("--run-dir", "").startswith(f"{DATA_MOUNT}/runs/")
    # adrec's resource plan (the check `jobs.train` makes before any work) must accept the
    # workers on this cluster at its minimum size, and at its maximum (the plan's view of an
    # autoscaling cluster): workers beside the CPU the Ray Data tasks feeding them ask for.
    cluster = spec["rayClusterSpec"]
    for size in ("minReplicas", "maxReplicas"):
        nodes = [Node(_cpu(_ray_container(cluster["headGroupSpec"])["resources"]["limits"]["cpu"])
                      if cluster["headGroupSpec"]["rayStartParams"].get("num-cpus") != "0"
                      else 0)]  # fmt: skip
        for g in cluster["workerGroupSpecs"]:
            nodes += [Node(_cpu(_ray_container(g)["resources"]["limits"]["cpu"]))] * g[size]
        plan = plan_training(int(opts["--num-workers"]), nodes=nodes, env={})
        assert plan.cpus_per_worker == 1.0, (size, plan)


def test_detector_job_trains_on_one_gpu_per_worker() -> None:
    doc = _single(DETECTOR_JOB)
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
    assert run_dir == _entrypoint_args(_single(TRAIN_JOB))["--run-dir"]

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
    cluster = _single(SERVICE)["spec"]["rayClusterConfig"]
    capacity = sum(
        g["maxReplicas"] * _cpu(_ray_container(g)["resources"]["limits"]["cpu"])
        for g in cluster["workerGroupSpecs"]
    )
    assert max_cpus_needed <= capacity, (max_cpus_needed, capacity)


# ------------------------------------------------- one source, one image setting, security


def _serve_config_module():
    spec = importlib.util.spec_from_file_location("serve_config", CLUSTER_DIR / "serve_config.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rayservice_serve_config_is_generated_from_serve_apps_recommend_yaml() -> None:
    """serve_apps/recommend.yaml is the one source of the Serve application: the RayService
    embeds it with only args.run_dir changed (cluster/serve_config.py --rayservice)."""
    sc = _serve_config_module()
    source = yaml.safe_load((REPO_ROOT / "serve_apps" / "recommend.yaml").read_text())
    embedded = _serve_config()
    assert embedded == sc.serve_config(sc.RAYSERVICE_RUN_DIR), (
        f"{SERVICE} differs from serve_apps/recommend.yaml: run "
        "`uv run python cluster/serve_config.py --rayservice`"
    )
    for app in source["applications"]:
        app["args"]["run_dir"] = sc.RAYSERVICE_RUN_DIR
    assert embedded == source
    # Regenerating changes nothing but the block (comments and the rest stay byte for byte).
    text = (CLUSTER_DIR / SERVICE).read_text()
    assert sc.with_serve_config(text, embedded) == text


def test_serve_config_rewrites_only_the_block(tmp_path: Path) -> None:
    sc = _serve_config_module()
    text = (CLUSTER_DIR / SERVICE).read_text()
    changed = sc.serve_config("/data/runs/other", 8123)
    out = sc.with_serve_config(text, changed)
    assert sc.rayservice_config(out) == changed
    before, after = yaml.safe_load(text), yaml.safe_load(out)
    before["spec"].pop("serveConfigV2"), after["spec"].pop("serveConfigV2")
    assert before == after
    assert out.count("\n# ") == text.count("\n# ")  # the file's comments are all still there


def _pod_templates(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """(where, pod spec, is a Ray pod) of every pod a Ray document makes."""
    cluster = _cluster_spec(doc)
    for name, group in _groups(cluster):
        yield f"group {name}", group["template"]["spec"], True
    submitter = doc["spec"].get("submitterPodTemplate")
    if doc["kind"] == "RayJob":
        assert submitter, "the RayJob's submitter pod needs a template (security, resources)"
        yield "submitter", submitter["spec"], False


def test_pods_run_as_non_root_with_requests_limits_and_a_writable_claim() -> None:
    for name, doc in _ray_docs():
        for where, pod, ray_pod in _pod_templates(doc):
            at = f"{name} {where}"
            ctx = pod.get("securityContext") or {}
            assert ctx.get("runAsNonRoot") is True and ctx.get("runAsUser", 0) != 0, at
            if ray_pod:  # the Ray pods write run directories on the shared claim
                assert ctx.get("fsGroup") == ctx.get("runAsGroup") is not None, at
            for container in pod["containers"]:
                c_ctx = container.get("securityContext") or {}
                assert c_ctx.get("allowPrivilegeEscalation") is False, at
                assert "ALL" in c_ctx.get("capabilities", {}).get("drop", []), at
                res = container.get("resources") or {}
                for section in ("requests", "limits"):
                    for resource in ("cpu", "memory"):
                        assert resource in (res.get(section) or {}), f"{at}: {section}.{resource}"
        autoscaler = _cluster_spec(doc).get("autoscalerOptions")
        if _cluster_spec(doc).get("enableInTreeAutoscaling"):
            assert autoscaler["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert autoscaler["resources"]["limits"], name


def _kustomizations() -> list[Path]:
    return sorted(CLUSTER_DIR.glob("*/kustomization.yaml"))


def test_image_names_are_set_in_one_place() -> None:
    """Every container names `adrec` or `adrec-gpu` (no registry, no second spelling), and
    every kustomization that deploys pods takes its image names from cluster/images."""
    component = yaml.safe_load((CLUSTER_DIR / "images" / "kustomization.yaml").read_text())
    assert component["kind"] == "Component"
    names = {i["name"] for i in component["images"]}
    assert names == {"adrec", "adrec-gpu"}
    for name, doc in _ray_docs():
        for where, pod, _ in _pod_templates(doc):
            for container in pod["containers"]:
                image = container["image"].rsplit(":", 1)[0]
                assert image in names, f"{name} {where}: {container['image']}"
    listed = set()
    for path in _kustomizations():
        k = yaml.safe_load(path.read_text())
        if path.parent.name == "images":
            continue
        listed |= {str((path.parent / r).relative_to(CLUSTER_DIR)) for r in k["resources"]}
        if path.parent.name != "storage":
            assert k.get("components") == ["../images"], path
        assert "images" not in k, f"{path}: set images in cluster/images only"
    assert listed == set(EXPECTED_MANIFESTS)


def test_kustomize_sets_every_image_from_the_one_place(tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (with its built-in kustomize) is not installed")
    copy_dir = tmp_path / "cluster"
    shutil.copytree(CLUSTER_DIR, copy_dir)
    component = copy_dir / "images" / "kustomization.yaml"
    comp = yaml.safe_load(component.read_text())
    for image in comp["images"]:
        image["newName"] = f"registry.example.com/team/{image['name']}"
        image["newTag"] = "9.9.9"
    component.write_text(yaml.safe_dump(comp))
    for path in _kustomizations():
        part = path.parent.name
        if part == "images":
            continue
        out = subprocess.run([kubectl, "kustomize", str(copy_dir / part)], capture_output=True,
                             text=True, check=True).stdout  # fmt: skip
        images = {line.split("image:")[1].strip() for line in out.splitlines() if "image:" in line}
        if part == "storage":
            assert not images
            continue
        assert images, part
        gpu = part in ("gpu-cluster", "detector-job")
        expected = f"registry.example.com/team/adrec{'-gpu' if gpu else ''}:9.9.9"
        assert images == {expected}, (part, images)


def test_dockerfile_installs_the_locked_versions_as_a_non_root_user() -> None:
    text = (CLUSTER_DIR / "Dockerfile").read_text()
    lines = [line.strip() for line in text.splitlines() if not line.strip().startswith("#")]
    body = "\n".join(lines)
    assert "uv.lock" in body and "uv sync --frozen" in body
    assert "pip install" not in body, "dependencies come from uv.lock, not a fresh resolution"
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] != "root", "the image runs as a non-root user"
    copied = {
        tok
        for line in lines
        if line.startswith("COPY")
        for tok in line.split()[1:-1]  # the sources (the last token is the destination)
        if not tok.startswith("--")
    }
    assert not {".", "./", ".venv", "runs"} & copied, "copy only what the image needs"
