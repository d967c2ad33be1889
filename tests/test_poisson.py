"""Poisson generators of the spike-train engine: statistics, streams, seeds, errors.

A probe neuron turns every arrival into exactly one spike (a very short synaptic
current lifts it once above threshold and has died out before it could cross again),
so its spike train is the stream, shifted by a constant delay of about 1e-5."""

import numpy as np
import pytest
from scipy import stats

import eventsim
from eventsim.training.serialization import network_from_arrays, network_to_arrays


def probes(rate, n=300, rate_times=None, delay=0.0):
    net = eventsim.Network()
    net.add_inputs(0)
    g = net.add_poisson(1, rate, rate_times=rate_times)
    h = net.add_population(n, model="lif", multispike=True, tau_mem=1e-3, tau_syn=1e-5,
                           theta=1.0)
    net.connect(np.full(n, g.ids[0]), h.ids, 150.0, delay)
    return net, h


def test_counts_and_intervals_are_poisson():
    net, h = probes(50.0)
    res = eventsim.simulate(net, np.zeros((4, 0)), t_max=10.0, seed=1)
    counts = res.spikes.count()[:, h.ids].ravel()
    # 1,200 independent streams with mean 500: mean and variance within a few SE.
    assert abs(counts.mean() - 500.0) < 4 * np.sqrt(500.0 / counts.size)
    assert abs(counts.var() / 500.0 - 1.0) < 0.15
    isi = np.concatenate([np.diff(t) for t in res.spikes.trains(0)[h.ids[0]:]])
    assert stats.kstest(isi, "expon", args=(0, 1 / 50.0)).pvalue > 1e-3
    # Streams are independent: neighbouring targets' counts do not correlate.
    c = res.spikes.count()[0, h.ids].astype(float)
    assert abs(np.corrcoef(c[:-1], c[1:])[0, 1]) < 0.2


def test_piecewise_constant_rate():
    net, h = probes([[20.0, 0.0, 80.0]], rate_times=[0.0, 2.0, 5.0])
    res = eventsim.simulate(net, np.zeros((2, 0)), t_max=8.0, seed=3)
    t = res.spikes.times
    n = 2 * h.size
    assert ((t > 2.0 + 1e-3) & (t < 5.0)).sum() == 0
    assert abs((t < 2.0).sum() / n - 40.0) < 4 * np.sqrt(40.0 / n)
    assert abs((t > 5.0).sum() / n - 240.0) < 4 * np.sqrt(240.0 / n)


def test_delays_shift_the_stream():
    net, h = probes(30.0, n=5, delay=0.25)
    res = eventsim.simulate(net, np.zeros((1, 0)), t_max=3.0, seed=5)
    first = res.spikes.first_spikes()[0, h.ids]
    assert (first > 0.25).all()


def test_streams_are_bit_identical_for_any_thread_count_and_keyed_by_seed():
    net, h = probes(40.0, n=20)
    x = np.zeros((16, 0))
    a = eventsim.simulate(net, x, t_max=2.0, seed=7, n_threads=1)
    b = eventsim.simulate(net, x, t_max=2.0, seed=7, n_threads=2)
    c = eventsim.simulate(net, x, t_max=2.0, seed=8, n_threads=2)
    assert a.spikes == b.spikes and a.seed == 7
    assert a.spikes != c.spikes
    # Different examples draw different streams.
    assert not np.array_equal(a.spikes.trains(0)[h.ids[0]], a.spikes.trains(1)[h.ids[0]])
    fresh = eventsim.simulate(net, x[:1], t_max=2.0)
    again = eventsim.simulate(net, x[:1], t_max=2.0, seed=fresh.seed)
    assert fresh.spikes == again.spikes


def test_zero_rate_generators_are_silent():
    net, h = probes(0.0, n=3)
    res = eventsim.simulate(net, np.zeros((1, 0)), t_max=5.0, seed=1)
    assert res.spikes.n_spikes == 0


def test_bad_rates_are_refused():
    net = eventsim.Network()
    with pytest.raises(ValueError, match="Poisson rates must be finite and >= 0"):
        net.add_poisson(2, [1.0, -1.0])
    with pytest.raises(ValueError, match="rate_times must be finite, strictly increasing and start at 0"):
        net.add_poisson(1, [[1.0, 2.0]], rate_times=[0.5, 1.0])
    with pytest.raises(ValueError, match=r"rate must be a scalar, shape \(2,\) or shape \(2, 2\)"):
        net.add_poisson(2, [[1.0, 2.0, 3.0]], rate_times=[0.0, 1.0])
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        net2, _ = probes(1.0, n=1)
        eventsim.simulate(net2, np.zeros((1, 0)), t_max=1.0, seed=-1)


def test_first_spike_engine_refuses_poisson_generators():
    from eventsim import _engine
    net = eventsim.Network()
    net.add_inputs(1)
    g = net.add_poisson(1, 1.0)
    h = net.add_population(1, model="lif")
    net.connect(g.ids, h.ids, 1.0)
    with pytest.raises(ValueError, match="cannot run Poisson generators"):
        _engine.run_batch(net._lower(), np.zeros((1, 1)), 1.0, 100, False, 1)
    # simulate() sends the network to the spike-train engine instead.
    res = eventsim.simulate(net, [np.inf], t_max=50.0, seed=0)
    assert res.spikes.count()[0, g.ids[0]] == 0       # generators' spikes are not recorded


def test_networks_with_generators_round_trip_through_serialization():
    net = eventsim.Network()
    net.add_inputs(2)
    g = net.add_poisson(3, [[1.0, 2.0], [0.0, 5.0], [3.0, 3.0]], rate_times=[0.0, 1.5])
    h = net.add_population(2, model="lif", multispike=True, t_ref=0.1, v_reset=-0.5, bias=0.2)
    net.connect(g.ids, np.array([h.ids[0], h.ids[1], h.ids[0]]), [0.5, 0.6, 0.7])
    desc, arrays = network_to_arrays(net)
    back = network_from_arrays(desc, arrays)
    for k in range(3):
        t0, r0 = net.poisson_rate(k)
        t1, r1 = back.poisson_rate(k)
        assert np.array_equal(t0, t1) and np.array_equal(r0, r1)
    assert back.population_params(0) == net.population_params(0)
    x = np.full((2, 2), np.inf)
    assert (eventsim.simulate(net, x, t_max=5.0, seed=2).spikes
            == eventsim.simulate(back, x, t_max=5.0, seed=2).spikes)


def test_membrane_potential_of_a_poisson_driven_neuron_is_refused():
    net, h = probes(10.0, n=2)
    res = eventsim.simulate(net, np.zeros((1, 0)), t_max=1.0, seed=1)
    with pytest.raises(ValueError, match="driven by a Poisson generator"):
        eventsim.membrane_potential(net, res.spikes, h.ids[0], [0.5])
