"""eventsim: event-driven, exact simulation and training of spiking neural networks
that compute with spike timing.

The pieces, for a newcomer:

* :mod:`eventsim.network` -- the graph: populations, sources, synapses;
  ``Network._lower()`` turns it into the record the compiled passes read.
* ``cython_src/eventsim/_netrec.pxd`` -- that record (``NetRec``) and the codes
  for neuron kinds, kernels and statuses, shared by both compiled passes.
* :mod:`eventsim.models` -- the neuron-model registry: each model's parameters,
  checks and lowering; ``cython_src/eventsim/_model_alpha.pxd`` and
  ``_model_lif.pxd`` -- each model's per-neuron math behind one small interface
  (docs/engine.md 12).
* ``cython_src/eventsim/_engine.pyx`` -- the event loop (forward pass); it reaches
  the models through one dispatch section.
* ``cython_src/eventsim/_lambertw.pxd`` -- Lambert W0 for the alpha crossing.
* ``cython_src/eventsim/_backward.pyx`` -- the backward pass over the tape.
* ``cython_src/eventsim/_spiketrain_engine.pyx`` -- the second event loop, for neurons
  that fire again and again (``multispike=True``, LI readouts, Poisson generators,
  input spike trains); its model in ``_model_lif_multispike.pxd``; its backward pass,
  EventProp, in ``_eventprop.pyx``.  :class:`SpikeTrains` holds spike trains.
* :mod:`eventsim.simulation`, :mod:`eventsim.gradients` -- the Python entry points
  (``simulate``, ``backward``), which validate inputs and wrap results.
* :mod:`eventsim.pyengine` -- the same results for alpha networks in plain Python,
  for reading (it schedules differently; its docstring says how).
* :mod:`eventsim.training` -- :class:`SpikingClassifier` (fit / predict / score),
  :class:`TrainConfig` and its presets, Adam, checkpoints (also importable from
  :mod:`eventsim.train`); :mod:`eventsim.losses` -- losses on output spike times;
  :mod:`eventsim.tasks` -- the paper's tasks;
  :mod:`eventsim.cli` -- the ``eventsim`` command; :mod:`eventsim.plotting`.
"""

import os as _os

# The engine's OpenMP regions are coarse (each thread runs whole examples), so waiting
# threads should sleep rather than spin: spinning makes small batches on a busy machine
# up to 100x slower.  Set before the compiled modules load libgomp; a user's own
# OMP_WAIT_POLICY wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .network import ALPHA, INPUT, MODELS, NEURON, POISSON, PULSE, Network, Population
from .simulation import (ConvergenceError, EventBudgetExceeded, SimulationResult, Tape,
                         TrainTape, simulate)
from .gradients import Gradients, backward, value_and_grad
from .layers import dale_network, feedforward
from .potential import membrane_potential
from .spiketrains import SpikeTrains
from .training import SpikingClassifier, TrainConfig, load_checkpoint, save_checkpoint
from . import analysis, losses, tasks, train, training

# The version is written once, in pyproject.toml; the installed metadata carries it.
try:
    from importlib.metadata import PackageNotFoundError as _NotFound, version as _version
    __version__ = _version("eventsim")
except _NotFound:  # pragma: no cover - a source tree on sys.path without an install
    __version__ = "unknown"

__all__ = [
    "Network", "Population", "MODELS", "INPUT", "PULSE", "POISSON", "ALPHA",
    "simulate", "SimulationResult", "Tape", "TrainTape", "EventBudgetExceeded", "ConvergenceError",
    "backward", "value_and_grad", "Gradients",
    "feedforward", "dale_network", "membrane_potential", "NEURON", "SpikeTrains",
    "SpikingClassifier", "TrainConfig", "load_checkpoint", "save_checkpoint", "tasks", "analysis", "losses",
]
