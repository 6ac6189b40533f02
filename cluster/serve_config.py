"""Serve configs derived from the one source of truth, serve_apps/recommend.yaml.

    # a config to `serve deploy` on a running cluster: run_dir made absolute, another port
    uv run python cluster/serve_config.py --run-dir runs/r1 --port 8123 > /tmp/adrec-serve.yaml
    serve deploy /tmp/adrec-serve.yaml --address http://127.0.0.1:8265

    # the RayService's serveConfigV2 (run_dir /data/runs/r1, the training RayJob's output),
    # rewritten in place after serve_apps/recommend.yaml changes; --check only compares
    uv run python cluster/serve_config.py --rayservice [--check]

Only `args.run_dir` (and, when asked, the HTTP port) differ from serve_apps/recommend.yaml:
deployments, replicas, autoscaling and resources are the source's, so the RayService cannot
drift from it (tests/unit/test_cluster_manifests.py fails when they differ). Needs PyYAML
(a dependency of Ray) and nothing else.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "serve_apps" / "recommend.yaml"
RAYSERVICE = ROOT / "cluster" / "recommend-service" / "ray-service.recommend.yaml"
RAYSERVICE_RUN_DIR = "/data/runs/r1"
_KEY = re.compile(r"^(?P<indent>\s*)serveConfigV2:\s*\|[-+]?\s*$")


def serve_config(
    run_dir: str | None = None, port: int | None = None, source: Path = SOURCE
) -> dict:
    """The source config with every application's args.run_dir set to `run_dir` (when
    given) and http_options.port set to `port` (when given)."""
    config = yaml.safe_load(Path(source).read_text())
    if run_dir is not None:
        for app in config["applications"]:
            app.setdefault("args", {})["run_dir"] = str(run_dir)
    if port is not None:
        config.setdefault("http_options", {})["port"] = int(port)
    return config


def render(config: dict) -> str:
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def with_serve_config(manifest: str, config: dict) -> str:
    """The RayService manifest text with its serveConfigV2 block replaced by `config` (the
    rest of the file, comments included, unchanged)."""
    lines = manifest.splitlines(keepends=True)
    found = [(i, m) for i, m in enumerate(map(_KEY.match, lines)) if m]
    if len(found) != 1:
        raise ValueError("expected one `serveConfigV2: |` block in the RayService manifest")
    i, match = found[0]
    indent = len(match["indent"])
    end = i + 1
    while end < len(lines) and (
        not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent
    ):
        end += 1
    while end > i + 1 and not lines[end - 1].strip():  # blank lines after the block stay
        end -= 1
    pad = " " * (indent + 2)
    block = [pad + row + "\n" for row in render(config).splitlines()]
    return "".join(lines[: i + 1] + block + lines[end:])


def rayservice_config(manifest: str) -> dict:
    """The Serve config a RayService manifest embeds."""
    return yaml.safe_load(yaml.safe_load(manifest)["spec"]["serveConfigV2"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", help="trained run directory (made absolute)")
    parser.add_argument("--port", type=int, help="HTTP port of Serve (default: the source's)")
    parser.add_argument("--rayservice", action="store_true", help=f"rewrite {RAYSERVICE.name}")
    parser.add_argument("--check", action="store_true", help="with --rayservice: only compare")
    args = parser.parse_args(argv)
    if args.rayservice:
        config = serve_config(args.run_dir or RAYSERVICE_RUN_DIR, args.port)
        current = RAYSERVICE.read_text()
        if args.check:
            if rayservice_config(current) != config:
                print(f"{RAYSERVICE} differs from {SOURCE}: run cluster/serve_config.py "
                      "--rayservice", file=sys.stderr)  # fmt: skip
                return 1
            return 0
        RAYSERVICE.write_text(with_serve_config(current, config))
        print(f"wrote serveConfigV2 of {RAYSERVICE} from {SOURCE}", file=sys.stderr)
        return 0
    if not args.run_dir:
        parser.error("--run-dir is required (the trained run the replicas load)")
    run_dir = Path(args.run_dir).expanduser().resolve()
    if not (run_dir / "engine.json").exists():
        parser.error(f"{run_dir} is not a trained run directory (no engine.json)")
    sys.stdout.write(render(serve_config(str(run_dir), args.port)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
