"""Loss functions on output spike times, and a registry of them by name.

Every loss here has the signature and return convention of
:func:`eventsim.train.cross_entropy`::

    loss, dL_dt = fn(out_times, labels, **options)

* ``out_times`` -- array_like, shape ``(n_examples, n_outputs)``; ``inf`` = silent.
* ``labels`` -- integer class indices, shape ``(n_examples,)``.
* ``loss`` -- ndarray ``(n_examples,)``, the per-example loss (not averaged).
* ``dL_dt`` -- ndarray ``(n_examples, n_outputs)``, the exact derivative of each
  example's loss with respect to its output spike times (not divided by the number
  of examples); zero for silent outputs.

so a trainer can take either from :data:`LOSSES` (or :func:`get_loss`):

* ``"cross_entropy"`` -- :func:`cross_entropy`, the loss of Comsa et al. 2020
  (MATH.md D.1), i.e. :func:`eventsim.train.cross_entropy`.
* ``"goltz"`` -- :func:`goltz_loss`, the loss of Göltz et al. 2021 (MATH.md D.2,
  fastAndDeep ``src/utils.py::LossFunction``).
"""

from __future__ import annotations

import functools
import math
import numbers

import numpy as np

__all__ = ["LOSSES", "GOLTZ_SILENT_LOSS", "cross_entropy", "goltz_loss", "get_loss"]

#: Per-example loss of :func:`goltz_loss` when the label neuron is silent
#: (fastAndDeep: ``total[true_label_times == np.inf] = 100.``); no gradient.
GOLTZ_SILENT_LOSS = 100.0


# ---------------------------------------------------------------------------- checks
# The same checks and messages as the trainer.  (eventsim.train imports this module
# only inside functions, so importing it here makes no cycle.)
from .train import _check_labels, _check_times  # noqa: E402


def _check_param(name, value, *, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return float(value)


# ---------------------------------------------------------------------------- losses
def cross_entropy(out_times, labels):
    """Cross-entropy of the softmax over negative spike times (Comsa et al. 2020).

    .. math::

        p_k = \\frac{e^{-t_k}}{\\sum_i e^{-t_i}}, \\qquad
        L = -\\ln p_{n^*}, \\qquad
        \\frac{\\partial L}{\\partial t_k} = \\delta_{k n^*} - p_k

    This is :func:`eventsim.train.cross_entropy` (imported when called); see
    there for silent outputs and the cap on the loss.

    Parameters
    ----------
    out_times : array_like, shape (n_examples, n_outputs)
    labels : array_like of int, shape (n_examples,)

    Returns
    -------
    loss : ndarray, shape (n_examples,)
    dL_dt : ndarray, shape (n_examples, n_outputs)
    """
    from .train import cross_entropy as _cross_entropy

    return _cross_entropy(out_times, labels)


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

    (MATH.md D.2; fastAndDeep ``src/utils.py::LossFunction``).  The first term is
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


#: Losses by name; each is ``fn(out_times, labels, **options) -> (loss, dL_dt)``.
LOSSES = {
    "cross_entropy": cross_entropy,
    "goltz": goltz_loss,
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
