"""Membrane potentials after a run, and the value_and_grad entry point."""

import numpy as np
import pytest

import eventsim


@pytest.fixture
def layered(rng):
    net = eventsim.feedforward(6, [12], 4, n_pulses=2, tau=1.3, theta=0.8,
                               nonpulse_init_multiplier=2.0, pulse_init_multiplier=1.0, rng=rng)
    x = rng.uniform(0, 1, (20, 6))
    x[rng.uniform(size=x.shape) < 0.2] = np.inf
    return net, x


def test_potential_reaches_threshold_at_spike(layered):
    net, x = layered
    res = eventsim.simulate(net, x)
    ids = np.flatnonzero(net.kind == eventsim.ALPHA)
    theta = net.theta[net.population_index]
    n_spiking = 0
    for e in range(len(x)):
        for j in ids:
            t = res.times[e, j]
            if np.isfinite(t):
                n_spiking += 1
                v = eventsim.membrane_potential(net, res.times[e], j, [t])
                assert v[0] == pytest.approx(theta[j], rel=1e-9, abs=1e-9)
                grid = np.linspace(min(res.times[e, :net.n_inputs].min(), t) - 1, t, 400)[:-1]
                assert (eventsim.membrane_potential(net, res.times[e], j, grid) < theta[j] + 1e-9).all()
            else:
                grid = np.linspace(-1, 30, 3000)
                assert (eventsim.membrane_potential(net, res.times[e], j, grid) < theta[j]).all()
    assert n_spiking > 20  # the check above must have had something to check


def test_potential_rejects_sources_and_bad_shapes(layered):
    net, x = layered
    res = eventsim.simulate(net, x)
    with pytest.raises(ValueError, match="source"):
        eventsim.membrane_potential(net, res.times[0], 0, [0.5])
    with pytest.raises(ValueError, match="shape"):
        eventsim.membrane_potential(net, res.times, net.n_neurons - 1, [0.5])
    with pytest.raises(ValueError, match="unknown neuron"):
        eventsim.membrane_potential(net, res.times[0], net.n_neurons, [0.5])


def test_value_and_grad_matches_backward(layered):
    net, x = layered
    out = net["output"].ids
    c = np.linspace(-1, 1, out.size)

    def loss_fn(t):
        finite = np.isfinite(t)
        return float(np.sum(np.where(finite, t, 0) * c)), np.broadcast_to(c, t.shape)

    loss, g, res = eventsim.value_and_grad(net, x, loss_fn, outputs=out)
    direct = eventsim.backward(net, eventsim.simulate(net, x, record_tape=True),
                               np.broadcast_to(c, (len(x), out.size)), outputs=out)
    assert loss == pytest.approx(np.sum(np.where(np.isfinite(res.times[:, out]), res.times[:, out], 0) * c))
    for name in ("weights", "delays", "theta", "pulse_times", "input_times"):
        np.testing.assert_array_equal(getattr(g, name), getattr(direct, name))
    assert np.abs(g.weights).max() > 0
