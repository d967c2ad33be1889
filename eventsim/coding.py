"""Measures of how a spiking network codes: rates, spike timing, separability, kernels.

Everything here takes spike trains and returns numpy arrays; nothing runs a network.
Spike trains may be given as

* a :class:`eventsim.SpikeTrains` (each example is a *sample*, each channel a neuron);
* a list of samples, each a list of per-neuron arrays of spike times
  (``data[s][n]`` = the spike times of neuron ``n`` in sample ``s``);
* for the pairwise distances, two plain 1-D arrays of spike times.

The measures (docs/coding.md gives the mathematics):

1. rate coding -- :func:`spike_counts`, :func:`count_correlation`,
   :func:`mean_pairwise_count_correlation`: correlations across samples of spike
   counts in a window;
2. timing alignment -- :func:`van_rossum_distance` (exact closed form for the
   exponential kernel, O(n log n)), :func:`victor_purpura_distance` (dynamic
   programming), their matrices over samples, and :func:`class_distances` (mean
   within-class and between-class distance, per neuron or averaged);
3. separability over time -- :func:`filtered_traces` and
   :func:`separability_over_time` (leave-one-out nearest-centroid accuracy or the
   Fisher discriminant ratio of the exponentially filtered population state);
4. kernels -- :func:`count_kernel` and :func:`timing_kernel` (exact inner products
   of exponentially filtered trains), positive semi-definite by construction;
5. the Bayesian readout -- :func:`gp_regression`, :func:`gp_classify` (Gaussian-process
   regression / one-vs-rest classification on a kernel) and :func:`average_kernels`.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.linalg
import scipy.signal

__all__ = [
    "spike_counts", "count_correlation", "mean_pairwise_count_correlation",
    "van_rossum_distance", "victor_purpura_distance",
    "van_rossum_distance_matrix", "victor_purpura_distance_matrix", "class_distances",
    "filtered_traces", "separability_over_time",
    "count_kernel", "timing_kernel", "exponential_overlap",
    "gp_regression", "gp_classify", "average_kernels",
]


# ----------------------------------------------------------------------------- input
class _Flat:
    """All spikes of a data set as flat arrays: ``times``, ``neuron``, ``sample``."""

    def __init__(self, times, neuron, sample, n_samples, n_neurons):
        self.times = times
        self.neuron = neuron
        self.sample = sample
        self.n_samples = n_samples
        self.n_neurons = n_neurons

    def restrict(self, window):
        if window is None:
            return self
        t0, t1 = _window(window)
        keep = (self.times >= t0) & (self.times < t1)
        return _Flat(self.times[keep], self.neuron[keep], self.sample[keep],
                     self.n_samples, self.n_neurons)

    def trains(self):
        """``out[s][n]``: sorted spike times of neuron ``n`` in sample ``s``."""
        order = np.lexsort((self.times, self.neuron, self.sample))
        t = self.times[order]
        key = self.sample[order] * self.n_neurons + self.neuron[order]
        bounds = np.searchsorted(key, np.arange(self.n_samples * self.n_neurons + 1))
        return [[t[bounds[s * self.n_neurons + n]:bounds[s * self.n_neurons + n + 1]]
                 for n in range(self.n_neurons)] for s in range(self.n_samples)]


def _is_spiketrains(data):
    return all(hasattr(data, a) for a in ("times", "index", "offsets", "n_channels",
                                          "trains"))


def _train(name, values):
    arr = np.asarray(values)
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} must be real spike times, got complex values")
    if arr.dtype.kind not in "biuf" and arr.size:
        raise TypeError(f"{name} must be spike times (numbers), got dtype {arr.dtype}")
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of spike times, got shape {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} holds a non-finite spike time")
    return np.sort(arr)


def _flatten(data, name="data") -> _Flat:
    """Normalise ``data`` (SpikeTrains or ``data[sample][neuron]`` lists) to _Flat."""
    if isinstance(data, _Flat):
        return data
    if _is_spiketrains(data):
        off = np.asarray(data.offsets)
        n_samples = off.size - 1
        sample = np.repeat(np.arange(n_samples), np.diff(off))
        return _Flat(np.asarray(data.times, np.float64), np.asarray(data.index, np.int64),
                     sample, n_samples, int(data.n_channels))
    if isinstance(data, np.ndarray) and data.dtype != object:
        raise TypeError(f"{name} must be a SpikeTrains or a list of samples, each a list of "
                        f"per-neuron spike-time arrays; got a {data.ndim}-D numeric array "
                        "(a single sample's trains must be wrapped in a list: [trains])")
    try:
        samples = list(data)
    except TypeError:
        raise TypeError(f"{name} must be a SpikeTrains or a list of samples, each a list "
                        f"of per-neuron spike-time arrays; got {type(data).__name__}") from None
    if not samples:
        raise ValueError(f"{name} holds no samples")
    times, neuron, sample = [], [], []
    n_neurons = None
    for s, trains in enumerate(samples):
        if np.isscalar(trains) or (isinstance(trains, np.ndarray) and trains.ndim == 0):
            raise TypeError(f"{name}[{s}] must be a list of per-neuron spike-time arrays, "
                            f"got a number (to pass one sample, wrap it: [trains])")
        trains = list(trains)
        if n_neurons is None:
            n_neurons = len(trains)
        elif len(trains) != n_neurons:
            raise ValueError(f"sample {s} of {name} has {len(trains)} neurons, sample 0 has "
                             f"{n_neurons}")
        for n, tr in enumerate(trains):
            if np.ndim(tr) == 0:
                raise TypeError(f"{name}[{s}][{n}] is a single number, but each neuron's "
                                "spike times must be a 1-D array; data is indexed "
                                "data[sample][neuron] (to pass one sample's trains, wrap them: "
                                "[trains])")
            arr = _train(f"{name}[{s}][{n}]", tr)
            times.append(arr)
            neuron.append(np.full(arr.size, n, np.int64))
            sample.append(np.full(arr.size, s, np.int64))
    cat = (lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt))
    return _Flat(cat(times, np.float64), cat(neuron, np.int64), cat(sample, np.int64),
                 len(samples), n_neurons)


def _positive(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive number, got {value!r}")
    value = float(value)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be positive and finite, got {value}")
    return value


def _nonnegative(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a non-negative number, got {value!r}")
    value = float(value)
    if not (np.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be non-negative and finite, got {value}")
    return value


def _window(window):
    try:
        t0, t1 = window
    except (TypeError, ValueError):
        raise TypeError(f"window must be a pair (t_start, t_stop), got {window!r}") from None
    t0, t1 = float(t0), float(t1)
    if np.isnan(t0) or np.isnan(t1) or not t1 > t0:
        raise ValueError(f"window must have t_start < t_stop, got ({t0}, {t1})")
    return t0, t1


def _labels(labels, n_samples):
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size != n_samples:
        raise ValueError(f"labels must be 1-D with one entry per sample ({n_samples}), "
                         f"got shape {labels.shape}")
    classes, y = np.unique(labels, return_inverse=True)
    return classes, y.reshape(-1)


# ------------------------------------------------------------------- 1. rate coding
def spike_counts(data, window=None) -> np.ndarray:
    """Spike counts per sample and neuron.

    Parameters
    ----------
    data : SpikeTrains or list of list of array_like
        ``data[s][n]``: spike times of neuron ``n`` in sample ``s``.
    window : (float, float), optional
        Count only spikes with ``t_start <= t < t_stop``; default all spikes.

    Returns
    -------
    ndarray of int64, shape (n_samples, n_neurons)
    """
    f = _flatten(data).restrict(window)
    out = np.zeros(f.n_samples * f.n_neurons, np.int64)
    np.add.at(out, f.sample * f.n_neurons + f.neuron, 1)
    return out.reshape(f.n_samples, f.n_neurons)


def count_correlation(data, window=None) -> np.ndarray:
    """Pearson correlation across samples of the spike counts of each neuron pair.

    ``C[i, j] = cov_s(c_si, c_sj) / (std_s(c_si) std_s(c_sj))``, with ``c_si`` the count
    of neuron ``i`` in sample ``s`` (in ``window``).  A weak correlation across samples
    means that neurons vary their rates independently from sample to sample.

    Parameters
    ----------
    data : SpikeTrains or list of list of array_like
        ``data[s][n]``: spike times of neuron ``n`` in sample ``s``; at least 2 samples.
    window : (float, float), optional
        Count window ``[t_start, t_stop)``; default all spikes.

    Returns
    -------
    ndarray, shape (n_neurons, n_neurons)
        The correlation matrix; rows and columns of neurons whose count does not vary
        across samples are NaN (their correlation is undefined).
    """
    counts = spike_counts(data, window).astype(np.float64)
    if counts.shape[0] < 2:
        raise ValueError("count correlation needs at least 2 samples, got "
                         f"{counts.shape[0]}")
    x = counts - counts.mean(axis=0)
    sd = np.sqrt((x * x).sum(axis=0))
    cov = x.T @ x
    with np.errstate(invalid="ignore", divide="ignore"):
        c = cov / np.outer(sd, sd)
    const = sd == 0
    c[const, :] = np.nan
    c[:, const] = np.nan
    np.fill_diagonal(c, np.where(const, np.nan, 1.0))
    return c


def mean_pairwise_count_correlation(data, window=None) -> float:
    """Mean of the count correlation over all neuron pairs ``i < j``.

    Pairs with an undefined correlation (a neuron whose count does not vary across
    samples) are left out; NaN if no pair is defined.  See :func:`count_correlation`.
    """
    c = count_correlation(data, window)
    iu = np.triu_indices(c.shape[0], k=1)
    vals = c[iu]
    vals = vals[np.isfinite(vals)]
    return float(vals.mean()) if vals.size else float("nan")


# ----------------------------------------------------------- 2. timing distances
def _log_cumsum_exp(x):
    """log(cumsum(exp(x))), without overflow."""
    return np.logaddexp.accumulate(x) if x.size else x


def exponential_overlap(a, b, tau) -> float:
    """``sum_{i,j} exp(-|a_i - b_j| / tau)`` for two spike trains, exactly.

    O((n + m) log(n + m)) from the sorted times: for each ``a_i`` the spikes of ``b``
    before and after it are summed with running log-sum-exps, so no term overflows.
    ``(tau / 2)`` times this is the inner product of the two exponentially filtered
    trains (see :func:`timing_kernel`).

    Parameters
    ----------
    a, b : array_like of float
        Spike times (any order).
    tau : float
        Time constant, > 0.
    """
    tau = _positive("tau", tau)
    a = _train("a", a)
    b = _train("b", b)
    return _overlap_sorted(a, b, tau)


def _overlap_each(x, b, tau):
    """For each ``x_i``: ``sum_j exp(-|x_i - b_j| / tau)``, ``b`` sorted.

    The spikes of ``b`` at or before ``x_i`` and those after it are summed with
    running log-sum-exps of ``+-b / tau``, so no term over- or underflows harmfully;
    O((n + m) log m)."""
    out = np.zeros(x.size)
    if x.size == 0 or b.size == 0:
        return out
    yb = b / tau
    yx = x / tau
    k = np.searchsorted(yb, yx, side="right")
    before = k > 0
    if before.any():
        fwd = _log_cumsum_exp(yb)                    # log sum_{j<=k} exp(yb_j)
        out[before] += np.exp(fwd[k[before] - 1] - yx[before])
    after = k < b.size
    if after.any():
        bwd = _log_cumsum_exp(-yb[::-1])[::-1]       # log sum_{j>=k} exp(-yb_j)
        out[after] += np.exp(bwd[k[after]] + yx[after])
    return out


def _overlap_sorted(a, b, tau):
    if a.size > b.size:
        a, b = b, a                                  # query the shorter train
    return float(_overlap_each(a, b, tau).sum())


def van_rossum_distance(a, b, tau) -> float:
    """Van Rossum distance between two spike trains (exponential kernel), exact.

    With ``f(t) = sum_i H(t - t_i) exp(-(t - t_i) / tau)`` the causally filtered train::

        D^2 = (2 / tau) * integral (f_a(t) - f_b(t))^2 dt
            = sum_{ii'} e^{-|a_i - a_i'|/tau} + sum_{jj'} e^{-|b_j - b_j'|/tau}
              - 2 sum_{ij} e^{-|a_i - b_j|/tau},

    evaluated from the sorted spike times in O(n log n) (no time grid).  A train with
    one spike is at distance 1 from the empty train; this is the normalisation of
    ``elephant.spike_train_dissimilarity.van_rossum_distance``.  Divide by
    ``sqrt(2)`` for van Rossum's original ``(1 / tau)`` normalisation.

    Parameters
    ----------
    a, b : array_like of float
        Spike times (any order).
    tau : float
        Time constant of the filter, > 0.

    Returns
    -------
    float
    """
    tau = _positive("tau", tau)
    a = _train("a", a)
    b = _train("b", b)
    d2 = _overlap_sorted(a, a, tau) + _overlap_sorted(b, b, tau) - 2 * _overlap_sorted(a, b, tau)
    return float(np.sqrt(max(d2, 0.0)))


def _vp_sorted(a, b, q):
    n, m = a.size, b.size
    if n == 0 or m == 0:
        return float(n + m)
    if q == 0:
        return float(abs(n - m))
    if n < m:
        a, b, n, m = b, a, m, n
    j = np.arange(m + 1, dtype=np.float64)
    prev = j.copy()                                  # G[0, j] = j
    for i in range(1, n + 1):
        shift = prev[:-1] + q * np.abs(a[i - 1] - b)  # G[i-1, j-1] + q|a_i - b_j|
        h = np.empty(m + 1)
        h[0] = i                                     # G[i, 0] = i
        h[1:] = np.minimum(prev[1:] + 1.0, shift)    # delete a_i, or shift onto b_j
        # insertions along the row: G[i, j] = min_k (h[k] + (j - k))
        prev = np.minimum.accumulate(h - j) + j
    return float(prev[-1])


def victor_purpura_distance(a, b, q) -> float:
    """Victor-Purpura spike-time distance, by dynamic programming.

    The least total cost of turning train ``a`` into train ``b`` when deleting or
    inserting a spike costs 1 and moving a spike by ``dt`` costs ``q * |dt|``.
    ``G[i, j] = min(G[i-1, j] + 1, G[i, j-1] + 1, G[i-1, j-1] + q |a_i - b_j|)``,
    ``G[i, 0] = i``, ``G[0, j] = j``; O(n m) work, one vectorised row at a time.

    Parameters
    ----------
    a, b : array_like of float
        Spike times (any order).
    q : float
        Cost per unit time of moving a spike, >= 0 (``q = 0`` compares counts only;
        large ``q`` counts the spikes that do not coincide exactly).

    Returns
    -------
    float
    """
    q = _nonnegative("q", q)
    return _vp_sorted(_train("a", a), _train("b", b), q)


def _overlap_blocks(f_a, f_b, tau, same):
    """``(n_neurons, S_a, S_b)`` array of sum_{spikes i in (s,n), j in (s',n)}
    exp(-|t_i - t_j| / tau), exact: for each neuron and each sample of ``f_b``, every
    spike of ``f_a`` is queried against that sample's sorted train (:func:`_overlap_each`)."""
    out = np.zeros((f_a.n_neurons, f_a.n_samples, f_b.n_samples))
    order_a = np.argsort(f_a.neuron, kind="stable")
    na = np.searchsorted(f_a.neuron[order_a], np.arange(f_a.n_neurons + 1))
    order_b = np.lexsort((f_b.times, f_b.sample, f_b.neuron))
    key_b = f_b.neuron[order_b] * f_b.n_samples + f_b.sample[order_b]
    kb = np.searchsorted(key_b, np.arange(f_b.n_neurons * f_b.n_samples + 1))
    tb_all = f_b.times[order_b]
    for n in range(f_a.n_neurons):
        ia = order_a[na[n]:na[n + 1]]
        if ia.size == 0:
            continue
        ta, sa = f_a.times[ia], f_a.sample[ia]
        for s in range(f_b.n_samples):
            lo, hi = kb[n * f_b.n_samples + s], kb[n * f_b.n_samples + s + 1]
            if hi > lo:
                g = _overlap_each(ta, tb_all[lo:hi], tau)
                out[n, :, s] = np.bincount(sa, weights=g, minlength=f_a.n_samples)
    if same:
        out = 0.5 * (out + out.transpose(0, 2, 1))
    return out


def van_rossum_distance_matrix(data, tau, per_neuron=False) -> np.ndarray:
    """Van Rossum distances between all pairs of samples.

    Parameters
    ----------
    data : SpikeTrains or list of list of array_like
        ``data[s][n]``: spike times of neuron ``n`` in sample ``s``.
    tau : float
        Filter time constant, > 0.
    per_neuron : bool
        If True return one matrix per neuron; otherwise the population distance
        ``sqrt(sum_n D_n^2)`` (the distance of the filtered population vectors).

    Returns
    -------
    ndarray, shape (n_samples, n_samples) or (n_neurons, n_samples, n_samples)
        Same normalisation as :func:`van_rossum_distance`.
    """
    tau = _positive("tau", tau)
    f = _flatten(data)
    k = _overlap_blocks(f, f, tau, same=True)
    diag = np.diagonal(k, axis1=1, axis2=2)
    d2 = diag[:, :, None] + diag[:, None, :] - 2 * k
    if not per_neuron:
        d2 = d2.sum(axis=0)
    d = np.sqrt(np.maximum(d2, 0.0))
    idx = np.arange(f.n_samples)
    d[..., idx, idx] = 0.0
    return d


def victor_purpura_distance_matrix(data, q, per_neuron=False) -> np.ndarray:
    """Victor-Purpura distances between all pairs of samples.

    Parameters
    ----------
    data : SpikeTrains or list of list of array_like
        ``data[s][n]``: spike times of neuron ``n`` in sample ``s``.
    q : float
        Cost per unit time of moving a spike, >= 0.
    per_neuron : bool
        If True return one matrix per neuron; otherwise the sum over neurons.

    Returns
    -------
    ndarray, shape (n_samples, n_samples) or (n_neurons, n_samples, n_samples)
    """
    q = _nonnegative("q", q)
    f = _flatten(data)
    trains = f.trains()
    d = np.zeros((f.n_neurons, f.n_samples, f.n_samples))
    for s in range(f.n_samples):
        for r in range(s + 1, f.n_samples):
            for n in range(f.n_neurons):
                d[n, s, r] = d[n, r, s] = _vp_sorted(trains[s][n], trains[r][n], q)
    return d if per_neuron else d.sum(axis=0)


def class_distances(data, labels, metric="van_rossum", param=1.0, per_neuron=False):
    """Mean spike-train distance within classes and between classes.

    Precisely aligned spike timing within a class shows as a within-class distance well
    below the between-class distance.

    Parameters
    ----------
    data : SpikeTrains or list of list of array_like
        ``data[s][n]``: spike times of neuron ``n`` in sample ``s``.
    labels : array_like, shape (n_samples,)
        Class of each sample; some class must hold 2 samples and there must be 2 classes.
    metric : {"van_rossum", "victor_purpura"}
        The distance.
    param : float
        ``tau`` of the van Rossum distance, or ``q`` of the Victor-Purpura distance.
    per_neuron : bool
        If True, the distances of each neuron separately (arrays of shape
        ``(n_neurons,)``); otherwise the mean over neurons of the per-neuron distances.

    Returns
    -------
    within, between : float or ndarray of shape (n_neurons,)
        Mean distance over all pairs of distinct samples of the same class, and over all
        pairs of samples of different classes.
    """
    f = _flatten(data)
    classes, y = _labels(labels, f.n_samples)
    if classes.size < 2:
        raise ValueError("class_distances needs at least 2 classes")
    same = y[:, None] == y[None, :]
    off = ~np.eye(f.n_samples, dtype=bool)
    w_mask, b_mask = same & off, ~same
    if not w_mask.any():
        raise ValueError("class_distances needs a class with at least 2 samples")
    if metric == "van_rossum":
        d = van_rossum_distance_matrix(f, param, per_neuron=True)
    elif metric == "victor_purpura":
        d = victor_purpura_distance_matrix(f, param, per_neuron=True)
    else:
        raise ValueError(f"metric must be 'van_rossum' or 'victor_purpura', got {metric!r}")
    within = d[:, w_mask].mean(axis=1)
    between = d[:, b_mask].mean(axis=1)
    if per_neuron:
        return within, between
    return float(within.mean()), float(between.mean())


# ------------------------------------------------------- 3. separability over time
def filtered_traces(data, times, tau) -> np.ndarray:
    """The exponentially filtered spike trains evaluated at given times.

    ``x_sn(t) = sum_{t_k <= t} exp(-(t - t_k) / tau)`` over the spikes ``t_k`` of neuron
    ``n`` in sample ``s`` (causal filter, a spike counts fully at its own time).

    Parameters
    ----------
    data : SpikeTrains or list of list of array_like
    times : array_like of float, shape (T,)
        Evaluation times.
    tau : float
        Filter time constant, > 0.

    Returns
    -------
    ndarray, shape (n_samples, n_neurons, T)
    """
    tau = _positive("tau", tau)
    t = np.asarray(times, np.float64)
    if t.ndim != 1 or not np.all(np.isfinite(t)):
        raise ValueError("times must be a 1-D array of finite times")
    f = _flatten(data)
    out = np.zeros((f.n_samples * f.n_neurons, t.size))
    key = f.sample * f.n_neurons + f.neuron
    chunk = max(1, 2 ** 22 // max(t.size, 1))
    for c0 in range(0, f.times.size, chunk):
        dt = t[None, :] - f.times[c0:c0 + chunk, None]
        contrib = np.where(dt >= 0, np.exp(-np.maximum(dt, 0.0) / tau), 0.0)
        np.add.at(out, key[c0:c0 + chunk], contrib)
    return out.reshape(f.n_samples, f.n_neurons, t.size)


def _loo_centroid_accuracy(x, y, n_classes):
    """Leave-one-out nearest-centroid accuracy; ties share the credit."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    sums = np.zeros((n_classes, x.shape[1]))
    np.add.at(sums, y, x)
    centroids = sums / counts[:, None]
    d2 = ((x[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
    # own class: centroid without the sample, (n mu - x) / (n - 1)
    s = np.arange(x.shape[0])
    own = (sums[y] - x) / (counts[y] - 1)[:, None]
    d2[s, y] = ((x - own) ** 2).sum(axis=1)
    # distances that differ only by rounding of the centroids count as ties
    scale = np.maximum((x * x).sum(axis=1), (centroids * centroids).sum(axis=1).max())
    best = d2.min(axis=1, keepdims=True)
    ties = d2 <= best + 1e-10 * scale[:, None]
    return float((ties[s, y] / ties.sum(axis=1)).mean())


def _fisher_ratio(x, y, n_classes, shrinkage):
    """Largest generalised eigenvalue of (S_B, S_W + lambda I)."""
    d = x.shape[1]
    mu = x.mean(axis=0)
    sw = np.zeros((d, d))
    sb = np.zeros((d, d))
    for c in range(n_classes):
        xc = x[y == c]
        mc = xc.mean(axis=0)
        r = xc - mc
        sw += r.T @ r
        dm = (mc - mu)[:, None]
        sb += xc.shape[0] * (dm @ dm.T)
    tw, tb = np.trace(sw), np.trace(sb)
    tol = 1e-12 * float((x * x).sum())   # scatter at the level of rounding counts as 0
    if tb <= tol:
        return 0.0
    if tw <= tol:
        return float("inf")
    lam = shrinkage * tw / d
    w = scipy.linalg.eigh(sb, sw + lam * np.eye(d), eigvals_only=True)
    return float(max(w[-1], 0.0))


def separability_over_time(data, labels, times, tau, method="centroid", shrinkage=1e-3):
    """Linear class separability of the filtered population state at each time.

    At each time ``t`` the population state of sample ``s`` is the vector
    ``x_s(t)`` of :func:`filtered_traces`; this scores how well the classes separate.

    Parameters
    ----------
    data : SpikeTrains or list of list of array_like
        ``data[s][n]``: spike times of neuron ``n`` in sample ``s``.
    labels : array_like, shape (n_samples,)
        Class of each sample; at least 2 classes, each with at least 2 samples.
    times : array_like of float, shape (T,)
        Times after stimulus onset at which to score.
    tau : float
        Filter time constant, > 0.
    method : {"centroid", "fisher"}
        ``"centroid"``: leave-one-out nearest-centroid accuracy (each sample is
        compared with the class centroids computed without it; tied nearest centroids
        share the credit, so identical classes score exactly the chance level
        ``1 / n_classes`` when the classes are of equal size).
        ``"fisher"``: the Fisher discriminant ratio ``max_w w'S_B w / w'(S_W + lambda I)w``
        (between- over within-class scatter along the best direction; 0 when the class
        means coincide, ``inf`` when the classes are points apart).
    shrinkage : float
        For ``"fisher"``: ``lambda = shrinkage * trace(S_W) / n_neurons``, which keeps the
        ratio finite when there are fewer samples than neurons.

    Returns
    -------
    ndarray, shape (T,)
    """
    f = _flatten(data)
    classes, y = _labels(labels, f.n_samples)
    if classes.size < 2:
        raise ValueError("separability needs at least 2 classes")
    if np.bincount(y).min() < 2:
        raise ValueError("separability needs at least 2 samples in every class")
    if method not in ("centroid", "fisher"):
        raise ValueError(f"method must be 'centroid' or 'fisher', got {method!r}")
    shrinkage = _nonnegative("shrinkage", shrinkage)
    x = filtered_traces(f, times, tau)
    out = np.empty(x.shape[2])
    for k in range(x.shape[2]):
        if method == "centroid":
            out[k] = _loo_centroid_accuracy(x[:, :, k], y, classes.size)
        else:
            out[k] = _fisher_ratio(x[:, :, k], y, classes.size, shrinkage)
    return out


# ----------------------------------------------------------------------- 4. kernels
def _normalize_kernel(k, normalize, diag_a, diag_b, n_neurons):
    if normalize is None:
        return k
    if normalize == "neurons":
        return k / max(n_neurons, 1)
    if normalize == "cosine":
        da = np.sqrt(diag_a)
        db = np.sqrt(diag_b)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = k / np.outer(da, db)
        out[~np.isfinite(out)] = 0.0
        out[da == 0, :] = 0.0
        out[:, db == 0] = 0.0
        return out
    raise ValueError(f"normalize must be None, 'neurons' or 'cosine', got {normalize!r}")


def count_kernel(data, other=None, window=None, normalize=None) -> np.ndarray:
    """Sample-by-sample kernel of spike counts, ``K[s, r] = sum_n c_sn c_rn``.

    Parameters
    ----------
    data : SpikeTrains or list of list of array_like
        ``data[s][n]``: spike times of neuron ``n`` in sample ``s``.
    other : same kind as ``data``, optional
        Second set of samples (same neurons) for a cross kernel ``K[s, r]`` with ``s``
        from ``data`` and ``r`` from ``other``, e.g. test against training samples.
    window : (float, float), optional
        Count window ``[t_start, t_stop)``.
    normalize : {None, "neurons", "cosine"}
        ``"neurons"`` divides by the number of neurons (a mean over neurons);
        ``"cosine"`` divides by ``sqrt(K[s, s] K[r, r])`` (samples without spikes get 0).

    Returns
    -------
    ndarray, shape (n_samples, n_samples_other)
        Positive semi-definite when ``other`` is None (a Gram matrix).
    """
    ca = spike_counts(data, window).astype(np.float64)
    cb = ca if other is None else spike_counts(other, window).astype(np.float64)
    if ca.shape[1] != cb.shape[1]:
        raise ValueError(f"data has {ca.shape[1]} neurons but other has {cb.shape[1]}")
    k = ca @ cb.T
    return _normalize_kernel(k, normalize, (ca * ca).sum(1), (cb * cb).sum(1), ca.shape[1])


# At most this many samples x neurons x bins per block of the factorised kernel (memory).
_BLOCK = 4_000_000
# Bins per span of the spikes; bin widths stay below this many tau so that the factors
# exp(+-(t - c) / tau) stay far from overflow (e^300 against e^709).
_N_BINS = 32
_MAX_WIDTH_TAUS = 300.0


def _pair_sums(fa, fb, tau):
    """``K[s, r] = sum_n sum_{i in (s,n) of a, j in (r,n) of b} exp(-|t_i - t_j| / tau)``.

    Exact, without a loop over neurons or samples in Python.  The spikes are put into
    bins of width ``w`` starting at ``c_k``; a pair whose spikes lie in bins ``k > l``
    factorises as ``exp(-(t_i - c_k)/tau) * exp(-(c_k - c_l)/tau) * exp((t_j - c_l)/tau)``,
    so the pairs in different bins are a matrix product of per-(sample, neuron, bin) sums,
    with the bin-to-bin factor applied by a first-order recursion over the bins.  Pairs in
    the same bin and neuron are summed one by one.  Every term is positive, so the sums
    keep full relative precision whatever the magnitude of the factors.
    """
    out = np.zeros((fa.n_samples, fb.n_samples))
    if fa.times.size == 0 or fb.times.size == 0:
        return out
    t0 = min(fa.times.min(), fb.times.min())
    span = max(fa.times.max(), fb.times.max()) - t0
    n_bins = max(_N_BINS, int(np.ceil(span / (_MAX_WIDTH_TAUS * tau))))
    width = max(span / n_bins, np.finfo(float).tiny) * (1.0 + 1e-12)
    n_bins = max(1, min(n_bins, int(span // width) + 1))
    decay = np.exp(-width / tau)
    sides = []
    for f in (fa, fb):
        k = np.minimum(((f.times - t0) // width).astype(np.int64), n_bins - 1)
        x = (f.times - (t0 + k * width)) / tau
        sides.append((f, k, np.exp(-x), np.exp(x)))
    (_, ka, ua, va), (_, kb, ub, vb) = sides
    S_a, S_b, N = fa.n_samples, fb.n_samples, fa.n_neurons
    chunk = max(1, _BLOCK // (max(S_a, S_b) * n_bins))
    for n0 in range(0, N, chunk):
        m = min(chunk, N - n0)

        def binned(f, k, w):
            sel = (f.neuron >= n0) & (f.neuron < n0 + m)
            flat = ((f.sample[sel] * m + f.neuron[sel] - n0) * n_bins + k[sel])
            return np.bincount(flat, w[sel], f.n_samples * m * n_bins).reshape(
                f.n_samples, m, n_bins)

        def earlier(v):
            # sum over bins l < k of decay^(k - l) v[..., l]
            return scipy.signal.lfilter([0.0, decay], [1.0, -decay], v, axis=-1)

        Ua, Va, Ub, Vb = binned(fa, ka, ua), binned(fa, ka, va), binned(fb, kb, ub), \
            binned(fb, kb, vb)
        # a later than b, then b later than a
        out += Ua.reshape(S_a, -1) @ earlier(Vb).reshape(S_b, -1).T
        out += earlier(Va).reshape(S_a, -1) @ Ub.reshape(S_b, -1).T
    # pairs in one bin of one neuron
    key_a = fa.neuron * n_bins + ka
    key_b = fb.neuron * n_bins + kb
    ob = np.argsort(key_b, kind="stable")
    kbs = key_b[ob]
    lo = np.searchsorted(kbs, key_a, side="left")
    hi = np.searchsorted(kbs, key_a, side="right")
    cnt = hi - lo
    if cnt.sum():
        ia = np.repeat(np.arange(key_a.size), cnt)
        start = np.repeat(lo - np.cumsum(cnt) + cnt, cnt)
        jb = ob[np.arange(ia.size) + start]
        g = np.exp(-np.abs(fa.times[ia] - fb.times[jb]) / tau)
        out += np.bincount(fa.sample[ia] * S_b + fb.sample[jb], weights=g,
                           minlength=S_a * S_b).reshape(S_a, S_b)
    return out


def timing_kernel(data, taus, other=None, window=None, normalize=None) -> np.ndarray:
    """Sample-by-sample kernel of exponentially filtered spike trains, exact.

    ::

        K_tau[s, r] = sum_n integral f_sn(t) f_rn(t) dt
                    = sum_n sum_{i in (s,n), j in (r,n)} (tau / 2) exp(-|t_i - t_j| / tau),

    the inner product of the causally filtered trains (:func:`filtered_traces`) over
    all time; a Gram matrix, so positive semi-definite.  For ``tau -> 0`` (after
    dividing by ``tau / 2``) it counts coincident spikes; for large ``tau`` it tends to
    ``(tau / 2)`` times the :func:`count_kernel`.

    Parameters
    ----------
    data : SpikeTrains or list of list of array_like
        ``data[s][n]``: spike times of neuron ``n`` in sample ``s``.
    taus : float or array_like of float
        One or several filter time constants, > 0.
    other : same kind as ``data``, optional
        Second set of samples for a cross kernel (see :func:`count_kernel`).
    window : (float, float), optional
        Use only spikes with ``t_start <= t < t_stop``.
    normalize : {None, "neurons", "cosine"}
        As in :func:`count_kernel`.

    Returns
    -------
    ndarray, shape (n_samples, n_samples_other), or (len(taus), ...) if ``taus`` is a
    sequence.
    """
    scalar = np.ndim(taus) == 0
    tau_list = [_positive("tau", float(t) if not isinstance(t, bool) else t)
                for t in np.atleast_1d(taus)] if not scalar else [_positive("tau", taus)]
    if not tau_list:
        raise ValueError("taus is empty")
    fa = _flatten(data).restrict(window)
    fb = fa if other is None else _flatten(other, "other").restrict(window)
    if fa.n_neurons != fb.n_neurons:
        raise ValueError(f"data has {fa.n_neurons} neurons but other has {fb.n_neurons}")
    out = []
    for tau in tau_list:
        k = 0.5 * tau * _pair_sums(fa, fb, tau)
        if other is None:
            k = 0.5 * (k + k.T)     # symmetric to the last bit, as a Gram matrix is
        if normalize == "cosine":
            if other is None:
                da = db = np.diag(k).copy()
            else:
                da = 0.5 * tau * np.diag(_pair_sums(fa, fa, tau))
                db = 0.5 * tau * np.diag(_pair_sums(fb, fb, tau))
        else:
            da = db = None
        out.append(_normalize_kernel(k, normalize, da, db, fa.n_neurons))
    return out[0] if scalar else np.stack(out)


def average_kernels(kernels) -> np.ndarray:
    """Average of kernels, e.g. over ``M`` random draws of the network's weights.

    Parameters
    ----------
    kernels : sequence of array_like, each of shape (n, m)
        At least one kernel; all of one shape.

    Returns
    -------
    ndarray, shape (n, m)
        ``(1 / M) sum_k K_k``; an average of PSD kernels is PSD.
    """
    ks = [np.asarray(k, dtype=np.float64) for k in kernels]
    if not ks:
        raise ValueError("average_kernels needs at least one kernel")
    shape = ks[0].shape
    if len(shape) != 2:
        raise ValueError(f"kernels must be 2-D matrices, got shape {shape}")
    for i, k in enumerate(ks):
        if k.shape != shape:
            raise ValueError(f"kernel {i} has shape {k.shape}, kernel 0 has {shape}")
        if not np.all(np.isfinite(k)):
            raise ValueError(f"kernel {i} holds non-finite entries")
    return np.mean(ks, axis=0)


# ------------------------------------------------------------- 5. Bayesian readout
def _square_kernel(name, k):
    k = np.asarray(k, dtype=np.float64)
    if k.ndim != 2 or k.shape[0] != k.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {k.shape}")
    if not np.all(np.isfinite(k)):
        raise ValueError(f"{name} holds non-finite entries")
    return k


def gp_regression(K_train, y, K_test=None, noise=1e-2, K_test_diag=None):
    """Gaussian-process regression (posterior mean, optionally variance) on a kernel.

    ``alpha = (K + noise I)^{-1} y`` by a Cholesky factorisation; the posterior mean at
    test points is ``K_test alpha`` and its variance
    ``k(x, x) - K_test (K + noise I)^{-1} K_test'``.

    Parameters
    ----------
    K_train : array_like, shape (n, n)
        Kernel between the training samples (symmetric, positive semi-definite).
    y : array_like, shape (n,) or (n, k)
        Targets; several columns are regressed at once.
    K_test : array_like, shape (m, n), optional
        Kernel between test samples (rows) and training samples (columns); default
        ``K_train`` (predict the training samples).
    noise : float
        Observation-noise variance ``sigma^2`` >= 0 (``noise = 0`` needs ``K`` positive
        definite).
    K_test_diag : array_like, shape (m,), optional
        ``k(x, x)`` of the test samples; if given the variances are returned too.

    Returns
    -------
    mean : ndarray, shape (m,) or (m, k)
    alpha : ndarray, shape (n,) or (n, k)
    var : ndarray, shape (m,)
        Only if ``K_test_diag`` is given.
    """
    k = _square_kernel("K_train", K_train)
    noise = _nonnegative("noise", noise)
    y = np.asarray(y, dtype=np.float64)
    if y.ndim not in (1, 2) or y.shape[0] != k.shape[0]:
        raise ValueError(f"y must have {k.shape[0]} rows (one per training sample), got "
                         f"shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("y holds non-finite targets")
    kt = k if K_test is None else np.asarray(K_test, dtype=np.float64)
    if kt.ndim != 2 or kt.shape[1] != k.shape[0]:
        raise ValueError(f"K_test must have shape (m, {k.shape[0]}), got {kt.shape}")
    a = k + noise * np.eye(k.shape[0])
    try:
        cho = scipy.linalg.cho_factor(a, lower=True)
    except np.linalg.LinAlgError:
        raise np.linalg.LinAlgError(
            "K_train + noise * I is not positive definite; increase noise") from None
    alpha = scipy.linalg.cho_solve(cho, y)
    mean = kt @ alpha
    if K_test_diag is None:
        return mean, alpha
    kd = np.asarray(K_test_diag, dtype=np.float64)
    if kd.shape != (kt.shape[0],):
        raise ValueError(f"K_test_diag must have shape ({kt.shape[0]},), got {kd.shape}")
    v = scipy.linalg.cho_solve(cho, kt.T)
    var = kd - np.einsum("mn,nm->m", kt, v)
    return mean, alpha, var


def gp_classify(K_train, labels, K_test=None, noise=1e-2):
    """One-vs-rest Gaussian-process classification (regression on +-1 targets).

    For each class ``c`` the target is ``+1`` for samples of ``c`` and ``-1`` otherwise;
    the predicted class is the one with the largest posterior mean
    (:func:`gp_regression`).

    Parameters
    ----------
    K_train : array_like, shape (n, n)
        Kernel between training samples.
    labels : array_like, shape (n,)
        Training labels (at least 2 classes).
    K_test : array_like, shape (m, n), optional
        Kernel between test and training samples; default ``K_train``.
    noise : float
        Observation-noise variance ``sigma^2``.

    Returns
    -------
    predicted : ndarray, shape (m,)
        Predicted labels (values from ``labels``).
    scores : ndarray, shape (m, n_classes)
        Posterior means, columns in the order of ``classes``.
    classes : ndarray
        The sorted distinct labels.
    """
    k = _square_kernel("K_train", K_train)
    classes, y = _labels(labels, k.shape[0])
    if classes.size < 2:
        raise ValueError("gp_classify needs at least 2 classes")
    targets = np.where(y[:, None] == np.arange(classes.size)[None, :], 1.0, -1.0)
    scores, _ = gp_regression(k, targets, K_test, noise)
    return classes[np.argmax(scores, axis=1)], scores, classes
