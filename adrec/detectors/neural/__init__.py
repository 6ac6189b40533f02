"""Neural detectors: pure nn.Modules that own their normalisation, behind thin contract
wrappers (torch_detector.TorchDetector). Importing this package registers them."""

from adrec.detectors.neural.autoencoder import AEDetector, Autoencoder
from adrec.detectors.neural.deep_svdd import DeepSVDDDetector, DeepSVDDNet
from adrec.detectors.neural.flow import FlowDetector, RealNVP
from adrec.detectors.neural.lstm_vae import LSTMVAE, LSTMVAEDetector
from adrec.detectors.neural.torch_detector import (
    NormalizedModule,
    TorchDetector,
    neural_detector_names,
)
from adrec.detectors.neural.vae import VAEDetector, VariationalAutoencoder

__all__ = [
    "AEDetector",
    "Autoencoder",
    "DeepSVDDDetector",
    "DeepSVDDNet",
    "FlowDetector",
    "LSTMVAE",
    "LSTMVAEDetector",
    "NormalizedModule",
    "RealNVP",
    "TorchDetector",
    "VAEDetector",
    "VariationalAutoencoder",
    "neural_detector_names",
]
