"""Spike data to and from neo, and elephant's spike-train measures on eventsim output.

`neo <https://neo.readthedocs.io>`_ is the data model of electrophysiology in Python
(read and written by NEST, Brian2 exporters, PyNN, spikeinterface and most recording
formats); `elephant <https://elephant.readthedocs.io>`_ computes the standard
spike-train statistics on it.  This module needs the optional extra
``pip install eventsim[neo]`` (neo, quantities, elephant).

* :func:`to_neo` -- :class:`eventsim.SpikeTrains` (or a first-spike time matrix) to a
  ``neo.Block`` with one ``Segment`` per example and one ``neo.SpikeTrain`` per
  channel (silent channels as empty trains), in physical ``units``;
* :func:`from_neo` -- a ``Block``, ``Segment`` or list of ``neo.SpikeTrain`` back to
  :class:`eventsim.SpikeTrains` (times rescaled to ``units``);
* :func:`van_rossum_distance`, :func:`victor_purpura_distance`,
  :func:`spike_time_tiling_coefficient`, :func:`fano_factor`, :func:`spike_contrast`
  -- elephant's implementations, called on eventsim data.  The measures of the papers
  eventsim reproduces (pulse packets, information gain, class pathways) stay in
  :mod:`eventsim.analysis`.

eventsim's times have no unit of their own: ``units`` says what one eventsim time unit
is (``"ms"`` by default, as in the LIF examples; choose ``"s"`` or another
``quantities`` unit to match your model).  Every parameter with a dimension (``t_stop``,
``tau``, ``dt``, ...) is a number in those units or a ``quantities.Quantity``.
"""

from __future__ import annotations

import numbers

import numpy as np

try:
    import neo as _neo
    import quantities as _pq
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("eventsim.neo needs neo and quantities: pip install 'eventsim[neo]' "
                      "(neo, quantities, elephant)") from exc

from .spiketrains import SpikeTrains

__all__ = ["to_neo", "from_neo", "example_trains", "van_rossum_distance",
           "victor_purpura_distance", "spike_time_tiling_coefficient", "fano_factor",
           "spike_contrast"]


# ------------------------------------------------------------------------------ helpers
def _unit(units):
    try:
        u = _pq.Quantity(1.0, units)
    except (LookupError, ValueError, TypeError, AttributeError):
        raise ValueError(f"units must be a time unit that quantities knows (e.g. 'ms', "
                         f"'s'), got {units!r}") from None
    try:
        u.rescale(_pq.s)
    except ValueError:
        raise ValueError(f"units must be a unit of time, got {units!r}") from None
    return u


def _q(name, value, units, *, inverse=False):
    """``value`` (a number in ``units``, or a Quantity) as a Quantity."""
    u = _unit(units)
    if isinstance(value, _pq.Quantity):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number (in {units}) or a quantities."
                         f"Quantity, got {value!r}")
    return float(value) / u if inverse else float(value) * u


def _spiketrains(spikes):
    if isinstance(spikes, SpikeTrains):
        return spikes
    return SpikeTrains.from_first_spikes(spikes)


def _check_window(st, t_start, t_stop):
    if not (np.isfinite(t_start) and np.isfinite(t_stop) and t_stop > t_start):
        raise ValueError(f"need finite t_start < t_stop, got t_start={t_start!r}, "
                         f"t_stop={t_stop!r}")
    if st.n_spikes and (st.times.min() < t_start or st.times.max() > t_stop):
        raise ValueError(f"spike times must lie in [t_start, t_stop] = [{t_start}, {t_stop}] "
                         f"(neo refuses spikes outside a train's window), got "
                         f"{st.times.min()!r} .. {st.times.max()!r}")


def _window(name, value, units):
    return float(_q(name, value, units).rescale(_unit(units).units).magnitude)


# ------------------------------------------------------------------------------ conversion
def example_trains(spikes, e, t_stop, *, units="ms", t_start=0.0, channels=None) -> list:
    """The ``neo.SpikeTrain`` of each channel of example ``e`` (empty for silent ones).

    Parameters
    ----------
    spikes : SpikeTrains or array_like, shape (n_examples, n_channels)
        Spike trains, or first-spike times (``inf``: no spike).
    e : int
        Example.
    t_stop : float or Quantity
        End of the trains (every spike must lie in ``[t_start, t_stop]``).
    units : str, default "ms"
        What one eventsim time unit is.
    t_start : float or Quantity, default 0
    channels : array_like of int, optional
        A subset of the channels, in this order (default: all).
    """
    st = _spiketrains(spikes)
    t0, t1 = _window("t_start", t_start, units), _window("t_stop", t_stop, units)
    trains = st.trains(e)
    chans = range(st.n_channels) if channels is None else np.asarray(channels, np.int64).ravel()
    out = []
    for c in chans:
        if not 0 <= c < st.n_channels:
            raise ValueError(f"channel {c} is outside 0 .. {st.n_channels - 1}")
        t = trains[c]
        if t.size and (t[0] < t0 or t[-1] > t1):
            raise ValueError(f"example {e}, channel {c}: spike times {t[0]!r} .. {t[-1]!r} "
                             f"outside [t_start, t_stop] = [{t0}, {t1}]")
        out.append(_neo.SpikeTrain(t, units=units, t_start=t0, t_stop=t1,
                                   name=f"channel {int(c)}", channel=int(c), example=int(e)))
    return out


def to_neo(spikes, t_stop, *, units="ms", t_start=0.0, name=None) -> "_neo.Block":
    """A ``neo.Block`` of spike data: one ``Segment`` per example, one ``SpikeTrain`` per
    channel (annotated ``channel`` and ``example``; silent channels are empty trains).

    Parameters
    ----------
    spikes : SpikeTrains or array_like, shape (n_examples, n_channels)
        E.g. ``SimulationResult.spikes``, or ``SimulationResult.times`` of a
        first-spike network (``inf``: no spike).
    t_stop : float or Quantity
        End of the recording; every spike must lie in ``[t_start, t_stop]``.
    units : str, default "ms"
        What one eventsim time unit is.
    t_start : float or Quantity, default 0
    name : str, optional
        Name of the block.

    Examples
    --------
    >>> st = SpikeTrains.from_lists([[[0.1, 0.5], []]])
    >>> block = to_neo(st, t_stop=1.0)
    >>> [len(t) for t in block.segments[0].spiketrains]
    [2, 0]
    """
    st = _spiketrains(spikes)
    _unit(units)
    t0, t1 = _window("t_start", t_start, units), _window("t_stop", t_stop, units)
    _check_window(st, t0, t1)
    block = _neo.Block(name=name)
    for e in range(st.n_examples):
        seg = _neo.Segment(name=f"example {e}", index=e)
        for train in example_trains(st, e, t1, units=units, t_start=t0):
            seg.spiketrains.append(train)
        block.segments.append(seg)
    return block


def _segments(data):
    """``data`` as a list of examples, each a list of neo.SpikeTrain."""
    if isinstance(data, _neo.Block):
        return [list(s.spiketrains) for s in data.segments]
    if isinstance(data, _neo.Segment):
        return [list(data.spiketrains)]
    if isinstance(data, _neo.SpikeTrain):
        return [[data]]
    items = list(data)
    if all(isinstance(t, _neo.SpikeTrain) for t in items):
        return [items]
    out = []
    for e, ex in enumerate(items):
        if isinstance(ex, _neo.Segment):
            out.append(list(ex.spiketrains))
            continue
        ex = list(ex) if not isinstance(ex, _neo.SpikeTrain) else [ex]
        if not all(isinstance(t, _neo.SpikeTrain) for t in ex):
            raise TypeError(f"from_neo needs a neo Block, Segment, list of SpikeTrain or list "
                            f"of lists of SpikeTrain; example {e} holds "
                            f"{sorted({type(t).__name__ for t in ex})}")
        out.append(ex)
    return out


def from_neo(data, *, units="ms", n_channels=None) -> SpikeTrains:
    """:class:`eventsim.SpikeTrains` from neo spike trains.

    Parameters
    ----------
    data : neo.Block, neo.Segment, list of neo.SpikeTrain, or list of lists
        A Block's segments (or the outer list) are the examples; each example's trains
        are its channels, in order.
    units : str, default "ms"
        What one eventsim time unit is: every train is rescaled to it.
    n_channels : int, optional
        Number of channels (default: the number of trains of the first example; every
        example must have that many).

    Returns
    -------
    SpikeTrains
        Spike times as given (absolute, not relative to ``t_start``); the trains'
        ``t_start`` / ``t_stop`` are not kept.

    Raises
    ------
    ValueError
        A train out of time order (neo allows those; ``train.sort()`` first), with its
        example and channel; times that are not finite or not convertible to ``units``.
    """
    unit = _unit(units)
    examples = _segments(data)
    if n_channels is None:
        n_channels = len(examples[0]) if examples else 0
    lists = []
    for e, trains in enumerate(examples):
        if len(trains) != n_channels:
            raise ValueError(f"example {e} has {len(trains)} spike trains, expected {n_channels}")
        chans = []
        for c, train in enumerate(trains):
            try:
                t = np.asarray(train.rescale(unit.units).magnitude, np.float64).reshape(-1)
            except ValueError:
                raise ValueError(f"example {e}, channel {c}: spike times in {train.units} "
                                 f"cannot be converted to {units}") from None
            if not np.isfinite(t).all():
                raise ValueError(f"example {e}, channel {c}: spike times must be finite")
            chans.append(t)
        lists.append(chans)
    return SpikeTrains.from_lists(lists, n_channels=n_channels)


# ------------------------------------------------------------------------------ measures
def _pairwise_or_matrix(fn, st, e, t_stop, units, t_start, channels, other):
    if other is None:
        return fn(example_trains(st, e, t_stop, units=units, t_start=t_start, channels=channels))
    ot = _spiketrains(other)
    if ot.n_channels != st.n_channels:
        raise ValueError(f"other has {ot.n_channels} channels, spikes has {st.n_channels}")
    a = example_trains(st, e, t_stop, units=units, t_start=t_start, channels=channels)
    b = example_trains(ot, e, t_stop, units=units, t_start=t_start, channels=channels)
    return np.array([fn([x, y])[0, 1] for x, y in zip(a, b)])


def van_rossum_distance(spikes, tau, t_stop, *, other=None, example=0, units="ms",
                        t_start=0.0, channels=None) -> np.ndarray:
    """van Rossum distance (``elephant.spike_train_dissimilarity.van_rossum_distance``).

    Parameters
    ----------
    spikes : SpikeTrains or array_like
    tau : float or Quantity
        Time constant of the exponential kernel (in ``units``).
    t_stop : float or Quantity
    other : SpikeTrains or array_like, optional
        If given: the distance between each channel's train in ``spikes`` and in
        ``other`` (e.g. a network's output and its target), shape ``(n_channels,)``.
        Otherwise: the matrix of distances between the channels of ``spikes``.
    example : int, default 0
    units, t_start, channels
        As in :func:`example_trains`.
    """
    from elephant.spike_train_dissimilarity import van_rossum_distance as vr

    st = _spiketrains(spikes)
    tq = _q("tau", tau, units)
    return _pairwise_or_matrix(lambda trains: np.asarray(vr(trains, time_constant=tq)),
                               st, example, t_stop, units, t_start, channels, other)


def victor_purpura_distance(spikes, q, t_stop, *, other=None, example=0, units="ms",
                            t_start=0.0, channels=None) -> np.ndarray:
    """Victor-Purpura distance (``elephant.spike_train_dissimilarity``).

    ``q`` is the cost of moving a spike per unit time (in ``1 / units``, or a
    Quantity in Hz); ``other`` as in :func:`van_rossum_distance`.
    """
    from elephant.spike_train_dissimilarity import victor_purpura_distance as vp

    st = _spiketrains(spikes)
    qq = _q("q", q, units, inverse=True)
    return _pairwise_or_matrix(lambda trains: np.asarray(vp(trains, cost_factor=qq)),
                               st, example, t_stop, units, t_start, channels, other)


def spike_time_tiling_coefficient(spikes, dt, t_stop, *, other=None, example=0, units="ms",
                                  t_start=0.0, channels=None) -> np.ndarray:
    """Spike time tiling coefficient of Cutts & Eglen
    (``elephant.spike_train_correlation.spike_time_tiling_coefficient``) with window
    ``dt``: the matrix between channels, or per channel against ``other``."""
    from elephant.spike_train_correlation import spike_time_tiling_coefficient as sttc

    st = _spiketrains(spikes)
    dq = _q("dt", dt, units)

    def matrix(trains):
        k = len(trains)
        out = np.ones((k, k))
        for i in range(k):
            for j in range(i + 1, k):
                out[i, j] = out[j, i] = sttc(trains[i], trains[j], dt=dq)
        return out

    return _pairwise_or_matrix(matrix, st, example, t_stop, units, t_start, channels, other)


def fano_factor(spikes, t_stop, *, units="ms", t_start=0.0, channels=None) -> np.ndarray:
    """Fano factor of each channel's spike count across the examples (trials)
    (``elephant.statistics.fanofactor``), shape ``(n_channels,)``; NaN for a channel
    that never spikes."""
    from elephant.statistics import fanofactor

    st = _spiketrains(spikes)
    per_example = [example_trains(st, e, t_stop, units=units, t_start=t_start,
                                  channels=channels) for e in range(st.n_examples)]
    k = len(per_example[0]) if per_example else 0
    return np.array([fanofactor([ex[c] for ex in per_example]) for c in range(k)], np.float64)


def spike_contrast(spikes, t_stop, *, example=0, units="ms", t_start=0.0, channels=None,
                   min_bin=None) -> float:
    """Synchrony of the channels of one example by spike contrast (Ciba et al. 2018;
    ``elephant.spike_train_synchrony.spike_contrast``), between 0 and 1.

    ``min_bin`` (in ``units`` or a Quantity) is the smallest bin size (elephant's
    default, 10 ms, when None).
    """
    from elephant.spike_train_synchrony import spike_contrast as sc

    st = _spiketrains(spikes)
    trains = example_trains(st, example, t_stop, units=units, t_start=t_start, channels=channels)
    kw = {} if min_bin is None else {"min_bin": _q("min_bin", min_bin, units)}
    return float(sc(trains, **kw))
