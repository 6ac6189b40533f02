from adrec.detectors.lstm_ae.detector import LSTMAEDetector
from adrec.detectors.lstm_ae.torch_model import LSTMAutoencoder

__all__ = ["LSTMAEDetector", "LSTMAutoencoder"]
