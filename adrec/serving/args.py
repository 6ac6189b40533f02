"""The Serve application's arguments (no Ray import: `adrec serve` checks them before it
starts or joins a cluster). Given from Python, `serve run serve_apps.recommend_app:build_app
key=value ...`, the `args` of a Serve config (serve_apps/recommend.yaml) or `adrec serve`
options."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

from adrec.serving.models import MAX_BODY_BYTES

DEFAULT_MAX_BATCH_SIZE = 32


class AppArgs(BaseModel):
    """What the graph is built with: the run, replica counts and the batching knobs."""

    model_config = {"extra": "forbid"}

    run_dir: str = Field(description="A trained run directory (adrec train / adrec demo)")
    detector_replicas: int | None = Field(
        None, ge=1, description="Fixed replica count; unset: the config's autoscaling or 1"
    )
    recommender_replicas: int | None = Field(None, ge=1)
    ingress_replicas: int | None = Field(None, ge=1)
    max_ongoing_requests: int = Field(
        256, ge=1, description="HTTP requests an ingress replica takes at once (they wait "
        "there to be batched; past this they queue in the proxy)",
    )  # fmt: skip
    max_batch_size: int = Field(
        DEFAULT_MAX_BATCH_SIZE, ge=1, le=1024, description="Requests per batch"
    )
    batch_wait_timeout_s: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="How long a batch that is not full waits for more requests; 0 sends "
        "what is waiting as soon as a batch may go (no added latency when idle, full "
        "batches under load)",
    )
    max_batches_in_flight: int = Field(
        3, ge=1, le=64, description="Batches an ingress replica has in the graph at once "
        "(3: the detector scores one while the recommender ranks another, and a third "
        "waits at a model replica to be merged; benchmarks/serve_load.py)",
    )  # fmt: skip
    model_max_ongoing_requests: int = Field(
        16, ge=1, description="Batches a Detector or Recommender replica takes at once; "
        "the ones waiting are merged into one call (@serve.batch)",
    )  # fmt: skip
    max_body_bytes: int = Field(MAX_BODY_BYTES, ge=1024, description="Larger bodies get a 413")
    image_detector: str | None = Field(
        None, description="A saved image detector: served as POST /v1/score/image by an "
        "ImageScorer deployment; unset: no image route",
    )  # fmt: skip

    @model_validator(mode="after")
    def _batches_can_merge(self):
        if self.model_max_ongoing_requests < self.max_batches_in_flight:
            raise ValueError(
                f"model_max_ongoing_requests ({self.model_max_ongoing_requests}) must be at "
                f"least max_batches_in_flight ({self.max_batches_in_flight}), or batches "
                "wait in the ingress instead of merging at the model"
            )
        return self
