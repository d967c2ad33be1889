"""eventsim.neo: spike data to and from neo, and elephant's measures on eventsim data."""

import warnings

import numpy as np
import pytest

neo = pytest.importorskip("neo")
pq = pytest.importorskip("quantities")

import eventsim  # noqa: E402
from eventsim import SpikeTrains  # noqa: E402
from eventsim import neo as eneo  # noqa: E402


@pytest.fixture
def trains():
    # Three examples, three channels; channel 1 silent in example 0, example 1 silent.
    return SpikeTrains.from_lists([[[0.5, 2.0], [], [1.25]],
                                   [[], [], []],
                                   [[3.0], [0.1, 0.2, 4.0], [2.5]]])


# ------------------------------------------------------------------ conversion
def test_round_trip_keeps_every_spike_and_silent_channel(trains):
    block = eneo.to_neo(trains, t_stop=5.0)
    back = eneo.from_neo(block)
    seg0 = block.segments[0].spiketrains
    assert (back == trains and len(block.segments) == 3 and len(seg0) == 3
            and len(seg0[1]) == 0 and seg0[1].t_stop == 5.0 * pq.ms
            and [t.annotations["channel"] for t in seg0] == [0, 1, 2])


def test_units_are_physical(trains):
    block = eneo.to_neo(trains, t_stop=5.0, units="ms")
    in_seconds = eneo.from_neo(block, units="s")
    t = block.segments[2].spiketrains[1]
    assert (t.units == pq.ms and t.t_stop.rescale(pq.s) == 5e-3 * pq.s
            and np.allclose(in_seconds.times, trains.times * 1e-3, rtol=1e-15))


def test_first_spike_matrix_and_simulation_output():
    net = eventsim.Network()
    x = net.add_inputs(2)
    h = net.add_population(2, tau=1.0, theta=1.0)
    net.connect_dense(x, h, np.array([[3.0, 0.1], [3.0, 0.1]]))
    res = eventsim.simulate(net, [[0.1, 0.2], [np.inf, np.inf]])
    block = eneo.to_neo(res.times, t_stop=10.0)
    counts = [[len(t) for t in s.spiketrains] for s in block.segments]
    assert counts == [[1, 1, 1, 0], [0, 0, 0, 0]] and np.array_equal(
        eneo.from_neo(block).first_spikes(), res.times)


def test_from_lists_of_neo_trains_and_segments():
    a = neo.SpikeTrain([1.0, 2.0], units="s", t_stop=3.0)
    b = neo.SpikeTrain([], units="s", t_stop=3.0)
    one = eneo.from_neo([a, b], units="ms")
    seg = neo.Segment()
    seg.spiketrains.extend([b, a])
    two = eneo.from_neo([[a, b], seg], units="s")
    assert (one.n_examples == 1 and np.array_equal(one.times, [1000.0, 2000.0])
            and two.count().tolist() == [[2, 0], [0, 2]])


def test_conversion_errors_are_clear(trains):
    with pytest.raises(ValueError, match="outside") as exc:
        eneo.to_neo(trains, t_stop=3.5)
    with pytest.raises(ValueError, match="time unit|unit of time"):
        eneo.to_neo(trains, t_stop=5.0, units="kg")
    with pytest.raises(ValueError, match="expected 2"):
        eneo.from_neo([[neo.SpikeTrain([], units="s", t_stop=1.0)] * 2,
                       [neo.SpikeTrain([], units="s", t_stop=1.0)]])
    with pytest.raises(ValueError, match="t_start < t_stop"):
        eneo.to_neo(trains, t_stop=0.0)
    assert "4.0" in str(exc.value)
    # neo allows a train out of time order; eventsim names it instead of guessing.
    shuffled = neo.SpikeTrain([2.0, 0.5, 1.0], units="ms", t_stop=3.0)
    silent = neo.SpikeTrain([], units="ms", t_stop=3.0)
    with pytest.raises(ValueError, match=r"example 1, channel 1: the spike train is not sorted "
                                         r"by time \(spike 1 at 0.5 comes after 2.0\)"):
        eneo.from_neo([[silent, silent], [silent, shuffled]])
    shuffled.sort()
    assert eneo.from_neo([[silent, silent], [silent, shuffled]]).trains(1)[1].tolist() == [
        0.5, 1.0, 2.0]


# ------------------------------------------------------------------ measures (elephant)
def test_van_rossum_matches_elephant_and_is_unit_invariant(trains):
    from elephant.spike_train_dissimilarity import van_rossum_distance

    ours = eneo.van_rossum_distance(trains, tau=1.5, t_stop=5.0, example=2)
    direct = van_rossum_distance([neo.SpikeTrain(t, units="ms", t_stop=5.0)
                                  for t in trains.trains(2)], time_constant=1.5 * pq.ms)
    scaled = SpikeTrains(trains.times * 1e-3, trains.index, trains.offsets, 3)
    in_seconds = eneo.van_rossum_distance(scaled, tau=1.5e-3, t_stop=5e-3, example=2, units="s")
    assert ours.shape == (3, 3) and np.allclose(ours, direct) and np.allclose(ours, in_seconds)


def test_victor_purpura_closed_forms():
    a = SpikeTrains.from_lists([[[1.0], [1.0], [2.0]]])
    b = SpikeTrains.from_lists([[[1.3], [], [2.0]]])
    # Moving a spike by 0.3 costs q * 0.3 (< 2, deleting and inserting); deleting one
    # costs 1; equal trains cost 0.
    d = eneo.victor_purpura_distance(a, q=2.0, t_stop=5.0, other=b)
    assert np.allclose(d, [0.6, 1.0, 0.0])


def test_sttc_and_fano_factor(trains):
    same = eneo.spike_time_tiling_coefficient(trains, dt=0.1, t_stop=5.0, other=trains,
                                              example=2)
    counts = trains.count()[:, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # elephant warns about silent channels
        ff = eneo.fano_factor(trains, t_stop=5.0)
    assert np.allclose(same, 1.0) and ff.shape == (3,) and np.isclose(
        ff[0], counts.var() / counts.mean())


def test_spike_contrast_ranks_synchrony():
    rng = np.random.default_rng(3)
    base = np.sort(rng.uniform(0, 1000, 20))
    sync = SpikeTrains.from_lists([[base + 0.01 * c for c in range(5)]])
    spread = SpikeTrains.from_lists([[np.sort(rng.uniform(0, 1000, 20)) for _ in range(5)]])
    s_sync = eneo.spike_contrast(sync, t_stop=1001.0)
    s_spread = eneo.spike_contrast(spread, t_stop=1001.0)
    assert 0.0 <= s_spread < s_sync <= 1.0 and s_sync > 0.8
