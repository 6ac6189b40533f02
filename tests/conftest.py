"""Loaded before any test module: the Ray setting adrec.distributed applies at import must be
in the environment before the first `import ray` (some test modules import Ray at collection)."""

import os

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
