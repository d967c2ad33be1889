"""The estimator: :class:`SpikingClassifier` (``fit`` / ``predict`` / ``score``).

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

Determinism
-----------
All randomness comes from ``TrainConfig.seed``: the initial network from the stream
``[seed, 0]``, the shuffling of epoch ``e`` from ``[seed, 1, e]`` (start ``k > 0`` of
a fit with ``n_starts > 1`` uses the seed ``SeedSequence([seed, 77, k])`` instead).  The
engine is bit-identical for any thread count and any batching of examples, so the
same seed and data give the same trained network, bit for bit, and resuming from a
checkpoint gives the same network as training without interruption.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import sys
import time

import numpy as np

from .._atomic import atomic_write
from ..layers import feedforward
from ..losses import _check_labels, cross_entropy_core, goltz_loss
from ..network import ALPHA, SOURCE_KINDS, Network
from .adam import Adam
from .backend import LocalBackend
from .checkpoint import CheckpointError, data_digest, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .history import HISTORY_KEYS, restore_history
from .metrics import accuracy, example_margins, predict_classes, softmax_neg_times
from .selection import FitState, Score, start_seed

__all__ = ["SpikingClassifier"]

# Largest number of examples simulated in one engine call during training and
# evaluation (bounds memory: the tape holds a row of floats per neuron per example).
_MAX_CHUNK = 1024


def _output_and_hidden(net: Network):
    try:
        out = net["output"]
    except KeyError:
        raise ValueError("the network needs a population named 'output' (its neurons are "
                         "the classes, in order)") from None
    if out.kind in SOURCE_KINDS:
        raise ValueError("population 'output' must be a neuron population, not a source")
    out_ids = out.ids
    hidden = np.flatnonzero(net.kind == ALPHA)
    hidden = hidden[(hidden < out.start) | (hidden >= out.stop)]
    return out_ids, hidden


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
    backend : object or None
        Where batches are simulated and differentiated: None (the default) or
        :class:`~eventsim.training.backend.LocalBackend` for this process,
        :class:`eventsim.distributed.DaskBackend` for the workers of a Dask
        cluster (same results).  Set it on the instance; it is not a
        hyperparameter, so ``get_params`` leaves it out.
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

    backend = None

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

    def _backend(self):
        return _LOCAL if self.backend is None else self.backend

    # ------------------------------------------------------------------ inference
    def _simulate_chunks(self, X):
        """Yield (start, times) for chunks of X (no tape)."""
        for s in range(0, X.shape[0], _MAX_CHUNK):
            yield s, self._backend().simulate(self.network_, X[s:s + _MAX_CHUNK],
                                              n_threads=self._threads()).times

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
        """Class probabilities: the softmax over negative output spike times that the
        training loss uses (:func:`softmax_neg_times`; with ``loss="goltz"`` the times
        are divided by ``goltz_xi * goltz_tau_syn``, as in that loss)."""
        c = self.config_ if hasattr(self, "config_") else self.config
        temperature = c.goltz_xi * c.goltz_tau_syn if c.loss == "goltz" else 1.0
        return softmax_neg_times(self.predict_times(X), temperature)

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
            output spike), ``margin`` (the smallest lead of the target output's
            spike over every other output's, over all examples: negative when an
            example is misclassified, ``-inf`` when a target is silent; a tiny
            positive margin means 100% accuracy that hinges on that time
            difference), ``n`` (examples).
        """
        self._check_fitted()
        return self._evaluate(X, y, with_margin=True)

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
                margin = min(margin, float(example_margins(out, yy).min()))
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
            return cross_entropy_core(out, y)
        loss, dl = goltz_loss(out, y, xi=c.goltz_xi, tau_syn=c.goltz_tau_syn,
                              alpha=c.goltz_alpha, beta=c.goltz_beta)
        return loss, dl, predict_classes(out)

    def _update(self, res, rows, dl):
        """One Adam step from the examples ``rows`` of ``res``, with
        the mean gradient over those examples; then the weights are clipped at
        ``min_weight`` and the pulse times at 0."""
        c = self.config_
        net = self.network_
        everywhere = c.penalty_scope == "all"
        g = self._backend().gradient(net, res, rows, dl[rows], outputs=self._out_ids,
                                     clip_derivative=c.clip_derivative,
                                     penalty_no_spike=c.penalty_no_spike if everywhere else 0.0,
                                     n_threads=c.n_threads, keys=("weights", "pulse_times"))
        if not everywhere and c.penalty_no_spike:
            # The same penalty, for the output neurons only (hidden silence allowed).
            in_ptr, in_syn = net.incoming()
            silent = (~np.isfinite(res.times[rows][:, self._out_ids])).sum(axis=0)
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
        if c.rate_control:
            self._control_rates(res, rows, w)
        if c.min_weight is not None:
            np.maximum(w, c.min_weight, out=w)
        if net.synapse_sign is not None:
            net.project_dale()      # projected gradient: Dale's law after every step
        if net.n_pulses:
            p = net.pulse_times
            p += upd["pulse_times"]
            np.maximum(p, 0.0, out=p, where=np.isfinite(p))

    def _control_rates(self, res, rows, w):
        """``TrainConfig.rate_control``: shift every incoming weight of each hidden
        neuron by ``rate_control * lr * (rate_target - f)``, with ``f`` the fraction of
        its population's neurons that spiked over the examples ``rows`` of ``res``."""
        c = self.config_
        net = self.network_
        hid = self._hidden_ids
        if not hid.size:
            return
        pop = net.population_index[hid]
        active = np.isfinite(res.times[rows][:, hid]).mean(axis=0)
        n_pop = int(pop.max()) + 1
        frac = np.bincount(pop, active, n_pop) / np.maximum(np.bincount(pop, None, n_pop), 1)
        shift = np.zeros(net.n_neurons)
        lr = self.optimizer_.learning_rates["weights"]
        shift[hid] = c.rate_control * lr * (c.rate_target - frac[pop])
        w += shift[net.post]

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
            res = self._backend().simulate(net, xb, record_tape=True, n_threads=c.n_threads)
            out = res.times[:, out_ids]
            yb = y[rows]
            loss, dl, pred = self._loss(out, yb)
            wrong = pred != yb
            if misclassified_only:
                if margin > 0:
                    hits = np.flatnonzero(wrong | ~(example_margins(out, yb) >= margin))
                else:
                    hits = np.flatnonzero(wrong)
                if hits.size:
                    fb = int(hits[0]) // bs               # first batch with a wrong example
                    end = min((fb + 1) * bs, rows.size)
                    sel = hits[hits < end]
                    self._update(res, sel, dl)
                    n_updates += 1
                    pos += fb + 1
                    window = min(max_window, 2 * (fb + 1))
                else:
                    end = rows.size
                    pos = hi
                    window = min(max_window, 2 * window)
            else:
                end = rows.size
                self._update(res, np.arange(rows.size), dl)
                n_updates += 1
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
        c = self._resolved_config()
        data = self._check_fit_data(c, X, y, X_val, y_val)
        ckpt_path, resume_from = _checkpoint_paths(checkpoint_dir, resume)
        if resume_from is not None:
            self._resume(resume_from, c, data)
        else:
            self._begin(c, data)
        progress = self._progress(data)
        try:
            while self._next_epoch_allowed(data):
                entry = self._run_epoch(data, progress)
                self._record(entry)
                self._update_selection(entry)
                if ckpt_path is not None:
                    self._write_checkpoint(ckpt_path, self._current_result(), self.network_,
                                           data.digest)
                if callback is not None and callback(self, entry):
                    break
        finally:
            if progress is not None:
                progress.close()
        self._finish()
        return self

    # ------------------------------------------------------------------ fit, step by step
    def _resolved_config(self) -> TrainConfig:
        """The configuration of this fit: ``config`` with a drawn seed if it has none."""
        c = self.config
        if c.seed is None:
            c = c.replace(seed=int(np.random.SeedSequence().entropy % (2 ** 63)))
        return c

    def _check_fit_data(self, c, X, y, X_val, y_val) -> "_FitData":
        """Validated training (and held-out) data, the number of classes and the
        training data's digest."""
        X = self._check_X(X)
        y = np.asarray(y)
        if y.shape != (X.shape[0],):
            raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}")
        if X.shape[0] == 0:
            raise ValueError("no training examples")
        if X_val is not None:
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
        if X_val is not None:
            y_val = _check_labels(y_val, X_val.shape[0], n_outputs)
        return _FitData(X, y, X_val, y_val, n_outputs, data_digest(X, y))

    def _fresh_network(self, data, start) -> Network:
        """The initial network of start ``start``."""
        c = self.config_
        if self.network is not None:
            net = self.network.copy()
        else:
            net = self._init_network(data.X.shape[1], data.n_outputs, start_seed(c.seed, start))
        if c.min_weight is not None:
            net.weights = np.maximum(net.weights, c.min_weight)
        return net

    def _begin(self, c, data):
        """Set up a fit from scratch."""
        self.config_ = c
        net = self._fresh_network(data, 0)
        self._set_network(net)
        if self.network_.n_inputs != data.X.shape[1]:
            raise ValueError(f"X has {data.X.shape[1]} columns but the network has "
                             f"{self.network_.n_inputs} inputs")
        self.optimizer_ = self._make_optimizer(net, c)
        self.history_ = {k: [] for k in HISTORY_KEYS}
        self.n_epochs_ = 0
        self._state = FitState()

    def _resume(self, path, c, data):
        """Set up a fit that continues from the checkpoint ``path``."""
        net, meta, arrays = load_checkpoint(path)
        saved = meta.get("config")
        if saved is None:
            raise CheckpointError(f"{path}: holds no training state (no config)")
        saved = TrainConfig.from_dict(saved)
        ignore = {"epochs", "n_threads", "eval_train"}
        diff = [f.name for f in dataclasses.fields(TrainConfig)
                if f.name not in ignore and getattr(saved, f.name) != getattr(c, f.name)
                and not (f.name == "seed" and self.config.seed is None)]
        if diff:
            raise ValueError(
                f"cannot resume from {path}: its configuration differs in "
                + ", ".join(f"{k} (checkpoint {getattr(saved, k)!r}, now {getattr(c, k)!r})"
                            for k in diff))
        if meta.get("extra", {}).get("data_digest") not in (None, data.digest):
            raise ValueError(f"cannot resume from {path}: it was trained on "
                             "different training data")
        self.config_ = c = saved.replace(epochs=c.epochs, n_threads=c.n_threads,
                                         eval_train=c.eval_train)
        try:
            self._restore_state(net, meta, arrays)
        except (KeyError, ValueError, TypeError) as exc:
            raise CheckpointError(f"{path}: corrupt training state ({exc})") from None
        if self.network_.n_inputs != data.X.shape[1] or self._out_ids.size != data.n_outputs:
            raise ValueError(f"checkpoint network has {self.network_.n_inputs} inputs and "
                             f"{self._out_ids.size} outputs; the data needs {data.X.shape[1]} "
                             f"and {data.n_outputs}")
        self.optimizer_ = self._make_optimizer(self.network_, c)
        try:
            self.optimizer_.load_state(
                {k[5:]: v for k, v in arrays.items() if k.startswith("adam_")},
                meta["adam_step"])
        except (KeyError, ValueError, TypeError) as exc:
            raise CheckpointError(f"{path}: corrupt optimizer state ({exc})") from None
        self.history_ = restore_history(meta["history"])
        self.n_epochs_ = int(meta["epoch"])

    def _progress(self, data):
        """The progress bars of this fit (``verbose``), or None."""
        if not self.verbose:
            return None
        try:
            from tqdm import tqdm
        except ImportError:  # pragma: no cover - tqdm is a dependency
            return None
        return _Progress(tqdm, self.config_, data.X.shape[0], self._state, self.n_epochs_)

    def _next_epoch_allowed(self, data) -> bool:
        """Is there another epoch to train?  Begins the next start if the current
        one has ended."""
        c, st = self.config_, self._state
        if st.done:
            return False
        if st.finished:
            # The previous start ended without classifying the training set: keep
            # its result if it is the best so far, and begin the next start.
            st.end_start(c.seed, self.network_, c.select_best)
            st.begin_next_start()
            net = self._fresh_network(data, st.start)
            self._set_network(net)
            self.optimizer_ = self._make_optimizer(net, c)
        return (self.n_epochs_ if c.shared_budget else st.start_epoch) < c.epochs

    def _needs_train_eval(self) -> bool:
        c = self.config_
        return bool(c.eval_train or c.select_best or c.margin_refinement or c.n_starts > 1)

    def _run_epoch(self, data, progress) -> dict:
        """Train one epoch and evaluate; returns its ``history_`` entry."""
        c, st = self.config_, self._state
        k, epoch = st.start, st.start_epoch
        margin = c.update_margin if (st.refining or not c.margin_refinement) else 0.0
        t0 = time.perf_counter()
        rng = np.random.default_rng([start_seed(c.seed, k), 1, epoch])
        n = data.X.shape[0]
        order = rng.permutation(n) if c.shuffle else np.arange(n)
        pbar = None if progress is None else progress.epoch_bar(k, epoch)
        # Learning-rate schedule: a function of the epoch within the start, so
        # resuming from a checkpoint continues it exactly.
        for name, lr in (("weights", c.learning_rate), ("pulse_times", c.learning_rate_pulses)):
            self.optimizer_.learning_rates[name] = lr * c.lr_decay ** epoch
        try:
            stats = self._train_epoch(data.X, data.y, order, pbar, margin)
            tr = (self._evaluate(data.X, data.y, with_margin=True) if self._needs_train_eval()
                  else _NAN_STATS)
            te = self._evaluate(data.X_val, data.y_val) if data.has_val else _NAN_STATS
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
        finally:
            if pbar is not None:
                pbar.close()
        if progress is not None:
            post = {"loss": f"{entry['loss']:.4f}", "acc": f"{entry['train_accuracy']:.3f}"}
            if data.has_val:
                post["test_acc"] = f"{entry['test_accuracy']:.3f}"
            progress.end_epoch(post)
        return entry

    def _record(self, entry):
        """Append an epoch's entry to ``history_`` and count it."""
        for key in HISTORY_KEYS:
            self.history_[key].append(entry[key])
        self.n_epochs_ += 1
        self._state.start_epoch += 1

    def _update_selection(self, entry):
        """Selection bookkeeping after an epoch (training data only), and whether the
        current start, or the whole fit, ends here."""
        c, st = self.config_, self._state
        score = Score(entry["epoch"], st.start_epoch, entry["train_accuracy"],
                      entry["train_margin"])
        st.record_epoch(score, self.network_, c.select_best)
        rule_changes = False
        if c.margin_refinement and not st.refining and score.train_accuracy >= 1.0:
            st.refining = True
            rule_changes = c.update_margin > 0
        stop = bool(c.early_stop and entry["n_updates"] == 0 and not rule_changes)
        spent = self.n_epochs_ >= c.epochs if c.shared_budget else False
        give_up = (c.start_patience is not None and not st.refining
                   and st.start_epoch >= c.start_patience)
        if stop or spent or give_up or st.start_epoch >= c.epochs:
            kept = st.start_best if c.select_best else st.current
            last_start = st.start + 1 >= c.n_starts or kept.train_accuracy >= 1.0 or spent
            if not last_start:
                st.finished = True
            elif stop or spent:
                st.done = True

    def _current_result(self) -> Network:
        """The network fit() would return if training ended now."""
        return self._state.result_network(self.network_, self.config_.select_best)

    def _finish(self):
        """Make the selected network ``network_`` and fill ``selection_`` and ``starts_``."""
        c = self.config_
        self._train_network = self.network_
        self._set_network(self._current_result())
        self.selection_, self.starts_ = self._state.selection(c.seed, self._train_network,
                                                              c.select_best)

    # ------------------------------------------------------------------ persistence
    def _write_checkpoint(self, path, result, train, digest=None):
        path = pathlib.Path(path)
        state = getattr(self, "_state", None)
        extra_arrays = {}
        if state is not None:
            if train is not None and train is not result:
                extra_arrays.update(train_weights=train.weights,
                                    train_pulse_times=train.pulse_times)
            extra_arrays.update(state.network_arrays())
        meta = save_checkpoint(path, result, config=getattr(self, "config_", self.config),
                               optimizer=getattr(self, "optimizer_", None),
                               epoch=getattr(self, "n_epochs_", 0),
                               history=getattr(self, "history_", None),
                               extra={"data_digest": digest} if digest else None,
                               state=None if state is None else state.to_dict(),
                               state_arrays=extra_arrays)
        text = json.dumps(meta, indent=1, allow_nan=True).encode()
        atomic_write(path.with_suffix(".json"), lambda f: f.write(text))

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
        if saved is None:       # a checkpoint without starts or selection
            state = FitState(start_epoch=int(meta["epoch"]))
        else:
            if not isinstance(saved, dict):
                raise ValueError("the training state is not a mapping")
            state = FitState.from_dict(saved)
        train = None
        if "train_weights" in arrays:
            train = net.copy()
            train.weights = arrays["train_weights"]
            train.pulse_times = arrays["train_pulse_times"]
        state.restore_networks(net, arrays)
        self._state = state
        self._set_network(train if train is not None else net)

    @classmethod
    def load(cls, path, *, verbose=False) -> "SpikingClassifier":
        """A classifier restored from a checkpoint file (network, optimizer, history).

        ``network_`` is the file's network (the selected one, see
        :attr:`TrainConfig.select_best` and :attr:`TrainConfig.n_starts`)."""
        net, meta, arrays = load_checkpoint(path)
        try:
            cfg = TrainConfig.from_dict(meta["config"]) if meta.get("config") else TrainConfig()
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"{path}: corrupt training configuration ({exc})") from None
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
        clf.history_ = restore_history(meta.get("history", {}))
        clf.n_epochs_ = int(meta.get("epoch", 0))
        clf._train_network = clf.network_
        clf.selection_, clf.starts_ = clf._state.selection(cfg.seed, clf.network_,
                                                           cfg.select_best)
        clf._set_network(net)
        return clf


class _Progress:
    """One bar for the fit (the epochs of the current start, or of the whole fit with
    a shared budget), and below it one bar per epoch that disappears when the epoch
    ends, so a run leaves a single line behind."""

    def __init__(self, tqdm, config, n_examples, state, epochs_done):
        self._tqdm, self._c, self._n = tqdm, config, n_examples
        self._start = state.start
        done = epochs_done if config.shared_budget else state.start_epoch
        self._outer = tqdm(total=config.epochs, initial=done, desc=self._desc(state.start),
                           unit="epoch", leave=True, file=sys.stderr, dynamic_ncols=True)

    def _desc(self, start):
        c = self._c
        return f"start {start + 1}/{c.n_starts}" if c.n_starts > 1 else "training"

    def epoch_bar(self, start, epoch):
        """The bar of epoch ``epoch`` (0-based, within start ``start``)."""
        if start != self._start:
            self._start = start
            self._outer.set_description(self._desc(start), refresh=False)
            if not self._c.shared_budget:
                self._outer.reset(total=self._c.epochs)
        return self._tqdm(total=self._n, desc=f"epoch {epoch + 1}", unit="ex", leave=False,
                          file=sys.stderr, dynamic_ncols=True)

    def end_epoch(self, postfix):
        self._outer.set_postfix(postfix, refresh=False)
        self._outer.update(1)

    def close(self):
        self._outer.close()


_LOCAL = LocalBackend()

_NAN_STATS = dict.fromkeys(("loss", "accuracy", "first_output_time", "hidden_time",
                            "hidden_silent", "margin"), float("nan"))


@dataclasses.dataclass
class _FitData:
    """The validated data of one fit."""

    X: np.ndarray
    y: np.ndarray
    X_val: np.ndarray | None
    y_val: np.ndarray | None
    n_outputs: int
    digest: str

    @property
    def has_val(self) -> bool:
        return self.X_val is not None


def _checkpoint_paths(checkpoint_dir, resume):
    """(file to write after every epoch, file to resume from), either may be None."""
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
    return ckpt_path, resume_from
