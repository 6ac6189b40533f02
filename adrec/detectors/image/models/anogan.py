"""AnoGAN (Schlegl et al., IPMI 2017): a DCGAN learns the manifold of normal images; at test
time gradient descent looks for the latent code whose generated image is closest to the
query, and the query scores

    A(x) = (1 - lambda) * R(x) + lambda * D(x),  lambda = 0.1,

R the residual |x - G(z*)| and D the discrimination loss |f(x) - f(G(z*))| on the
discriminator's intermediate features f (the paper's feature-matching variant); both are
means here, over pixels and over features. The residual, averaged over channels, is the map.

The latent search is what makes AnoGAN slow: every query costs `search_steps` forward and
backward passes through G and D (Adam on z from one fixed start, the same for every image).
Queries are searched in padded chunks of `search_batch` images, so an image's score does not
depend on the images scored with it; G and D are in eval mode throughout (BatchNorm with its
running statistics acts per image)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from adrec.detectors.image.models.conv import (
    ConvDecoder,
    ConvEncoder,
    ImageModule,
    stage_channels,
    stage_sizes,
)


class Generator(nn.Module):
    def __init__(self, image_shape: tuple[int, int, int], base: int, latent: int):
        super().__init__()
        sizes = stage_sizes(image_shape[1], image_shape[2])
        self.net = ConvDecoder(latent, stage_channels(base, len(sizes) - 1), sizes,
                               image_shape[0])  # fmt: skip

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class Discriminator(nn.Module):
    """GroupNorm instead of DCGAN's BatchNorm: real and generated images go through one
    forward pass (one pass per backward, as DistributedDataParallel wants) without their
    statistics mixing."""

    def __init__(self, image_shape: tuple[int, int, int], base: int):
        super().__init__()
        sizes = stage_sizes(image_shape[1], image_shape[2])
        channels = stage_channels(base, len(sizes) - 1)
        self.encoder = ConvEncoder(image_shape[0], channels, norm="group")
        self.out = nn.Linear(channels[-1] * sizes[-1][0] * sizes[-1][1], 1)

    def features(self, x: Tensor) -> Tensor:
        return self.encoder(x).flatten(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.features(x)).squeeze(1)


class AnoGANModel(ImageModule):
    def __init__(
        self,
        image_shape: tuple[int, int, int],
        base: int,
        latent: int,
        search_steps: int,
        search_lr: float,
        lam: float = 0.1,
        search_batch: int = 16,
    ):
        super().__init__(image_shape[0])
        self.generator = Generator(image_shape, base, latent)
        self.discriminator = Discriminator(image_shape, base)
        self.register_buffer("z_start", torch.randn(latent))
        self.latent = latent
        self.search_steps = search_steps
        self.search_lr = search_lr
        self.lam = lam
        self.search_batch = search_batch

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n latent codes (drawn on the CPU generator, moved to the module's device)."""
        return torch.randn(n, self.latent, generator=generator).to(self.z_start.device)

    def _losses(self, x: Tensor, target: Tensor, z: Tensor) -> tuple[Tensor, Tensor]:
        """Per-image A(x) and the residual map, for standardised images x."""
        fake = self.generator(z)
        residual = (x - fake).abs()
        disc = (target - self.discriminator.features(fake)).abs().mean(1)
        score = (1 - self.lam) * residual.flatten(1).mean(1) + self.lam * disc
        return score, residual.mean(1)

    def _search(self, x: Tensor) -> tuple[Tensor, Tensor]:
        with torch.no_grad():
            target = self.discriminator.features(x)
        z = self.z_start.expand(len(x), -1).clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=self.search_lr)
        with torch.enable_grad():
            for _ in range(self.search_steps):
                loss = self._losses(x, target, z)[0].sum()
                (z.grad,) = torch.autograd.grad(loss, [z])
                opt.step()
        with torch.no_grad():
            return self._losses(x, target, z.detach())

    def score_and_map(self, x: Tensor) -> tuple[Tensor, Tensor]:
        was_training = self.training
        self.eval()
        x = self.normalize(x)
        scores, maps = [], []
        for chunk in x.split(self.search_batch):
            n = len(chunk)
            pad = chunk[-1:].expand(self.search_batch - n, *chunk.shape[1:])
            s, m = self._search(torch.cat([chunk, pad]))
            scores.append(s[:n])
            maps.append(m[:n])
        self.train(was_training)
        return torch.cat(scores), torch.cat(maps)
