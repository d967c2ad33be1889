"""Event-camera and spiking-audio data sets from tonic as eventsim spike trains.

`tonic <https://tonic.readthedocs.io>`_ reads the neuromorphic data sets (SHD, SSC,
N-MNIST, DVS Gesture, ...) as numpy structured arrays of events with fields such as
``'x'``, ``'y'``, ``'p'`` (polarity) and ``'t'``.  This module turns them into
:class:`eventsim.SpikeTrains`, one input channel per sensor pixel (and polarity).
It needs the optional extra ``pip install "eventsim[tonic]"``.

* :func:`from_events` -- one event array to ``(index, times)``: channels and times in
  milliseconds, sorted by time, ties by channel;
* :func:`from_tonic` -- the first ``n`` examples of any tonic data set to
  ``(SpikeTrains, labels)``;
* :func:`load_shd`, :func:`load_nmnist` -- the Spiking Heidelberg Digits and N-MNIST
  from files already on disk (nothing is downloaded unless ``download=True``).

Channels
--------
With ``sensor_size = (W, H, P)`` (tonic's order: width, height, polarities) an event at
pixel ``(x, y)`` with polarity ``p`` goes to channel

* ``x + W * (y + H * p)`` with ``polarity="separate"`` (``W * H * P`` channels): the
  position of its pixel in one of tonic's frames (``ToFrame`` gives each time bin the
  shape ``(P, H, W)``) flattened in C order, so channel ``c`` of eventsim is entry ``c``
  of ``frame.ravel()``;
* ``x + W * y`` with ``polarity="merge"`` (``W * H`` channels): both polarities of a
  pixel drive the same input.

When ``P == 1`` the ``'p'`` field is ignored, as tonic's ``ToFrame`` does: tonic's SHD
gives every spike the polarity 1 on a sensor of size ``(700, 1, 1)``.  A field that an
event array lacks (``'y'`` for audio, ``'p'``) counts as 0.  For SHD the channel is
therefore the cochlea channel ``x``; for N-MNIST (``(34, 34, 2)``) it is
``x + 34 y + 1156 p``.

Times
-----
tonic gives ``'t'`` in microseconds (SHD's file stores seconds; tonic's SHD multiplies
by 1e6 and truncates to whole microseconds), and eventsim's time unit is the
millisecond, so by default ``time = t / 1000``.  ``t_per_ms`` (ticks of ``'t'`` per
millisecond) and ``time_scale`` (a factor applied afterwards, e.g. to compress
time) change that: ``time = t / t_per_ms * time_scale``.
"""

from __future__ import annotations

import numbers

import numpy as np

try:
    import tonic as _tonic
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError('eventsim.tonic needs tonic: pip install "eventsim[tonic]"') from exc

from .spiketrains import SpikeTrains

__all__ = ["from_events", "from_tonic", "n_channels", "load_shd", "load_nmnist"]

_POLARITY = ("separate", "merge")
# Data sets at least this long get a progress bar unless progress=False.
_PROGRESS_FROM = 1000


# ------------------------------------------------------------------------------ helpers
def _sensor(sensor_size):
    try:
        size = tuple(sensor_size)
    except TypeError:
        raise TypeError(f"sensor_size must be (width, height, polarities), got "
                        f"{sensor_size!r}") from None
    if len(size) != 3 or not all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 1
            for s in size):
        raise ValueError(f"sensor_size must be three positive integers (width, height, "
                         f"polarities), as tonic's sensor_size, got {sensor_size!r}")
    return tuple(int(s) for s in size)


def _polarity(polarity):
    if polarity not in _POLARITY:
        raise ValueError(f"polarity must be one of {_POLARITY}, got {polarity!r}")
    return polarity


def _positive(name, value):
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not np.isfinite(value) or value <= 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _t_max(t_max):
    if t_max is None:
        return np.inf
    if isinstance(t_max, bool) or not isinstance(t_max, numbers.Real) or np.isnan(t_max):
        raise ValueError(f"t_max must be a number (ms) or None, got {t_max!r}")
    return float(t_max)


def n_channels(sensor_size, polarity="separate") -> int:
    """Number of eventsim input channels for a sensor.

    Parameters
    ----------
    sensor_size : tuple of int
        ``(width, height, polarities)``, as tonic's ``dataset.sensor_size``.
    polarity : {"separate", "merge"}, default "separate"
        Whether the polarities of a pixel are separate channels.

    Returns
    -------
    int
        ``W * H * P`` (``W * H`` when merged, or when ``P == 1``).

    Examples
    --------
    >>> n_channels((34, 34, 2)), n_channels((34, 34, 2), "merge"), n_channels((700, 1, 1))
    (2312, 1156, 700)
    """
    w, h, p = _sensor(sensor_size)
    return w * h * (p if _polarity(polarity) == "separate" else 1)


def _coordinate(events, name, extent, what):
    """The integer field ``name`` of ``events`` (zeros if absent), checked against
    ``0 .. extent - 1``."""
    if name not in events.dtype.names:
        if extent > 1:
            raise ValueError(f"the events have no {name!r} field but the sensor's {what} "
                             f"is {extent}")
        return np.zeros(events.size, np.int64)
    v = events[name]
    if v.dtype.kind == "f":
        bad = ~np.isfinite(v) | (v != np.round(v))
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ValueError(f"event {k}: {name} = {float(v[k])!r} is not a whole number")
    elif v.dtype.kind not in "biu":
        raise TypeError(f"field {name!r} must hold integers, got dtype {v.dtype}")
    v = v.astype(np.int64)
    out = (v < 0) | (v >= extent)
    if out.any():
        k = int(np.flatnonzero(out)[0])
        raise ValueError(f"event {k}: {name} = {int(v[k])} is outside 0..{extent - 1} (the "
                         f"sensor's {what} is {extent}; pass the sensor_size of the "
                         f"transformed data if a transform changed it)")
    return v


# ------------------------------------------------------------------------------ conversion
def from_events(events, sensor_size, *, polarity="separate", t_per_ms=1000.0,
                time_scale=1.0, t_max=None) -> tuple[np.ndarray, np.ndarray]:
    """Channels and times (ms) of one tonic event array.

    Parameters
    ----------
    events : numpy structured array
        One example as tonic gives it, with a ``'t'`` field and any of ``'x'``,
        ``'y'``, ``'p'`` (absent ones count as 0).  The events may be in any order.
    sensor_size : tuple of int
        ``(width, height, polarities)``, as tonic's ``dataset.sensor_size``.
    polarity : {"separate", "merge"}, default "separate"
        ``"separate"``: channel ``x + W * (y + H * p)``; ``"merge"``: channel
        ``x + W * y`` (see the module docstring).  With one polarity the ``'p'`` field
        is ignored either way.
    t_per_ms : float, default 1000
        Ticks of ``'t'`` per millisecond (tonic's ``'t'`` is in microseconds).
    time_scale : float, default 1
        Factor applied to the times in ms (``< 1`` compresses time).
    t_max : float, optional
        Keep only spikes at ``time <= t_max`` (ms, after scaling): the spikes a
        simulation with this ``t_max`` can see.

    Returns
    -------
    index : ndarray of int64
        Channel of each spike, ``0 <= index < n_channels(sensor_size, polarity)``.
    times : ndarray of float64
        ``t / t_per_ms * time_scale``, sorted; spikes at equal times sorted by channel
        (the order :class:`eventsim.SpikeTrains` keeps).

    Raises
    ------
    TypeError
        ``events`` is not a structured array (e.g. a frame tensor from a
        ``ToFrame`` transform: convert the raw events instead).
    ValueError
        No ``'t'`` field, NaN or negative times, coordinates outside ``sensor_size``.

    Examples
    --------
    >>> ev = np.array([(3, 0, 2500), (1, 1, 1000)],
    ...               dtype=[("x", int), ("p", int), ("t", int)])
    >>> from_events(ev, (4, 1, 2))
    (array([5, 3]), array([1. , 2.5]))
    """
    w, h, n_pol = _sensor(sensor_size)
    _polarity(polarity)
    t_per_ms = _positive("t_per_ms", t_per_ms)
    time_scale = _positive("time_scale", time_scale)
    t_max = _t_max(t_max)
    events = np.asarray(events)
    if events.dtype.names is None:
        raise TypeError(f"events must be a numpy structured array with a 't' field (one "
                        f"example of a tonic data set without a frame transform), got "
                        f"dtype {events.dtype} and shape {events.shape}")
    if "t" not in events.dtype.names:
        raise ValueError(f"the events have no 't' field (fields: {events.dtype.names})")
    events = events.reshape(-1)
    t = events["t"]
    if t.dtype.kind not in "biuf":
        raise TypeError(f"field 't' must hold numbers, got dtype {t.dtype}")
    t = t.astype(np.float64)
    if np.isnan(t).any():
        raise ValueError(f"event {int(np.flatnonzero(np.isnan(t))[0])}: t is NaN")
    if (t < 0).any():
        k = int(np.flatnonzero(t < 0)[0])
        raise ValueError(f"event {k}: t = {float(t[k])!r} is negative; eventsim's inputs start "
                         "at time 0 (shift the events first)")
    if np.isinf(t).any():
        raise ValueError(f"event {int(np.flatnonzero(np.isinf(t))[0])}: t is infinite")
    # Division first: t / 1000 is the correctly rounded millisecond value.
    times = t / t_per_ms
    if time_scale != 1.0:
        times = times * time_scale
    index = _coordinate(events, "x", w, "width")
    if h > 1 or "y" in events.dtype.names:
        index = index + w * _coordinate(events, "y", h, "height")
    # One polarity: tonic's ToFrame ignores 'p' there (SHD's is an artificial 1).
    if polarity == "separate" and n_pol > 1:
        index = index + (w * h) * _coordinate(events, "p", n_pol, "number of polarities")
    keep = times <= t_max
    if not keep.all():
        times, index = times[keep], index[keep]
    order = np.lexsort((index, times))
    return index[order], times[order]


def from_tonic(dataset, n=None, *, sensor_size=None, polarity="separate", t_per_ms=1000.0,
               time_scale=1.0, t_max=None, progress=None):
    """The first ``n`` examples of a tonic data set as spike trains and labels.

    Parameters
    ----------
    dataset : tonic data set
        Anything indexable with ``len`` whose items are ``(events, target)``, such as
        ``tonic.datasets.SHD(...)`` (with no frame transform).
    n : int, optional
        Number of examples, from the first (default: all).
    sensor_size : tuple of int, optional
        ``(width, height, polarities)``; default ``dataset.sensor_size`` (pass it when
        a transform such as ``Downsample`` changed the sensor).
    polarity, t_per_ms, time_scale, t_max
        As for :func:`from_events`.
    progress : bool, optional
        Show a progress bar (tqdm); by default for 1000 examples or more.

    Returns
    -------
    spikes : SpikeTrains
        One example per item, ``n_channels(sensor_size, polarity)`` channels, times
        in ms; feed it to :func:`eventsim.simulate` as ``input_times``.
    labels : ndarray
        The targets, in the same order (an object array if they are not numbers).

    Raises
    ------
    ValueError, TypeError
        As :func:`from_events`, with the example's position in the message.
    """
    if sensor_size is None:
        sensor_size = getattr(dataset, "sensor_size", None)
        if sensor_size is None:
            raise ValueError("the data set has no sensor_size attribute: pass "
                             "sensor_size=(width, height, polarities)")
    size = _sensor(sensor_size)
    channels = n_channels(size, polarity)
    total = len(dataset)
    if n is None:
        n = total
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"n must be a whole number >= 0 or None, got {n!r}")
    if n > total:
        raise ValueError(f"n={n} but the data set has {total} examples")
    n = int(n)
    show = n >= _PROGRESS_FROM if progress is None else bool(progress)
    rows = range(n)
    if show:
        from tqdm import tqdm

        rows = tqdm(rows, desc=f"{type(dataset).__name__} -> SpikeTrains", unit="example")
    index, times, labels = [], [], []
    offsets = np.zeros(n + 1, np.int64)
    for e in rows:
        item = dataset[e]
        if not isinstance(item, tuple) or len(item) != 2:
            raise TypeError(f"example {e}: the data set must give (events, target) pairs, "
                            f"got {type(item).__name__}")
        events, target = item
        try:
            idx, t = from_events(events, size, polarity=polarity, t_per_ms=t_per_ms,
                                 time_scale=time_scale, t_max=t_max)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"example {e}: {exc}") from exc
        index.append(idx)
        times.append(t)
        labels.append(target)
        offsets[e + 1] = offsets[e] + t.size
    cat = (lambda parts, dt: np.concatenate(parts) if parts else np.zeros(0, dt))
    # Sensor events come in any order (from_events sorts them; the constructor would
    # refuse a channel out of time order).
    spikes = SpikeTrains.from_events(cat(index, np.int64), cat(times, np.float64), channels,
                                     example=np.repeat(np.arange(n), np.diff(offsets)),
                                     n_examples=n)
    try:
        label_array = np.asarray(labels)
    except ValueError:  # ragged targets (e.g. several per example)
        label_array = None
    if label_array is None or label_array.dtype.kind not in "biuf" or label_array.ndim != 1:
        label_array = np.empty(len(labels), object)
        label_array[:] = labels
    return spikes, label_array


# ------------------------------------------------------------------------------ loaders
def _split(split):
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return split == "train"


def _open(cls, root, download, **kwargs):
    """``cls(root, **kwargs)``, refusing tonic's automatic download unless asked.

    tonic downloads whenever its presence check fails; the subclass only replaces that
    step (it keeps the class name, which tonic uses as the folder name).
    """
    if download:
        return cls(root, **kwargs)

    def refuse(self):
        raise FileNotFoundError(
            f"{cls.__name__} is not on disk: tonic looks in {self.location_on_system} for "
            f"{self.filename} (it checks that the archive is present, not its content) "
            f"and the files extracted from it.  Put them there, or pass download=True "
            f"to download them from {self.url}")

    guarded = type(cls.__name__, (cls,), {"download": refuse, "__module__": __name__})
    return guarded(root, **kwargs)


def load_shd(root, split="train", *, n=None, download=False, **kwargs):
    """The Spiking Heidelberg Digits (Cramer et al. 2020) as spike trains.

    700 input channels (the cochlea model's channels), times in ms (a digit lasts
    up to about 1.4 s), 20 classes (digits 0-9 in English and German).

    Parameters
    ----------
    root : str or path
        The folder given to tonic as ``save_to``; tonic reads
        ``root/SHD/shd_{split}.h5`` and insists that ``root/SHD/shd_{split}.h5.zip``
        exists next to it.
    split : {"train", "test"}
    n : int, optional
        Number of examples, from the first (default: all 8156 / 2264).
    download : bool, default False
        Let tonic download the split (about 130 MB / 40 MB) if it is missing;
        otherwise a missing file raises ``FileNotFoundError``.
    **kwargs
        Passed to :func:`from_tonic` (``t_max``, ``time_scale``, ``progress``, ...).

    Returns
    -------
    spikes : SpikeTrains
    labels : ndarray of int
    """
    ds = _open(_tonic.datasets.SHD, str(root), download, train=_split(split))
    return from_tonic(ds, n, **kwargs)


def load_nmnist(root, split="train", *, n=None, first_saccade_only=False, stabilize=False,
                download=False, **kwargs):
    """N-MNIST (Orchard et al. 2015) as spike trains.

    34 x 34 pixels and two polarities: 2312 channels (``polarity="merge"``: 1156),
    ``x + 34 y + 1156 p``; times in ms (three saccades of about 100 ms each).

    Parameters
    ----------
    root : str or path
        The folder given to tonic as ``save_to``; tonic reads the ``.bin`` files under
        ``root/NMNIST/Train`` (``Test``), one folder per digit, and insists that
        ``root/NMNIST/train.zip`` (``test.zip``) exists and that there are at least
        10000 ``.bin`` files.
    split : {"train", "test"}
    n : int, optional
        Number of examples, in tonic's order (by digit folder, then file name).
    first_saccade_only, stabilize : bool, default False
        tonic's options: keep the first saccade only (``t < 100 ms``); undo the
        saccades' motion.
    download : bool, default False
        Let tonic download the split (about 1 GB / 170 MB) if it is missing;
        otherwise a missing file raises ``FileNotFoundError``.
    **kwargs
        Passed to :func:`from_tonic` (``polarity``, ``t_max``, ``progress``, ...).

    Returns
    -------
    spikes : SpikeTrains
    labels : ndarray of int
    """
    ds = _open(_tonic.datasets.NMNIST, str(root), download, train=_split(split),
               first_saccade_only=first_saccade_only, stabilize=stabilize)
    return from_tonic(ds, n, **kwargs)
