"""Long simulations: the engine's overflow-free paths.

The forward pass keeps its exponentials relative to a reference time that moves
when ``tau * (t - R)`` grows past a bound; the backward pass factors
``exp(-tau (t_j - a))`` only when no factor can overflow.  Small random networks
never reach either limit, so these tests build runs that do: spike times up to
several thousand decay times, which would overflow a naive ``exp(tau t)``.
"""

import numpy as np
import pytest

import eventsim
from reference import assert_times_equal, simulate_reference


def chain(n, delay, tau=1.0, theta=1.0, rng=None):
    """Inputs -> a chain of neurons with long delays, plus a side branch per link."""
    rng = np.random.default_rng(rng)
    net = eventsim.Network()
    x = net.add_inputs(2)
    h = net.add_population(2 * n, tau=tau, theta=theta)
    ids = h.ids
    net.connect([x.start, x.start + 1], [ids[0], ids[0]], [2.0, 1.5], [0.0, 0.3])
    for i in range(n - 1):
        a, b, side = ids[i], ids[i + 1], ids[n + i]
        net.connect([a, a, a], [b, side, b], rng.uniform(2.8, 3.5, 3) * [1, 1, 0.2],
                    [delay, delay * 0.5, delay + 0.4])
        net.connect([side], [b], [-0.3], [0.1])
    return net


@pytest.mark.parametrize("tau,delay", [(1.0, 37.0), (3.0, 55.0), (0.2, 400.0)])
def test_long_chain_matches_reference(tau, delay, rng):
    net = chain(25, delay, tau=tau, theta=1.0 / tau, rng=rng)
    x = np.array([[0.0, 0.1], [0.05, 0.3], [1.0, 0.2]])
    res = eventsim.simulate(net, x)
    ref = simulate_reference(net, x)
    last = res.times[:, net.n_inputs + 24]
    assert (tau * last[np.isfinite(last)] > 600).sum() >= 2   # e^{tau t} would overflow
    assert_times_equal(res.times, ref.times, tol=1e-9)


def test_long_chain_gradients_match_finite_differences(rng):
    net = chain(12, 70.0, tau=1.0, rng=rng)
    x = np.array([[0.0, 0.1]])
    out = net.n_inputs + 11
    res = eventsim.simulate(net, x, record_tape=True)
    assert res.times[0, out] > 700            # forces the unfactored backward path
    g = eventsim.backward(net, res, [[1.0]], outputs=[out])
    h = 1e-6
    w0 = net.weights.copy()
    for k in np.flatnonzero(np.abs(g.weights) > 1e-8)[:8]:
        vals = []
        for s in (1, -1):
            w = w0.copy()
            w[k] += s * h
            net.weights = w
            vals.append(eventsim.simulate(net, x).times[0, out])
        net.weights = w0
        fd = (vals[0] - vals[1]) / (2 * h)
        assert g.weights[k] == pytest.approx(fd, rel=1e-5, abs=1e-6)
    # Global time shift: sum of input-time gradients is 1 for a single output time.
    assert g.input_times.sum() == pytest.approx(1.0, rel=1e-9)


def test_shift_by_large_offset(rng):
    net = eventsim.feedforward(5, [8], 3, n_pulses=2, tau=1.0, theta=1.0,
                               nonpulse_init_multiplier=2.0, pulse_init_multiplier=1.0, rng=rng)
    x = rng.uniform(0, 1, (10, 5))
    base = eventsim.simulate(net, x).times
    offset = 5000.0
    net.pulse_times = net.pulse_times + offset
    shifted = eventsim.simulate(net, x + offset).times
    assert np.isfinite(base[:, net.n_inputs + net.n_pulses:]).any()
    np.testing.assert_array_equal(np.isfinite(base), np.isfinite(shifted))
    finite = np.isfinite(base)
    # Times near 5000 carry ~1e-12 absolute rounding; relative to the offset this is exact.
    np.testing.assert_allclose(shifted[finite] - offset, base[finite], atol=2e-9)
