"""Shared pieces of the image detectors, as pure PyTorch (no Ray, no detector contract):

- features: multi-scale patch features and pooled image embeddings from torchvision backbones
- knn: nearest-neighbour distances in bounded memory (no full distance matrix)
- coreset: greedy k-centre coreset selection (PatchCore's subsampling)
- memory_bank: a bank of feature vectors as a buffer, queried through knn
- gaussian: Gaussian densities (one, or one per grid position) scored by Mahalanobis distance
- anomaly_map: patch scores to a per-pixel map at the input size (upsample + Gaussian blur)
"""

from adrec.components.anomaly_map import AnomalyMap
from adrec.components.coreset import greedy_coreset
from adrec.components.features import BACKBONES, FeatureExtractor
from adrec.components.gaussian import GaussianDensity, fit_gaussian
from adrec.components.knn import knn_distances
from adrec.components.memory_bank import MemoryBank

__all__ = [
    "BACKBONES",
    "AnomalyMap",
    "FeatureExtractor",
    "GaussianDensity",
    "MemoryBank",
    "fit_gaussian",
    "greedy_coreset",
    "knn_distances",
]
