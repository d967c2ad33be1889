"""SpikeTrains: the ragged container of many spikes per channel and example."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import eventsim
from eventsim import SpikeTrains

finite_times = st.floats(-5.0, 50.0, allow_nan=False, allow_infinity=False)


@st.composite
def nested(draw):
    n_channels = draw(st.integers(0, 5))
    n_examples = draw(st.integers(0, 4))
    return n_channels, [[sorted(draw(st.lists(finite_times, max_size=6)))
                         for _ in range(n_channels)] for _ in range(n_examples)]


@settings(max_examples=80, deadline=None)
@given(nested())
def test_from_lists_round_trips_and_orders_canonically(data):
    n_channels, examples = data
    s = SpikeTrains.from_lists(examples, n_channels=n_channels)
    assert s.n_examples == len(examples) and s.n_channels == n_channels
    for e, channels in enumerate(examples):
        for c, train in enumerate(s.trains(e)):
            np.testing.assert_array_equal(train, np.sort(np.asarray(channels[c], float)))
        idx, t = s.example(e)
        # By time, ties by channel.
        key = list(zip(t.tolist(), idx.tolist()))
        assert key == sorted(key)
    counts = np.array([[len(c) for c in ex] for ex in examples], np.int64).reshape(
        len(examples), n_channels)
    np.testing.assert_array_equal(s.count(), counts)
    first = np.array([[min(c) if c else np.inf for c in ex] for ex in examples]).reshape(
        len(examples), n_channels)
    np.testing.assert_array_equal(s.first_spikes(), first)


@settings(max_examples=80, deadline=None)
@given(nested(), st.randoms(use_true_random=False))
def test_from_events_in_any_order_equals_from_lists(data, rnd):
    n_channels, examples = data
    events = [(e, c, t) for e, ex in enumerate(examples) for c, tr in enumerate(ex) for t in tr]
    rnd.shuffle(events)
    ex, ch, tt = (np.array([ev[k] for ev in events]) for k in range(3))
    s = SpikeTrains.from_events(ch.astype(np.int64) if ch.size else np.zeros(0, np.int64),
                                tt.astype(float) if tt.size else np.zeros(0),
                                n_channels, example=ex.astype(np.int64) if ex.size
                                else np.zeros(0, np.int64), n_examples=len(examples))
    assert s == SpikeTrains.from_lists(examples, n_channels=n_channels)


@settings(max_examples=80, deadline=None)
@given(nested(), st.randoms(use_true_random=False))
def test_channels_interleaved_in_any_order_keeping_each_train_equal_from_lists(data, rnd):
    # Each channel's spikes in time order, the channels merged in a random interleaving
    # (grouped by channel as neo's trains flattened, by time as a stream, or anything
    # between): the constructor sorts them into the canonical order.
    n_channels, examples = data
    times, index, offsets = [], [], [0]
    for ex in examples:
        queues = [[(c, t) for t in tr] for c, tr in enumerate(ex)]
        while any(queues):
            q = rnd.choice([q for q in queues if q])
            c, t = q.pop(0)
            times.append(t)
            index.append(c)
        offsets.append(len(times))
    s = SpikeTrains(np.array(times, float), np.array(index, np.int64), offsets, n_channels)
    assert s == SpikeTrains.from_lists(examples, n_channels=n_channels)


@settings(max_examples=60, deadline=None)
@given(nested(), st.data())
def test_a_train_out_of_time_order_is_refused_naming_it(data, draw):
    n_channels, examples = data
    # A channel with two different times, to swap (a one-channel example of its own when
    # the drawn data has none).
    pairs = [(e, c) for e, ex in enumerate(examples) for c, tr in enumerate(ex)
             if len(set(tr)) > 1]
    if not pairs:
        n_channels, examples, pairs = 1, [[[1.0, 2.0]]], [(0, 0)]
    e, c = draw.draw(st.sampled_from(pairs))
    tr = sorted(set(examples[e][c]))
    lo, hi = tr[0], tr[-1]
    bad = [list(map(list, ex)) for ex in examples]
    k_lo, k_hi = bad[e][c].index(lo), len(bad[e][c]) - 1 - bad[e][c][::-1].index(hi)
    bad[e][c][k_lo], bad[e][c][k_hi] = hi, lo
    with pytest.raises(ValueError, match=f"example {e}, channel {c}: the spike train is not "
                                         "sorted by time"):
        SpikeTrains.from_lists(bad, n_channels=n_channels)
    # The same trains flattened channel by channel into the constructor.
    times = [t for ex in bad for tr in ex for t in tr]
    index = [ch for ex in bad for ch, tr in enumerate(ex) for _ in tr]
    offsets = np.concatenate([[0], np.cumsum([sum(len(tr) for tr in ex) for ex in bad])])
    with pytest.raises(ValueError, match=f"the spike train of channel {c} in example {e} is "
                                         "not sorted by time"):
        SpikeTrains(np.array(times, float), np.array(index, np.int64), offsets, n_channels)


@settings(max_examples=50, deadline=None)
@given(nested(), st.data())
def test_select_equals_building_the_selection(data, draw):
    n_channels, examples = data
    s = SpikeTrains.from_lists(examples, n_channels=n_channels)
    rows = draw.draw(st.lists(st.integers(0, max(len(examples) - 1, 0)), max_size=5)
                     if examples else st.just([]))
    assert s.select(rows) == SpikeTrains.from_lists([examples[r] for r in rows],
                                                    n_channels=n_channels)


def test_first_spikes_round_trip_with_input_times():
    x = np.array([[0.1, np.inf, 0.7], [np.inf, np.inf, np.inf], [0.0, 0.2, 0.2]])
    s = SpikeTrains.from_first_spikes(x)
    assert s.n_examples == 3 and s.n_spikes == 5
    np.testing.assert_array_equal(s.first_spikes(), x)


def test_arrays_are_read_only():
    s = SpikeTrains.from_lists([[[0.1], [0.2]]])
    for arr in (s.times, s.index, s.offsets):
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 1


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(times=[0.1, np.nan], index=[0, 1], offsets=[0, 2]), ValueError,
     r"finite: spike 1 \(example 0, channel 1\) is nan"),
    (dict(times=[0.1, np.inf], index=[0, 1], offsets=[0, 2]), ValueError, "finite"),
    (dict(times=[0.1, 0.2], index=[0, 3], offsets=[0, 2]), ValueError,
     r"channel index 3 .* outside 0\.\.1"),
    (dict(times=[0.1, 0.2], index=[0, -1], offsets=[0, 2]), ValueError, "channel index -1"),
    (dict(times=[0.1, 0.2], index=[0], offsets=[0, 2]), ValueError, "index has 1 entries"),
    (dict(times=[0.1, 0.2], index=[0, 1], offsets=[0, 1]), ValueError, "end at the number"),
    (dict(times=[0.1, 0.2], index=[0, 1], offsets=[0, 2, 1, 2]), ValueError, "non-decreasing"),
    (dict(times=[0.1 + 1j], index=[0], offsets=[0, 1]), TypeError, "real"),
    (dict(times=[0.1], index=[0.5], offsets=[0, 1]), ValueError, "whole numbers"),
    (dict(times=[[0.1]], index=[0], offsets=[0, 1]), ValueError, "1-D"),
])
def test_bad_input_is_named(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        SpikeTrains(n_channels=2, **kwargs)


def test_bad_nested_and_event_input_is_named():
    with pytest.raises(ValueError, match="example 1 has 1 channels, expected 2"):
        SpikeTrains.from_lists([[[0.1], []], [[0.2]]])
    with pytest.raises(ValueError, match="n_examples=1 but the events name example 2"):
        SpikeTrains.from_events([0], [0.1], 1, example=[2], n_examples=1)
    # Named where the caller put it, not where sorting by time would move it.
    with pytest.raises(ValueError, match=r"finite: event 0 \(example 1, channel 1\) is nan"):
        SpikeTrains.from_events([1, 0], [np.nan, 1.0], 2, example=[1, 0])
    with pytest.raises(ValueError, match="NaN"):
        SpikeTrains.from_first_spikes([[np.nan]])
    with pytest.raises(TypeError, match="n_channels must be an integer"):
        SpikeTrains([], [], [0], 2.0)
    s = SpikeTrains.from_lists([[[0.1]]])
    with pytest.raises(IndexError, match="example 1 out of range"):
        s.example(1)
    with pytest.raises(IndexError, match="rows"):
        s.select([3])


def test_exported_from_the_package():
    assert eventsim.SpikeTrains is SpikeTrains


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 6).flatmap(lambda n_ex: st.integers(0, 7).flatmap(
    lambda n_ch: st.lists(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.5, np.inf, 1e-300, 7.0]),
                                   min_size=n_ch, max_size=n_ch),
                          min_size=n_ex, max_size=n_ex).map(
        lambda rows: np.array(rows, dtype=np.float64).reshape(n_ex, n_ch)))))
def test_from_first_spikes_equals_the_checked_constructor(x):
    # from_first_spikes builds the canonical order itself and skips the checks; the
    # checked constructor, fed the same events in channel order, must agree.
    fast = SpikeTrains.from_first_spikes(x)
    e, c = np.nonzero(np.isfinite(x))
    offsets = np.concatenate([[0], np.cumsum(np.isfinite(x).sum(axis=1))])
    slow = SpikeTrains(x[e, c], c, offsets, x.shape[1])
    assert fast.n_examples == slow.n_examples == x.shape[0]
    assert fast.n_channels == slow.n_channels
    np.testing.assert_array_equal(fast.times, slow.times)
    np.testing.assert_array_equal(fast.index, slow.index)
    np.testing.assert_array_equal(fast.offsets, slow.offsets)
    assert fast.times.dtype == np.float64 and fast.index.dtype == np.int64
    assert not fast.times.flags.writeable and not fast.index.flags.writeable
    np.testing.assert_array_equal(fast.first_spikes(), x)
    # Up to 32 channels a compiled pass converts; wider inputs go through numpy.
    wide = np.hstack([x, np.full((x.shape[0], 33), 2.5)])
    e, c = np.nonzero(np.isfinite(wide))
    offsets = np.concatenate([[0], np.cumsum(np.isfinite(wide).sum(axis=1))])
    fast_wide = SpikeTrains.from_first_spikes(wide)
    slow_wide = SpikeTrains(wide[e, c], c, offsets, wide.shape[1])
    np.testing.assert_array_equal(fast_wide.times, slow_wide.times)
    np.testing.assert_array_equal(fast_wide.index, slow_wide.index)
    np.testing.assert_array_equal(fast_wide.offsets, slow_wide.offsets)
    from eventsim import _spiketrain_engine
    o = slow.offsets
    np.testing.assert_array_equal(_spiketrain_engine.local_index(o),
                                  np.arange(o[-1]) - np.repeat(o[:-1], np.diff(o)))
