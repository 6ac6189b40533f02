"""AnoGAN over images: a DCGAN trained on the normal images, then a latent search per query
image; score (1 - lambda) * residual + lambda * discrimination loss, lambda = 0.1 by default;
the residual is the map. Module and search: adrec.detectors.image.models.anogan.

Cost: scoring one image takes `search_steps` forward and backward passes through the
generator and the discriminator, whatever the batch (the search runs in padded chunks of
`search_batch` images), so scoring time grows linearly with search_steps and is the method's
bound; benchmarks/images.py measures it."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from adrec.detectors.image.base import TrainedImageDetector, reseed
from adrec.detectors.image.models.anogan import AnoGANModel


class GANTrainer:
    """DCGAN training, one step per `step(batch)`: the discriminator on real and generated
    images in one pass (non-saturating logistic loss), then the generator. Generator and
    discriminator are wrapped apart (DistributedDataParallel on Ray Train), each with its
    own Adam (betas 0.5 / 0.999, as DCGAN)."""

    def __init__(self, module: AnoGANModel, lr: float, seed: int):
        self.module = module
        self.gen_net, self.disc_net = module.generator, module.discriminator
        self.seed = seed
        self.generator = torch.Generator()
        betas = (0.5, 0.999)
        self.opt_g = torch.optim.Adam(module.generator.parameters(), lr=lr, betas=betas)
        self.opt_d = torch.optim.Adam(module.discriminator.parameters(), lr=lr, betas=betas)

    def wrap(self, prepare) -> None:
        self.gen_net = prepare(self.module.generator)
        self.disc_net = prepare(self.module.discriminator)

    def start_epoch(self, epoch: int, rank: int = 0) -> None:
        reseed(self.generator, self.seed, rank, epoch)

    def step(self, batch: Tensor) -> float:
        self.module.train()
        real = self.module.normalize(batch)
        n = len(real)
        fake = self.gen_net(self.module.sample(n, self.generator))
        logits = self.disc_net(torch.cat([real, fake.detach()]))
        ones, zeros = torch.ones(n, device=real.device), torch.zeros(n, device=real.device)
        labels = torch.cat([ones, zeros])
        loss_d = F.binary_cross_entropy_with_logits(logits, labels)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        loss_g = F.binary_cross_entropy_with_logits(self.disc_net(fake), ones)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        return float(loss_d.detach() + loss_g.detach())

    def state_dict(self) -> dict:
        return {"opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])


class AnoGANDetector(TrainedImageDetector):
    name = "anogan"
    score_batch = 16

    def __init__(
        self,
        base_channels: int = 32,
        latent: int = 64,
        search_steps: int = 100,
        search_lr: float = 0.05,
        lam: float = 0.1,
        epochs: int = 100,
        lr: float = 2e-4,
        batch_size: int = 16,
        contamination: float = 0.01,
        random_state: int | None = 0,
    ) -> None:
        self.base_channels = base_channels
        self.latent = latent
        self.search_steps = search_steps
        self.search_lr = search_lr
        self.lam = lam
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.contamination = contamination
        self.random_state = random_state

    @classmethod
    def get_test_params(cls) -> dict:
        return {"base_channels": 8, "latent": 8, "search_steps": 10, "search_lr": 0.1,
                "epochs": 3, "lr": 2e-3, "batch_size": 50}  # fmt: skip

    def _check_params(self) -> None:
        super()._check_params()
        if not 0 <= self.lam <= 1:
            raise ValueError(f"lam must be in [0, 1], got {self.lam!r}")
        s = self.search_steps
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise ValueError(f"search_steps must be an integer >= 0, got {s!r}")

    def build_module(self, image_shape, pretrained: bool = True) -> AnoGANModel:
        return AnoGANModel(image_shape, self.base_channels, self.latent, self.search_steps,
                           self.search_lr, float(self.lam), self.score_batch)  # fmt: skip

    def trainer(self, module: AnoGANModel, seed: int) -> GANTrainer:
        return GANTrainer(module, self.lr, seed)
