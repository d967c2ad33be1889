"""Spike trains: many spikes per channel and example, in one ragged container.

:class:`SpikeTrains` holds the spikes of a batch of examples as three flat arrays, the
layout the engine reads without Python objects:

* ``times`` -- float64, every spike time;
* ``index`` -- int64, the channel (input or neuron) of each spike;
* ``offsets`` -- int64, shape ``(n_examples + 1,)``: the spikes of example ``e`` are
  ``offsets[e]:offsets[e + 1]``.

Within an example the spikes are sorted by time, and spikes at the same time by
channel: one deterministic order, whatever order the channels were given in.  Each
channel's own train must come in time order (a train that goes back in time is refused
as mixed-up data); ``from_events`` takes ``(index, time)`` events in any order.  The
``(index, time)`` pairs are the layout of neo's spike trains flattened and of NIR's
``EventData``, so data from those sources needs no reshuffling.

The first-spike engine takes one time per input channel: ``first_spikes()`` gives that
matrix, and ``SpikeTrains.from_first_spikes`` goes the other way.  Multi-spike
simulation, which takes the whole trains, is being built on this container.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._arrays import readonly as _readonly, take_rows
from ._spiketrain_engine import first_spike_trains as _first_spike_trains

__all__ = ["SpikeTrains"]


def _real_1d(name, values, dtype):
    arr = np.asarray(values)
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} must be real numbers, got complex values")
    if arr.dtype.kind not in "biuf" and arr.size:
        raise TypeError(f"{name} must be numbers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if dtype is np.int64 and arr.size and arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must hold whole numbers")
    return np.ascontiguousarray(arr, dtype=dtype)


def canonical_order(times, index, offsets):
    """None if the spikes are in canonical order (by example, then time, then channel),
    else the permutation that sorts them so.  The check is one pass; most spike
    lists (the engine's among them) need no sort."""
    if times.size < 2:
        return None
    new_example = np.zeros(times.size - 1, bool)
    inner = offsets[1:-1]
    new_example[inner[(inner > 0) & (inner < times.size)] - 1] = True
    dt = times[1:] - times[:-1]
    if (new_example | (dt > 0) | ((dt == 0) & (index[1:] >= index[:-1]))).all():
        return None
    example = np.repeat(np.arange(offsets.size - 1), np.diff(offsets))
    return np.lexsort((index, times, example))


def _check_trains_sorted(times, index, offsets, n_channels):
    """Raise ValueError naming the first channel of an example whose spikes, in the
    order given, go back in time.  Channels may be interleaved in any way (grouped by
    channel as neo's trains flattened, or merged by time as an event stream): only a
    train that is itself out of order is refused, as a sign of mixed-up data."""
    example = np.repeat(np.arange(offsets.size - 1), np.diff(offsets))
    key = example * max(n_channels, 1) + index
    by = np.argsort(key, kind="stable")
    k, t = key[by], times[by]
    bad = np.flatnonzero((k[1:] == k[:-1]) & (t[1:] < t[:-1]))
    if bad.size:
        a, b = int(by[bad[0]]), int(by[bad[0] + 1])
        raise ValueError(
            f"the spike train of channel {int(index[b])} in example {int(example[b])} is not "
            f"sorted by time: spike {b} at {float(times[b])!r} comes after spike {a} at "
            f"{float(times[a])!r}; give each train in time order (SpikeTrains.from_events takes "
            f"(index, time) events in any order and sorts them)")


class SpikeTrains:
    """The spikes of ``n_examples`` examples over ``n_channels`` channels.

    Parameters
    ----------
    times : array_like of float, shape (n_spikes,)
        Spike times; finite (a channel that does not spike simply has no entry).
    index : array_like of int, shape (n_spikes,)
        Channel of each spike, ``0 <= index < n_channels``.
    offsets : array_like of int, shape (n_examples + 1,)
        Example ``e`` holds spikes ``offsets[e]:offsets[e + 1]``; ``offsets[0] == 0``,
        ``offsets[-1] == n_spikes``, non-decreasing.
    n_channels : int
        Number of channels (inputs or neurons), including channels without spikes.

    The spikes of each example are put in the canonical order (by time, ties by
    channel); the arrays are stored read-only.  The channels may come interleaved in
    any way (grouped channel by channel, or merged by time), but each channel's spikes
    must be in time order within its example: a train that goes back in time raises
    ValueError naming its example, channel and spikes.

    Examples
    --------
    >>> st = SpikeTrains.from_lists([[[0.1, 0.5], []], [[0.3], [0.2, 0.4]]])
    >>> st.n_examples, st.n_channels, st.count().tolist()
    (2, 2, [[2, 0], [1, 2]])
    >>> st.first_spikes()
    array([[0.1, inf],
           [0.3, 0.2]])
    """

    def __init__(self, times, index, offsets, n_channels):
        if isinstance(n_channels, bool) or not isinstance(n_channels, numbers.Integral):
            raise TypeError(f"n_channels must be an integer, got {n_channels!r}")
        if n_channels < 0:
            raise ValueError(f"n_channels must be >= 0, got {n_channels}")
        t = _real_1d("times", times, np.float64)
        idx = _real_1d("index", index, np.int64)
        off = _real_1d("offsets", offsets, np.int64)
        if idx.shape != t.shape:
            raise ValueError(f"index has {idx.size} entries but times has {t.size}")
        if off.size < 1 or off[0] != 0 or off[-1] != t.size:
            raise ValueError(f"offsets must start at 0 and end at the number of spikes "
                             f"({t.size}), got {off[:1].tolist()}...{off[-1:].tolist()}")
        if (np.diff(off) < 0).any():
            e = int(np.flatnonzero(np.diff(off) < 0)[0])
            raise ValueError(f"offsets must be non-decreasing (example {e} ends before it "
                             "starts)")
        bad = ~np.isfinite(t)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ValueError(f"spike times must be finite: spike {k} (example "
                             f"{self._example_of(off, k)}, channel {int(idx[k])}) is {t[k]}")
        out = (idx < 0) | (idx >= n_channels)
        if out.any():
            k = int(np.flatnonzero(out)[0])
            raise ValueError(f"channel index {int(idx[k])} of spike {k} (example "
                             f"{self._example_of(off, k)}) is outside 0..{n_channels - 1}")
        order = canonical_order(t, idx, off)
        if order is not None:
            _check_trains_sorted(t, idx, off, n_channels)
            t, idx = t[order], idx[order]
        self._store(t, idx, off, n_channels)

    def _store(self, times, index, offsets, n_channels):
        self._times = _readonly(np.ascontiguousarray(times, np.float64))
        self._index = _readonly(np.ascontiguousarray(index, np.int64))
        self._offsets = _readonly(np.ascontiguousarray(offsets, np.int64))
        self._n_channels = int(n_channels)

    @classmethod
    def _trusted(cls, times, index, offsets, n_channels) -> "SpikeTrains":
        """Arrays already valid and in canonical order (the engine's spike lists,
        from_first_spikes): stored without the checks, which cost more than a small
        batch's simulation's Python side otherwise."""
        self = cls.__new__(cls)
        self._store(times, index, offsets, n_channels)
        return self

    @staticmethod
    def _example_of(off, k):
        return int(np.searchsorted(off, k, side="right") - 1)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_lists(cls, examples, n_channels=None) -> "SpikeTrains":
        """From nested lists: ``examples[e][c]`` is the spike times of channel ``c`` in
        example ``e``, in time order (non-decreasing; an empty list for a silent
        channel).  A train out of order raises ValueError naming its example and
        channel.

        ``n_channels`` defaults to the number of channels of the first example; every
        example must have that many.
        """
        examples = list(examples)
        if n_channels is None:
            n_channels = len(examples[0]) if examples else 0
        times, index, offsets = [], [], [0]
        for e, channels in enumerate(examples):
            channels = list(channels)
            if len(channels) != n_channels:
                raise ValueError(f"example {e} has {len(channels)} channels, expected "
                                 f"{n_channels}")
            n = 0
            for c, train in enumerate(channels):
                arr = _real_1d(f"example {e}, channel {c}", np.atleast_1d(train), np.float64)
                if arr.size > 1 and (arr[1:] < arr[:-1]).any():
                    k = int(np.flatnonzero(arr[1:] < arr[:-1])[0]) + 1
                    raise ValueError(f"example {e}, channel {c}: the spike train is not sorted "
                                     f"by time (spike {k} at {float(arr[k])!r} comes after "
                                     f"{float(arr[k - 1])!r})")
                times.append(arr)
                index.append(np.full(arr.size, c, np.int64))
                n += arr.size
            offsets.append(offsets[-1] + n)
        cat = (lambda parts, dt: np.concatenate(parts).astype(dt) if parts
               else np.zeros(0, dt))
        return cls(cat(times, np.float64), cat(index, np.int64), offsets, n_channels)

    @classmethod
    def from_events(cls, index, times, n_channels, *, example=None,
                    n_examples=None) -> "SpikeTrains":
        """From ``(index, time)`` events, as in NIR's ``EventData`` or flattened neo
        spike trains.

        Parameters
        ----------
        index, times : array_like, shape (n_spikes,)
            Channel and time of each spike, in any order.
        n_channels : int
        example : array_like of int, shape (n_spikes,), optional
            Example of each spike (default: all in example 0).
        n_examples : int, optional
            Number of examples (default ``max(example) + 1``; examples without spikes
            are kept when this is larger).
        """
        t = _real_1d("times", times, np.float64)
        ex = (np.zeros(t.size, np.int64) if example is None
              else _real_1d("example", example, np.int64))
        if ex.shape != t.shape:
            raise ValueError(f"example has {ex.size} entries but times has {t.size}")
        if ex.size and ex.min() < 0:
            raise ValueError(f"example ids must be >= 0, got {int(ex.min())}")
        n_ex = int(ex.max()) + 1 if ex.size else (1 if example is None else 0)
        if n_examples is not None:
            if int(n_examples) < n_ex:
                raise ValueError(f"n_examples={n_examples} but the events name example "
                                 f"{n_ex - 1}")
            n_ex = int(n_examples)
        idx = _real_1d("index", index, np.int64)
        if idx.shape != t.shape:
            raise ValueError(f"index has {idx.size} entries but times has {t.size}")
        bad = np.flatnonzero(~np.isfinite(t))
        if bad.size:            # named at the caller's position, before the sort moves it
            k = int(bad[0])
            raise ValueError(f"spike times must be finite: event {k} (example {int(ex[k])}, "
                             f"channel {int(idx[k])}) is {float(t[k])!r}")
        # Events come in any order: sorted here into the canonical one (by example, time,
        # channel), which the constructor then finds as it is.
        order = np.lexsort((idx, t, ex))
        offsets = np.zeros(n_ex + 1, np.int64)
        np.cumsum(np.bincount(ex, minlength=n_ex), out=offsets[1:])
        return cls(t[order], idx[order], offsets, n_channels)

    @classmethod
    def from_first_spikes(cls, input_times) -> "SpikeTrains":
        """From today's ``input_times`` matrix (one time per channel, ``inf`` = none)."""
        x = np.asarray(input_times, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2:
            raise ValueError(f"input_times must be 1-D or 2-D, got {x.ndim}-D")
        if np.isnan(x).any() or np.isneginf(x).any():
            raise ValueError("input_times contains NaN or -inf")
        return cls._from_checked_first_spikes(x)

    @classmethod
    def _from_checked_first_spikes(cls, x) -> "SpikeTrains":
        """from_first_spikes() of a 2-D float64 matrix already checked (no NaN, no -inf)."""
        if x.shape[1] <= 32:
            # Few channels (a classifier's inputs): one compiled pass of insertion
            # sorts, cheaper than the numpy calls below on a small batch.
            return cls._trusted(*_first_spike_trains(np.ascontiguousarray(x)), x.shape[1])
        # Each row by time, ties by channel (a stable sort of the channels): the
        # canonical order directly; inf (no spike) sorts last and is dropped.
        order = np.argsort(x, axis=1, kind="stable")
        t = np.sort(x, axis=1, kind="stable")   # = x[order] row by row, and cheaper
        keep = np.isfinite(t)
        offsets = np.zeros(x.shape[0] + 1, np.int64)
        np.cumsum(keep.sum(axis=1), out=offsets[1:])
        return cls._trusted(t[keep], order[keep], offsets, x.shape[1])

    # ------------------------------------------------------------------ access
    @property
    def times(self) -> np.ndarray:
        """All spike times, example by example, each example in canonical order."""
        return self._times

    @property
    def index(self) -> np.ndarray:
        """Channel of each spike."""
        return self._index

    @property
    def offsets(self) -> np.ndarray:
        """Spikes of example ``e``: ``offsets[e]:offsets[e + 1]``."""
        return self._offsets

    @property
    def n_channels(self) -> int:
        return self._n_channels

    @property
    def n_examples(self) -> int:
        return self._offsets.size - 1

    @property
    def n_spikes(self) -> int:
        return self._times.size

    def __len__(self) -> int:
        return self.n_examples

    def example(self, e) -> tuple[np.ndarray, np.ndarray]:
        """``(index, times)`` of example ``e``, in canonical order."""
        e = self._check_example(e)
        a, b = self._offsets[e], self._offsets[e + 1]
        return self._index[a:b], self._times[a:b]

    def trains(self, e) -> list[np.ndarray]:
        """The spike times of each channel of example ``e``, sorted."""
        idx, t = self.example(e)
        order = np.argsort(idx, kind="stable")
        bounds = np.searchsorted(idx[order], np.arange(self._n_channels + 1))
        ts = t[order]
        return [ts[bounds[c]:bounds[c + 1]] for c in range(self._n_channels)]

    def count(self) -> np.ndarray:
        """Spikes per example and channel, shape ``(n_examples, n_channels)``."""
        out = np.zeros((self.n_examples, self._n_channels), np.int64)
        example = np.repeat(np.arange(self.n_examples), np.diff(self._offsets))
        np.add.at(out, (example, self._index), 1)
        return out

    def first_spikes(self) -> np.ndarray:
        """First spike time per example and channel (``inf`` for none): the
        ``input_times`` of a first-spike network."""
        out = np.full((self.n_examples, self._n_channels), np.inf)
        example = np.repeat(np.arange(self.n_examples), np.diff(self._offsets))
        np.minimum.at(out, (example, self._index), self._times)
        return out

    def select(self, rows) -> "SpikeTrains":
        """The examples ``rows``, in that order."""
        rows = np.asarray(rows, np.int64).reshape(-1)
        if rows.size and not ((rows >= 0) & (rows < self.n_examples)).all():
            raise IndexError(f"rows must lie in 0..{self.n_examples - 1}")
        take, offsets = take_rows(self._offsets, rows)
        return SpikeTrains(self._times[take], self._index[take], offsets, self._n_channels)

    def _check_example(self, e):
        if isinstance(e, bool) or not isinstance(e, numbers.Integral):
            raise TypeError(f"example must be an integer, got {e!r}")
        if not -self.n_examples <= e < self.n_examples:
            raise IndexError(f"example {e} out of range for {self.n_examples} examples")
        return int(e) % self.n_examples

    def __eq__(self, other):
        if not isinstance(other, SpikeTrains):
            return NotImplemented
        return (self._n_channels == other._n_channels
                and np.array_equal(self._offsets, other._offsets)
                and np.array_equal(self._index, other._index)
                and np.array_equal(self._times, other._times))

    __hash__ = None

    def __repr__(self):
        return (f"SpikeTrains({self.n_examples} examples, {self._n_channels} channels, "
                f"{self.n_spikes} spikes)")
