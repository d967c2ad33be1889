"""Training spiking networks that compute with spike timing (Comsa et al. 2020).

The pieces, each usable alone:

* :func:`cross_entropy` -- the loss of the paper: cross-entropy of the softmax over
  *negative* output spike times, with its exact derivative ``dL/dt_k = y_k - p_k``.
* :func:`predict_classes` / :func:`accuracy` -- the first output neuron to spike is
  the prediction; ties and all-silent outputs count as wrong.
* :class:`Adam` -- the reference implementation's Adam, with one learning rate per
  parameter group (weights, pulse times).
* :class:`TrainConfig` -- every hyperparameter of the paper's Table 1 (and the rest
  of the training options), with the Boolean defaults and an MNIST preset.
* :class:`SpikingClassifier` -- a scikit-learn style estimator: ``fit``,
  ``predict``, ``predict_times``, ``score``, ``history_``, ``network_``, with
  atomic per-epoch checkpoints that training can resume from.

How one update is computed (following the reference, ``tempcoding/tempcoder.cc``)
-------------------------------------------------------------------------------
For a mini-batch, every example whose gradient counts (all examples, or only the
misclassified ones with ``update_on_misclassified_only``) contributes the gradient
of its own loss plus, for each neuron that stayed silent in that example,
``-penalty_no_spike`` on each of the neuron's incoming weights.  The engine
(:func:`eventsim.backward`) returns the *sum* of these over the examples; the
update uses their **mean**, i.e. the sum divided by the number of contributing
examples (the reference's ``num_updates_``).  A batch with no contributing example
changes nothing, not even Adam's moments or step count.  After each update, pulse
times are clipped at 0 (no negative times), as in the reference, and, with
``TrainConfig.min_weight``, the weights at that bound.

Beyond the paper's loop (all off by default; :meth:`TrainConfig.boolean_reliable`
switches them on): a lower bound on the weights, margin updates (also from correct
examples whose target output leads by less than ``update_margin``), a margin
refinement phase after 100% training accuracy, selection of the best epoch by
training accuracy and margin, early stopping, and several independent starts.

Determinism
-----------
All randomness comes from ``TrainConfig.seed``: the initial network from the stream
``[seed, 0]``, the shuffling of epoch ``e`` from ``[seed, 1, e]`` (start ``k > 0`` of
a fit with ``n_starts > 1`` uses the seed ``SeedSequence([seed, 77, k])`` instead).  The engine is
bit-identical for any thread count and any batching of examples, so the same seed
and data give the same trained network, bit for bit, and resuming from a checkpoint
gives the same network as training without interruption.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import pathlib
import sys
import time
import zipfile

import numpy as np

from ._atomic import atomic_write
from .gradients import backward
from .layers import feedforward
from .network import ALPHA, MODELS, Network
from .simulation import SimulationResult, Tape, simulate

__all__ = [
    "TrainConfig", "SpikingClassifier", "Adam", "CheckpointError",
    "cross_entropy", "softmax_neg_times", "predict_classes", "accuracy",
    "save_checkpoint", "load_checkpoint", "network_to_arrays", "network_from_arrays",
    "MAX_EXAMPLE_LOSS",
]

#: Cap on the per-example loss: ``-ln(1e-8)``, the loss the reference reports
#: when the target neuron is silent (it evaluates ``-ln(p + 1e-8)``).
MAX_EXAMPLE_LOSS = -math.log(1e-8)

CHECKPOINT_FORMAT = "eventsim-checkpoint"
CHECKPOINT_VERSION = 1

# Largest number of examples simulated in one engine call during training and
# evaluation (bounds memory: the tape holds a row of floats per neuron per example).
_MAX_CHUNK = 1024


# ---------------------------------------------------------------------------- loss
def _check_times(out_times):
    t = np.asarray(out_times, np.float64)
    if t.ndim != 2 or t.shape[1] == 0:
        raise ValueError(f"out_times must have shape (n_examples, n_outputs), got {t.shape}")
    if np.isnan(t).any():
        raise ValueError("out_times contains NaN")
    if np.isneginf(t).any():
        raise ValueError("out_times contains -inf")
    return t


def softmax_neg_times(out_times) -> np.ndarray:
    """Softmax over negative output spike times, ``p_k = exp(-t_k) / sum_i exp(-t_i)``.

    Parameters
    ----------
    out_times : array_like, shape (n_examples, n_outputs)
        Output spike times; ``inf`` = silent.

    Returns
    -------
    ndarray, shape (n_examples, n_outputs)
        ``p``.  A silent output has ``p = 0``; if every output of an example is
        silent, ``p = 1 / n_outputs`` for all (as in the reference, where silent
        neurons have the largest double as their time).
    """
    t = _check_times(out_times)
    finite = np.isfinite(t)
    any_spike = finite.any(axis=1)
    t_min = np.where(finite, t, np.inf).min(axis=1, keepdims=True)
    t_min = np.where(any_spike[:, None], t_min, 0.0)
    e = np.where(finite, np.exp(-(np.where(finite, t, 0.0) - t_min)), 0.0)
    e[~any_spike] = 1.0
    return e / e.sum(axis=1, keepdims=True)


def _check_labels(labels, n_examples, n_outputs):
    y = np.asarray(labels)
    if y.shape != (n_examples,):
        raise ValueError(f"labels must have shape ({n_examples},), got {y.shape}")
    if y.size and y.dtype.kind not in "iu":
        if y.dtype.kind == "f" and np.isfinite(y).all() and np.array_equal(y, np.round(y)):
            y = y.astype(np.int64)
        else:
            raise ValueError(f"labels must be integer class indices, got dtype {y.dtype}")
    y = y.astype(np.int64, copy=False)
    if y.size and (y.min() < 0 or y.max() >= n_outputs):
        raise ValueError(f"labels must lie in 0..{n_outputs - 1} (one per output neuron), "
                         f"got range {y.min()}..{y.max()}")
    return y


def _loss_core(t, y):
    """Per-example loss, ``y - p`` and predicted class for validated inputs."""
    n, k = t.shape
    rows = np.arange(n)
    tt = t
    t_min = tt.min(axis=1)
    any_spike = np.isfinite(t_min)
    all_spike_rows = bool(any_spike.all())
    shifted = tt - (t_min if all_spike_rows else np.where(any_spike, t_min, 0.0))[:, None]
    e = np.exp(-shifted)              # silent outputs: exp(-inf) = 0
    s = e.sum(axis=1)                 # >= 1 where an output spiked (the earliest adds 1)
    if all_spike_rows:
        p = e / s[:, None]
        loss = shifted[rows, y] + np.log(s)
    else:
        e[~any_spike] = 1.0
        s = np.where(any_spike, s, float(k))
        p = e / s[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            loss = np.where(any_spike, shifted[rows, y] + np.log(s), math.log(k))
    loss = np.minimum(loss, MAX_EXAMPLE_LOSS)
    dl = np.zeros_like(p)
    dl[rows, y] = 1.0
    dl -= p
    unique = (tt == t_min[:, None]).sum(axis=1) == 1
    pred = np.where(unique & any_spike, tt.argmin(axis=1), -1)
    return loss, dl, pred


def cross_entropy(out_times, labels):
    """Cross-entropy loss of the softmax over negative output spike times.

    .. math::

        p_k = \\frac{e^{-t_k}}{\\sum_i e^{-t_i}}, \\qquad
        L = -\\sum_k y_k \\ln p_k, \\qquad
        \\frac{\\partial L}{\\partial t_k} = y_k - p_k

    with ``y`` the one-hot label (MATH.md D.1).

    Parameters
    ----------
    out_times : array_like, shape (n_examples, n_outputs)
        Output spike times; ``inf`` = silent (``p = 0``; all silent: ``p = 1/K``).
    labels : array_like of int, shape (n_examples,)
        Class index of each example (its output neuron).

    Returns
    -------
    loss : ndarray, shape (n_examples,)
        Per-example loss ``-ln p_y``, computed stably as ``t_y - t_min +
        ln sum_i exp(-(t_i - t_min))``, and capped at :data:`MAX_EXAMPLE_LOSS`
        (``-ln 1e-8``, the reference's value for a silent target, whose exact loss
        is infinite).  Not averaged.
    dL_dt : ndarray, shape (n_examples, n_outputs)
        ``y - p`` per example (not divided by the number of examples); the exact
        derivative of the uncapped loss.  Entries of silent outputs carry no
        gradient in the engine.

    Examples
    --------
    >>> loss, g = cross_entropy([[1.0, 2.0], [0.5, np.inf]], [1, 0])
    >>> np.round(loss, 4).tolist(), np.round(g, 4).tolist()
    ([1.3133, 0.0], [[-0.7311, 0.7311], [0.0, 0.0]])
    """
    t = _check_times(out_times)
    y = _check_labels(labels, t.shape[0], t.shape[1])
    loss, dl, _ = _loss_core(t, y)
    return loss, dl


def predict_classes(out_times) -> np.ndarray:
    """The class predicted from output spike times: the first output to spike.

    Parameters
    ----------
    out_times : array_like, shape (n_examples, n_outputs)

    Returns
    -------
    ndarray of int64, shape (n_examples,)
        Index of the earliest output, or ``-1`` when the earliest time is shared by
        several outputs (a tie) or no output spiked.
    """
    t = _check_times(out_times)
    first = t.min(axis=1, keepdims=True)
    unique = (t == first).sum(axis=1) == 1
    decided = unique & np.isfinite(first[:, 0])
    return np.where(decided, t.argmin(axis=1), -1).astype(np.int64)


def accuracy(out_times, labels) -> float:
    """Fraction of examples whose first output spike is the label's neuron.

    Ties for the first spike and examples with no output spike count as wrong.
    """
    pred = predict_classes(out_times)
    y = _check_labels(labels, pred.size, np.shape(out_times)[1])
    return float(np.mean(pred == y)) if y.size else float("nan")


# ---------------------------------------------------------------------------- Adam
class Adam:
    """Adam as in the reference implementation, one learning rate per parameter group.

    For a gradient ``g`` of a group with learning rate ``lr``, step ``t`` (counting
    the updates applied so far, from 1):

    .. math::

        m \\leftarrow \\beta_1 m + (1-\\beta_1) g, \\quad
        v \\leftarrow \\beta_2 v + (1-\\beta_2) g^2, \\quad
        \\Delta = -\\mathrm{lr} \\, \\frac{m / (1-\\beta_1^t)}
                                     {\\sqrt{v / (1-\\beta_2^t) + \\epsilon}}

    Note that ``epsilon`` sits *inside* the square root, as in
    ``Tempcoder::ComputeAdamUpdates`` (not added to it, as in Kingma & Ba).

    Parameters
    ----------
    shapes : dict of str -> tuple
        Shape of each parameter group.
    learning_rates : dict of str -> float
        Learning rate of each group.
    beta1, beta2, epsilon : float
        The reference's constants 0.9, 0.999, 1e-8 by default.

    Attributes
    ----------
    m, v : dict of str -> ndarray
        First and second moment estimates.
    t : int
        Number of steps taken.
    """

    def __init__(self, shapes, learning_rates, *, beta1=0.9, beta2=0.999, epsilon=1e-8):
        if set(shapes) != set(learning_rates):
            raise ValueError("shapes and learning_rates must name the same groups")
        for name, lr in learning_rates.items():
            if not (np.isfinite(lr) and lr >= 0):
                raise ValueError(f"learning rate of {name!r} must be finite and >= 0, got {lr}")
        if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
            raise ValueError(f"beta1 and beta2 must lie in [0, 1), got {beta1}, {beta2}")
        if not epsilon >= 0:
            raise ValueError(f"epsilon must be >= 0, got {epsilon}")
        self.learning_rates = {k: float(v) for k, v in learning_rates.items()}
        self.beta1, self.beta2, self.epsilon = float(beta1), float(beta2), float(epsilon)
        self.m = {k: np.zeros(s) for k, s in shapes.items()}
        self.v = {k: np.zeros(s) for k, s in shapes.items()}
        self.t = 0

    def step(self, grads) -> dict:
        """Take one step; returns the *updates* (to be added to the parameters).

        Parameters
        ----------
        grads : dict of str -> ndarray
            Gradient of the loss for every group (same shapes as at construction).
        """
        if set(grads) != set(self.m):
            raise ValueError(f"expected gradients for {sorted(self.m)}, got {sorted(grads)}")
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        m_scale = 1.0 / (1.0 - b1 ** self.t)
        v_scale = 1.0 / (1.0 - b2 ** self.t)
        updates = {}
        for name, g in grads.items():
            g = np.asarray(g, np.float64)
            if g.shape != self.m[name].shape:
                raise ValueError(f"gradient of {name!r} has shape {g.shape}, "
                                 f"expected {self.m[name].shape}")
            m, v = self.m[name], self.v[name]
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * (g * g)
            updates[name] = -self.learning_rates[name] * (m * m_scale) / np.sqrt(
                v * v_scale + self.epsilon)
        return updates

    def state_arrays(self) -> dict:
        """Moments as flat arrays for a checkpoint (``m_<group>``, ``v_<group>``)."""
        out = {}
        for name in self.m:
            out[f"m_{name}"] = self.m[name]
            out[f"v_{name}"] = self.v[name]
        return out

    def load_state(self, arrays, t):
        """Restore moments (from :meth:`state_arrays`) and the step count."""
        for name in self.m:
            for kind, store in (("m", self.m), ("v", self.v)):
                arr = np.asarray(arrays[f"{kind}_{name}"], np.float64)
                if arr.shape != store[name].shape:
                    raise ValueError(f"Adam state {kind}_{name} has shape {arr.shape}, "
                                     f"expected {store[name].shape}")
                store[name] = arr.copy()
        self.t = int(t)


# ---------------------------------------------------------------------------- config
_PULSE_MODES = ("per_network", "per_layer")
_LOSS_NAMES = ("cross_entropy", "goltz")


@dataclasses.dataclass
class TrainConfig:
    """Every option of training, with the paper's Boolean defaults (Table 1).

    The first eleven fields are the hyperparameters of Table 1 of Comsa et al.;
    :meth:`boolean` and :meth:`mnist` give the paper's two columns.

    Parameters
    ----------
    batch_size : int, default 1
        Examples per mini-batch (one Adam update per batch).
    clip_derivative : float or None, default 100.0
        Clip every local derivative ``dt_post/dw`` and ``dt_post/dt_pre`` to
        ``[-clip, clip]`` (engine option of :func:`eventsim.backward`); ``None``:
        no clipping.
    decay_constant : float, default 1.0
        Decay rate ``tau`` of the alpha kernel ``t exp(-tau t)`` of every neuron.
    fire_threshold : float, default 1.0
        Firing threshold ``theta`` of every neuron.
    learning_rate : float, default 1e-3
        Adam learning rate of all weights (pulse and non-pulse synapses).
    learning_rate_pulses : float, default 1e-3
        Adam learning rate of the pulse spike times.
    n_hidden : tuple of int, default (2,)
        Hidden layer sizes.
    n_pulses : int, default 1
        Synchronisation pulses per set (see ``pulses``).
    nonpulse_init_multiplier : float, default 0.0
        Mean of the initial non-pulse weights, in standard deviations of the
        modified Glorot scheme (``std = sqrt(2 / (fan_in + fan_out))``).
    penalty_no_spike : float, default 1.0
        For every neuron silent in an example, ``-penalty_no_spike`` is added to
        the derivative of each of its incoming weights (per example, before the
        batch mean), which raises them.
    pulse_init_multiplier : float, default 0.0
        The same as ``nonpulse_init_multiplier`` for synapses from pulses.
    pulses : {"per_network", "per_layer"}, default "per_network"
        One set of pulses connected to all non-input neurons (the paper's
        Boolean networks) or one set per non-input layer (its MNIST networks).
    update_on_misclassified_only : bool, default True
        Compute updates only from misclassified examples.  This is the reference
        implementation's default (its flag ``update_all_datapoints`` is off by
        default) and what the paper found faster on the Boolean tasks (section 3.1);
        False: every example of a batch contributes.
    epochs : int, default 100
        Passes over the training data.
    seed : int or None, default 0
        Seed of all randomness (initial weights, shuffling).  ``None`` draws a
        fresh seed, recorded in the fitted ``config_``.
    shuffle : bool, default True
        Shuffle the training examples at every epoch.
    n_outputs : int or None, default None
        Output neurons (classes); ``None``: ``max(y) + 1`` (at least 2).
    adam_beta1, adam_beta2, adam_epsilon : float
        Adam constants (reference: 0.9, 0.999, 1e-8 inside the square root).
    n_threads : int or None, default None
        Engine worker threads (``None``: all cores).  Results do not depend on it.
    eval_train : bool, default True
        After every epoch, evaluate loss and accuracy on the whole training set
        with the current network (otherwise only running figures are recorded,
        unless ``select_best``, ``margin_refinement`` or ``n_starts > 1`` need the
        evaluation anyway).

    Options beyond the paper's training loop
    ----------------------------------------
    All off by default (``TrainConfig()`` trains exactly as the paper and the
    reference implementation).  :meth:`boolean_reliable` switches them on for the
    Boolean tasks; ``examples/boolean_seeds.md`` explains why each is needed.  None
    changes the neuron model, the network, the loss or the optimizer.

    min_weight : float or None, default None
        Lower bound of every weight (non-pulse and pulse synapses): the weights are
        clipped at ``min_weight`` at initialisation (also a given ``network``) and
        after every Adam step (projected Adam).  ``0.0`` keeps the network
        excitatory, as the paper's trained Boolean networks were.  ``None``: no bound.
    update_margin : float, default 0.0
        With ``update_on_misclassified_only``, also update on correctly classified
        examples whose target output leads every other output by less than this
        many time units (or whose target is silent).  ``0``: only misclassified
        examples (the paper).  No effect when every example updates anyway.
    margin_refinement : bool, default False
        Use ``update_margin`` only in a refinement phase that starts after the first
        epoch ending with 100% training accuracy (before it: misclassified examples
        only) and lasts for the rest of the epoch budget.
    select_best : bool, default False
        Keep, as the fitted ``network_``, the network after the epoch with the
        highest training accuracy, ties broken by the larger training margin (the
        smallest lead of the target output over the others, over all training
        examples); the earliest of exactly tied epochs wins.  Only training data is
        used.  ``False``: the network after the last epoch.
    early_stop : bool, default False
        End training (of the current start) after an epoch that made no update and
        after which the update rule stays the same: nothing would change any more.
    n_starts : int, default 1
        Independent starts (initialisation and shuffling).  Start 0 uses ``seed``;
        start ``k > 0`` the seed ``SeedSequence([seed, 77, k]).generate_state(1)[0]``.
        Each start gets up to ``epochs`` epochs.  The starts run in turn until one
        classifies the whole training set; the one kept is the first with the
        highest training accuracy (of its kept network).  A given ``network`` is the
        initial network of every start (they then differ only in shuffling).
    start_patience : int, optional
        With ``n_starts > 1``: a start that has not classified the whole training set
        after this many of its epochs ends there, and the next start begins (the
        last start keeps training).  ``None``: a start ends only by ``early_stop``
        or its epoch budget.
    shared_budget : bool, default False
        ``epochs`` is the budget of the whole fit, all starts together (training
        ends after ``epochs`` epochs in total), instead of the budget of each start.
    init_mean, init_std : tuple of float, optional
        Göltz et al.'s initialisation instead of the modified Glorot one: the
        non-pulse weights of layer ``l`` (input -> first hidden is layer 0) are
        normal with mean ``init_mean[l]`` and standard deviation ``init_std[l]``
        (one value per layer; both or neither).  Pulse weights keep the Glorot
        scheme.
    lr_decay : float, default 1.0
        Both learning rates are multiplied by ``lr_decay ** epoch`` (epoch counted
        from 0 within each start): an exponential schedule; 1 keeps them constant.
    penalty_scope : {"all", "outputs"}, default "all"
        Which silent neurons ``penalty_no_spike`` pushes up: every neuron (the
        paper), or only the output neurons (sparse hidden layers stay free to be
        silent, while a silent label neuron, which the Göltz loss gives no gradient,
        is still pushed to fire).
    weight_decay : float, default 0.0
        Decoupled weight decay (as in AdamW): each update first multiplies every
        weight by ``1 - lr * weight_decay``.
    loss : {"cross_entropy", "goltz"}, default "cross_entropy"
        ``"cross_entropy"``: the paper's loss (:func:`cross_entropy`).  ``"goltz"``:
        the loss of Göltz et al. (:func:`eventsim.losses.goltz_loss`, softmax over
        ``-t / (xi tau_syn)`` plus ``alpha e^{t_label / (beta tau_syn)}``) with
        ``goltz_xi``, ``goltz_alpha``, ``goltz_beta`` and ``goltz_tau_syn``
        (defaults 0.2, 0.005, 1 and 1: fastAndDeep's).

    Networks whose populations obey Dale's law (``Network.neuron_sign``) are
    projected onto it after every optimizer step (``Network.project_dale``), so
    every excitatory weight stays ``>= 0`` and every inhibitory one ``<= 0``.
    """

    batch_size: int = 1
    clip_derivative: float | None = 100.0
    decay_constant: float = 1.0
    fire_threshold: float = 1.0
    learning_rate: float = 1e-3
    learning_rate_pulses: float = 1e-3
    n_hidden: tuple = (2,)
    n_pulses: int = 1
    nonpulse_init_multiplier: float = 0.0
    penalty_no_spike: float = 1.0
    pulse_init_multiplier: float = 0.0
    pulses: str = "per_network"
    update_on_misclassified_only: bool = True
    epochs: int = 100
    seed: int | None = 0
    shuffle: bool = True
    n_outputs: int | None = None
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    n_threads: int | None = None
    eval_train: bool = True
    min_weight: float | None = None
    update_margin: float = 0.0
    margin_refinement: bool = False
    select_best: bool = False
    early_stop: bool = False
    n_starts: int = 1
    start_patience: int | None = None
    shared_budget: bool = False
    init_mean: tuple | None = None
    init_std: tuple | None = None
    lr_decay: float = 1.0
    weight_decay: float = 0.0
    penalty_scope: str = "all"
    loss: str = "cross_entropy"
    goltz_xi: float = 0.2
    goltz_alpha: float = 0.005
    goltz_beta: float = 1.0
    goltz_tau_syn: float = 1.0

    #: The hyperparameters of Table 1 of the paper, in its order.
    TABLE1 = ("batch_size", "clip_derivative", "decay_constant", "fire_threshold",
              "learning_rate", "learning_rate_pulses", "n_hidden", "n_pulses",
              "nonpulse_init_multiplier", "penalty_no_spike", "pulse_init_multiplier")

    def __post_init__(self):
        self.n_hidden = tuple(int(h) for h in np.atleast_1d(self.n_hidden)) \
            if not isinstance(self.n_hidden, tuple) else tuple(int(h) for h in self.n_hidden)
        self.validate()

    def validate(self):
        """Raise ValueError for an invalid option."""
        def positive(name, integer=False):
            val = getattr(self, name)
            if integer and (isinstance(val, bool) or int(val) != val):
                raise ValueError(f"{name} must be an integer, got {val!r}")
            if not (np.isfinite(val) and val > 0):
                raise ValueError(f"{name} must be > 0, got {val!r}")

        positive("batch_size", True)
        if isinstance(self.epochs, bool) or int(self.epochs) != self.epochs or self.epochs < 0:
            raise ValueError(f"epochs must be an integer >= 0, got {self.epochs!r}")
        for name in ("decay_constant", "fire_threshold"):
            positive(name)
        for name in ("learning_rate", "learning_rate_pulses", "penalty_no_spike"):
            val = getattr(self, name)
            if not (np.isfinite(val) and val >= 0):
                raise ValueError(f"{name} must be finite and >= 0, got {val!r}")
        if self.clip_derivative is not None and not (self.clip_derivative > 0):
            raise ValueError(f"clip_derivative must be > 0 or None, got {self.clip_derivative!r}")
        if any(h < 1 for h in self.n_hidden):
            raise ValueError(f"hidden layer sizes must be >= 1, got {list(self.n_hidden)}")
        if int(self.n_pulses) != self.n_pulses or self.n_pulses < 0:
            raise ValueError(f"n_pulses must be an integer >= 0, got {self.n_pulses!r}")
        for name in ("nonpulse_init_multiplier", "pulse_init_multiplier"):
            if not np.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be finite")
        if self.pulses not in _PULSE_MODES:
            raise ValueError(f"pulses must be one of {_PULSE_MODES}, got {self.pulses!r}")
        if self.n_outputs is not None and (int(self.n_outputs) != self.n_outputs
                                           or self.n_outputs < 2):
            raise ValueError(f"n_outputs must be an integer >= 2 or None, got {self.n_outputs!r}")
        if self.seed is not None and (int(self.seed) != self.seed or self.seed < 0):
            raise ValueError(f"seed must be a non-negative integer or None, got {self.seed!r}")
        if self.n_threads is not None and self.n_threads != -1 and self.n_threads < 1:
            raise ValueError(f"n_threads must be >= 1, -1 or None, got {self.n_threads!r}")
        if self.min_weight is not None and (isinstance(self.min_weight, bool)
                                            or not np.isfinite(self.min_weight)):
            raise ValueError(f"min_weight must be a finite number or None, got {self.min_weight!r}")
        if not (np.isfinite(self.update_margin) and self.update_margin >= 0):
            raise ValueError(f"update_margin must be finite and >= 0, got {self.update_margin!r}")
        if (isinstance(self.n_starts, bool) or int(self.n_starts) != self.n_starts
                or self.n_starts < 1):
            raise ValueError(f"n_starts must be an integer >= 1, got {self.n_starts!r}")
        if self.start_patience is not None and (
                isinstance(self.start_patience, bool)
                or int(self.start_patience) != self.start_patience or self.start_patience < 1):
            raise ValueError("start_patience must be None or an integer >= 1, got "
                             f"{self.start_patience!r}")
        for name in ("margin_refinement", "select_best", "early_stop", "shared_budget"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if (self.init_mean is None) != (self.init_std is None):
            raise ValueError("init_mean and init_std must be given together")
        if self.init_mean is not None:
            self.init_mean = tuple(float(v) for v in np.atleast_1d(self.init_mean))
            self.init_std = tuple(float(v) for v in np.atleast_1d(self.init_std))
            n_layers = len(self.n_hidden) + 1
            if len(self.init_mean) != n_layers or len(self.init_std) != n_layers:
                raise ValueError(f"init_mean and init_std need one value per layer "
                                 f"({n_layers}), got {len(self.init_mean)} and "
                                 f"{len(self.init_std)}")
            if not (np.isfinite(self.init_mean).all() and np.isfinite(self.init_std).all()
                    and min(self.init_std) >= 0):
                raise ValueError("init_mean must be finite and init_std finite and >= 0")
        if self.penalty_scope not in ("all", "outputs"):
            raise ValueError(f"penalty_scope must be 'all' or 'outputs', got "
                             f"{self.penalty_scope!r}")
        if not (np.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be finite and >= 0, got {self.weight_decay!r}")
        if not (np.isfinite(self.lr_decay) and 0 < self.lr_decay <= 1):
            raise ValueError(f"lr_decay must lie in (0, 1], got {self.lr_decay!r}")
        if self.loss not in _LOSS_NAMES:
            raise ValueError(f"loss must be one of {_LOSS_NAMES}, got {self.loss!r}")
        for name in ("goltz_xi", "goltz_beta", "goltz_tau_syn"):
            positive(name)
        if not (np.isfinite(self.goltz_alpha) and self.goltz_alpha >= 0):
            raise ValueError(f"goltz_alpha must be finite and >= 0, got {self.goltz_alpha!r}")

    @classmethod
    def boolean(cls, **overrides) -> "TrainConfig":
        """The paper's defaults for the Boolean tasks (first column of Table 1).

        The same as ``TrainConfig()``: 2 hidden neurons, one pulse connected to all
        non-input neurons, updates only from misclassified examples.
        """
        return cls(**overrides)

    #: The options :meth:`boolean_reliable` changes from :meth:`boolean`.
    RELIABLE = {"learning_rate": 0.01, "learning_rate_pulses": 0.01, "min_weight": 0.0,
                "update_margin": 0.02, "margin_refinement": True, "select_best": True,
                "early_stop": True, "n_starts": 5}

    @classmethod
    def boolean_reliable(cls, **overrides) -> "TrainConfig":
        """The Boolean defaults, changed so that training reliably reaches 100%.

        Same network, neuron, loss, Adam, penalty, clipping, batch size, pulse and
        misclassified-only updates as :meth:`boolean`; changed (``RELIABLE``):

        * ``learning_rate = learning_rate_pulses = 0.01`` (inside the paper's search
          range; at 0.001 the misclassified-only updates do not converge in 100
          epochs);
        * ``min_weight = 0``: non-negative weights (the paper's Boolean networks had
          only positive weights);
        * ``n_starts = 5``: up to five independent starts, the first to classify the
          whole training set (else the best by training accuracy) is kept;
        * ``margin_refinement``, ``update_margin = 0.02``, ``select_best``: after
          100% training accuracy, the rest of the budget also updates on correct
          examples with a margin below 0.02, and the epoch with the largest training
          margin is kept;
        * ``early_stop``: a start ends when an epoch makes no update.

        Model selection uses the training data only.  With 1000 training examples and
        100 epochs it reaches 100% test accuracy on XOR, AND, OR and circles in at
        least 19 of 20 seeds (``examples/boolean_seeds.md``).
        """
        base = dict(cls.RELIABLE)
        base.update(overrides)
        return cls(**base)

    @classmethod
    def mnist(cls, **overrides) -> "TrainConfig":
        """The values the paper chose for MNIST (last column of Table 1).

        340 hidden neurons, 10 pulses per layer, batch size 5.
        """
        base = dict(batch_size=5, clip_derivative=539.7, decay_constant=0.181769,
                    fire_threshold=1.16732, learning_rate=2.01864e-4,
                    learning_rate_pulses=5.95375e-2, n_hidden=(340,), n_pulses=10,
                    nonpulse_init_multiplier=-0.275419, penalty_no_spike=48.3748,
                    pulse_init_multiplier=7.83912, pulses="per_layer")
        base.update(overrides)
        return cls(**base)

    @classmethod
    def mnist_goltz(cls, **overrides) -> "TrainConfig":
        """784-340-10 for MNIST with Göltz et al.'s training choices (our tuning).

        Alpha neurons with ``decay_constant = 1`` and threshold 1 (exactly their LIF
        neuron with ``tau_mem = tau_syn = 1``), no pulses, initial weights
        N(0.03, 0.05) into the hidden and N(0.1, 0.1) into the output layer, their
        loss with a sharper softmax (``goltz_xi = 0.03``) and a stronger regulariser
        (``goltz_alpha = 0.02``), Adam with learning rate 3e-3 decaying by 0.9 per
        epoch, batch 32, every example updates.  On
        the 5,000-image subset it learns within one epoch, where the paper's MNIST
        column first spends several epochs at chance level.
        """
        base = dict(batch_size=32, clip_derivative=100.0, decay_constant=1.0,
                    fire_threshold=1.0, learning_rate=3e-3, learning_rate_pulses=0.0,
                    n_hidden=(340,), n_pulses=0, penalty_no_spike=0.0,
                    update_on_misclassified_only=False, epochs=25, loss="goltz",
                    goltz_xi=0.03, goltz_alpha=0.02, lr_decay=0.9, init_mean=(0.03, 0.1),
                    init_std=(0.05, 0.1))
        base.update(overrides)
        return cls(**base)

    @classmethod
    def yin_yang(cls, **overrides) -> "TrainConfig":
        """Göltz et al.'s Yin-Yang setting (fastAndDeep ``yin_yang.yaml``): 120 hidden
        neurons, no pulses (the data carry a bias spike at 0.9), their loss and
        initialisation (N(1.5, 0.8), N(0.5, 0.8)), batch 150, every example updates.

        Their LIF neuron with ``tau_mem = tau_syn = 1`` and ``g_leak = 1`` *is* the
        alpha neuron with ``decay_constant = 1`` (same kernel ``s e^{-s}``), so the
        trainer's alpha layers run it exactly.  The learning rate (2e-3) and the
        silent-neuron penalty (0.5, in place of their weight bumping) are ours.
        """
        base = dict(batch_size=150, clip_derivative=100.0, decay_constant=1.0,
                    fire_threshold=1.0, learning_rate=2e-3, learning_rate_pulses=0.0,
                    n_hidden=(120,), n_pulses=0, penalty_no_spike=0.5,
                    update_on_misclassified_only=False, epochs=60, loss="goltz",
                    init_mean=(1.5, 0.5), init_std=(0.8, 0.8))
        base.update(overrides)
        return cls(**base)

    def replace(self, **changes) -> "TrainConfig":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """JSON-serialisable dict of all fields."""
        d = dataclasses.asdict(self)
        d["n_hidden"] = list(self.n_hidden)
        return d

    @classmethod
    def from_dict(cls, d) -> "TrainConfig":
        """Inverse of :meth:`to_dict` (unknown keys raise ValueError)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown TrainConfig fields: {sorted(unknown)}")
        return cls(**d)


# ---------------------------------------------------------------------------- networks
def network_to_arrays(net: Network):
    """Everything needed to rebuild ``net``: ``(description, arrays)``.

    ``description`` is JSON-serialisable (the populations in id order with their
    model parameters); ``arrays`` holds ``pre``, ``post``, ``weights``, ``delays``
    and ``pulse_times``.
    """
    pops = []
    signs = net.neuron_sign
    for p in net.populations:
        entry = {"name": p.name, "kind": p.kind, "size": p.size}
        if p.kind not in ("input", "pulse"):
            prm = net.population_params(p.index)
            del prm["model"]
            entry.update(prm)
        if signs[p.start:p.stop].any():
            entry["dale"] = signs[p.start:p.stop].tolist()
        pops.append(entry)
    arrays = {"pre": net.pre.copy(), "post": net.post.copy(), "weights": net.weights.copy(),
              "delays": net.delays.copy(), "pulse_times": net.pulse_times.copy()}
    return {"populations": pops}, arrays


def network_from_arrays(description, arrays) -> Network:
    """Inverse of :func:`network_to_arrays`."""
    net = Network()
    pulse_times = np.asarray(arrays["pulse_times"], np.float64)
    k = 0
    for p in description["populations"]:
        size = int(p["size"])
        if p["kind"] == "input":
            net.add_inputs(size, name=p["name"], dale=p.get("dale"))
        elif p["kind"] == "pulse":
            if k + size > pulse_times.size:
                raise ValueError("pulse_times is shorter than the pulse populations")
            net.add_pulses(pulse_times[k:k + size], name=p["name"])
            k += size
        else:
            if p["kind"] not in MODELS:
                raise ValueError(f"unknown neuron model {p['kind']!r} in the description")
            params = {k: p[k] for k in MODELS[p["kind"]] if k in p}
            net.add_population(size, model=p["kind"], name=p["name"], dale=p.get("dale"),
                               **params)
    if k != pulse_times.size:
        raise ValueError(f"{pulse_times.size} pulse times for {k} pulses")
    pre, post = np.asarray(arrays["pre"]), np.asarray(arrays["post"])
    if pre.size:
        net.connect(pre, post, np.asarray(arrays["weights"], np.float64),
                    np.asarray(arrays["delays"], np.float64))
    if not (np.array_equal(net.pre, pre) and np.array_equal(net.post, post)):
        raise ValueError("synapses are not in presynaptic (CSR) order")
    return net


def _output_and_hidden(net: Network):
    try:
        out = net["output"]
    except KeyError:
        raise ValueError("the network needs a population named 'output' (its neurons are "
                         "the classes, in order)") from None
    if out.kind in ("input", "pulse"):
        raise ValueError("population 'output' must be a neuron population, not a source")
    out_ids = out.ids
    hidden = np.flatnonzero(net.kind == ALPHA)
    hidden = hidden[(hidden < out.start) | (hidden >= out.stop)]
    return out_ids, hidden


# ---------------------------------------------------------------------------- checkpoints
class CheckpointError(ValueError):
    """A checkpoint file is corrupt, truncated or not an eventsim checkpoint."""


def _atomic_write(path: pathlib.Path, write):
    atomic_write(path, write)


def save_checkpoint(path, network, *, config=None, optimizer=None, epoch=0, history=None,
                    extra=None, state=None, state_arrays=None):
    """Save a network and (optionally) its training state atomically to ``path`` (.npz).

    The file is a numpy ``.npz`` archive holding the network's arrays, Adam's
    moments (``adam_m_*``, ``adam_v_*``) and a JSON string ``meta`` (format tag,
    config, epoch, Adam step, metrics per epoch, population layout).  It is written
    to a temporary file in the same folder and moved into place with
    :func:`os.replace`, so ``path`` always holds a complete checkpoint.

    ``state`` (JSON-serialisable, stored as ``meta["train_state"]``) and
    ``state_arrays`` (stored under their own names, which must not start with
    ``net_``, ``adam_`` or be ``meta``) hold the trainer's bookkeeping of starts and
    selected networks (see :meth:`SpikingClassifier.fit`).
    """
    desc, arrays = network_to_arrays(network)
    meta = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "network": desc,
        "epoch": int(epoch),
        "config": None if config is None else config.to_dict(),
        "adam_step": None if optimizer is None else int(optimizer.t),
        "history": history or {},
        "extra": extra or {},
    }
    if state is not None:
        meta["train_state"] = state
    payload = {f"net_{k}": v for k, v in arrays.items()}
    if optimizer is not None:
        payload.update({f"adam_{k}": v for k, v in optimizer.state_arrays().items()})
    for k, v in (state_arrays or {}).items():
        if k == "meta" or k.startswith(("net_", "adam_")):
            raise ValueError(f"state array name {k!r} is reserved")
        payload[k] = v
    payload["meta"] = np.array(json.dumps(meta, allow_nan=True))
    _atomic_write(pathlib.Path(path), lambda f: np.savez(f, **payload))
    return meta


def load_checkpoint(path):
    """Read a checkpoint written by :func:`save_checkpoint`.

    Returns
    -------
    network : Network
    meta : dict
        The JSON metadata (``config``, ``epoch``, ``history``, ``adam_step``...).
    arrays : dict of str -> ndarray
        All arrays of the file (``adam_m_weights`` etc.).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    CheckpointError
        If the file is corrupt, truncated or not an eventsim checkpoint; the message
        names the file.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file {path} not found")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError,
            zipfile.LargeZipFile, NotImplementedError) as exc:
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint (cannot read the "
                              f".npz archive: {type(exc).__name__}: {exc})") from None
    if "meta" not in arrays:
        raise CheckpointError(f"{path}: not an eventsim checkpoint (no 'meta' entry)")
    try:
        meta = json.loads(str(arrays.pop("meta")[()]))
    except (ValueError, TypeError, IndexError) as exc:
        raise CheckpointError(f"{path}: corrupt checkpoint metadata ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not an eventsim checkpoint (format tag missing)")
    if meta.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path}: unsupported checkpoint version {meta.get('version')!r} "
                              f"(this eventsim reads version {CHECKPOINT_VERSION})")
    try:
        net_arrays = {k[4:]: v for k, v in arrays.items() if k.startswith("net_")}
        network = network_from_arrays(meta["network"], net_arrays)
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{path}: corrupt checkpoint: cannot rebuild the network "
                              f"({type(exc).__name__}: {exc})") from None
    return network, meta, arrays


def _data_digest(X, y) -> str:
    h = hashlib.sha256()
    for a in (np.ascontiguousarray(X, np.float64), np.ascontiguousarray(y, np.int64)):
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------------------- estimator
_TAPE_KNOWN = {f.name for f in dataclasses.fields(Tape)} == {"q", "deliveries", "offsets",
                                                              "delay_order"}


def _select_examples(res: SimulationResult, rows, resimulate=None) -> SimulationResult:
    """The result (with tape) of a subset of the examples of ``res``, in order.

    Equal to simulating those examples alone, because examples are independent.
    Should the tape's layout ever differ from the one known here, ``resimulate(rows)``
    is called instead (if given).
    """
    rows = np.asarray(rows, np.int64)
    n = res.times.shape[0]
    if rows.size == n and np.array_equal(rows, np.arange(n)):
        return res
    tape = res.tape
    if not _TAPE_KNOWN:  # pragma: no cover
        if resimulate is None:
            raise NotImplementedError("unknown tape layout: cannot select examples")
        return resimulate(rows)
    a = int(rows[0])
    b = a + rows.size
    if int(rows[-1]) == b - 1:
        # Contiguous rows (the common case): slices, no copies of the tape.
        o = tape.offsets
        sub = Tape(tape.q[a:b], tape.deliveries[o[a]:o[b]], o[a:b + 1] - o[a],
                   tape.delay_order)
        return SimulationResult(res.times[a:b], res.n_events[a:b], sub, res.input_times[a:b],
                                res.t_max, False)
    starts, ends = tape.offsets[rows], tape.offsets[rows + 1]
    lens = ends - starts
    offsets = np.zeros(rows.size + 1, np.int64)
    np.cumsum(lens, out=offsets[1:])
    idx = np.repeat(starts - offsets[:-1], lens) + np.arange(offsets[-1])
    sub = Tape(np.ascontiguousarray(tape.q[rows]), np.ascontiguousarray(tape.deliveries[idx]),
               offsets, tape.delay_order)
    return SimulationResult(np.ascontiguousarray(res.times[rows]), res.n_events[rows], sub,
                            res.input_times[rows], res.t_max, False)


_HISTORY_KEYS = (
    "epoch", "loss", "train_accuracy", "test_loss", "test_accuracy",
    "running_loss", "running_accuracy", "n_updates", "adam_step",
    "train_first_output_time", "train_hidden_time", "train_hidden_silent",
    "test_first_output_time", "test_hidden_time", "test_hidden_silent",
    "pulse_times", "time_s", "start", "start_epoch", "train_margin",
)


def _history_default(key, history):
    """Values of a history key missing from an older checkpoint (one per epoch)."""
    n = len(history.get("epoch", []))
    if key == "start":
        return [0] * n
    if key == "start_epoch":
        return list(history.get("epoch", []))
    return [float("nan")] * n


def _restore_history(saved):
    return {k: list(saved[k]) if k in saved else _history_default(k, saved)
            for k in _HISTORY_KEYS}


def _example_margins(out, y):
    """Lead of the target output over the earliest other output, per example (time
    units): ``min_{k != y} t_k - t_y``; negative when the example is misclassified,
    ``inf`` when only the target spikes, ``-inf`` when the target is silent."""
    rows = np.arange(y.size)
    target = out[rows, y]
    others = np.where(np.arange(out.shape[1]) == y[:, None], np.inf, out).min(axis=1)
    with np.errstate(invalid="ignore"):
        gap = others - target
    gap[np.isnan(gap)] = -np.inf      # target and all others silent
    return gap


def _start_seed(seed, start) -> int:
    """Seed of start ``start`` (0: ``seed`` itself) of a fit with ``n_starts > 1``."""
    if start == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), 77, int(start)]).generate_state(1)[0])


class SpikingClassifier:
    """A layered spiking network trained on spike times, scikit-learn style.

    Parameters
    ----------
    config : TrainConfig, optional
        Default ``TrainConfig()`` (Table 1 defaults).  Keyword arguments override
        its fields.
    network : Network, optional
        Start from (a copy of) this network instead of a freshly initialised one.
        It needs a population named ``"output"``; every other alpha neuron counts as
        hidden.  Weights and pulse times are trained, nothing else.
    verbose : bool, default False
        Show a progress bar (tqdm) per epoch with running loss and accuracy.
    **overrides
        Fields of :class:`TrainConfig`.

    Attributes
    ----------
    network_ : Network
        The trained network.
    config_ : TrainConfig
        The configuration used (with the seed drawn if ``seed`` was None).
    history_ : dict of str -> list
        One entry per epoch: ``epoch``; ``loss`` and ``train_accuracy`` (whole
        training set after the epoch, if ``eval_train``); ``test_loss`` and
        ``test_accuracy`` (on ``X_val``, NaN without it); ``running_loss`` and
        ``running_accuracy`` (each example as seen during the epoch, before its
        own update, like the reference's log); ``n_updates`` and ``adam_step``;
        ``train_/test_first_output_time`` (mean over examples of the earliest
        output spike, silent examples left out), ``train_/test_hidden_time``
        (mean time of all hidden spikes) and ``train_/test_hidden_silent``
        (fraction of silent hidden neuron-examples), for the analysis of slow
        and fast regimes; ``pulse_times`` (list); ``time_s`` (wall time);
        ``start`` (index of the start, see ``n_starts``), ``start_epoch`` (epoch
        within that start; ``epoch`` counts on over all starts) and
        ``train_margin`` (smallest lead of the target output over the others on
        the training set: negative when an example is misclassified, ``-inf`` when
        a target is silent; NaN without the training-set evaluation).
    optimizer_ : Adam
        The optimizer of the last start trained.
    n_epochs_ : int
        Epochs completed (over all starts).
    selection_ : dict or None
        Where ``network_`` comes from: ``start``, ``start_epoch`` (within the
        start), ``epoch`` (in ``history_``), ``train_accuracy``, ``train_margin``.
    starts_ : list of dict
        One summary per start trained: ``start``, ``seed``, ``epochs``, ``refined``
        (reached the refinement phase), ``kept_epoch``, ``train_accuracy`` and
        ``train_margin`` of the network the start contributes.

    Examples
    --------
    >>> from eventsim import tasks
    >>> Xtr, ytr, Xte, yte = tasks.make_task("xor", n_train=200, n_test=50, seed=0)
    >>> clf = SpikingClassifier(TrainConfig.boolean(epochs=2, seed=0))
    >>> clf.fit(Xtr, ytr, Xte, yte).score(Xte, yte)  # doctest: +SKIP
    """

    def __init__(self, config: TrainConfig | None = None, *, network: Network | None = None,
                 verbose: bool = False, **overrides):
        config = TrainConfig() if config is None else config
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
        self.config = config.replace(**overrides) if overrides else config
        self.network = network
        self.verbose = verbose

    # ------------------------------------------------------------------ helpers
    def get_params(self, deep=True):
        return {"config": self.config, "network": self.network, "verbose": self.verbose}

    def set_params(self, **params):
        for k, v in params.items():
            if k in ("config", "network", "verbose"):
                setattr(self, k, v)
            else:
                self.config = self.config.replace(**{k: v})
        return self

    def _check_fitted(self):
        if getattr(self, "network_", None) is None:
            if self.network is not None:
                self._set_network(self.network.copy())
            else:
                raise RuntimeError("this SpikingClassifier is not fitted yet: call fit() first")

    def _set_network(self, net):
        self.network_ = net
        self._out_ids, self._hidden_ids = _output_and_hidden(net)

    def init_network(self, n_inputs, n_outputs) -> Network:
        """A fresh network from the config: :func:`eventsim.feedforward` with the
        modified Glorot initialisation, seeded by ``[seed, 0]``.  (``min_weight`` is
        applied by :meth:`fit`, not here.)"""
        c = self.config_ if hasattr(self, "config_") else self.config
        return self._init_network(n_inputs, n_outputs, c.seed)

    def _init_network(self, n_inputs, n_outputs, seed) -> Network:
        c = self.config_ if hasattr(self, "config_") else self.config
        rng = np.random.default_rng(None if seed is None else [int(seed), 0])
        net = feedforward(int(n_inputs), list(c.n_hidden), int(n_outputs),
                          n_pulses=int(c.n_pulses), pulses=c.pulses, tau=c.decay_constant,
                          theta=c.fire_threshold, pulse_init_multiplier=c.pulse_init_multiplier,
                          nonpulse_init_multiplier=c.nonpulse_init_multiplier, rng=rng)
        if c.init_mean is not None:
            # Göltz et al.'s scheme: layer l's non-pulse weights ~ N(mean_l, std_l).
            names = ["input", *[f"hidden{i}" for i in range(len(c.n_hidden))], "output"]
            w = net.weights.copy()
            for layer, (m, sd) in enumerate(zip(c.init_mean, c.init_std)):
                ids = net.synapse_ids(net[names[layer]], net[names[layer + 1]])
                w[ids] = rng.normal(m, sd, size=ids.size)
            net.weights = w
        return net

    def _make_optimizer(self, net, c):
        return Adam({"weights": net.weights.shape, "pulse_times": net.pulse_times.shape},
                    {"weights": c.learning_rate, "pulse_times": c.learning_rate_pulses},
                    beta1=c.adam_beta1, beta2=c.adam_beta2, epsilon=c.adam_epsilon)

    @staticmethod
    def _check_X(X, n_inputs=None):
        X = np.asarray(X, np.float64)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (examples x inputs), got shape {X.shape}")
        if n_inputs is not None and X.shape[1] != n_inputs:
            raise ValueError(f"X has {X.shape[1]} columns but the network has {n_inputs} inputs")
        if np.isnan(X).any():
            raise ValueError("X contains NaN (use inf for an input that does not spike)")
        return np.ascontiguousarray(X)

    def _threads(self):
        c = getattr(self, "config_", self.config)
        return c.n_threads

    # ------------------------------------------------------------------ inference
    def _simulate_chunks(self, X):
        """Yield (start, times) for chunks of X (no tape)."""
        for s in range(0, X.shape[0], _MAX_CHUNK):
            yield s, simulate(self.network_, X[s:s + _MAX_CHUNK], n_threads=self._threads()).times

    def predict_times(self, X) -> np.ndarray:
        """Output spike times, shape ``(n_examples, n_outputs)`` (``inf`` = silent)."""
        self._check_fitted()
        X = self._check_X(X, self.network_.n_inputs)
        out = np.empty((X.shape[0], self._out_ids.size))
        for s, t in self._simulate_chunks(X):
            out[s:s + t.shape[0]] = t[:, self._out_ids]
        return out

    def predict(self, X) -> np.ndarray:
        """Predicted class per example: the first output to spike; ``-1`` for a tie
        or no output spike."""
        return predict_classes(self.predict_times(X))

    def predict_proba(self, X) -> np.ndarray:
        """Softmax over negative output spike times (:func:`softmax_neg_times`)."""
        return softmax_neg_times(self.predict_times(X))

    def score(self, X, y) -> float:
        """Accuracy (ties and all-silent outputs count as wrong)."""
        return accuracy(self.predict_times(X), y)

    def evaluate(self, X, y) -> dict:
        """Loss, accuracy and spike-time statistics on a data set.

        Returns
        -------
        dict
            ``loss`` (mean), ``accuracy``, ``first_output_time`` (mean earliest
            output spike over examples with one), ``hidden_time`` (mean of all
            hidden spike times), ``hidden_silent`` (fraction of silent hidden
            neuron-examples), ``output_silent`` (fraction of examples with no
            output spike), ``n`` (examples).
        """
        self._check_fitted()
        return self._evaluate(X, y)

    def _evaluate(self, X, y, with_margin=False) -> dict:
        """:meth:`evaluate`; with ``with_margin`` also ``margin``, the smallest lead
        of the target output over the others over all examples (negative if one is
        misclassified, ``-inf`` if a target is silent)."""
        X = self._check_X(X, self.network_.n_inputs)
        y = _check_labels(y, X.shape[0], self._out_ids.size)
        margin = np.inf
        loss_sum = 0.0
        correct = 0
        first_sum, first_n = 0.0, 0
        hid_sum, hid_n, hid_total = 0.0, 0, 0
        for s, t in self._simulate_chunks(X):
            out = t[:, self._out_ids]
            yy = y[s:s + t.shape[0]]
            loss, _, pred = self._loss(out, yy)
            if with_margin and yy.size:
                margin = min(margin, float(_example_margins(out, yy).min()))
            loss_sum += float(loss.sum())
            correct += int((pred == yy).sum())
            first = out.min(axis=1)
            fin = np.isfinite(first)
            first_sum += float(first[fin].sum())
            first_n += int(fin.sum())
            h = t[:, self._hidden_ids]
            hf = np.isfinite(h)
            hid_sum += float(h[hf].sum())
            hid_n += int(hf.sum())
            hid_total += h.size
        n = X.shape[0]
        nan = float("nan")
        stats = {
            "n": n,
            "loss": loss_sum / n if n else nan,
            "accuracy": correct / n if n else nan,
            "first_output_time": first_sum / first_n if first_n else nan,
            "output_silent": 1.0 - first_n / n if n else nan,
            "hidden_time": hid_sum / hid_n if hid_n else nan,
            "hidden_silent": 1.0 - hid_n / hid_total if hid_total else nan,
        }
        if with_margin:
            stats["margin"] = margin if n else nan
        return stats

    # ------------------------------------------------------------------ training
    def _loss(self, out, y):
        """Per-example loss, dL/dt and predicted class, with the configured loss."""
        c = getattr(self, "config_", None) or self.config or TrainConfig()
        if c.loss == "cross_entropy":
            return _loss_core(out, y)
        from .losses import goltz_loss

        loss, dl = goltz_loss(out, y, xi=c.goltz_xi, tau_syn=c.goltz_tau_syn,
                              alpha=c.goltz_alpha, beta=c.goltz_beta)
        return loss, dl, predict_classes(out)

    def _update(self, res, rows, dl, xb):
        """One Adam step from the examples ``rows`` of ``res`` (inputs ``xb``), with
        the mean gradient over those examples; then the weights are clipped at
        ``min_weight`` and the pulse times at 0."""
        c = self.config_
        net = self.network_
        sub = _select_examples(res, rows, lambda r: simulate(
            net, xb[r], record_tape=True, n_threads=c.n_threads))
        everywhere = c.penalty_scope == "all"
        g = backward(net, sub, dl[rows], outputs=self._out_ids,
                     clip_derivative=c.clip_derivative,
                     penalty_no_spike=c.penalty_no_spike if everywhere else 0.0,
                     n_threads=c.n_threads)
        if not everywhere and c.penalty_no_spike:
            # The same penalty, for the output neurons only (hidden silence allowed).
            in_ptr, in_syn = net.incoming()
            silent = (~np.isfinite(sub.times[:, self._out_ids])).sum(axis=0)
            for j, cnt in zip(self._out_ids, silent):
                if cnt:
                    g.weights[in_syn[in_ptr[j]:in_ptr[j + 1]]] -= c.penalty_no_spike * cnt
        inv = 1.0 / len(rows)
        upd = self.optimizer_.step({"weights": g.weights * inv,
                                    "pulse_times": g.pulse_times * inv})
        w = net.weights  # updated in place; simulate() checks the parameters again
        if c.weight_decay:
            # Decoupled (AdamW-style) decay, at the current learning rate.
            w *= 1.0 - self.optimizer_.learning_rates["weights"] * c.weight_decay
        w += upd["weights"]
        if c.min_weight is not None:
            np.maximum(w, c.min_weight, out=w)
        if net.synapse_sign is not None:
            net.project_dale()      # projected gradient: Dale's law after every step
        if net.n_pulses:
            p = net.pulse_times
            p += upd["pulse_times"]
            np.maximum(p, 0.0, out=p, where=np.isfinite(p))
        return 1

    def _train_epoch(self, X, y, order, pbar, margin=0.0):
        """One pass over the examples in ``order``; returns running statistics.

        In misclassified-only mode, an example updates when it is misclassified or,
        with ``margin > 0``, when its target output leads the others by less than
        ``margin`` (or is silent)."""
        c = self.config_
        bs = int(c.batch_size)
        net = self.network_
        out_ids = self._out_ids
        n = order.size
        n_batches = -(-n // bs)
        loss_sum = 0.0
        n_correct = 0
        n_updates = 0
        n_seen = 0
        misclassified_only = c.update_on_misclassified_only
        pos = 0          # next batch to process
        window = 1       # batches simulated per engine call (misclassified-only mode)
        max_window = max(1, _MAX_CHUNK // bs)
        last_refresh = time.monotonic()
        while pos < n_batches:
            hi = min(n_batches, pos + (window if misclassified_only else 1))
            rows = order[pos * bs:hi * bs]
            xb = X[rows]
            res = simulate(net, xb, record_tape=True, n_threads=c.n_threads)
            out = res.times[:, out_ids]
            yb = y[rows]
            loss, dl, pred = self._loss(out, yb)
            wrong = pred != yb
            if misclassified_only:
                if margin > 0:
                    hits = np.flatnonzero(wrong | ~(_example_margins(out, yb) >= margin))
                else:
                    hits = np.flatnonzero(wrong)
                if hits.size:
                    fb = int(hits[0]) // bs               # first batch with a wrong example
                    end = min((fb + 1) * bs, rows.size)
                    sel = hits[hits < end]
                    n_updates += self._update(res, sel, dl, xb)
                    pos += fb + 1
                    window = min(max_window, 2 * (fb + 1))
                else:
                    end = rows.size
                    pos = hi
                    window = min(max_window, 2 * window)
            else:
                end = rows.size
                n_updates += self._update(res, np.arange(rows.size), dl, xb)
                pos = hi
            loss_sum += float(loss[:end].sum())
            n_correct += int(end - wrong[:end].sum())
            n_seen += end
            if pbar is not None:
                pbar.update(end)
                now = time.monotonic()
                if now - last_refresh > 0.25:
                    pbar.set_postfix(loss=f"{loss_sum / n_seen:.4f}",
                                     acc=f"{n_correct / n_seen:.3f}", refresh=False)
                    last_refresh = now
        return {"running_loss": loss_sum / max(n_seen, 1),
                "running_accuracy": n_correct / max(n_seen, 1), "n_updates": n_updates}

    def fit(self, X, y, X_val=None, y_val=None, *, checkpoint_dir=None, resume=False,
            callback=None):
        """Train on spike-time encoded examples.

        Parameters
        ----------
        X : array_like, shape (n_examples, n_inputs)
            Input spike times (``inf`` = no spike).
        y : array_like of int, shape (n_examples,)
            Class of each example, ``0 .. n_outputs - 1``.
        X_val, y_val : array_like, optional
            Held-out data evaluated after every epoch (``test_*`` in ``history_``).
            Not used for training or model selection.
        checkpoint_dir : str or os.PathLike, optional
            Save ``checkpoint.npz`` (network, Adam state, config, metrics per
            epoch) and a human-readable ``checkpoint.json`` there after every
            epoch, atomically.
        resume : bool, "auto" or path, default False
            ``True``: continue from ``checkpoint_dir/checkpoint.npz`` (which must
            exist); ``"auto"``: continue from it if it exists, else start afresh;
            a path: continue from that checkpoint file.  Training then runs up to
            ``config.epochs`` epochs in all, and gives the same network as an
            uninterrupted run.  The checkpoint's configuration must match this
            one except for ``epochs``, ``n_threads`` and ``eval_train``, and the
            training data must be the same.  (``epochs`` is a budget per start: a
            larger value extends the current start only; a start that has already
            given way to the next, or stopped early, stays as it was.)
        callback : callable, optional
            ``callback(classifier, stats)`` after every epoch (``stats``: that
            epoch's history entry; ``classifier.network_``: the network being
            trained).  Returning True stops training (all starts).

        With ``select_best`` or ``n_starts > 1``, ``network_`` is at the end the
        selected network (see :class:`TrainConfig`), and ``selection_`` says which.

        Returns
        -------
        self
        """
        c = self.config
        if c.seed is None:
            c = c.replace(seed=int(np.random.SeedSequence().entropy % (2 ** 63)))
        X = self._check_X(X)
        y = np.asarray(y)
        if y.shape != (X.shape[0],):
            raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}")
        if X.shape[0] == 0:
            raise ValueError("no training examples")
        has_val = X_val is not None
        if has_val:
            if y_val is None:
                raise ValueError("X_val given without y_val")
            X_val = self._check_X(X_val, X.shape[1])
        if self.network is not None:
            n_outputs = self.network["output"].size if "output" in {
                p.name for p in self.network.populations} else None
        else:
            n_outputs = c.n_outputs
        if n_outputs is None:
            yi = _check_labels(y, X.shape[0], np.iinfo(np.int64).max)
            n_outputs = max(2, int(yi.max()) + 1)
        y = _check_labels(y, X.shape[0], n_outputs)
        if has_val:
            y_val = _check_labels(y_val, X_val.shape[0], n_outputs)
        digest = _data_digest(X, y)

        ckpt_path = None
        if checkpoint_dir is not None:
            checkpoint_dir = pathlib.Path(checkpoint_dir)
            checkpoint_dir.mkdir(parents=True, exist_ok=True)
            ckpt_path = checkpoint_dir / "checkpoint.npz"
        resume_from = None
        if resume is True or resume == "auto":
            if ckpt_path is None:
                raise ValueError("resume=True needs checkpoint_dir")
            if ckpt_path.is_file():
                resume_from = ckpt_path
            elif resume is True:
                raise FileNotFoundError(f"cannot resume: checkpoint file {ckpt_path} not found")
        elif resume not in (False, None):
            resume_from = pathlib.Path(resume)

        self.config_ = c
        need_train_eval = bool(c.eval_train or c.select_best or c.margin_refinement
                               or c.n_starts > 1)

        def fresh_network(start):
            if self.network is not None:
                net = self.network.copy()
            else:
                net = self._init_network(X.shape[1], n_outputs, _start_seed(c.seed, start))
            if c.min_weight is not None:
                net.weights = np.maximum(net.weights, c.min_weight)
            return net

        if resume_from is not None:
            net, meta, arrays = load_checkpoint(resume_from)
            saved = meta.get("config")
            if saved is None:
                raise CheckpointError(f"{resume_from}: holds no training state (no config)")
            saved = TrainConfig.from_dict(saved)
            ignore = {"epochs", "n_threads", "eval_train"}
            diff = [f.name for f in dataclasses.fields(TrainConfig)
                    if f.name not in ignore and getattr(saved, f.name) != getattr(c, f.name)
                    and not (f.name == "seed" and self.config.seed is None)]
            if diff:
                raise ValueError(
                    f"cannot resume from {resume_from}: its configuration differs in "
                    + ", ".join(f"{k} (checkpoint {getattr(saved, k)!r}, now {getattr(c, k)!r})"
                                for k in diff))
            if meta.get("extra", {}).get("data_digest") not in (None, digest):
                raise ValueError(f"cannot resume from {resume_from}: it was trained on "
                                 "different training data")
            self.config_ = c = saved.replace(epochs=c.epochs, n_threads=c.n_threads,
                                             eval_train=c.eval_train)
            need_train_eval = bool(c.eval_train or c.select_best or c.margin_refinement
                                   or c.n_starts > 1)
            try:
                self._restore_state(net, meta, arrays)
            except (KeyError, ValueError, TypeError) as exc:
                raise CheckpointError(f"{resume_from}: corrupt training state ({exc})") from None
            if self.network_.n_inputs != X.shape[1] or self._out_ids.size != n_outputs:
                raise ValueError(f"checkpoint network has {self.network_.n_inputs} inputs and "
                                 f"{self._out_ids.size} outputs; the data needs {X.shape[1]} "
                                 f"and {n_outputs}")
            self.optimizer_ = self._make_optimizer(self.network_, c)
            try:
                self.optimizer_.load_state(
                    {k[5:]: v for k, v in arrays.items() if k.startswith("adam_")},
                    meta["adam_step"])
            except (KeyError, ValueError, TypeError) as exc:
                raise CheckpointError(f"{resume_from}: corrupt optimizer state ({exc})") from None
            self.history_ = _restore_history(meta["history"])
            self.n_epochs_ = int(meta["epoch"])
        else:
            net = fresh_network(0)
            self._set_network(net)
            if self.network_.n_inputs != X.shape[1]:
                raise ValueError(f"X has {X.shape[1]} columns but the network has "
                                 f"{self.network_.n_inputs} inputs")
            self.optimizer_ = self._make_optimizer(net, c)
            self.history_ = {k: [] for k in _HISTORY_KEYS}
            self.n_epochs_ = 0
            self._state = _new_state()
            self._start_best_net = None
            self._best_net = None

        pbar_cls = None
        if self.verbose:
            try:
                from tqdm import tqdm as pbar_cls
            except ImportError:  # pragma: no cover - tqdm is a dependency
                pbar_cls = None
        nan_stats = dict.fromkeys(("loss", "accuracy", "first_output_time", "hidden_time",
                                   "hidden_silent", "margin"), float("nan"))
        n = X.shape[0]
        st = self._state
        while not st["done"]:
            if st["finished"]:
                # The previous start ended without classifying the training set: keep
                # its result if it is the best so far, and begin the next start.
                self._end_start()
                st["start"] += 1
                st.update(start_epoch=0, refining=False, finished=False, current=None,
                          start_best=None)
                self._start_best_net = None
                net = fresh_network(st["start"])
                self._set_network(net)
                self.optimizer_ = self._make_optimizer(net, c)
            k, epoch = st["start"], st["start_epoch"]
            if (self.n_epochs_ if c.shared_budget else epoch) >= c.epochs:
                break
            seed = _start_seed(c.seed, k)
            margin = c.update_margin if (st["refining"] or not c.margin_refinement) else 0.0
            t0 = time.perf_counter()
            rng = np.random.default_rng([seed, 1, epoch])
            order = rng.permutation(n) if c.shuffle else np.arange(n)
            pbar = None
            if pbar_cls is not None:
                desc = f"epoch {epoch + 1}/{c.epochs}"
                if c.n_starts > 1:
                    desc = f"start {k + 1}/{c.n_starts} " + desc
                pbar = pbar_cls(total=n, desc=desc, unit="ex", leave=True, file=sys.stderr,
                                dynamic_ncols=True)
            # Learning-rate schedule: a function of the epoch within the start, so
            # resuming from a checkpoint continues it exactly.
            for name, lr in (("weights", c.learning_rate), ("pulse_times", c.learning_rate_pulses)):
                self.optimizer_.learning_rates[name] = lr * c.lr_decay ** epoch
            try:
                stats = self._train_epoch(X, y, order, pbar, margin)
                tr = self._evaluate(X, y, with_margin=True) if need_train_eval else nan_stats
                te = self._evaluate(X_val, y_val) if has_val else nan_stats
                entry = {
                    "epoch": self.n_epochs_ + 1,
                    "loss": tr["loss"], "train_accuracy": tr["accuracy"],
                    "test_loss": te["loss"], "test_accuracy": te["accuracy"],
                    "running_loss": stats["running_loss"],
                    "running_accuracy": stats["running_accuracy"],
                    "n_updates": stats["n_updates"], "adam_step": self.optimizer_.t,
                    "train_first_output_time": tr["first_output_time"],
                    "train_hidden_time": tr["hidden_time"],
                    "train_hidden_silent": tr["hidden_silent"],
                    "test_first_output_time": te["first_output_time"],
                    "test_hidden_time": te["hidden_time"],
                    "test_hidden_silent": te["hidden_silent"],
                    "pulse_times": self.network_.pulse_times.tolist(),
                    "time_s": time.perf_counter() - t0,
                    "start": k, "start_epoch": epoch + 1, "train_margin": tr["margin"],
                }
                if pbar is not None:
                    post = {"loss": f"{entry['loss']:.4f}",
                            "acc": f"{entry['train_accuracy']:.3f}"}
                    if has_val:
                        post["test_acc"] = f"{entry['test_accuracy']:.3f}"
                    pbar.set_postfix(post, refresh=True)
            finally:
                if pbar is not None:
                    pbar.close()
            for key in _HISTORY_KEYS:
                self.history_[key].append(entry[key])
            self.n_epochs_ += 1
            st["start_epoch"] = epoch + 1

            # Bookkeeping of the selection (training data only).
            score = {"epoch": entry["epoch"], "start_epoch": epoch + 1,
                     "train_accuracy": tr["accuracy"], "train_margin": tr["margin"]}
            st["current"] = score
            if c.select_best and (st["start_best"] is None
                                  or _better(score, st["start_best"], margin=True)):
                st["start_best"] = score
                self._start_best_net = self.network_.copy()
            rule_changes = False
            if c.margin_refinement and not st["refining"] and tr["accuracy"] >= 1.0:
                st["refining"] = True
                rule_changes = c.update_margin > 0
            stop = bool(c.early_stop and stats["n_updates"] == 0 and not rule_changes)
            spent = self.n_epochs_ >= c.epochs if c.shared_budget else False
            give_up = (c.start_patience is not None and not st["refining"]
                       and st["start_epoch"] >= c.start_patience)
            if stop or spent or give_up or st["start_epoch"] >= c.epochs:
                kept = st["start_best"] if c.select_best else st["current"]
                last_start = (k + 1 >= c.n_starts or kept["train_accuracy"] >= 1.0
                              or spent)
                if not last_start:
                    st["finished"] = True
                elif stop or spent:
                    st["done"] = True
            result = self._result_network()
            if ckpt_path is not None:
                self._write_checkpoint(ckpt_path, result, self.network_, digest)
            if callback is not None and callback(self, entry):
                break
        self._train_network = self.network_
        self._set_network(self._result_network())
        self.selection_, self.starts_ = self._selection()
        return self

    # ------------------------------------------------------------------ starts, selection
    def _kept_of_current_start(self):
        """(network, score) the current start would contribute, or (None, None)."""
        st = self._state
        if self.config_.select_best:
            return self._start_best_net, st["start_best"]
        if st["current"] is None:
            return None, None
        return self.network_, st["current"]

    def _result_network(self):
        """The network fit() returns if training ended now."""
        net, score = self._kept_of_current_start()
        best = self._state["best"]
        if score is not None and (best is None or _better(score, best)):
            return net
        return self._best_net if best is not None else self.network_

    def _end_start(self):
        """Fold the current (finished) start into the best of the starts so far."""
        st = self._state
        net, score = self._kept_of_current_start()
        summary = self._start_summary()
        st["starts"].append(summary)
        if score is not None and (st["best"] is None or _better(score, st["best"])):
            st["best"] = dict(score, start=st["start"])
            self._best_net = net.copy()

    def _start_summary(self):
        st = self._state
        _, score = self._kept_of_current_start()
        k = st["start"]
        return {"start": k, "seed": _start_seed(self.config_.seed, k),
                "epochs": st["start_epoch"], "refined": st["refining"],
                **({} if score is None else {
                    "kept_epoch": score["start_epoch"],
                    "train_accuracy": score["train_accuracy"],
                    "train_margin": score["train_margin"]})}

    def _selection(self):
        """(``selection_``, ``starts_``) of the fitted classifier."""
        st = self._state
        starts = [dict(s) for s in st["starts"]]
        if not st["finished"]:
            starts.append(self._start_summary())
        _, score = self._kept_of_current_start()
        best = st["best"]
        if score is not None and (best is None or _better(score, best)):
            sel = dict(score, start=st["start"])
        else:
            sel = None if best is None else dict(best)
        return sel, starts

    # ------------------------------------------------------------------ persistence
    def _write_checkpoint(self, path, result, train, digest=None):
        path = pathlib.Path(path)
        state = getattr(self, "_state", None)
        extra_arrays = {}
        if state is not None:
            if train is not None and train is not result:
                extra_arrays.update(train_weights=train.weights,
                                    train_pulse_times=train.pulse_times)
            for prefix, other in (("start_best_", getattr(self, "_start_best_net", None)),
                                  ("best_", getattr(self, "_best_net", None))):
                if other is not None:
                    extra_arrays.update({prefix + "weights": other.weights,
                                         prefix + "pulse_times": other.pulse_times})
        meta = save_checkpoint(path, result, config=getattr(self, "config_", self.config),
                               optimizer=getattr(self, "optimizer_", None),
                               epoch=getattr(self, "n_epochs_", 0),
                               history=getattr(self, "history_", None),
                               extra={"data_digest": digest} if digest else None,
                               state=state, state_arrays=extra_arrays)
        text = json.dumps(meta, indent=1, allow_nan=True).encode()
        _atomic_write(path.with_suffix(".json"), lambda f: f.write(text))

    def save(self, path, *, _digest=None):
        """Save the fitted state to a checkpoint file (``.npz``) atomically, and a
        human-readable copy of its metadata next to it (same name, ``.json``).

        The file's network is ``network_`` (the selected one); the network being
        trained, the selection bookkeeping and Adam's state are stored beside it, so
        that :meth:`fit` can resume from the file."""
        self._check_fitted()
        self._write_checkpoint(path, self.network_, getattr(self, "_train_network", None),
                               _digest)

    def _restore_state(self, net, meta, arrays):
        """Training state from a checkpoint: sets ``network_`` to the network being
        trained and restores the selection bookkeeping.  ``net`` is the file's
        (selected) network."""
        saved = meta.get("train_state")
        state = _new_state()
        if saved is None:       # a checkpoint without starts or selection
            state["start_epoch"] = int(meta["epoch"])
        else:
            unknown = set(saved) - set(state)
            if unknown:
                raise ValueError(f"unknown training state entries {sorted(unknown)}")
            state.update(saved)

        def with_arrays(prefix):
            if prefix + "weights" not in arrays:
                return None
            other = net.copy()
            other.weights = arrays[prefix + "weights"]
            other.pulse_times = arrays[prefix + "pulse_times"]
            return other

        train = with_arrays("train_")
        self._state = state
        self._set_network(train if train is not None else net)
        self._start_best_net = with_arrays("start_best_")
        self._best_net = with_arrays("best_")
        for key, other in (("start_best", self._start_best_net), ("best", self._best_net)):
            if (state[key] is None) != (other is None):
                raise ValueError(f"the {key.replace('_', ' ')} network is missing")

    @classmethod
    def load(cls, path, *, verbose=False) -> "SpikingClassifier":
        """A classifier restored from a checkpoint file (network, optimizer, history).

        ``network_`` is the file's network (the selected one, see
        :attr:`TrainConfig.select_best` and :attr:`TrainConfig.n_starts`)."""
        net, meta, arrays = load_checkpoint(path)
        cfg = TrainConfig.from_dict(meta["config"]) if meta.get("config") else TrainConfig()
        clf = cls(cfg, verbose=verbose)
        clf.config_ = cfg
        try:
            clf._restore_state(net, meta if "epoch" in meta else {**meta, "epoch": 0}, arrays)
        except (KeyError, ValueError, TypeError) as exc:
            raise CheckpointError(f"{path}: corrupt training state ({exc})") from None
        clf.optimizer_ = clf._make_optimizer(clf.network_, cfg)
        if meta.get("adam_step") is not None:
            try:
                clf.optimizer_.load_state(
                    {k[5:]: v for k, v in arrays.items() if k.startswith("adam_")},
                    meta["adam_step"])
            except (KeyError, ValueError) as exc:
                raise CheckpointError(f"{path}: corrupt optimizer state ({exc})") from None
        clf.history_ = _restore_history(meta.get("history", {}))
        clf.n_epochs_ = int(meta.get("epoch", 0))
        clf.selection_, clf.starts_ = clf._selection()
        clf._train_network = clf.network_
        clf._set_network(net)
        return clf


def _new_state() -> dict:
    """Bookkeeping of starts and selection during :meth:`SpikingClassifier.fit`
    (saved in checkpoints as ``meta["train_state"]``)."""
    return {
        "start": 0,            # current start
        "start_epoch": 0,      # epochs done in the current start
        "refining": False,     # in the margin refinement phase (margin_refinement)
        "finished": False,     # the current start has ended; the next one begins next
        "done": False,         # training has ended for good (early stop)
        "current": None,       # score of the current start's latest epoch
        "start_best": None,    # score of its best epoch (select_best)
        "best": None,          # score of the best finished start (n_starts > 1)
        "starts": [],          # summaries of the finished starts
    }


def _better(a, b, margin=False) -> bool:
    """Is score ``a`` better than ``b``: higher training accuracy, or (``margin``)
    the same accuracy and a larger training margin."""
    if a["train_accuracy"] != b["train_accuracy"]:
        return bool(a["train_accuracy"] > b["train_accuracy"])
    return bool(margin and a["train_margin"] > b["train_margin"])
