"""Training: the names of :mod:`eventsim.training`, under their historical module.

``from eventsim.train import SpikingClassifier, TrainConfig`` keeps working; new code
may import from :mod:`eventsim.training` (or its submodules) directly.
"""

from .training import (MAX_EXAMPLE_LOSS, Adam, CheckpointError, SpikingClassifier,
                       TrainConfig, accuracy, cross_entropy, load_checkpoint,
                       network_from_arrays, network_to_arrays, predict_classes,
                       save_checkpoint, softmax_neg_times)

__all__ = [
    "TrainConfig", "SpikingClassifier", "Adam", "CheckpointError",
    "cross_entropy", "softmax_neg_times", "predict_classes", "accuracy",
    "save_checkpoint", "load_checkpoint", "network_to_arrays", "network_from_arrays",
    "MAX_EXAMPLE_LOSS",
]
