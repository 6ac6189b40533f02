"""Convolutional models trained from scratch on the normal images: autoencoder and VAE
(reconstruction error maps), Deep SVDD (image scores only), and the building blocks AnoGAN's
DCGAN reuses.

Every model standardises its input per channel with statistics of the training images
(buffers, saved with the weights). Encoders halve the image with 4x4 stride-2 convolutions
until its shorter side is at most 4 pixels (at most six times: 224 -> 3, 64 -> 4, 8 -> 4);
decoders mirror them with transposed convolutions that restore each encoder size exactly."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MAX_STAGES = 6


class ImageModule(nn.Module):
    """A per-channel standardisation fitted in `prepare`, and the scoring API on top of
    `score_and_map` (the one method a subclass with maps implements)."""

    def __init__(self, channels: int = 3):
        super().__init__()
        self.register_buffer("mean", torch.zeros(channels))
        self.register_buffer("std", torch.ones(channels))

    def prepare(self, x: Tensor) -> None:
        self.mean.copy_(x.mean((0, 2, 3)))
        self.std.copy_(x.std((0, 2, 3)).nan_to_num(1.0).clamp_min(1e-3))

    def finish(self, x: Tensor) -> None:
        """What is fitted after training, without gradients (nothing here)."""

    def normalize(self, x: Tensor) -> Tensor:
        return (x - self.mean[:, None, None]) / self.std[:, None, None]

    def score_and_map(self, x: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def score(self, x: Tensor) -> Tensor:
        return self.score_and_map(x)[0]

    def anomaly_map(self, x: Tensor) -> Tensor:
        return self.score_and_map(x)[1]


def stage_sizes(height: int, width: int, floor: int = 4) -> list[tuple[int, int]]:
    """The image size before each halving and after the last: [(H, W), ..., (h, w)]."""
    sizes = [(height, width)]
    while min(sizes[-1]) > floor and len(sizes) <= MAX_STAGES:
        h, w = sizes[-1]
        sizes.append((h // 2, w // 2))
    return sizes


def stage_channels(base: int, n: int) -> list[int]:
    return [base * 2 ** min(i, 3) for i in range(n)]


class ConvEncoder(nn.Module):
    """[n, C, H, W] -> [n, channels[-1], h, w] (4x4 stride-2 convolutions)."""

    def __init__(self, in_channels: int, channels: list[int], norm: str = "batch"):
        super().__init__()
        layers: list[nn.Module] = []
        prev = in_channels
        for i, c in enumerate(channels):
            layers.append(nn.Conv2d(prev, c, 4, 2, 1))
            if norm == "batch":
                layers.append(nn.BatchNorm2d(c))
            elif norm == "group" and i > 0:
                layers.append(nn.GroupNorm(min(8, c), c))
            layers.append(nn.LeakyReLU(0.2))
            prev = c
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class ConvDecoder(nn.Module):
    """A code [n, latent] -> [n, out_channels, H, W], through the encoder's sizes reversed."""

    def __init__(self, latent: int, channels: list[int], sizes: list[tuple[int, int]], out: int):
        super().__init__()
        self.sizes = [list(s) for s in reversed(sizes)]  # small -> large
        chans = list(reversed(channels))  # deepest first
        self.start = [chans[0], self.sizes[0][0], self.sizes[0][1]]
        self.fc = nn.Linear(latent, chans[0] * self.sizes[0][0] * self.sizes[0][1])
        ups, norms = [], []
        for i, c in enumerate(chans):
            nxt = chans[i + 1] if i + 1 < len(chans) else out
            ups.append(nn.ConvTranspose2d(c, nxt, 4, 2, 1))
            norms.append(nn.BatchNorm2d(nxt) if i + 1 < len(chans) else nn.Identity())
        self.ups, self.norms = nn.ModuleList(ups), nn.ModuleList(norms)

    def forward(self, code: Tensor) -> Tensor:
        h = F.relu(self.fc(code)).view(-1, *self.start)
        last = len(self.ups) - 1
        for i, (up, norm) in enumerate(zip(self.ups, self.norms, strict=True)):
            h = norm(up(h, output_size=self.sizes[i + 1]))
            if i < last:
                h = F.relu(h)
        return h


class ConvAutoencoder(ImageModule):
    """forward(x): each image's mean squared reconstruction error (the training loss);
    the map is the squared error averaged over channels, the score its mean."""

    def __init__(self, image_shape: tuple[int, int, int], base: int, latent: int):
        super().__init__(image_shape[0])
        sizes = stage_sizes(image_shape[1], image_shape[2])
        channels = stage_channels(base, len(sizes) - 1)
        self.encoder = ConvEncoder(image_shape[0], channels)
        self.flat = channels[-1] * sizes[-1][0] * sizes[-1][1]
        self.to_code = nn.Linear(self.flat, latent)
        self.decoder = ConvDecoder(latent, channels, sizes, image_shape[0])

    def reconstruct(self, z: Tensor) -> Tensor:
        return self.decoder(self.to_code(self.encoder(z).flatten(1)))

    def error_map(self, x: Tensor) -> Tensor:
        z = self.normalize(x)
        return (self.reconstruct(z) - z).pow(2).mean(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.error_map(x).flatten(1).mean(1)

    def score_and_map(self, x: Tensor) -> tuple[Tensor, Tensor]:
        m = self.error_map(x)
        return m.flatten(1).mean(1), m


class ConvVAE(ImageModule):
    """A Gaussian VAE: forward(x) is the negative ELBO per pixel (0.5 * squared error +
    beta * KL, divided by C*H*W) with a sampled code; the score is the same at the posterior
    mean (no sampling, so an image always gets the same score); the map is the squared
    reconstruction error at the posterior mean, averaged over channels."""

    def __init__(self, image_shape: tuple[int, int, int], base: int, latent: int, beta: float):
        super().__init__(image_shape[0])
        sizes = stage_sizes(image_shape[1], image_shape[2])
        channels = stage_channels(base, len(sizes) - 1)
        self.encoder = ConvEncoder(image_shape[0], channels)
        flat = channels[-1] * sizes[-1][0] * sizes[-1][1]
        self.to_stats = nn.Linear(flat, 2 * latent)
        self.decoder = ConvDecoder(latent, channels, sizes, image_shape[0])
        self.beta = beta
        self.pixels = image_shape[0] * image_shape[1] * image_shape[2]

    def _terms(self, x: Tensor, sample: bool) -> tuple[Tensor, Tensor]:
        z = self.normalize(x)
        mu, logvar = self.to_stats(self.encoder(z).flatten(1)).chunk(2, dim=1)
        logvar = logvar.clamp(-8.0, 8.0)
        code = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if sample else mu
        err = (self.decoder(code) - z).pow(2)
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
        return err, kl

    def _loss(self, err: Tensor, kl: Tensor) -> Tensor:
        return (0.5 * err.flatten(1).sum(1) + self.beta * kl) / self.pixels

    def forward(self, x: Tensor) -> Tensor:
        return self._loss(*self._terms(x, sample=True))

    def score_and_map(self, x: Tensor) -> tuple[Tensor, Tensor]:
        err, kl = self._terms(x, sample=False)
        return self._loss(err, kl), err.mean(1)


class ConvSVDD(ImageModule):
    """Deep SVDD (Ruff et al., 2018) over images: a CNN without bias terms (5x5 convolutions,
    BatchNorm without affine parameters, LeakyReLU, 2x2 max-pooling, a bias-free linear
    map), trained to pull normal images towards a fixed centre c: with biases the network
    could map everything to c. c is the mean initial output, coordinates near zero pushed
    to +/-eps. forward(x) = score(x) = squared distance to c; no pixel map."""

    def __init__(
        self, image_shape: tuple[int, int, int], base: int, rep_dim: int, eps: float = 0.1
    ):
        super().__init__(image_shape[0])
        sizes = stage_sizes(image_shape[1], image_shape[2])
        channels = stage_channels(base, len(sizes) - 1)
        layers: list[nn.Module] = []
        prev = image_shape[0]
        for c in channels:
            layers += [nn.Conv2d(prev, c, 5, padding=2, bias=False),
                       nn.BatchNorm2d(c, eps=1e-4, affine=False), nn.LeakyReLU(0.1),
                       nn.MaxPool2d(2)]  # fmt: skip
            prev = c
        self.net = nn.Sequential(*layers)
        self.fc = nn.Linear(channels[-1] * sizes[-1][0] * sizes[-1][1], rep_dim, bias=False)
        self.eps = eps
        self.register_buffer("center", torch.zeros(rep_dim))

    def embed(self, x: Tensor) -> Tensor:
        return self.fc(self.net(self.normalize(x)).flatten(1))

    def prepare(self, x: Tensor) -> None:
        super().prepare(x)
        self.train()
        c = torch.cat([self.embed(b) for b in x.split(64)]).mean(0)
        small = c.abs() < self.eps
        c[small] = torch.where(c[small] < 0, -self.eps, self.eps)
        self.center.copy_(c)

    def forward(self, x: Tensor) -> Tensor:
        return (self.embed(x) - self.center).pow(2).sum(1)

    def score(self, x: Tensor) -> Tensor:
        return self(x)
