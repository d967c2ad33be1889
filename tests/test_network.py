"""Building networks: dense, sparse and edge-list connections agree; layer helpers."""

import numpy as np
import pytest
import scipy.sparse as sp

import eventsim


def _three_ways(rng):
    w = rng.normal(1.0, 1.0, (4, 5))
    w[rng.uniform(size=w.shape) < 0.4] = 0.0
    d = np.where(w != 0, rng.uniform(0, 0.5, w.shape), 0.0)
    nets = []
    for how in ("dense", "sparse", "edges"):
        net = eventsim.Network()
        x = net.add_inputs(4)
        h = net.add_population(5, tau=1.0, theta=0.5)
        if how == "dense":
            net.connect_dense(x, h, w, d)       # zero entries become zero-weight synapses
        elif how == "sparse":
            net.connect_sparse(x, h, sp.csr_array(w), delays=sp.csr_array(d) if d.any() else None)
        else:
            r, c = np.nonzero(w)
            net.connect(x.ids[r], h.ids[c], w[r, c], d[r, c])
        nets.append(net)
    return nets, w


def test_dense_sparse_and_edges_agree(rng):
    nets, w = _three_ways(rng)
    x = rng.uniform(0, 1, (10, 4))
    times = [eventsim.simulate(n, x).times for n in nets]
    for t in times[1:]:
        np.testing.assert_array_equal(t, times[0])
    for n in nets:
        np.testing.assert_array_equal(n.weight_matrix(n.input_ids, np.arange(4, 9)), w)
    assert nets[0].n_synapses == w.size
    assert nets[1].n_synapses == nets[2].n_synapses == np.count_nonzero(w)


def test_synapse_order_and_lookup():
    net = eventsim.Network()
    x = net.add_inputs(3)
    h = net.add_population(2)
    net.connect([2, 0, 1, 0], [3, 4, 3, 3], [0.1, 0.2, 0.3, 0.4])
    assert list(net.pre) == [0, 0, 1, 2]            # sorted by presynaptic neuron, stable
    assert list(net.weights) == [0.2, 0.4, 0.3, 0.1]
    assert list(net.indptr) == [0, 2, 3, 4, 4, 4]
    np.testing.assert_array_equal(net.synapse_ids([0], [3]), [1])
    ind, syn = net.incoming()
    assert sorted(syn[ind[3]:ind[4]]) == [1, 2, 3]


def test_connect_after_neurons_added_later():
    net = eventsim.Network()
    x = net.add_inputs(1)
    h = net.add_population(1)
    net.connect(x, h, [3.0])
    assert net.n_synapses == 1
    h2 = net.add_population(1, name="late")
    net.connect(h, h2, [3.0])
    res = eventsim.simulate(net, [0.0])
    assert np.isfinite(res.times).all()
    assert res.times[2] > res.times[1] > 0


def test_feedforward_structure(rng):
    per_layer = eventsim.feedforward(6, [5, 4], 3, n_pulses=2, pulses="per_layer", rng=rng)
    names = [p.name for p in per_layer.populations]
    assert names == ["input", "pulses0", "hidden0", "pulses1", "hidden1", "pulses2", "output"]
    assert per_layer.n_synapses == (6 + 2) * 5 + (5 + 2) * 4 + (4 + 2) * 3
    np.testing.assert_allclose(per_layer.pulse_times, np.tile([1 / 3, 2 / 3], 3))
    per_net = eventsim.feedforward(6, [5, 4], 3, n_pulses=2, pulses="per_network", rng=rng)
    assert per_net.n_pulses == 2
    # the one pulse set reaches every non-input neuron
    assert set(per_net.post[np.isin(per_net.pre, per_net.pulse_ids)]) == set(
        np.flatnonzero(per_net.kind == eventsim.ALPHA))


def test_glorot_statistics():
    net = eventsim.feedforward(400, [300], 10, n_pulses=10, nonpulse_init_multiplier=-0.5,
                               pulse_init_multiplier=3.0, rng=1)
    w = net.weight_matrix(net["input"], net["hidden0"])
    std = np.sqrt(2.0 / (410 + 300))
    assert w.std() == pytest.approx(std, rel=0.02)
    assert w.mean() == pytest.approx(-0.5 * std, abs=0.02 * std)
    wp = net.weight_matrix(net["pulses0"], net["hidden0"])
    assert wp.mean() == pytest.approx(3.0 * std, rel=0.05)


def test_copy_is_independent():
    net = eventsim.feedforward(3, [4], 2, rng=0)
    other = net.copy()
    other.weights = other.weights * 2
    assert not np.array_equal(net.weights, other.weights)
