"""Training spiking networks that compute with spike timing (Comsa et al. 2020).

One concept per module, each usable alone:

* :mod:`~eventsim.training.config` -- :class:`TrainConfig`, every option of
  training, and its presets (the paper's Table 1 columns and tuned settings).
* :mod:`~eventsim.training.adam` -- :class:`Adam`, the reference implementation's
  optimizer, one learning rate per parameter group.
* :mod:`~eventsim.training.metrics` -- predictions (the first output to spike),
  accuracy, class probabilities, margins.  The losses are in :mod:`eventsim.losses`.
* :mod:`~eventsim.training.serialization` -- a network as JSON plus arrays.
* :mod:`~eventsim.training.checkpoint` -- atomic checkpoint files and their errors.
* :mod:`~eventsim.training.selection` -- which network a fit returns (starts,
  best epoch): :class:`~eventsim.training.selection.FitState`.
* :mod:`~eventsim.training.history` -- the per-epoch record of a fit.
* :mod:`~eventsim.training.backend` -- where the classifier's batches are simulated
  and differentiated: :class:`~eventsim.training.backend.LocalBackend` in this
  process (:class:`eventsim.distributed.DaskBackend` on a Dask cluster).
* :mod:`~eventsim.training.classifier` -- :class:`SpikingClassifier`, the
  scikit-learn style estimator that puts these together.

The modules import each other only downwards in this list (the classifier last), and
none imports this package's ``__init__``.
"""

from ..losses import MAX_EXAMPLE_LOSS, cross_entropy
from .adam import Adam
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .classifier import SpikingClassifier
from .config import TrainConfig
from .metrics import accuracy, predict_classes, softmax_neg_times
from .serialization import network_from_arrays, network_to_arrays

__all__ = [
    "TrainConfig", "SpikingClassifier", "Adam", "CheckpointError",
    "cross_entropy", "softmax_neg_times", "predict_classes", "accuracy",
    "save_checkpoint", "load_checkpoint", "network_to_arrays", "network_from_arrays",
    "MAX_EXAMPLE_LOSS",
]
