"""Small building blocks shared by the neural detectors."""

from __future__ import annotations

from torch import nn


def mlp(sizes: list[int], bias: bool = True, activate_last: bool = False) -> nn.Sequential:
    """Linear layers of the given widths with ReLU between them (and after the last one when
    `activate_last`)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b, bias=bias))
        if activate_last or i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def gaussian_kl(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, I)) per row, summed over the latent dimensions."""
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(-1)
