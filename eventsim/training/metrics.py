"""What a classifier's output spike times say: class probabilities, predictions,
accuracy and margins.

The first output neuron to spike is the prediction; ties and all-silent outputs
count as wrong.
"""

from __future__ import annotations

import numpy as np

from ..losses import _check_labels, _check_times

__all__ = ["softmax_neg_times", "predict_classes", "accuracy", "example_margins"]


def softmax_neg_times(out_times, temperature: float = 1.0) -> np.ndarray:
    """Softmax over negative output spike times, ``p_k = exp(-t_k / T) / sum_i exp(-t_i / T)``.

    Parameters
    ----------
    out_times : array_like, shape (n_examples, n_outputs)
        Output spike times; ``inf`` = silent.
    temperature : float, default 1
        ``T``, in the units of the spike times: the time lead that multiplies the
        odds by ``e`` (1 for the loss of Comsa et al., ``xi tau_syn`` for Göltz et al.'s).

    Returns
    -------
    ndarray, shape (n_examples, n_outputs)
        ``p``.  A silent output has ``p = 0``; if every output of an example is
        silent, ``p = 1 / n_outputs`` for all (as in the reference, where silent
        neurons have the largest double as their time).
    """
    t = _check_times(out_times)
    if not (np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be finite and > 0, got {temperature!r}")
    finite = np.isfinite(t)
    any_spike = finite.any(axis=1)
    t_min = np.where(finite, t, np.inf).min(axis=1, keepdims=True)
    t_min = np.where(any_spike[:, None], t_min, 0.0)
    e = np.where(finite, np.exp(-(np.where(finite, t, 0.0) - t_min) / temperature), 0.0)
    e[~any_spike] = 1.0
    return e / e.sum(axis=1, keepdims=True)


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


def example_margins(out, y):
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
