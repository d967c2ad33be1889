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
* MNIST and Fashion-MNIST (:func:`load_image_task`) through
  :mod:`eventsim.datasets`, encoded with :func:`eventsim.datasets.encode_spike_times`.

Like the reference, the generators draw both classes with equal probability; within
a class every combination of Boolean inputs that gives it is equally likely.

:func:`make_task` returns ``(X_train, y_train, X_test, y_test)`` for any task name
in :data:`TASKS`, seeded.
"""

from __future__ import annotations

import numpy as np

__all__ = ["TASKS", "BOOLEAN_TASKS", "IMAGE_TASKS", "make_logic", "make_xor", "make_and",
           "make_or", "make_circles", "make_task", "load_image_task", "n_outputs_of"]

#: Boolean tasks and their logic functions.
BOOLEAN_TASKS = {
    "and": lambda a, b: a & b,
    "or": lambda a, b: a | b,
    "xor": lambda a, b: a ^ b,
}
IMAGE_TASKS = ("mnist", "fashion-mnist")
#: Every task name understood by :func:`make_task` (and ``eventsim train --task``).
TASKS = (*BOOLEAN_TASKS, "circles", *IMAGE_TASKS)

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


def n_outputs_of(task) -> int:
    """Number of classes of a task."""
    if task in BOOLEAN_TASKS or task == "circles":
        return 2
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


def load_image_task(task="mnist", *, data_dir=None, n_train=None, n_test=None, seed=None):
    """MNIST or Fashion-MNIST as input spike times.

    Parameters
    ----------
    task : {"mnist", "fashion-mnist"}
    data_dir : str or os.PathLike, optional
        Folder with the four IDX files (plain or ``.gz``).  For MNIST the default
        is :func:`eventsim.datasets.default_mnist_folder`.  Fashion-MNIST needs it.
        Without training files (``train-*``) in the folder, MNIST falls back to
        the 5,000-image subset of :func:`eventsim.datasets.load_mnist_subset`
        (shuffled with ``seed``) for the training set.
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
            raise ValueError("fashion-mnist needs data_dir (a folder with its IDX files)")
        train = datasets.load_fashion_mnist(data_dir, "train") if n_train != 0 else None
        test = datasets.load_fashion_mnist(data_dir, "test") if n_test != 0 else None
    else:
        test = datasets.load_mnist(data_dir, "test") if n_test != 0 else None
        train = None
        if n_train != 0:
            try:
                train = datasets.load_mnist(data_dir, "train")
            except FileNotFoundError as missing:
                subset = getattr(datasets, "load_mnist_subset", None)
                if subset is None:
                    raise
                try:
                    images, labels = subset()
                except (ImportError, FileNotFoundError) as exc:
                    raise FileNotFoundError(
                        f"{missing}; the built-in 5,000-image training subset is not "
                        f"available either ({exc})") from None
                # The subset is stored in label order: shuffle it (seeded).
                perm = np.random.default_rng([0 if seed is None else int(seed), 3, 1]) \
                    .permutation(len(labels))
                train = (np.asarray(images)[perm], np.asarray(labels)[perm])
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
        Defaults: 1000 and 150 for the generated tasks (the paper's), everything
        for the image tasks.
    seed : int, default 0
        Generated tasks: training and test sets come from the independent streams
        ``[seed, 2, 0]`` and ``[seed, 2, 1]``.  Image tasks: subsets are drawn with it
        when ``n_train`` / ``n_test`` are smaller than the data set.
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
