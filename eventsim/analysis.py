"""Analysis of trained networks, treating them like electrophysiological recordings.

Every core function takes plain numpy arrays (spike times, labels, weight
matrices), so it works on spike data from any source:

* spike times are an array of shape ``(n_examples, n_neurons)`` holding each
  neuron's first spike time per example, ``inf`` meaning silent (the layout of
  :attr:`eventsim.SimulationResult.times`);
* layers are a sequence of neuron groups along the neuron axis: integer index
  arrays, slices, boolean masks or :class:`eventsim.Population` objects; a dict
  ``{name: group}`` also names them.

Measures
--------
:func:`pulse_packets`
    Per layer and example: activity ``a`` (number of spikes), fraction active,
    mean spike time and temporal spread ``sigma`` (the synfire-chain pulse packet
    of Diesmann, Gewaltig & Aertsen 1999), averaged over a data set.
:func:`information_gain`
    Per neuron: information about the class gained by observing the neuron
    active, normalised by ``ln K`` or by the prior entropy ``H(C)`` (1 = fires
    for one class only).  :func:`activity_before` restricts "active" to spikes
    before a deadline per example (such as the network's decision).
    :func:`by_layer` groups such per-neuron values by layer and by excitatory /
    inhibitory type.
:func:`class_pathways`
    From the weights alone: for each output class, the excitatory neurons of
    each layer that drive it most strongly through chains of positive weights,
    and how much more they drive their own class than the others.
:func:`spike_time_histograms`
    Spike-time histograms per layer with shared bins.
:func:`network_layers`
    Convenience: a layered :class:`eventsim.Network` as layer index groups,
    dense layer-to-layer weight matrices and E/I masks.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np

__all__ = [
    "PulsePackets", "pulse_packets",
    "information_gain", "activity_before", "LayerValues", "by_layer",
    "Pathways", "class_pathways",
    "spike_time_histograms",
    "LayeredNetwork", "network_layers",
]


# --------------------------------------------------------------------------- validation
def _spike_times(times, *, allow_1d=False, name="times") -> np.ndarray:
    """Validated float64 spike-time matrix of shape (n_examples, n_neurons)."""
    t = np.asarray(times)
    if t.dtype == bool or t.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be a real-valued array of spike times, got dtype {t.dtype}")
    t = t.astype(np.float64, copy=False)
    if t.ndim == 1 and allow_1d:
        t = t[None, :]
    if t.ndim != 2:
        expect = "1-D or 2-D" if allow_1d else "2-D (n_examples, n_neurons)"
        raise ValueError(f"{name} must be {expect}, got shape {t.shape}")
    if t.shape[0] == 0:
        raise ValueError(f"{name} has no examples (shape {t.shape})")
    if t.shape[1] == 0:
        raise ValueError(f"{name} has no neurons (shape {t.shape})")
    if np.isnan(t).any():
        raise ValueError(f"{name} contains NaN (use inf for a neuron that did not spike)")
    if np.isneginf(t).any():
        raise ValueError(f"{name} contains -inf")
    return t


def _activity(times) -> np.ndarray:
    """Boolean activity matrix from spike times (finite = active) or a boolean matrix."""
    a = np.asarray(times)
    if a.dtype == bool:
        if a.ndim != 2 or 0 in a.shape:
            raise ValueError(f"activity must be 2-D (n_examples, n_neurons) and non-empty, got shape {a.shape}")
        return a
    return np.isfinite(_spike_times(times))


def _labels(labels, n_examples, n_classes):
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {y.shape}")
    if y.shape[0] != n_examples:
        raise ValueError(f"labels has {y.shape[0]} entries but there are {n_examples} examples")
    if y.dtype == bool:
        raise ValueError("labels must be integers, got a boolean array")
    if y.dtype.kind == "f":
        if np.isnan(y).any():
            raise ValueError("labels contain NaN")
        if not (np.isfinite(y).all() and (y == np.round(y)).all()):
            raise ValueError("labels must be integers")
    elif y.dtype.kind not in "iu":
        raise ValueError(f"labels must be integers, got dtype {y.dtype}")
    y = y.astype(np.int64)
    if n_classes is None:
        n_classes = int(y.max()) + 1
    elif isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral):
        raise ValueError(f"n_classes must be an integer, got {n_classes!r}")
    n_classes = int(n_classes)
    if n_classes < 2:
        raise ValueError(f"need at least 2 classes (the gain is normalised by ln K), got {n_classes}")
    bad = (y < 0) | (y >= n_classes)
    if bad.any():
        raise ValueError(f"label {y[bad][0]} is out of range for {n_classes} classes (0 .. {n_classes - 1})")
    return y, n_classes


def _layer_names(layers) -> tuple[str, ...]:
    if isinstance(layers, dict):
        return tuple(str(k) for k in layers)
    names = []
    for i, layer in enumerate(layers):
        name = getattr(layer, "name", None)
        names.append(str(name) if isinstance(name, str) else f"layer {i}")
    return tuple(names)


def _layer_groups(layers, n_neurons) -> list[np.ndarray]:
    """Index arrays of the layers; checked: non-empty, in range, no repeats."""
    if isinstance(layers, (slice, np.ndarray)) or hasattr(layers, "ids"):
        raise ValueError("layers must be a sequence (or dict) of neuron groups, not a single group")
    items = list(layers.values()) if isinstance(layers, dict) else list(layers)
    if not items:
        raise ValueError("layers is empty: give at least one neuron group")
    groups = []
    for i, spec in enumerate(items):
        if isinstance(spec, slice):
            idx = np.arange(n_neurons)[spec]
        elif hasattr(spec, "ids"):          # eventsim.Population
            idx = np.asarray(spec.ids)
        else:
            idx = np.asarray(spec)
            if idx.dtype == bool:
                if idx.shape != (n_neurons,):
                    raise ValueError(f"layer {i}: a boolean mask must have shape ({n_neurons},), "
                                     f"got {idx.shape}")
                idx = np.flatnonzero(idx)
            elif idx.size == 0:
                idx = idx.astype(np.int64)
            elif idx.dtype.kind not in "iu":
                raise ValueError(f"layer {i}: neuron indices must be integers, got dtype {idx.dtype}")
        idx = np.atleast_1d(idx).astype(np.int64)
        if idx.ndim != 1:
            raise ValueError(f"layer {i}: neuron indices must be 1-D, got shape {idx.shape}")
        if idx.size == 0:
            raise ValueError(f"layer {i} is empty")
        bad = (idx < 0) | (idx >= n_neurons)
        if bad.any():
            raise ValueError(f"layer {i}: neuron index {idx[bad][0]} is out of range "
                             f"for {n_neurons} neurons")
        if np.unique(idx).size != idx.size:
            raise ValueError(f"layer {i} lists a neuron more than once")
        groups.append(idx)
    return groups


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _plogp(p):
    """``p ln p`` with ``0 ln 0 = 0``."""
    pos = p > 0
    return np.where(pos, p * np.log(np.where(pos, p, 1.0)), 0.0)


# --------------------------------------------------------------------------- pulse packets
@dataclasses.dataclass(frozen=True)
class PulsePackets:
    """Pulse-packet measures per layer, from :func:`pulse_packets`.

    Per-layer averages over examples (shape ``(n_layers,)``):

    Attributes
    ----------
    names : tuple of str
        Layer names.
    sizes : ndarray of int
        Neurons per layer, ``N_l``.
    activity : ndarray
        Mean number of spikes ``a_l`` (silent examples count as 0).
    fraction : ndarray
        Mean fraction of neurons active, ``a_l / N_l``, in [0, 1].
    latency : ndarray
        Mean spike time ``t̄_l``, averaged over the examples in which the layer
        spiked at all (NaN if it never did).
    spread : ndarray
        Temporal spread ``sigma_l`` (population standard deviation, ddof = 0),
        averaged over the examples with at least ``min_spikes`` spikes in the
        layer (NaN if there are none).
    n_latency, n_spread : ndarray of int
        Number of examples that entered ``latency`` and ``spread``.
    per_example : dict of str -> ndarray, shape (n_examples, n_layers)
        The same measures per example: ``"activity"``, ``"fraction"``,
        ``"latency"`` (NaN where the layer is silent) and ``"spread"`` (NaN where
        it has fewer than ``min_spikes`` spikes).
    min_spikes : int
        The threshold used for ``spread``.
    """

    names: tuple
    sizes: np.ndarray
    activity: np.ndarray
    fraction: np.ndarray
    latency: np.ndarray
    spread: np.ndarray
    n_latency: np.ndarray
    n_spread: np.ndarray
    per_example: dict
    min_spikes: int

    @property
    def n_layers(self) -> int:
        return len(self.names)

    def to_dict(self) -> dict:
        """The per-layer averages as a dict of arrays (plus ``names`` and ``sizes``)."""
        return {k: getattr(self, k) for k in
                ("names", "sizes", "activity", "fraction", "latency", "spread", "n_latency", "n_spread")}


def _nanmean_rows(values, valid):
    """Mean over axis 0 of ``values`` where ``valid``; NaN (no warning) where none is."""
    n = valid.sum(axis=0)
    s = np.where(valid, values, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / np.maximum(n, 1), np.nan), n


def pulse_packets(times, layers, *, min_spikes=2) -> PulsePackets:
    """Pulse-packet measures (activity and temporal spread) per layer over a data set.

    For layer ``l`` and example ``x``, over the neurons of the layer with a finite
    spike time ``t_n``:

    .. math::

        a_l = \\#\\{n : t_n < \\infty\\}, \\quad
        \\bar t_l = \\frac{1}{a_l} \\sum_n t_n, \\quad
        \\sigma_l = \\sqrt{\\frac{1}{a_l} \\sum_n (t_n - \\bar t_l)^2}

    Parameters
    ----------
    times : array_like, shape (n_examples, n_neurons) or (n_neurons,)
        First spike times, ``inf`` = silent.  A 1-D array is one example.
    layers : sequence or dict of neuron groups
        Index arrays, slices, boolean masks or Populations along the neuron axis.
    min_spikes : int, default 2
        Fewest spikes for an example to have a spread.  With one spike the
        ddof = 0 spread would be 0, which would make a layer that barely fires
        look perfectly synchronous, so by default such examples are left out of
        the averaged spread (their per-example spread is NaN).  ``min_spikes=1``
        includes them with spread 0.

    Returns
    -------
    PulsePackets

    Notes
    -----
    The spread uses ddof = 0 (the population standard deviation, as in the
    formula above): 400 spikes drawn with standard deviation 0.3 give a spread
    a little below 0.3.  The activity and fraction average over all examples;
    the latency over the examples where the layer spiked; the spread over those
    with at least ``min_spikes`` spikes.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([[0.1, 0.3, np.inf, 1.0], [0.2, np.inf, np.inf, np.inf]])
    >>> pp = pulse_packets(t, [slice(0, 3), [3]])
    >>> pp.activity.tolist(), pp.fraction.round(3).tolist()
    ([1.5, 0.5], [0.5, 0.5])
    >>> pp.spread.round(6).tolist()   # example 1 has a single spike in layer 0
    [0.1, nan]
    """
    t = _spike_times(times, allow_1d=True)
    groups = _layer_groups(layers, t.shape[1])
    min_spikes = _check_int("min_spikes", min_spikes, 1)
    n_ex, n_layers = t.shape[0], len(groups)
    act = np.zeros((n_ex, n_layers), np.int64)
    lat = np.full((n_ex, n_layers), np.nan)
    spr = np.full((n_ex, n_layers), np.nan)
    sizes = np.array([g.size for g in groups], np.int64)
    for j, g in enumerate(groups):
        sub = t[:, g]
        fin = np.isfinite(sub)
        a = fin.sum(axis=1)
        act[:, j] = a
        x = np.where(fin, sub, 0.0)
        some = a > 0
        mean = x.sum(axis=1)[some] / a[some]
        lat[some, j] = mean
        dev = np.where(fin[some], sub[some] - mean[:, None], 0.0)
        var = (dev * dev).sum(axis=1) / a[some]
        sd = np.sqrt(var)
        enough = a[some] >= min_spikes
        rows = np.flatnonzero(some)[enough]
        spr[rows, j] = sd[enough]
    frac = act / sizes
    latency, n_lat = _nanmean_rows(lat, np.isfinite(lat))
    spread, n_spr = _nanmean_rows(spr, np.isfinite(spr))
    return PulsePackets(
        names=_layer_names(layers), sizes=sizes,
        activity=act.mean(axis=0), fraction=frac.mean(axis=0),
        latency=latency, spread=spread, n_latency=n_lat, n_spread=n_spr,
        per_example={"activity": act, "fraction": frac, "latency": lat, "spread": spr},
        min_spikes=min_spikes)


def spike_time_histograms(times, layers, *, bins=30, range=None, density=False):
    """Histograms of the finite spike times of each layer, with shared bin edges.

    Parameters
    ----------
    times : array_like, shape (n_examples, n_neurons) or (n_neurons,)
        First spike times, ``inf`` = silent.
    layers : sequence or dict of neuron groups
    bins : int or array_like, default 30
        Number of bins, or the bin edges.
    range : (float, float), optional
        Range of the bins (default: the smallest to the largest finite spike
        time over all layers; ``(0, 1)`` if there is none).
    density : bool, default False
        Normalise each layer's histogram to unit area (a layer without spikes
        stays all zero).

    Returns
    -------
    counts : ndarray, shape (n_layers, n_bins)
        Spike counts (or densities) per layer and bin.
    edges : ndarray, shape (n_bins + 1,)
    """
    t = _spike_times(times, allow_1d=True)
    groups = _layer_groups(layers, t.shape[1])
    per_layer = [t[:, g][np.isfinite(t[:, g])] for g in groups]
    if np.ndim(bins) == 0:
        bins = _check_int("bins", bins, 1)
        if range is None:
            allt = np.concatenate(per_layer)
            if allt.size == 0:
                range = (0.0, 1.0)
            else:
                lo, hi = float(allt.min()), float(allt.max())
                range = (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)
        edges = np.histogram_bin_edges([], bins=bins, range=range)
    else:
        edges = np.asarray(bins, np.float64)
        if edges.ndim != 1 or edges.size < 2 or not (np.diff(edges) > 0).all():
            raise ValueError("bins given as edges must be a 1-D increasing array of at least 2 values")
    counts = np.zeros((len(groups), edges.size - 1))
    for j, s in enumerate(per_layer):
        c, _ = np.histogram(s, bins=edges)
        if density and c.sum() > 0:
            c = c / (c.sum() * np.diff(edges))
        counts[j] = c
    if not density:
        counts = counts.astype(np.int64)
    return counts, edges


# --------------------------------------------------------------------------- information gain
def information_gain(times, labels, n_classes=None, *, kind="entropy",
                     normalise="log_k") -> np.ndarray:
    """Information about the class gained by observing each neuron active.

    With ``A_n = 1`` when neuron ``n`` spikes on an example and
    ``P(c | A_n = 1)`` the fraction of the examples on which it spiked that
    belong to class ``c``:

    .. math::

        IG_n = \\frac{H(C) - H(C \\mid A_n = 1)}{Z}, \\qquad
        IG^{KL}_n = \\frac{D_{KL}(P(C \\mid A_n = 1) \\,\\|\\, P(C))}{Z}

    where ``P(C)`` is the class frequency in ``labels``, ``K`` the number of
    classes and ``Z`` the normaliser: ``ln K`` (``normalise="log_k"``) or the
    prior entropy ``H(C)`` (``normalise="prior"``, the measure of
    Oberste-Frielinghaus et al.).  The two agree for balanced classes.  With
    ``"prior"``, ``IG = 1`` iff the neuron fires for one class only, whatever
    the class frequencies; with ``"log_k"`` that holds for balanced classes.
    ``IG = 0`` iff its firing does not change the class distribution (entropy
    form: does not change its entropy).

    Parameters
    ----------
    times : array_like, shape (n_examples, n_neurons)
        First spike times (``inf`` = silent), or a boolean activity matrix (for
        example "spiked inside the pulse-packet window").
    labels : array_like of int, shape (n_examples,)
        Class of each example, in ``0 .. n_classes - 1``.
    n_classes : int, optional
        ``K`` (default ``max(labels) + 1``); must be >= 2.  Classes absent from
        ``labels`` have ``P(c) = 0``.
    kind : {"entropy", "kl"}
        The entropy-difference form or the Kullback-Leibler form.
    normalise : {"log_k", "prior"}, default "log_k"
        Divide by ``ln K`` or by ``H(C)`` of ``labels``.  ``"prior"`` needs at
        least two classes present in ``labels`` (else ``H(C) = 0``).

    Returns
    -------
    ndarray, shape (n_neurons,)
        Normalised gain per neuron; **NaN for a neuron that never spiked**
        (``P(C | A_n = 1)`` is undefined).

    Notes
    -----
    For balanced classes both forms are equal and lie in [0, 1].  For unbalanced
    classes the KL form is still >= 0 but the entropy form can be negative
    (firing can make the class *less* predictable than the prior).  This is the
    gain from observing the neuron *active*, not the mutual information
    ``I(C; A_n)``, which also counts what its silence tells.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.repeat(np.arange(10), 5)
    >>> t = np.full((50, 2), np.inf)
    >>> t[labels == 3, 0] = 1.0                    # fires for class 3 only
    >>> t[(labels == 3) | (labels == 4), 1] = 1.0  # fires for two classes
    >>> information_gain(t, labels).round(5).tolist()
    [1.0, 0.69897]
    """
    if kind not in ("entropy", "kl"):
        raise ValueError(f"kind must be 'entropy' or 'kl', got {kind!r}")
    if normalise not in ("log_k", "prior"):
        raise ValueError(f"normalise must be 'log_k' or 'prior', got {normalise!r}")
    active = _activity(times)
    y, k = _labels(labels, active.shape[0], n_classes)
    onehot = np.zeros((y.size, k))
    onehot[np.arange(y.size), y] = 1.0
    counts = active.T.astype(np.float64) @ onehot          # (n_neurons, K)
    n_active = counts.sum(axis=1)
    prior = onehot.mean(axis=0)
    h_prior = float(-_plogp(prior).sum())
    if normalise == "prior":
        if (prior > 0).sum() < 2:
            raise ValueError("normalise='prior' needs at least 2 classes present in labels "
                             "(the prior entropy H(C) is 0)")
        z = h_prior
    else:
        z = math.log(k)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = counts / n_active[:, None]
    p[n_active == 0] = 0.0
    if kind == "entropy":
        h_cond = -_plogp(p).sum(axis=1)
        ig = (h_prior - h_cond) / z
    else:
        # P(c | A = 1) > 0 implies P(c) > 0, so the ratio is finite wherever it counts.
        log_prior = np.log(np.where(prior > 0, prior, 1.0))
        ig = (_plogp(p) - p * log_prior).sum(axis=1) / z
        ig = np.maximum(ig, 0.0)        # rounding only: D_KL >= 0
    ig[n_active == 0] = np.nan
    return ig


def activity_before(times, deadline) -> np.ndarray:
    """Which neurons spiked strictly before a deadline, per example.

    Parameters
    ----------
    times : array_like, shape (n_examples, n_neurons)
        First spike times, ``inf`` = silent.
    deadline : float or array_like, shape (n_examples,)
        One deadline for all examples, or one per example (for example the
        time of the first output spike, the network's decision; spikes after it
        cannot change the answer).  ``inf`` counts every spike.

    Returns
    -------
    ndarray of bool, shape (n_examples, n_neurons)
        ``times < deadline``; usable as the ``times`` of :func:`information_gain`.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([[0.1, 0.5, np.inf], [0.3, 0.2, 0.4]])
    >>> activity_before(t, [0.4, 0.35]).tolist()
    [[True, False, False], [True, True, False]]
    """
    t = _spike_times(times)
    d = np.asarray(deadline)
    if d.dtype == bool or d.dtype.kind not in "iuf":
        raise ValueError(f"deadline must be a real number or one per example, got dtype {d.dtype}")
    d = d.astype(np.float64)
    if d.ndim == 0:
        d = np.full(t.shape[0], float(d))
    if d.shape != (t.shape[0],):
        raise ValueError(f"deadline must be a scalar or have shape ({t.shape[0]},) (one per "
                         f"example), got shape {d.shape}")
    if np.isnan(d).any():
        raise ValueError("deadline contains NaN")
    return t < d[:, None]


@dataclasses.dataclass(frozen=True)
class LayerValues:
    """Per-neuron values grouped by layer and cell type, from :func:`by_layer`.

    Attributes
    ----------
    names : tuple of str
        Layer names.
    groups : tuple of str
        ``("E", "I")`` when an excitatory mask was given, else ``("all",)``.
    values : dict of str -> list of ndarray
        For each group, one array per layer of the values that are not NaN.
    n_neurons : dict of str -> ndarray of int
        Neurons of each group per layer (NaN values included).
    n_nan : dict of str -> ndarray of int
        Neurons whose value is NaN (for the information gain: never active).
    """

    names: tuple
    groups: tuple
    values: dict
    n_neurons: dict
    n_nan: dict

    def _stat(self, fn, group):
        if group not in self.values:
            raise ValueError(f"unknown group {group!r}; groups: {self.groups}")
        return np.array([fn(v) if v.size else np.nan for v in self.values[group]])

    def mean(self, group) -> np.ndarray:
        """Mean of the non-NaN values of ``group`` per layer (NaN if none)."""
        return self._stat(np.mean, group)

    def median(self, group) -> np.ndarray:
        """Median of the non-NaN values of ``group`` per layer (NaN if none)."""
        return self._stat(np.median, group)

    def fraction_above(self, group, threshold) -> np.ndarray:
        """Fraction of the non-NaN values of ``group`` that are >= ``threshold``, per layer."""
        return self._stat(lambda v: float(np.mean(v >= threshold)), group)

    def quantiles(self, group, q=(0.1, 0.25, 0.5, 0.75, 0.9)) -> np.ndarray:
        """Quantiles of the non-NaN values of ``group`` per layer.

        Parameters
        ----------
        group : str
            One of :attr:`groups`.
        q : sequence of float in [0, 1]
            The quantiles (linear interpolation, numpy's default).

        Returns
        -------
        ndarray, shape (n_layers, len(q))
            NaN rows for layers without values.
        """
        qs = np.atleast_1d(np.asarray(q, np.float64))
        if qs.ndim != 1 or qs.size == 0 or not ((qs >= 0) & (qs <= 1)).all():
            raise ValueError(f"q must be a non-empty 1-D sequence of numbers in [0, 1], got {q!r}")
        if group not in self.values:
            raise ValueError(f"unknown group {group!r}; groups: {self.groups}")
        return np.array([np.quantile(v, qs) if v.size else np.full(qs.size, np.nan)
                         for v in self.values[group]])

    def histogram(self, group, bins=10, range=(0.0, 1.0)):
        """Histogram of the non-NaN values of ``group`` per layer, with shared bins.

        Parameters
        ----------
        group : str
            One of :attr:`groups`.
        bins : int or array_like
            Number of bins over ``range``, or the bin edges.
        range : (float, float), default (0, 1)
            The range of the information gain; values outside it are not counted
            (with ``normalise="log_k"`` and unbalanced classes the entropy form
            can be negative).

        Returns
        -------
        counts : ndarray of int, shape (n_layers, n_bins)
        edges : ndarray, shape (n_bins + 1,)
        """
        if group not in self.values:
            raise ValueError(f"unknown group {group!r}; groups: {self.groups}")
        if np.ndim(bins) == 0:
            bins = _check_int("bins", bins, 1)
        edges = np.histogram_bin_edges([], bins=bins, range=range if np.ndim(bins) == 0 else None)
        counts = np.array([np.histogram(v, bins=edges)[0] for v in self.values[group]], np.int64)
        return counts, edges


def _per_neuron_mask(mask, groups, n_neurons, name):
    """A full-length boolean mask from a full-length mask or a list of per-layer masks."""
    if isinstance(mask, (list, tuple)):
        if len(mask) != len(groups):
            raise ValueError(f"{name} has {len(mask)} per-layer masks but there are {len(groups)} layers")
        full = np.zeros(n_neurons, bool)
        for j, (m, g) in enumerate(zip(mask, groups)):
            m = np.asarray(m)
            if m.dtype != bool or m.shape != g.shape:
                raise ValueError(f"{name}[{j}] must be a boolean array of shape {g.shape}, "
                                 f"got {m.dtype} {m.shape}")
            full[g] = m
        return full
    m = np.asarray(mask)
    if m.dtype != bool or m.shape != (n_neurons,):
        raise ValueError(f"{name} must be a boolean array of shape ({n_neurons},) (or a list of "
                         f"per-layer masks), got {m.dtype} {m.shape}")
    return m


def by_layer(values, layers, *, excitatory=None) -> LayerValues:
    """Group per-neuron values (such as :func:`information_gain`) by layer and E/I type.

    Parameters
    ----------
    values : array_like, shape (n_neurons,)
        One value per neuron; NaN marks an undefined value (counted, then dropped).
    layers : sequence or dict of neuron groups
    excitatory : array_like of bool, shape (n_neurons,), or list of per-layer masks, optional
        ``True`` for excitatory neurons; the others count as inhibitory.  Without
        it all neurons form one group ``"all"``.

    Returns
    -------
    LayerValues
    """
    v = np.asarray(values)
    if v.dtype == bool or v.dtype.kind not in "iuf":
        raise ValueError(f"values must be real numbers, got dtype {v.dtype}")
    v = v.astype(np.float64)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"values must be 1-D and non-empty, got shape {v.shape}")
    groups = _layer_groups(layers, v.size)
    if excitatory is None:
        selectors = {"all": np.ones(v.size, bool)}
    else:
        e = _per_neuron_mask(excitatory, groups, v.size, "excitatory")
        selectors = {"E": e, "I": ~e}
    out, n_all, n_nan = {}, {}, {}
    for key, sel in selectors.items():
        vals, tot, nan = [], [], []
        for g in groups:
            x = v[g[sel[g]]]
            finite = ~np.isnan(x)
            vals.append(x[finite])
            tot.append(x.size)
            nan.append(int((~finite).sum()))
        out[key], n_all[key], n_nan[key] = vals, np.array(tot), np.array(nan)
    return LayerValues(names=_layer_names(layers), groups=tuple(selectors), values=out,
                       n_neurons=n_all, n_nan=n_nan)


# --------------------------------------------------------------------------- pathways
@dataclasses.dataclass(frozen=True)
class Pathways:
    """Class-specific excitatory pathways, from :func:`class_pathways`.

    Layers are numbered like ``weights``: layer ``l`` is the presynaptic side of
    ``weights[l]`` (layer 0 the input, layer ``L - 1`` the last hidden layer).

    Attributes
    ----------
    drive : list of ndarray, shape (n_l, K)
        ``drive[l][i, c]``: how strongly neuron ``i`` of layer ``l`` drives output
        ``c`` through chains of positive weights between excitatory neurons,
        scaled so that each layer's largest entry is 1 (0 for inhibitory
        neurons).
    top : ndarray of int, shape (L, K, top_k)
        Indices (within the layer) of the ``top_k`` neurons with the largest
        positive drive to each class, strongest first (ties: lower index first);
        ``-1`` pads when fewer neurons have a positive drive.
    own : ndarray, shape (L, K)
        Mean drive of the top neurons of class ``c`` to class ``c`` (NaN if the
        class has no pathway in that layer).
    other : ndarray, shape (L, K)
        Mean drive of the same neurons to the other classes (averaged over
        neurons and over the ``K - 1`` other classes).
    specificity : ndarray, shape (L, K)
        ``own / other``; ``inf`` if the top neurons drive no other class, NaN if
        class ``c`` has no pathway.
    layer_specificity : ndarray, shape (L,)
        ``sum_c own / sum_c other`` over the classes with a pathway: the drive of
        the class pathways to their own output relative to the others, per depth.
    """

    drive: list
    top: np.ndarray
    own: np.ndarray
    other: np.ndarray
    specificity: np.ndarray
    layer_specificity: np.ndarray

    @property
    def n_layers(self) -> int:
        return len(self.drive)

    @property
    def n_classes(self) -> int:
        return self.top.shape[1]

    def neurons(self, layer, cls) -> np.ndarray:
        """The top neurons of class ``cls`` in ``layer``, without padding."""
        row = self.top[layer, cls]
        return row[row >= 0]


def class_pathways(weights, excitatory, *, top_k=10) -> Pathways:
    """Class-specific pathways of excitatory neurons, from the weights alone.

    Output neuron ``c`` stands for class ``c``.  Positive drive is propagated
    backwards from the outputs through positive weights leaving excitatory
    neurons:

    .. math::

        D_L = I_K, \\qquad
        D_l = \\frac{P_l D_{l+1}}{\\max (P_l D_{l+1})}, \\qquad
        P_l[i, j] = [i \\text{ excitatory}] \\max(W_l[i, j], 0)

    so ``D_l[i, c]`` is, up to one scale factor per layer, the sum over all
    chains ``i -> ... -> c`` of positive weights through excitatory neurons of
    the product of the weights.  Negative weights and inhibitory neurons never
    enter a pathway.

    For class ``c`` and layer ``l`` the pathway is the set ``S`` of the
    ``top_k`` neurons with the largest positive ``D_l[:, c]``.  Its specificity
    is

    .. math::

        s_l(c) = \\frac{\\mathrm{mean}_{i \\in S} D_l[i, c]}
                      {\\mathrm{mean}_{i \\in S} \\mathrm{mean}_{c' \\ne c} D_l[i, c']}

    i.e. how much more strongly the pathway of ``c`` drives the correct output
    ``c`` than, on average, each wrong output (1 = not specific).

    Parameters
    ----------
    weights : sequence of array_like, shape (n_l, n_{l+1})
        Dense layer-to-layer weight matrices, input side first; the last one
        ends at the ``K`` output neurons.  Missing synapses are 0.
    excitatory : sequence of array_like of bool
        For each matrix, the mask of its presynaptic (row) neurons that are
        excitatory.  A trailing mask for the output layer may be included; it is
        ignored.
    top_k : int, default 10
        Neurons per pathway and layer.

    Returns
    -------
    Pathways

    Notes
    -----
    Deterministic: no randomness, and ties in the ranking go to the lower index.
    The per-layer scaling keeps every ratio within a layer, so the ranking and
    the specificity do not depend on it.
    """
    if isinstance(weights, np.ndarray) and weights.ndim == 2:
        weights = [weights]
    ws = list(weights)
    if not ws:
        raise ValueError("weights is empty: give at least one weight matrix")
    mats = []
    for l, w in enumerate(ws):
        w = np.asarray(w)
        if w.dtype == bool or w.dtype.kind not in "iuf":
            raise ValueError(f"weights[{l}] must be real numbers, got dtype {w.dtype}")
        w = w.astype(np.float64)
        if w.ndim != 2 or 0 in w.shape:
            raise ValueError(f"weights[{l}] must be a non-empty 2-D (n_pre, n_post) matrix, got shape {w.shape}")
        if not np.isfinite(w).all():
            raise ValueError(f"weights[{l}] contains NaN or inf")
        if l and w.shape[0] != mats[-1].shape[1]:
            raise ValueError(f"weights[{l}] has {w.shape[0]} rows but weights[{l - 1}] has "
                             f"{mats[-1].shape[1]} columns: the layers do not chain")
        mats.append(w)
    ex = list(excitatory)
    if len(ex) == len(mats) + 1:
        ex = ex[:-1]
    if len(ex) != len(mats):
        raise ValueError(f"excitatory has {len(excitatory)} masks but there are {len(mats)} weight "
                         f"matrices (give one mask per matrix, for its presynaptic layer)")
    masks = []
    for l, (m, w) in enumerate(zip(ex, mats)):
        m = np.asarray(m)
        if m.dtype != bool or m.shape != (w.shape[0],):
            raise ValueError(f"excitatory[{l}] must be a boolean array of shape ({w.shape[0]},), "
                             f"got {m.dtype} {m.shape}")
        masks.append(m)
    top_k = _check_int("top_k", top_k, 1)
    k = mats[-1].shape[1]
    if k < 2:
        raise ValueError(f"need at least 2 output classes, got {k}")

    n_layers = len(mats)
    drive = [None] * n_layers
    d = np.eye(k)
    for l in range(n_layers - 1, -1, -1):
        p = np.where(masks[l][:, None], np.maximum(mats[l], 0.0), 0.0)
        d = p @ d
        peak = d.max()
        if peak > 0:
            d = d / peak
        drive[l] = d

    top = np.full((n_layers, k, top_k), -1, np.int64)
    own = np.full((n_layers, k), np.nan)
    other = np.full((n_layers, k), np.nan)
    for l, d in enumerate(drive):
        idx = np.arange(d.shape[0])
        rest = (d.sum(axis=1, keepdims=True) - d) / (k - 1)      # mean drive to the other classes
        for c in range(k):
            order = np.lexsort((idx, -d[:, c]))                   # strongest first, ties: low index
            chosen = order[d[order, c] > 0][:top_k]
            top[l, c, :chosen.size] = chosen
            if chosen.size:
                own[l, c] = d[chosen, c].mean()
                other[l, c] = rest[chosen, c].mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        spec = own / other
        has = np.isfinite(own)
        so = np.where(has, own, 0.0).sum(axis=1)
        sr = np.where(has, other, 0.0).sum(axis=1)
        layer_spec = np.where(has.any(axis=1), so / sr, np.nan)
    return Pathways(drive=drive, top=top, own=own, other=other, specificity=spec,
                    layer_specificity=layer_spec)


# --------------------------------------------------------------------------- eventsim networks
@dataclasses.dataclass(frozen=True)
class LayeredNetwork:
    """A layered :class:`eventsim.Network` as arrays, from :func:`network_layers`.

    Attributes
    ----------
    names : tuple of str
        Population names, input first.
    layers : list of ndarray of int
        Global neuron ids per layer (columns of ``SimulationResult.times``).
    weights : list of ndarray, shape (n_l, n_{l+1})
        Dense weights from layer ``l`` to layer ``l + 1`` (0 where no synapse).
    excitatory : list of ndarray of bool
        Per layer: neurons declared excitatory (``Network.neuron_sign == +1``,
        e.g. from :func:`eventsim.layers.dale_network`); for neurons without a
        declared sign, those none of whose weights to the next layer is
        negative.  Neurons declared inhibitory are ``False``.  Undeclared
        neurons of the last layer, which has no outgoing weights, are ``True``.
    dale : bool
        Whether every neuron before the last layer obeys Dale's law (declared
        sign, or outgoing weights to the next layer that do not mix signs).
    pulse_ids : ndarray of int
        Ids of the synchronisation pulses (not part of any layer).
    """

    names: tuple
    layers: list
    weights: list
    excitatory: list
    dale: bool
    pulse_ids: np.ndarray

    def layer_dict(self) -> dict:
        """``{name: ids}``, usable as ``layers`` by the other functions."""
        return dict(zip(self.names, self.layers))

    def excitatory_mask(self, n_neurons) -> np.ndarray:
        """The excitatory masks as one boolean array over all ``n_neurons`` ids
        (neurons outside the layers, such as pulses, are ``False``)."""
        full = np.zeros(int(n_neurons), bool)
        for ids, m in zip(self.layers, self.excitatory):
            full[ids] = m
        return full


def network_layers(net, populations=None, *, strict=True) -> LayeredNetwork:
    """Layer groups, dense weights and E/I masks of a layered :class:`eventsim.Network`.

    Parameters
    ----------
    net : eventsim.Network
    populations : sequence of str or Population, optional
        The layers in order.  Default: every input and neuron population in the
        order they were added (pulses left out) -- for
        :func:`eventsim.feedforward` networks ``input, hidden0, ..., output``.
    strict : bool, default True
        Raise if a synapse between the layers' neurons does not go from one layer
        to the next (skip or recurrent connections, which the per-layer matrices
        would leave out).  Synapses from pulses are always allowed.

    Returns
    -------
    LayeredNetwork
    """
    if populations is None:
        pops = [p for p in net.populations if p.kind != "pulse"]
    else:
        pops = [net[p] if isinstance(p, str) else p for p in populations]
    if len(pops) < 2:
        raise ValueError(f"a layered network needs at least 2 layers, got {[p.name for p in pops]}")
    for p in pops:
        if p.kind == "pulse":
            raise ValueError(f"population {p.name!r} is a set of pulses, not a layer")
        if p.size == 0:
            raise ValueError(f"population {p.name!r} is empty")
    layers = [p.ids for p in pops]
    layer_of = np.full(net.n_neurons, -1)
    for l, ids in enumerate(layers):
        if (layer_of[ids] >= 0).any():
            raise ValueError(f"population {pops[l].name!r} is listed twice")
        layer_of[ids] = l
    if strict:
        lp, lq = layer_of[net.pre], layer_of[net.post]
        bad = (lp >= 0) & (lq >= 0) & (lq != lp + 1)
        if bad.any():
            s = np.flatnonzero(bad)[0]
            raise ValueError(
                f"synapse {s} ({net.pre[s]} -> {net.post[s]}) does not go from one layer to the next "
                f"({pops[lp[s]].name} -> {pops[lq[s]].name}); pass strict=False to ignore such synapses")
    weights = [net.weight_matrix(layers[l], layers[l + 1]) for l in range(len(layers) - 1)]
    declared = getattr(net, "neuron_sign", None)
    if declared is None:
        declared = np.zeros(net.n_neurons, np.int8)
    inferred = [~(w < 0).any(axis=1) for w in weights] + [np.ones(layers[-1].size, bool)]
    excitatory = [np.where(declared[ids] != 0, declared[ids] > 0, inf)
                  for ids, inf in zip(layers, inferred)]
    dale = all(((declared[ids] != 0) | ~((w > 0).any(axis=1) & (w < 0).any(axis=1))).all()
               for ids, w in zip(layers, weights))
    return LayeredNetwork(names=tuple(p.name for p in pops), layers=layers, weights=weights,
                          excitatory=excitatory, dale=bool(dale), pulse_ids=net.pulse_ids)
