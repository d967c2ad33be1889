"""Classification tasks encoded in spike times (Comsa et al. 2020, section 2.6).

* Noisy Boolean logic (:func:`make_logic`, :func:`make_xor`, :func:`make_and`,
  :func:`make_or`): two inputs; a True value spikes at a time drawn uniformly from
  ``[0, 0.45]``, a False value from ``[0.55, 1]``.  The label is the logic function
  of the two Boolean values (class 1 = True, class 0 = False); two outputs.
* Concentric circles (:func:`make_circles`): a 2-D point drawn uniformly from a
  disc of radius 0.3 (class 0) or a ring with radii 0.4 to 0.5 (class 1), both
  centred at (0.5, 0.5) so that the coordinates -- used directly as the two input
  spike times -- lie in ``[0, 1]`` (as in the reference implementation,
  ``SpikingProblem::GenerateSpikingProblemCircleExamples``).
* Yin-Yang (:func:`make_yin_yang`, :func:`encode_yin_yang`, :func:`load_yin_yang`;
  Kriener, Göltz & Petrovici 2021, arXiv:2102.08211): a point of the yin-yang
  symbol, given as ``(x, y, 1 - x, 1 - y)``, and its region (three classes), the
  benchmark of Göltz et al. 2021 ("Fast and deep").  Encoded as spike times
  ``t_early + value * (t_late - t_early)`` with ``t_early = 0.15``, ``t_late = 2``
  (in units of the synaptic time constant) plus one bias spike at ``0.9``, as in the
  fastAndDeep code.
* MNIST and Fashion-MNIST (:func:`load_image_task`) through
  :mod:`eventsim.datasets`, encoded with :func:`eventsim.datasets.encode_spike_times`.
* Spike-train patterns (:func:`make_spike_patterns`): frozen random Poisson patterns,
  one per class, presented with jitter, deleted and added spikes (as in the Tempotron
  literature); a whole :class:`eventsim.SpikeTrains` per example.

Like the reference, the generators draw both classes with equal probability; within
a class every combination of Boolean inputs that gives it is equally likely.

:func:`make_task` returns ``(X_train, y_train, X_test, y_test)`` for any task name
in :data:`TASKS`, seeded.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["TASKS", "BOOLEAN_TASKS", "IMAGE_TASKS", "make_logic", "make_xor", "make_and",
           "make_or", "make_circles", "make_task", "load_image_task", "n_outputs_of",
           "YIN_YANG_CLASSES", "YIN_YANG_SPLITS", "make_yin_yang", "yin_yang_class",
           "encode_yin_yang", "load_yin_yang", "image_data_sources", "make_spike_patterns"]

#: Boolean tasks and their logic functions.
BOOLEAN_TASKS = {
    "and": lambda a, b: a & b,
    "or": lambda a, b: a | b,
    "xor": lambda a, b: a ^ b,
}
IMAGE_TASKS = ("mnist", "fashion-mnist")
#: Every task name understood by :func:`make_task` (and ``eventsim train --task``).
TASKS = (*BOOLEAN_TASKS, "circles", "yin-yang", *IMAGE_TASKS)

TRUE_RANGE = (0.0, 0.45)
FALSE_RANGE = (0.55, 1.0)
INNER_RADIUS = 0.3
OUTER_RADII = (0.4, 0.5)
CENTRE = (0.5, 0.5)


def _rng(rng):
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _check_n(n):
    if isinstance(n, bool) or int(n) != n or n < 0:
        raise ValueError(f"the number of examples must be a non-negative integer, got {n!r}")
    return int(n)


def make_logic(kind, n, *, rng=None, balanced=True):
    """Noisy Boolean logic examples.

    Parameters
    ----------
    kind : {"and", "or", "xor"}
    n : int
        Number of examples.
    rng : numpy.random.Generator or int, optional
    balanced : bool, default True
        Draw the class first (equal probabilities, as in the reference), then the
        input values uniformly among those giving that class.  If False, the two
        Boolean inputs are drawn independently and uniformly (AND and OR are then
        3:1 imbalanced).

    Returns
    -------
    X : ndarray, shape (n, 2)
        Input spike times: True in ``[0, 0.45]``, False in ``[0.55, 1]``.
    y : ndarray of int64, shape (n,)
        ``1`` if the logic function of the inputs is True, else ``0``.
    """
    if kind not in BOOLEAN_TASKS:
        raise ValueError(f"unknown logic task {kind!r}; known: {sorted(BOOLEAN_TASKS)}")
    n = _check_n(n)
    rng = _rng(rng)
    fn = BOOLEAN_TASKS[kind]
    if balanced:
        combos = np.array([[a, b] for a in (0, 1) for b in (0, 1)], bool)
        value = fn(combos[:, 0], combos[:, 1])
        labels = rng.integers(0, 2, size=n)
        bits = np.empty((n, 2), bool)
        for cls in (0, 1):
            options = combos[value == cls]
            rows = np.flatnonzero(labels == cls)
            bits[rows] = options[rng.integers(0, len(options), size=rows.size)]
    else:
        bits = rng.integers(0, 2, size=(n, 2)).astype(bool)
    true_t = rng.uniform(*TRUE_RANGE, size=(n, 2))
    false_t = rng.uniform(*FALSE_RANGE, size=(n, 2))
    X = np.where(bits, true_t, false_t)
    y = fn(bits[:, 0], bits[:, 1]).astype(np.int64)
    return X, y


def make_xor(n, *, rng=None, balanced=True):
    """Noisy XOR; see :func:`make_logic`."""
    return make_logic("xor", n, rng=rng, balanced=balanced)


def make_and(n, *, rng=None, balanced=True):
    """Noisy AND; see :func:`make_logic`."""
    return make_logic("and", n, rng=rng, balanced=balanced)


def make_or(n, *, rng=None, balanced=True):
    """Noisy OR; see :func:`make_logic`."""
    return make_logic("or", n, rng=rng, balanced=balanced)


def make_circles(n, *, rng=None):
    """Concentric circles.

    A point is drawn uniformly (in area) from the inner disc of radius 0.3
    (class 0) or from the ring between radii 0.4 and 0.5 (class 1), each class with
    probability 1/2, around the centre (0.5, 0.5).

    Returns
    -------
    X : ndarray, shape (n, 2)
        The point's coordinates, used as the two input spike times (in ``[0, 1]``).
    y : ndarray of int64, shape (n,)
        0 = inner disc, 1 = outer ring.
    """
    n = _check_n(n)
    rng = _rng(rng)
    y = rng.integers(0, 2, size=n).astype(np.int64)
    angle = rng.uniform(0.0, 2.0 * np.pi, size=n)
    r2_inner = rng.uniform(0.0, INNER_RADIUS ** 2, size=n)
    r2_outer = rng.uniform(OUTER_RADII[0] ** 2, OUTER_RADII[1] ** 2, size=n)
    r = np.sqrt(np.where(y == 0, r2_inner, r2_outer))
    X = np.stack([CENTRE[0] + r * np.cos(angle), CENTRE[1] + r * np.sin(angle)], axis=1)
    return np.clip(X, 0.0, 1.0), y


# ---------------------------------------------------------------------------- Yin-Yang
#: Class names in label order, as the reference generator lists them (label 2: the dots).
#: Its code labels 1 the region it computes as ``is_yin``, so read the names of labels
#: 0 and 1 as conventional; :func:`yin_yang_class` gives the geometry.
YIN_YANG_CLASSES = ("yin", "yang", "dot")
#: The standard split of Kriener et al. 2021, also used by fastAndDeep's
#: ``experiment.py``: split name -> (number of examples, seed).
YIN_YANG_SPLITS = {"train": (5000, 42), "validation": (1000, 41), "test": (1000, 40)}
YIN_YANG_R_SMALL = 0.1
YIN_YANG_R_BIG = 0.5
#: Spike-time encoding of fastAndDeep (``src/datasets.py``, ``YinYangDataset``:
#: ``early=0.15``, ``late=2.``), in units of the synaptic time constant (its
#: ``yin_yang.yaml`` has ``tau_syn: 1.0``), and the time of its bias spike
#: (``experiment_configs/yin_yang.yaml``: ``bias_times: [0.9]``).
YIN_YANG_T_EARLY = 0.15
YIN_YANG_T_LATE = 2.0
YIN_YANG_BIAS_TIME = 0.9


def _check_real(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _check_yin_yang_radii(r_small, r_big):
    r_small = _check_real("r_small", r_small)
    r_big = _check_real("r_big", r_big)
    if not 0.0 < r_big <= 0.5:
        raise ValueError(f"r_big must lie in (0, 0.5] (the symbol must fit in the unit "
                         f"square), got {r_big!r}")
    if not 0.0 < r_small < 0.5 * r_big:
        raise ValueError(f"r_small must lie in (0, r_big / 2) = (0, {0.5 * r_big!r}), "
                         f"got {r_small!r}")
    return r_small, r_big


def yin_yang_class(x, y, *, r_small=YIN_YANG_R_SMALL, r_big=YIN_YANG_R_BIG) -> np.ndarray:
    """Region of the yin-yang symbol that points ``(x, y)`` lie in.

    The symbol is the disc of radius ``R = r_big`` about ``(R, R)``.  Its two eyes
    are the points ``(R/2, R)`` (left) and ``(3R/2, R)`` (right); each is the centre
    of a *dot* of radius ``r_small`` and of a half-size disc of radius ``R/2``.

    * label 2 (dot): closer than ``r_small`` to an eye;
    * label 1: otherwise, within ``R/2`` of the left eye, or in the upper half
      (``y > R``) and farther than ``R/2`` from the right eye;
    * label 0: the rest of the disc (the image of label 1 under the point
      reflection about the centre).

    These are the regions of the reference generator (its ``which_class``: label 1
    is what it computes as ``is_yin``); the two definitions differ only for points
    exactly on a circle (a set of measure zero).

    Parameters
    ----------
    x, y : array_like
        Coordinates (broadcast together).
    r_small, r_big : float
        Radius of the dots and of the symbol; ``0 < r_small < r_big / 2`` and
        ``0 < r_big <= 0.5``.

    Returns
    -------
    ndarray of int64
        0, 1 or 2, and ``-1`` for points outside the disc.
    """
    r_small, r_big = _check_yin_yang_radii(r_small, r_big)
    x, y = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(y, np.float64))
    half = 0.5 * r_big
    d_left = np.sqrt((x - half) ** 2 + (y - r_big) ** 2)
    d_right = np.sqrt((x - 1.5 * r_big) ** 2 + (y - r_big) ** 2)
    inside = np.sqrt((x - r_big) ** 2 + (y - r_big) ** 2) <= r_big
    one = (d_left <= half) | ((y > r_big) & (d_right > half))
    label = np.where((d_left < r_small) | (d_right < r_small), 2, one.astype(np.int64))
    return np.where(inside, label, -1).astype(np.int64)


def _yin_yang_label(x, y, r_small, r_big):
    """Scalar :func:`yin_yang_class` for a point inside the disc (the sampling loop)."""
    half = 0.5 * r_big
    dy = y - r_big
    dx = x - half
    d_left = math.sqrt(dx * dx + dy * dy)
    dx = x - 1.5 * r_big
    d_right = math.sqrt(dx * dx + dy * dy)
    if d_left < r_small or d_right < r_small:
        return 2
    return int(d_left <= half or (y > r_big and d_right > half))


def _yin_yang_source(seed, rng):
    """``(draw_class, draw_point)`` callables for the rejection sampler."""
    if seed is not None and rng is not None:
        raise ValueError("give seed or rng, not both")
    src = rng if rng is not None else seed
    if isinstance(src, np.random.Generator):
        return (lambda: int(src.integers(3))), (lambda: src.random(2))
    if not isinstance(src, np.random.RandomState):
        if isinstance(src, bool) or isinstance(src, float):
            raise ValueError(f"seed must be an integer, a sequence of integers, a numpy "
                             f"Generator or RandomState, or None; got {src!r}")
        try:
            src = np.random.RandomState(src)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"seed must be an integer in [0, 2**32), a sequence of such "
                             f"integers, a numpy Generator or RandomState, or None; got "
                             f"{src!r} ({exc})") from None
    return (lambda: int(src.randint(3))), (lambda: src.rand(2))


def make_yin_yang(n_samples, *, seed=None, r_small=YIN_YANG_R_SMALL, r_big=YIN_YANG_R_BIG,
                  rng=None):
    """Yin-Yang examples (Kriener, Göltz & Petrovici 2021): features and labels.

    Balanced rejection sampling, as the reference generator
    (``lkriener/yin_yang_data_set``) does it: for every example a target class is
    drawn uniformly from {0, 1, 2}; then points are drawn uniformly from the square
    ``[0, 2 r_big]^2`` until one lies in the disc of the symbol and in the target
    class (see :func:`yin_yang_class`).  The classes are thus equally likely (not
    proportional to their areas: the dots cover about 8 % of the disc), and the
    points of one class are uniform over its region.

    An integer ``seed`` drives a legacy :class:`numpy.random.RandomState` with the
    reference's order of draws (one ``randint(3)`` per example, then ``rand(2)``
    per candidate point), so ``make_yin_yang(5000, seed=42)`` gives the reference's
    training set (and :data:`YIN_YANG_SPLITS` its standard split).  Since examples
    are drawn one after the other, the first ``m`` examples for a seed do not
    depend on ``n_samples``.

    Parameters
    ----------
    n_samples : int
        Number of examples (``>= 0``).
    seed : int, sequence of int, numpy.random.Generator or RandomState, optional
        Source of randomness; ``None``: fresh entropy.  A Generator is used with the
        same algorithm (its own stream, so not the reference's numbers).
    r_small : float, default 0.1
        Radius of the two dots, ``0 < r_small < r_big / 2``.
    r_big : float, default 0.5
        Radius of the symbol, ``0 < r_big <= 0.5``; it fills ``[0, 2 r_big]^2``.
    rng : numpy.random.Generator or int, optional
        The same as ``seed`` (the keyword of the other generators of this module);
        give at most one of the two.

    Returns
    -------
    X : ndarray, shape (n_samples, 4)
        ``(x, y, 1 - x, 1 - y)``: the point and its mirrored coordinates (the
        symmetric input that lets networks without an intrinsic bias learn), all in
        ``[0, 1]``.
    y : ndarray of int64, shape (n_samples,)
        Class labels (:data:`YIN_YANG_CLASSES`; 2 = dot).

    Examples
    --------
    >>> X, y = make_yin_yang(3, seed=42)
    >>> X.shape, y.tolist()
    ((3, 4), [2, 1, 2])
    """
    n = _check_n(n_samples)
    r_small, r_big = _check_yin_yang_radii(r_small, r_big)
    draw_class, draw_point = _yin_yang_source(seed, rng)
    X = np.empty((n, 4))
    labels = np.empty(n, np.int64)
    for i in range(n):
        goal = draw_class()
        while True:
            u, v = draw_point()
            # The reference scales as rand(2) * 2. * r_big: keep that order of rounding.
            x = float(u) * 2.0 * r_big
            y = float(v) * 2.0 * r_big
            dx, dy = x - r_big, y - r_big
            if math.sqrt(dx * dx + dy * dy) > r_big:
                continue
            label = _yin_yang_label(x, y, r_small, r_big)
            if label == goal:
                break
        X[i] = (x, y, 1.0 - x, 1.0 - y)
        labels[i] = label
    return X, labels


def encode_yin_yang(features, *, t_early=YIN_YANG_T_EARLY, t_late=YIN_YANG_T_LATE,
                    bias_time=YIN_YANG_BIAS_TIME):
    """Spike times of Yin-Yang features (the encoding of Göltz et al. 2021).

    .. math::

        t_i = t_\\mathrm{early} + v_i \\, (t_\\mathrm{late} - t_\\mathrm{early})

    for each feature value ``v_i`` in ``[0, 1]``, so every time lies in
    ``[t_early, t_late]``; then, unless ``bias_time`` is None, one more input that
    spikes at ``bias_time`` in every example.  The defaults are fastAndDeep's
    (``src/datasets.py``: ``early=0.15``, ``late=2.``; ``yin_yang.yaml``:
    ``bias_times: [0.9]``), in units of its synaptic time constant ``tau_syn = 1``.
    With ``tau_mem = tau_syn`` its LIF neuron has the alpha kernel
    ``t exp(-t / tau_syn)``, i.e. eventsim's ``"alpha"`` model with decay rate
    ``tau = 1 / tau_syn = 1`` (the Boolean preset's ``decay_constant``).

    Parameters
    ----------
    features : array_like, shape (n_examples, n_features)
        Values in ``[0, 1]``, e.g. ``X`` of :func:`make_yin_yang`.
    t_early, t_late : float, default 0.15 and 2.0
        Times of the values 0 and 1; ``0 <= t_early < t_late``, finite.
    bias_time : float or None, default 0.9
        Time (finite, ``>= 0``) of the extra bias input; ``None``: no bias input.

    Returns
    -------
    ndarray, shape (n_examples, n_features + 1) or (n_examples, n_features)
        Input spike times; the bias input, if any, is the last column.
    """
    F = np.asarray(features, dtype=np.float64)
    if F.ndim != 2:
        raise ValueError(f"features must have shape (n_examples, n_features), got {F.shape}")
    if not np.isfinite(F).all():
        raise ValueError("features must be finite")
    if F.size and (F.min() < 0.0 or F.max() > 1.0):
        raise ValueError(f"features must lie in [0, 1], got range {F.min()!r}..{F.max()!r}")
    t_early = _check_real("t_early", t_early)
    t_late = _check_real("t_late", t_late)
    if not 0.0 <= t_early < t_late:
        raise ValueError(f"need 0 <= t_early < t_late, got t_early={t_early!r}, "
                         f"t_late={t_late!r}")
    times = t_early + F * (t_late - t_early)
    if bias_time is None:
        return times
    bias_time = _check_real("bias_time", bias_time)
    if bias_time < 0.0:
        raise ValueError(f"bias_time must be >= 0 or None, got {bias_time!r}")
    return np.hstack([times, np.full((F.shape[0], 1), bias_time)])


def load_yin_yang(split="train", *, n_samples=None, seed=None, r_small=YIN_YANG_R_SMALL,
                  r_big=YIN_YANG_R_BIG, t_early=YIN_YANG_T_EARLY, t_late=YIN_YANG_T_LATE,
                  bias_time=YIN_YANG_BIAS_TIME):
    """One split of the standard Yin-Yang data set as input spike times.

    :func:`make_yin_yang` followed by :func:`encode_yin_yang`, with the sizes and
    seeds of the standard split (:data:`YIN_YANG_SPLITS`: 5000 training examples
    with seed 42, 1000 validation examples with seed 41, 1000 test examples with
    seed 40, as in Kriener et al. and fastAndDeep's ``experiment.py``).

    Parameters
    ----------
    split : {"train", "validation", "test"}
    n_samples : int, optional
        Default: the split's size.  Fewer gives the first examples of the split,
        more extends it (same seed).
    seed : optional
        Default: the split's seed (see :func:`make_yin_yang` for the types).
    r_small, r_big : float
        Geometry (see :func:`make_yin_yang`).
    t_early, t_late, bias_time : float
        Encoding (see :func:`encode_yin_yang`).

    Returns
    -------
    X : ndarray, shape (n_samples, 5), or (n_samples, 4) with ``bias_time=None``
        Spike times of ``x, y, 1 - x, 1 - y`` (in ``[t_early, t_late]``) and of the
        bias input.
    y : ndarray of int64, shape (n_samples,)
    """
    if split not in YIN_YANG_SPLITS:
        raise ValueError(f"unknown Yin-Yang split {split!r}; known: {list(YIN_YANG_SPLITS)}")
    size, split_seed = YIN_YANG_SPLITS[split]
    n = size if n_samples is None else n_samples
    features, labels = make_yin_yang(n, seed=split_seed if seed is None else seed,
                                     r_small=r_small, r_big=r_big)
    return encode_yin_yang(features, t_early=t_early, t_late=t_late,
                           bias_time=bias_time), labels


def n_outputs_of(task) -> int:
    """Number of classes of a task."""
    if task in BOOLEAN_TASKS or task == "circles":
        return 2
    if task == "yin-yang":
        return len(YIN_YANG_CLASSES)
    if task in IMAGE_TASKS:
        return 10
    raise ValueError(f"unknown task {task!r}; known: {list(TASKS)}")


def _subset(images, labels, n, what, rng=None):
    if n is None:
        return images, labels
    n = _check_n(n)
    if n > len(labels):
        raise ValueError(f"{what}: asked for {n} examples but only {len(labels)} are available")
    if rng is None:
        return images[:n], labels[:n]
    idx = np.sort(rng.choice(len(labels), size=n, replace=False))
    return images[idx], labels[idx]


#: Held-out test images of the built-in MNIST subset when no MNIST test files exist.
SUBSET_TEST = 1000


def _mnist_folder(datasets, data_dir):
    """The MNIST folder to read (``data_dir``, else ``$EVENTSIM_MNIST``), checked, or
    None for the built-in subset.  A folder that is named but missing or empty is an
    error, never a silent fall-back."""
    folder = data_dir if data_dir is not None else datasets.default_mnist_folder()
    if folder is None:
        return None
    try:
        return datasets.check_mnist_folder(folder)
    except FileNotFoundError as exc:
        origin = ("data_dir (--data-dir on the command line)" if data_dir is not None
                  else "the environment variable EVENTSIM_MNIST")
        raise FileNotFoundError(f"{exc}; the folder was named by {origin}") from None


def image_data_sources(task="mnist", data_dir=None) -> dict:
    """Where :func:`load_image_task` takes the training and test images from.

    Parameters
    ----------
    task : {"mnist", "fashion-mnist"}
    data_dir : str or os.PathLike, optional
        As for :func:`load_image_task`.

    Returns
    -------
    dict
        ``{"train": text, "test": text}``, e.g. ``"the built-in 5,000-image MNIST
        subset (4,000 of its images)"``.

    Raises
    ------
    FileNotFoundError
        As :func:`load_image_task` does for a missing or empty folder.
    """
    from . import datasets

    if task == "fashion-mnist":
        if data_dir is None:
            raise ValueError("fashion-mnist needs data_dir (on the command line --data-dir): "
                             "a folder with its IDX files, e.g. t10k-images-idx3-ubyte.gz")
        folder = datasets.check_mnist_folder(data_dir)
        return {"train": f"IDX files in {folder}", "test": f"IDX files in {folder}"}
    folder = _mnist_folder(datasets, data_dir)
    subset = f"the built-in {datasets.MNIST_SUBSET_SIZE:,}-image MNIST subset"
    if folder is None:
        return {"train": f"{subset} (all but its held-out images)",
                "test": f"{subset} (its held-out images, which are MNIST training images)"}
    train = (f"IDX files in {folder}" if datasets.has_mnist_split(folder, "train")
             else f"{subset} (no train-* files in {folder})")
    return {"train": train, "test": f"IDX files in {folder}"}


def _mnist_parts(datasets, data_dir, n_train, n_test, seed):
    """(train, test) as (images, labels) pairs; see load_image_task."""
    def subset_shuffled():
        try:
            images, labels = datasets.load_mnist_subset()
        except (ImportError, FileNotFoundError) as exc:
            raise FileNotFoundError(
                f"no MNIST folder given (data_dir or EVENTSIM_MNIST) and the built-in "
                f"5,000-image MNIST subset is not available ({exc})") from None
        # The subset is stored in label order: shuffle it (seeded).
        perm = np.random.default_rng([0 if seed is None else int(seed), 3, 1]) \
            .permutation(len(labels))
        return np.asarray(images)[perm], np.asarray(labels)[perm]

    folder = _mnist_folder(datasets, data_dir)
    test = train = None
    if folder is None:
        # A fresh machine: the subset is both training and held-out test set.
        images, labels = subset_shuffled()
        if n_test != 0:
            k = SUBSET_TEST if n_test is None else int(n_test)
            if not 0 < k < len(labels):
                raise ValueError(f"n_test={n_test} must leave training images in the "
                                 f"{len(labels)}-image subset")
            test = (images[-k:], labels[-k:])
            images, labels = images[:-k], labels[:-k]
        if n_train != 0:
            train = (images, labels)
        return train, test
    if n_test != 0:
        test = datasets.load_mnist(folder, "test")
    if n_train != 0:
        train = (datasets.load_mnist(folder, "train") if datasets.has_mnist_split(folder, "train")
                 else subset_shuffled())
    return train, test


def load_image_task(task="mnist", *, data_dir=None, n_train=None, n_test=None, seed=None):
    """MNIST or Fashion-MNIST as input spike times.

    Parameters
    ----------
    task : {"mnist", "fashion-mnist"}
    data_dir : str or os.PathLike, optional
        Folder with the IDX files (plain or ``.gz``).  For MNIST the default is
        ``$EVENTSIM_MNIST`` (:func:`eventsim.datasets.default_mnist_folder`);
        Fashion-MNIST needs it.  A folder that is given (either way) must exist and
        hold the test files (``t10k-*``), else FileNotFoundError names the folder
        and the files looked for.  Without training files (``train-*``) in it, MNIST
        trains on the 5,000-image subset of
        :func:`eventsim.datasets.load_mnist_subset` (shuffled with ``seed``).  With
        no folder at all (a fresh machine), the subset is split: the last
        :data:`SUBSET_TEST` images of the shuffled subset (or ``n_test``) are the
        held-out test set, the rest (4,000) the training set, so that nothing
        outside the installed packages is needed.  :func:`image_data_sources`
        says which applies.
    n_train, n_test : int, optional
        Use only this many examples (default: all); the first ones, or a random
        subset when ``seed`` is given.
    seed : int, optional

    Returns
    -------
    X_train, y_train, X_test, y_test
        Spike times (``1 - p/256``, ``inf`` for black pixels) and labels (int64).
    """
    from . import datasets

    if task not in IMAGE_TASKS:
        raise ValueError(f"unknown image task {task!r}; known: {list(IMAGE_TASKS)}")
    rng = None if seed is None else np.random.default_rng([int(seed), 3])
    if task == "fashion-mnist":
        if data_dir is None:
            raise ValueError("fashion-mnist needs data_dir (on the command line --data-dir): "
                             "a folder with its IDX files, e.g. t10k-images-idx3-ubyte.gz")
        train = datasets.load_fashion_mnist(data_dir, "train") if n_train != 0 else None
        test = datasets.load_fashion_mnist(data_dir, "test") if n_test != 0 else None
    else:
        train, test = _mnist_parts(datasets, data_dir, n_train, n_test, seed)
    out = []
    for part, n, what in ((train, n_train, "train"), (test, n_test, "test")):
        if part is None:
            out += [np.zeros((0, 784)), np.zeros(0, np.int64)]
            continue
        images, labels = _subset(part[0], part[1], n, f"{task} {what}", rng)
        out += [datasets.encode_spike_times(images), np.asarray(labels, np.int64)]
    return tuple(out)


def make_task(task, *, n_train=None, n_test=None, seed=0, data_dir=None):
    """Training and test data of a task, seeded.

    Parameters
    ----------
    task : str
        One of :data:`TASKS`.
    n_train, n_test : int, optional
        Defaults: 1000 and 150 for the Boolean tasks and circles (the paper's),
        5000 and 1000 for yin-yang (its standard split), everything for the image
        tasks.
    seed : int, default 0
        Boolean tasks and circles: training and test sets come from the independent
        streams ``[seed, 2, 0]`` and ``[seed, 2, 1]``.  Image tasks: subsets are
        drawn with it when ``n_train`` / ``n_test`` are smaller than the data set.
        Yin-yang: not used; the data are always the standard training and test
        splits (seeds 42 and 40, :func:`load_yin_yang`, encoded with its defaults,
        5 inputs), the first ``n_train`` / ``n_test`` examples of each.
    data_dir : path, optional
        For the image tasks (see :func:`load_image_task`).

    Returns
    -------
    X_train, y_train, X_test, y_test
    """
    if task in IMAGE_TASKS:
        return load_image_task(task, data_dir=data_dir, n_train=n_train, n_test=n_test,
                               seed=seed if (n_train is not None or n_test is not None) else None)
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; known: {list(TASKS)}")
    if task == "yin-yang":
        return (*load_yin_yang("train", n_samples=n_train),
                *load_yin_yang("test", n_samples=n_test))
    n_train = 1000 if n_train is None else n_train
    n_test = 150 if n_test is None else n_test
    seed = 0 if seed is None else int(seed)
    parts = []
    for i, n in enumerate((n_train, n_test)):
        rng = np.random.default_rng([seed, 2, i])
        if task == "circles":
            parts += make_circles(n, rng=rng)
        else:
            parts += make_logic(task, n, rng=rng)
    return tuple(parts)


def make_spike_patterns(n, *, n_classes=3, n_channels=20, duration=50.0, rate=0.02,
                        jitter=2.0, p_delete=0.1, p_add=0.1, seed=0):
    """Classify which of ``n_classes`` frozen spike-train patterns an example is.

    Each class has one template: on every channel a Poisson train of ``rate`` spikes
    per time unit over ``[0, duration)`` (the templates are drawn from ``seed``).  An
    example is its class's template with every spike moved by a Gaussian jitter of
    standard deviation ``jitter``, dropped with probability ``p_delete``, and a
    Poisson train of ``p_add * rate`` spikes per time unit added on each channel;
    times are clipped to ``[0, duration]``.  The class needs the timing of spikes
    across channels, not only their counts, once the jitter is small against the
    templates' spacing.

    Parameters
    ----------
    n : int
        Number of examples (classes drawn uniformly).
    n_classes, n_channels : int
    duration, rate, jitter : float
        Defaults in milliseconds: 50 ms, 20 Hz, 2 ms.
    p_delete, p_add : float
        Spike deletion probability and relative rate of added noise spikes.
    seed : int
        Seeds the templates and, separately, the examples; the templates do not
        depend on ``n``.

    Returns
    -------
    inputs : SpikeTrains
        ``n`` examples of ``n_channels`` channels.
    labels : ndarray of int64, shape (n,)

    Notes
    -----
    Training and test sets of one task must share templates: draw both from one
    call (``make_spike_patterns(n_train + n_test, ...)``) and split it.
    """
    from .spiketrains import SpikeTrains
    _check_n(n)
    for name, v in (("n_classes", n_classes), ("n_channels", n_channels)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    for name, v in (("duration", duration), ("rate", rate)):
        if not (isinstance(v, numbers.Real) and math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be finite and > 0, got {v!r}")
    for name, v in (("jitter", jitter), ("p_add", p_add)):
        if not (isinstance(v, numbers.Real) and math.isfinite(v) and v >= 0):
            raise ValueError(f"{name} must be finite and >= 0, got {v!r}")
    if not (isinstance(p_delete, numbers.Real) and 0 <= p_delete <= 1):
        raise ValueError(f"p_delete must lie in [0, 1], got {p_delete!r}")
    t_rng = np.random.default_rng([seed, 0])
    templates = [[np.sort(t_rng.uniform(0, duration, t_rng.poisson(rate * duration)))
                  for _ in range(n_channels)] for _ in range(n_classes)]
    rng = np.random.default_rng([seed, 1])
    labels = rng.integers(0, n_classes, n)
    examples = []
    for c in labels:
        chans = []
        for tpl in templates[c]:
            kept = tpl[rng.random(tpl.size) >= p_delete]
            moved = kept + rng.normal(0.0, jitter, kept.size)
            extra = rng.uniform(0, duration, rng.poisson(p_add * rate * duration))
            chans.append(np.sort(np.clip(np.concatenate([moved, extra]), 0.0, duration)))
        examples.append(chans)
    return SpikeTrains.from_lists(examples, n_channels=n_channels), labels.astype(np.int64)

