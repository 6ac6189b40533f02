"""The settings of the recommender's fit step (adrec train, adrec bench recommend)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from adrec.recommender.long_term import LongTermConfig

DETECTOR_PREFERENCE = ("iforest", "pca", "gmm", "knn", "lstm_ae")
WINDOW_CHOICES = ("auto", "interactions", "days")
FEATURE_CHOICES = ("auto", "all", "activity")
INPUT_CHOICES = ("auto", "steps", "summary")
SERVED_CHOICES = ("rule", "gate", "fixed")


@dataclass(frozen=True)
class FitConfig:
    long_term: LongTermConfig = field(default_factory=LongTermConfig)
    # Split: each user's last `targets_per_user` interactions are test targets and the ones
    # before them validation targets (leave_last_out), or targets after global time cuts.
    split: str = "leave_last_out"
    targets_per_user: int = 5
    # Behaviour detector: which detector, window kind, feature block and input form, all
    # chosen on validation targets ("auto") or fixed; "none" serves without a detector.
    detector: str = "auto"
    windows: str = "auto"
    window: int = 10  # interactions in an interaction window
    window_days: int = 7  # days in a day window
    min_profile: int = 10  # earlier interactions a window is compared with
    features: str = "auto"
    sequence_input: str = "auto"
    quantile: float = 0.99  # threshold: this quantile of held-out normal windows' scores
    # Per user: windows in the first fit_fraction of the user's training interactions fit
    # the detector, those up to calib_fraction calibrate it (the user's own early normal).
    fit_fraction: float = 0.5
    calib_fraction: float = 0.68
    min_fit_windows: int = 50  # fewer: the window kind is dropped (said in the report)
    min_calib_windows: int = 20
    # Sources
    trending_days: tuple[float, ...] = (3.0, 7.0, 14.0, 30.0)
    short_term: str = "auto"  # transitions, sasrec_last, or auto (validation)
    short_term_last: int = 5
    # Tuning on validation targets
    k: int = 10
    grid_step: float = 0.1
    detector_grid_step: float = 0.25  # the coarser grid that ranks detector candidates
    gate_epochs: int = 300
    min_gate_points: int = 50
    max_valid_points: int = 20_000  # a seeded sample of users beyond this ...
    valid_memory_gb: float = 2.0  # ... or beyond what the validation sources may occupy
    served: str = "rule"  # rule (anomaly-aware), gate (learned) or fixed

    def __post_init__(self) -> None:
        checks = {
            "windows": (self.windows, WINDOW_CHOICES),
            "features": (self.features, FEATURE_CHOICES),
            "sequence_input": (self.sequence_input, INPUT_CHOICES),
            "served": (self.served, SERVED_CHOICES),
            "short_term": (self.short_term, ("auto", "transitions", "sasrec_last")),
            "split": (self.split, ("leave_last_out", "global_time")),
        }
        for name, (value, allowed) in checks.items():
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if self.targets_per_user < 1:
            raise ValueError(f"targets_per_user must be >= 1, got {self.targets_per_user}")
        if self.window < 2 or self.window_days < 2 or self.min_profile < 1:
            raise ValueError("window and window_days must be >= 2, min_profile >= 1")
        if not 0 < self.fit_fraction < self.calib_fraction <= 1:
            raise ValueError("need 0 < fit_fraction < calib_fraction <= 1")
        if not 0.5 < self.quantile < 1:
            raise ValueError(f"quantile must be in (0.5, 1), got {self.quantile}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> FitConfig:
        d = dict(d)
        lt = LongTermConfig(**d.pop("long_term", {}))  # JSON keeps every field it saved
        d["trending_days"] = tuple(d.get("trending_days", cls.trending_days))
        return cls(long_term=lt, **d)

    def with_long_term(self, **changes) -> FitConfig:
        return replace(self, long_term=replace(self.long_term, **changes))
