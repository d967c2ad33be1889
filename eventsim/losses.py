"""Loss functions on output spike times, and a registry of them by name.

Every loss here has the signature and return convention of :func:`cross_entropy`::

    loss, dL_dt = fn(out_times, labels, **options)

* ``out_times`` -- array_like, shape ``(n_examples, n_outputs)``; ``inf`` = silent.
* ``labels`` -- integer class indices, shape ``(n_examples,)``.
* ``loss`` -- ndarray ``(n_examples,)``, the per-example loss (not averaged).
* ``dL_dt`` -- ndarray ``(n_examples, n_outputs)``, the exact derivative of each
  example's loss with respect to its output spike times (not divided by the number
  of examples); zero for silent outputs.

so a trainer can take either from :data:`LOSSES` (or :func:`get_loss`):

* ``"cross_entropy"`` -- :func:`cross_entropy`, the loss of Comsa et al. 2020.
* ``"goltz"`` -- :func:`goltz_loss`, the loss of Göltz et al. 2021 (fastAndDeep
  ``src/utils.py::LossFunction``).
* ``"ttfs_cross_entropy"`` -- :func:`ttfs_cross_entropy`, the first-spike loss of
  Wunderlich & Pehle 2021 (EventProp), with its regulariser.

The derivations are in ``docs/``.  This module depends on numpy and its compiled
kernels (``_losses``) only, so the trainer (:mod:`eventsim.training`) can import it
without a cycle.
"""

from __future__ import annotations

import functools
import math
import numbers

import numpy as np

from . import _losses

__all__ = ["LOSSES", "GOLTZ_SILENT_LOSS", "MAX_EXAMPLE_LOSS", "cross_entropy", "goltz_loss",
           "ttfs_cross_entropy", "get_loss"]

#: Per-example loss of :func:`goltz_loss` when the label neuron is silent
#: (fastAndDeep: ``total[true_label_times == np.inf] = 100.``); no gradient.
GOLTZ_SILENT_LOSS = 100.0

#: Cap on the per-example loss of :func:`cross_entropy`: ``-ln(1e-8)``, the loss the
#: reference reports when the target neuron is silent (it evaluates ``-ln(p + 1e-8)``).
MAX_EXAMPLE_LOSS = -math.log(1e-8)


# ---------------------------------------------------------------------------- checks
def _check_times(out_times):
    t = np.asarray(out_times, np.float64)
    if t.ndim != 2 or t.shape[1] == 0:
        raise ValueError(f"out_times must have shape (n_examples, n_outputs), got {t.shape}")
    if not (t > -np.inf).all():             # one pass for both (NaN compares false)
        if np.isnan(t).any():
            raise ValueError("out_times contains NaN")
        raise ValueError("out_times contains -inf")
    return t


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


def _check_param(name, value, *, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return float(value)


# ---------------------------------------------------------------------------- losses
def cross_entropy_core(t, y):
    """Per-example loss, ``y - p`` and predicted class for validated inputs.

    The trainer's fast path: :func:`cross_entropy` without the checks, plus the
    prediction it gets for free from the same minimum."""
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

    with ``y`` the one-hot label.

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
    loss, dl, _ = cross_entropy_core(t, y)
    return loss, dl


def goltz_loss(out_times, labels, *, xi=0.2, tau_syn=1.0, alpha=0.005, beta=1.0):
    """The loss of Göltz et al. 2021 ("Fast and deep"), with its exact derivative.

    With ``n*`` the label, ``s = xi * tau_syn`` and ``r = beta * tau_syn``:

    .. math::

        L = \\ln \\sum_k e^{-t_k / s} + \\frac{t_{n^*}}{s}
            + \\alpha \\, e^{t_{n^*} / r}
          = -\\ln p_{n^*} + \\alpha \\, e^{t_{n^*} / r},
        \\qquad p = \\mathrm{softmax}(-t / s)

    .. math::

        \\frac{\\partial L}{\\partial t_k} = \\frac{\\delta_{k n^*} - p_k}{s}
            + \\delta_{k n^*} \\, \\frac{\\alpha}{r} \\, e^{t_{n^*} / r}

    (fastAndDeep ``src/utils.py::LossFunction``).  The first term is
    a cross-entropy with temperature ``s``; the second pushes the label neuron to
    spike early.

    * A silent output (``t = inf``) other than the label has ``p_k = 0`` and a zero
      derivative.
    * If the label neuron is silent, the loss is :data:`GOLTZ_SILENT_LOSS` (100)
      and the whole row of the derivative is zero, as in fastAndDeep (missing
      spikes are handled there by weight bumping, not by the loss).
    * The softmax term is computed as
      ``(t_{n*} - t_min) / s + ln sum_k exp(-(t_k - t_min) / s)`` (log-sum-exp), so
      it neither overflows nor underflows to ``-ln 0`` for any finite times, and
      ``inf`` entries give no warning.  It is invariant under a common shift of
      all times; the regulariser is not.  The regulariser is evaluated as is: it
      overflows (to ``inf``, with numpy's warning) only for
      ``t_{n*} > ~709.78 r``.

    Parameters
    ----------
    out_times : array_like, shape (n_examples, n_outputs)
        Output spike times; ``inf`` = silent.  Times are in the units of
        ``tau_syn``: for eventsim's alpha neurons ``t exp(-tau t)``, which are the
        LIF neurons of Göltz et al. with ``tau_mem = tau_syn``, use
        ``tau_syn = 1 / tau``.
    labels : array_like of int, shape (n_examples,)
        Class index of each example (its output neuron).
    xi : float, default 0.2
        Temperature of the softmax in units of ``tau_syn`` (> 0).
    tau_syn : float, default 1.0
        Synaptic time constant (> 0).
    alpha : float, default 0.005
        Weight of the regulariser (>= 0; 0 switches it off).
    beta : float, default 1.0
        Time scale of the regulariser in units of ``tau_syn`` (> 0).

    The defaults are fastAndDeep's (``experiment_configs/yin_yang.yaml`` and
    ``mnist.yaml``: ``xi: 0.2``, ``alpha: 0.005``, ``beta: 1.``, ``tau_syn: 1.0``).

    Returns
    -------
    loss : ndarray, shape (n_examples,)
        Per-example loss (not averaged).
    dL_dt : ndarray, shape (n_examples, n_outputs)
        Its derivative with respect to each output time (not divided by the number
        of examples).

    Examples
    --------
    >>> loss, g = goltz_loss([[1.0, 2.0], [0.5, np.inf], [np.inf, 0.3]], [1, 0, 0])
    >>> np.round(loss, 4).tolist()
    [5.0437, 0.0082, 100.0]
    >>> np.round(g, 4).tolist()
    [[-4.9665, 5.0035], [0.0082, 0.0], [0.0, 0.0]]
    """
    xi = _check_param("xi", xi)
    tau_syn = _check_param("tau_syn", tau_syn)
    alpha = _check_param("alpha", alpha, allow_zero=True)
    beta = _check_param("beta", beta)
    t = _check_times(out_times)
    y = _check_labels(labels, t.shape[0], t.shape[1])
    n = t.shape[0]
    scale = xi * tau_syn
    reg_scale = beta * tau_syn

    loss = np.full(n, GOLTZ_SILENT_LOSS)
    grad = np.zeros_like(t)
    rows = np.arange(n)
    t_label = t[rows, y]
    ok = np.isfinite(t_label)
    if not ok.any():
        return loss, grad

    tt, yy, tl = t[ok], y[ok], t_label[ok]
    r = np.arange(tt.shape[0])
    t_min = tt.min(axis=1)                    # finite: the label spiked
    z = (tt - t_min[:, None]) / scale         # >= 0; silent outputs: inf
    e = np.exp(-z)                            # silent: exp(-inf) = 0, no warning
    s = e.sum(axis=1)                         # >= 1 (the earliest output adds 1)
    p = e / s[:, None]
    part = z[r, yy] + np.log(s)               # -ln p_label
    g = np.zeros_like(p)
    g[r, yy] = 1.0
    g -= p                                    # silent outputs: 0 - 0 = +0.0
    g /= scale
    if alpha:
        reg = alpha * np.exp(tl / reg_scale)
        part = part + reg
        g[r, yy] += reg / reg_scale
    loss[ok] = part
    grad[ok] = g
    return loss, grad


def ttfs_cross_entropy(out_times, labels, *, tau0=0.5, tau1=6.4, alpha=3e-3):
    """Wunderlich & Pehle's first-spike cross-entropy with its regulariser.

    .. math::

        L = -\\ln \\frac{e^{-t_y/\\tau_0}}{\\sum_k e^{-t_k/\\tau_0}}
            + \\alpha \\left(e^{t_y/\\tau_1} - 1\\right)

    (Sci. Rep. 11:12829, 2021, Yin-Yang task; defaults in milliseconds: ``tau0 =
    0.5``, ``tau1 = 6.4``, ``alpha = 3e-3``).  The regulariser pulls the label
    neuron's spike early.

    Parameters
    ----------
    out_times : array_like, shape (n_examples, n_outputs)
        First output spike times; ``inf`` = silent (``p = 0``).
    labels : array_like of int, shape (n_examples,)
    tau0, tau1 : float
        Temperature of the softmax and time scale of the regulariser (> 0).
    alpha : float
        Weight of the regulariser (>= 0).

    Returns
    -------
    loss : ndarray, shape (n_examples,)
        Capped at :data:`MAX_EXAMPLE_LOSS` plus the regulariser's value; a silent
        label neuron gives :data:`MAX_EXAMPLE_LOSS` (its exact loss is infinite).
    dL_dt : ndarray, shape (n_examples, n_outputs)
        ``(y_k - p_k) / tau0`` plus ``alpha e^{t_y/tau1} / tau1`` on the label
        neuron; 0 for silent outputs.  An example whose label neuron is silent
        gets no gradient at all, as in Wunderlich & Pehle's code: pushing the other
        outputs later would drive the layer towards silence, from which first-spike
        gradients cannot bring it back.
    """
    t = _check_times(out_times)
    y = _check_labels(labels, t.shape[0], t.shape[1])
    tau0 = _check_param("tau0", tau0)
    tau1 = _check_param("tau1", tau1)
    alpha = _check_param("alpha", alpha, allow_zero=True)
    # Compiled: the softmax, the cap, the regulariser and the zeroed rows per example
    # (the numpy form took a few dozen calls on arrays of a few elements).
    return _losses.ttfs_cross_entropy(np.ascontiguousarray(t), np.ascontiguousarray(y), tau0,
                                      tau1, alpha, MAX_EXAMPLE_LOSS)


#: Losses by name; each is ``fn(out_times, labels, **options) -> (loss, dL_dt)``.
LOSSES = {
    "cross_entropy": cross_entropy,
    "goltz": goltz_loss,
    "ttfs_cross_entropy": ttfs_cross_entropy,
}


def get_loss(name, **options):
    """The loss ``name`` of :data:`LOSSES` with its options bound.

    The options are checked now (an unknown option or a bad value raises
    ValueError here, not during training).

    Parameters
    ----------
    name : str
        A key of :data:`LOSSES`.
    **options
        Keyword options of that loss (e.g. ``xi=0.2`` for ``"goltz"``).

    Returns
    -------
    callable
        ``fn(out_times, labels) -> (loss, dL_dt)``.

    Examples
    --------
    >>> fn = get_loss("goltz", xi=0.5)
    >>> loss, g = fn([[0.0, 1.0]], [0])
    """
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; known: {sorted(LOSSES)}")
    fn = LOSSES[name]
    try:
        fn(np.zeros((0, 2)), np.zeros(0, np.int64), **options)
    except TypeError as exc:
        raise ValueError(f"bad options for loss {name!r}: {exc}") from None
    return functools.partial(fn, **options) if options else fn
