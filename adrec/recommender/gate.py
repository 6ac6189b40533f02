"""A learned gate: per-user softmax weights over candidate sources from a few user features.

Trained as a mixture of experts: each source gives a distribution over items, the gate mixes
them, and the loss is the negative log of the mixed probability of the item the user actually
took next. Fit it on held-out targets that came before the ones it is judged on (validation
targets), never on test targets. Without the anomaly-score column it is the classic learned
long/short-term gate (SLi-Rec, CLSR), the fair baseline for what the detector adds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


class SourceGate:
    """weights(x) = softmax(log(prior) + W standardise(x) + b) over `sources`.

    With a `prior` (e.g. the best fixed blend), L2 on every parameter pulls the gate back to
    that blend, so it departs from it only as far as the features earn; without one, the
    prior is uniform and only W is penalised. `hidden` > 0 puts one tanh layer of that width
    before the softmax."""

    def __init__(
        self,
        sources: Sequence[str],
        hidden: int = 0,
        prior: Sequence[float] | None = None,
        l2: float = 1e-3,
        epochs: int = 300,
        lr: float = 0.05,
        seed: int = 0,
    ):
        self.sources = sources
        self.hidden = hidden
        self.prior = prior
        self.l2 = l2
        self.epochs = epochs
        self.lr = lr
        self.seed = seed

    def fit(self, X: np.ndarray, target_probs: np.ndarray) -> SourceGate:
        """X [n, n_features]: user features at prediction time; target_probs [n, n_sources]:
        each source's probability of the user's next item."""
        X = self._check(X, "X", None)
        P = np.asarray(target_probs, dtype=np.float64)
        if P.shape != (len(X), len(self.sources)):
            raise ValueError(
                f"target_probs must have shape {(len(X), len(self.sources))}, got {P.shape}"
            )
        if not np.isfinite(P).all() or (P < 0).any():
            raise ValueError("target_probs must be finite and >= 0")
        self.mean_ = X.mean(0)
        self.scale_ = np.where(X.std(0) > 0, X.std(0), 1.0)
        self.n_features_ = X.shape[1]
        prior = np.full(len(self.sources), 1.0) if self.prior is None else np.asarray(self.prior)
        if prior.shape != (len(self.sources),) or (prior < 0).any() or prior.sum() <= 0:
            raise ValueError(f"prior must be {len(self.sources)} non-negative weights")
        # A small floor keeps sources the prior leaves out reachable.
        self.log_prior_ = torch.log(
            torch.as_tensor(prior / prior.sum() + 1e-2, dtype=torch.float32)
        )
        torch.manual_seed(self.seed)
        self.net_ = self._build(X.shape[1])
        x = torch.as_tensor((X - self.mean_) / self.scale_, dtype=torch.float32)
        p = torch.as_tensor(P, dtype=torch.float32)
        opt = torch.optim.Adam(self.net_.parameters(), lr=self.lr)
        penalised = [
            w
            for name, w in self.net_.named_parameters()
            if self.prior is not None or name.endswith("weight")
        ]
        for _ in range(self.epochs):
            opt.zero_grad(set_to_none=True)
            mixed = (torch.softmax(self.log_prior_ + self.net_(x), -1) * p).sum(-1)
            loss = -torch.log(mixed + 1e-12).mean() + self.l2 * sum((w**2).sum() for w in penalised)
            loss.backward()
            opt.step()
        self.loss_ = float(loss.detach())
        self.net_.eval()
        return self

    @torch.no_grad()
    def weights(self, X: np.ndarray) -> np.ndarray:
        """Per-row weights over the sources: [n, n_sources], each row summing to 1."""
        if not hasattr(self, "net_"):
            raise RuntimeError("SourceGate is not fitted; call fit() first")
        X = self._check(X, "X", self.n_features_)
        x = torch.as_tensor((X - self.mean_) / self.scale_, dtype=torch.float32)
        return torch.softmax(self.log_prior_ + self.net_(x), -1).double().numpy()

    def _build(self, n_features: int) -> torch.nn.Module:
        n_out = len(self.sources)
        if self.hidden <= 0:
            return torch.nn.Linear(n_features, n_out)
        return torch.nn.Sequential(
            torch.nn.Linear(n_features, self.hidden),
            torch.nn.Tanh(),
            torch.nn.Linear(self.hidden, n_out),
        )

    @staticmethod
    def _check(X: np.ndarray, name: str, width: int | None) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or len(X) == 0:
            raise ValueError(f"{name} must be a non-empty 2-D array, got shape {X.shape}")
        if not np.isfinite(X).all():
            raise ValueError(f"{name} contains NaN or infinite values")
        if width is not None and X.shape[1] != width:
            raise ValueError(f"{name} has {X.shape[1]} features, the gate expects {width}")
        return X

    # -- persistence: tensors (loaded with weights_only=True) + JSON ---------------------
    def save(self, path) -> None:
        import json
        from pathlib import Path

        if not hasattr(self, "net_"):
            raise RuntimeError("SourceGate is not fitted; call fit() first")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        state = {
            "net": self.net_.state_dict(),
            "mean": torch.as_tensor(self.mean_),
            "scale": torch.as_tensor(self.scale_),
            "log_prior": self.log_prior_,
        }
        torch.save(state, path / "gate.pt")
        meta = {
            "sources": list(self.sources),
            "hidden": self.hidden,
            "prior": None if self.prior is None else [float(p) for p in self.prior],
            "l2": self.l2,
            "epochs": self.epochs,
            "lr": self.lr,
            "seed": self.seed,
            "n_features": self.n_features_,
        }
        (path / "gate.json").write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, path) -> SourceGate:
        import json
        from pathlib import Path

        path = Path(path)
        meta = json.loads((path / "gate.json").read_text())
        n_features = meta.pop("n_features")
        gate = cls(**meta)
        state = torch.load(path / "gate.pt", weights_only=True, map_location="cpu")
        gate.net_ = gate._build(n_features)
        gate.net_.load_state_dict(state["net"])
        gate.net_.eval()
        gate.mean_ = state["mean"].double().numpy()
        gate.scale_ = state["scale"].double().numpy()
        gate.log_prior_ = state["log_prior"]
        gate.n_features_ = n_features
        return gate
