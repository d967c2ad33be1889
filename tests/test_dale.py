"""Dale's law: declared signs, checks, projection, the E/I builder, and training."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import eventsim
from eventsim.train import (SpikingClassifier, TrainConfig, load_checkpoint, network_from_arrays,
                            network_to_arrays)


def small_ei(rng=0):
    net = eventsim.Network()
    x = net.add_inputs(3, name="input")
    h = net.add_population(4, model="lif", dale=[1, 1, 1, -1], name="hidden0")
    o = net.add_population(2, model="lif", name="output")
    r = np.random.default_rng(rng)
    net.connect_dense(x, h, r.normal(1.0, 0.5, (3, 4)))
    net.connect_dense(h, o, np.abs(r.normal(1.0, 0.5, (4, 2))) * np.array([1, 1, 1, -1])[:, None])
    return net


def test_signs_and_messages():
    net = small_ei()
    assert net.neuron_sign.tolist() == [0, 0, 0, 1, 1, 1, -1, 0, 0]
    sign = net.synapse_sign
    assert sign.shape == (net.n_synapses,)
    np.testing.assert_array_equal(sign, net.neuron_sign[net.pre])
    assert net.dale_violations().size == 0
    # connect refuses a wrong sign, naming the neuron
    with pytest.raises(ValueError, match="inhibitory neuron 6 has weight 0.5"):
        net.connect([6], [7], [0.5])
    with pytest.raises(ValueError, match="excitatory neuron 3 has weight -0.5"):
        net.connect([3], [7], [-0.5])
    # zero is allowed on both sides
    net.connect([3, 6], [8, 8], [0.0, 0.0])
    # the weights setter refuses and leaves the old weights
    old = net.weights.copy()
    w = old.copy()
    w[net.synapse_sign < 0] = 1.0
    with pytest.raises(ValueError, match="Dale's law"):
        net.weights = w
    np.testing.assert_array_equal(net.weights, old)
    # an in-place edit is caught by simulate
    net.weights[np.flatnonzero(net.synapse_sign > 0)[0]] = -1.0
    with pytest.raises(ValueError, match="Dale's law violated by 1 synapse"):
        eventsim.simulate(net, np.zeros((1, 3)))


@pytest.mark.parametrize("bad", ["excitable", [1, 2, 0, 0], [1, 1]])
def test_bad_dale_declarations(bad):
    net = eventsim.Network()
    with pytest.raises(ValueError, match="dale"):
        net.add_population(4, dale=bad)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=9, max_size=9))
def test_projection_is_the_euclidean_projection(values):
    net = eventsim.Network()
    x = net.add_inputs(1)
    h = net.add_population(3, dale=[1, -1, 0])
    o = net.add_population(3)
    net.connect_dense(h, o, np.zeros((3, 3)))
    w = np.array(values)
    p = net.project_dale(w)
    sign = net.synapse_sign
    # allowed signs, unconstrained synapses untouched, allowed weights untouched
    assert (sign * p >= 0).all()
    np.testing.assert_array_equal(p[sign == 0], w[sign == 0])
    ok = sign * w >= 0
    np.testing.assert_array_equal(p[ok], w[ok])
    assert (p[~ok] == 0).all()
    # idempotent, and the closest allowed point: no allowed point is nearer
    np.testing.assert_array_equal(net.project_dale(p), p)
    cand = np.where(sign > 0, np.abs(w), np.where(sign < 0, -np.abs(w), w))
    assert np.linalg.norm(p - w) <= np.linalg.norm(cand - w) + 1e-12
    del x


def test_dale_network_builder():
    net = eventsim.dale_network(20, 3, n_layers=2, n_excitatory=12, n_inhibitory=4, rng=1)
    names = [p.name for p in net.populations]
    assert names == ["input", "hidden0", "hidden1", "output"]
    assert net.models == ("lif", "lif", "lif")
    for name in ("hidden0", "hidden1"):
        s = net.neuron_sign[net[name].start:net[name].stop]
        assert s.tolist() == [1] * 12 + [-1] * 4
    assert net.dale_violations().size == 0
    # inhibitory drive is `inhibition` times the excitatory drive in expectation
    W = net.weight_matrix(net["hidden0"], net["hidden1"])
    assert (W[:12] >= 0).all() and (W[12:] <= 0).all()
    big = eventsim.dale_network(20, 3, n_layers=1, n_excitatory=300, n_inhibitory=100,
                                inhibition=0.5, rng=2)
    Wb = big.weight_matrix(big["hidden0"], big["output"])
    ratio = -Wb[300:].sum() / Wb[:300].sum()
    assert abs(ratio - 0.5) < 0.05
    # same seed, same network
    again = eventsim.dale_network(20, 3, n_layers=2, n_excitatory=12, n_inhibitory=4, rng=1)
    np.testing.assert_array_equal(again.weights, net.weights)
    with pytest.raises(ValueError, match="n_layers must be >= 1"):
        eventsim.dale_network(20, 3, n_layers=0)


def test_training_keeps_dale_and_checkpoints_round_trip(tmp_path):
    net = eventsim.dale_network(6, 2, n_layers=2, n_excitatory=6, n_inhibitory=2,
                                weight_scale=3.0, rng=3)
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (60, 6))
    y = (X[:, 0] < X[:, 1]).astype(np.int64)
    cfg = TrainConfig(loss="goltz", batch_size=10, learning_rate=0.05, n_pulses=0,
                      n_hidden=(8, 8), epochs=3, update_on_misclassified_only=False,
                      penalty_no_spike=1.0, seed=0, n_threads=1)
    seen = []

    def check(clf, stats):
        w = clf.network_.weights
        sign = clf.network_.synapse_sign
        seen.append(int((sign * w == 0).sum()))
        assert (sign * w >= 0).all()

    clf = SpikingClassifier(cfg, network=net)
    clf.fit(X, y, checkpoint_dir=tmp_path, callback=check)
    assert len(seen) == 3
    # the large learning rate drives some weights onto the boundary: projection acted
    assert max(seen) > 0
    # weights moved
    assert not np.array_equal(clf.network_.weights, net.weights)
    ck = load_checkpoint(sorted(tmp_path.glob("*.npz"))[-1])
    back, meta, _ = ck
    assert meta["config"]["loss"] == "goltz"
    np.testing.assert_array_equal(back.neuron_sign, clf.network_.neuron_sign)
    assert back.models == clf.network_.models
    np.testing.assert_array_equal(back.weights, clf.network_.weights)


def test_lif_network_arrays_round_trip():
    net = eventsim.Network()
    x = net.add_inputs(2, name="input", dale="excitatory")
    a = net.add_population(2, tau=0.7, theta=1.3, name="a")
    b = net.add_population(3, model="lif", tau_mem=2.0, tau_syn=0.5, g_leak=1.5, theta=0.8,
                           dale="inhibitory", name="b")
    o = net.add_population(1, model="lif", tau_mem=1.0, tau_syn=3.0, name="output")
    net.connect_dense(x, a, np.ones((2, 2)))
    net.connect_dense(a, b, np.ones((2, 3)))
    net.connect_dense(b, o, -np.ones((3, 1)))
    desc, arrays = network_to_arrays(net)
    back = network_from_arrays(desc, arrays)
    for i in range(net.n_populations):
        assert back.population_params(i) == net.population_params(i)
    np.testing.assert_array_equal(back.neuron_sign, net.neuron_sign)
    x_in = np.array([[0.1, 0.3], [0.2, np.inf]])
    np.testing.assert_array_equal(eventsim.simulate(back, x_in).times,
                                  eventsim.simulate(net, x_in).times)
