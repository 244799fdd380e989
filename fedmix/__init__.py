"""fedmix: a reproducibility pipeline for FedMix federated segmentation with mixed labels."""

__version__ = "0.1.0"
