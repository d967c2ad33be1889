"""Exact gradients (eventsim.backward) against finite differences, identities and options.

The loss is linear in the spike times, ``L = sum_{e, n spiking} c[e, n] t[e, n]``,
so ``dL/dt = c``.  Finite differences use Richardson-extrapolated central
differences (error O(h^4)); a parameter is only checked when no perturbed run
changes the set of spiking neurons or the set of causal inputs of any neuron
(otherwise the loss is not differentiable there).
"""

import numpy as np
import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

import eventsim
from eventsim.testing import strategies as es
from reference import causal_sets, simulate_reference

from finite_differences import (H, RTOL, FiniteDifferences, assert_gradient_identities,  # noqa: F401
                                linear_loss, setter)


def assert_close(got, want, what, counter=None):
    if counter is not None:
        counter[0] += 1
        counter[1] += bool(np.any(want != 0))
    tol = RTOL * np.maximum(1.0, np.abs(want))
    bad = np.abs(got - want) > tol
    assert not np.any(bad), f"{what}: backward {got!r} vs finite differences {want!r}"


def check_all_gradients(net, x, c):
    """Every parameter kind against finite differences; returns [#checked, #nonzero]."""
    res = eventsim.simulate(net, x, record_tape=True)
    g = eventsim.backward(net, res, c)
    assert g.weights.shape == (net.n_synapses,) and g.delays.shape == (net.n_synapses,)
    assert g.theta.shape == net.theta.shape and g.pulse_times.shape == net.pulse_times.shape
    assert g.input_times.shape == x.shape
    fd = FiniteDifferences(net, x, c)
    n = [0, 0]  # derivatives checked, of which nonzero
    for k in range(net.n_synapses):
        d = fd.derivative(setter(net, "weights", k))
        if d is not None:
            assert_close(g.weights[k], d.sum(), f"dL/dw[{k}]", n)
        one_sided = net.delays[k] < 3 * H
        d = fd.derivative(setter(net, "delays", k), one_sided=one_sided)
        if d is not None:
            assert_close(g.delays[k], d.sum(), f"dL/dd[{k}]", n)
    for p in range(net.n_populations):
        d = fd.derivative(setter(net, "theta", p))
        if d is not None:
            assert_close(g.theta[p], d.sum(), f"dL/dtheta[{p}]", n)
    for p in range(net.n_pulses):
        if not np.isfinite(net.pulse_times[p]):
            assert g.pulse_times[p] == 0.0
            continue
        d = fd.derivative(setter(net, "pulse_times", p))
        if d is not None:
            assert_close(g.pulse_times[p], d.sum(), f"dL/dpulse[{p}]", n)
    for i in range(net.n_inputs):

        def apply(delta, i=i):
            xx = x.copy()
            xx[:, i] += delta  # inf stays inf
            return xx

        d = fd.derivative(apply)
        if d is not None:
            for e in range(x.shape[0]):
                if np.isfinite(x[e, i]):
                    assert_close(g.input_times[e, i], d[e], f"dL/dx[{e}, {i}]", n)
                else:
                    assert g.input_times[e, i] == 0.0
    event(f"nonzero derivatives checked: {min(n[1], 20) // 5 * 5}+")
    event(f"parameters skipped (spike or causal set changes): {min(fd.skipped, 1)}")
    return n


def well_conditioned(net, x):
    ref = simulate_reference(net, x)
    return ref.well_conditioned(peak=1e-6, q=1e-2)


def draw_c(data, shape, alpha=None):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    c = rng.normal(size=shape)
    if alpha is not None:
        c[:, ~alpha] = 0.0
    return c


# --------------------------------------------------------------------------- finite differences
@settings(max_examples=40, deadline=None)
@given(st.data())
def test_gradients_recurrent(data):
    net = data.draw(es.networks(max_neurons=5, max_inputs=3, max_pulses=2, max_delay=1.0,
                                weights=(-0.7, 2.5), density=(0.4, 1.0)))
    x = data.draw(es.input_times(net, max_examples=3))
    assume(well_conditioned(net, x))
    c = draw_c(data, (x.shape[0], net.n_neurons), alpha=net.kind == eventsim.ALPHA)
    check_all_gradients(net, x, c)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_gradients_feedforward(data):
    net = data.draw(es.feedforward_networks(max_layers=3, max_width=3, max_inputs=3,
                                            delays=data.draw(st.booleans()),
                                            skip_connections=data.draw(st.booleans())))
    x = data.draw(es.input_times(net, max_examples=3, coincident=data.draw(st.booleans())))
    assume(well_conditioned(net, x))
    c = draw_c(data, (x.shape[0], net.n_neurons), alpha=net.kind == eventsim.ALPHA)
    check_all_gradients(net, x, c)


@settings(max_examples=20, deadline=None)
@given(st.data())
def test_gradients_include_direct_source_terms(data):
    """dL/dt of input and pulse neurons themselves reaches their time gradients."""
    net = data.draw(es.feedforward_networks(max_layers=2, max_width=3, max_inputs=3))
    x = data.draw(es.input_times(net, max_examples=2))
    assume(well_conditioned(net, x))
    c = draw_c(data, (x.shape[0], net.n_neurons))
    check_all_gradients(net, x, c)


def test_gradients_single_neuron_closed_form():
    """docs/math.md A.4 stable form, by hand, for one neuron with three inputs."""
    tau, theta = 1.3, 0.8
    w = np.array([1.1, -0.4, 0.9]) * np.e * tau * theta
    a = np.array([0.0, 0.2, 0.35])
    net = eventsim.Network()
    x = net.add_inputs(3)
    h = net.add_population(1, tau=tau, theta=theta)
    net.connect(x.ids, h.start, w)
    res = eventsim.simulate(net, a, record_tape=True)
    t = res.times[h.start]
    assert np.isfinite(t) and t > a.max()
    s = t - a
    vdot = np.sum(w * (1 - tau * s) * np.exp(-tau * s))
    g = eventsim.backward(net, res, np.eye(net.n_neurons)[h.start])
    np.testing.assert_allclose(g.weights, -s * np.exp(-tau * s) / vdot, rtol=1e-10)
    np.testing.assert_allclose(g.delays, w * (1 - tau * s) * np.exp(-tau * s) / vdot, rtol=1e-10)
    np.testing.assert_allclose(g.input_times[0], g.delays, rtol=1e-12)
    np.testing.assert_allclose(g.theta, [1 / vdot], rtol=1e-10)


# --------------------------------------------------------------------------- identities
@settings(max_examples=50, deadline=None)
@given(st.data())
def test_time_shift_and_scaling_identities(data):
    """Shifting inputs and pulses together shifts every spike; scaling every weight and
    threshold by one factor changes no spike time (assert_gradient_identities)."""
    net = data.draw(es.networks(max_neurons=6))
    x = data.draw(es.input_times(net, max_examples=3))
    assume(simulate_reference(net, x).well_conditioned(peak=1e-7, q=1e-3))
    c = draw_c(data, (x.shape[0], net.n_neurons))
    res = eventsim.simulate(net, x, record_tape=True)
    assert_gradient_identities(net, res, eventsim.backward(net, res, c), c)


def test_silent_entries_of_dL_dt_are_ignored(rng):
    net = eventsim.feedforward(3, [4], 2, n_pulses=1, theta=0.6, nonpulse_init_multiplier=1.0,
                               rng=5)
    x = rng.uniform(0, 1, (4, 3))
    x[0, 0] = np.inf
    res = eventsim.simulate(net, x, record_tape=True)
    silent = ~np.isfinite(res.times)
    assert silent.any()
    c = rng.normal(size=res.times.shape)
    c2 = c.copy()
    c2[silent] = np.inf
    c3 = c.copy()
    c3[silent] = 1e6
    g1, g2, g3 = (eventsim.backward(net, res, cc) for cc in (c, c2, c3))
    for field in ("weights", "delays", "theta", "pulse_times", "input_times"):
        np.testing.assert_array_equal(getattr(g1, field), getattr(g2, field))
        np.testing.assert_array_equal(getattr(g1, field), getattr(g3, field))


def test_outputs_argument_matches_full_matrix(rng):
    net = eventsim.feedforward(3, [4], 2, n_pulses=1, theta=0.6, nonpulse_init_multiplier=1.0,
                               rng=5)
    x = rng.uniform(0, 1, (5, 3))
    res = eventsim.simulate(net, x, record_tape=True)
    out = net["output"].ids
    c = rng.normal(size=(5, out.size))
    full = np.zeros(res.times.shape)
    full[:, out] = c
    a = eventsim.backward(net, res, c, outputs=out)
    b = eventsim.backward(net, res, full)
    for field in ("weights", "delays", "theta", "pulse_times", "input_times"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_value_and_grad_matches_simulate_backward(rng):
    net = eventsim.feedforward(3, [5], 2, n_pulses=2, theta=0.6, nonpulse_init_multiplier=1.0,
                               rng=7)
    x = rng.uniform(0, 1, (6, 3))
    out = net["output"].ids
    c = rng.normal(size=(6, out.size))

    def loss_fn(t):
        return linear_loss(t, c).sum(), c

    loss, g, res = eventsim.value_and_grad(net, x, loss_fn, outputs=out)
    res2 = eventsim.simulate(net, x, record_tape=True)
    np.testing.assert_array_equal(res.times, res2.times)
    assert loss == pytest.approx(linear_loss(res2.times[:, out], c).sum(), rel=1e-15)
    g2 = eventsim.backward(net, res2, c, outputs=out)
    for field in ("weights", "delays", "theta", "pulse_times", "input_times"):
        np.testing.assert_array_equal(getattr(g, field), getattr(g2, field))


def test_gradients_are_summed_over_examples(rng):
    net = eventsim.feedforward(3, [4], 2, n_pulses=1, theta=0.6, nonpulse_init_multiplier=1.0,
                               delays=0.1, rng=11)
    x = rng.uniform(0, 1, (4, 3))
    c = rng.normal(size=(4, net.n_neurons))
    res = eventsim.simulate(net, x, record_tape=True)
    g = eventsim.backward(net, res, c)
    parts = [eventsim.backward(net, eventsim.simulate(net, x[e], record_tape=True), c[e])
             for e in range(4)]
    for field in ("weights", "delays", "theta", "pulse_times"):
        np.testing.assert_allclose(getattr(g, field), sum(getattr(p, field) for p in parts),
                                   rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g.input_times, np.vstack([p.input_times for p in parts]),
                               rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- options
def one_layer(rng, *, n_in=4, n_out=3, n_pulses=1, delays=0.0):
    net = eventsim.Network()
    x = net.add_inputs(n_in)
    p = net.add_pulses(np.linspace(0.1, 0.5, n_pulses))
    o = net.add_population(n_out, tau=1.0, theta=1.0)
    w = rng.uniform(-0.3, 1.0, (n_in + n_pulses, n_out)) * np.e
    net.connect_dense(np.concatenate([x.ids, p.ids]), o, w, delays)
    return net, o


def local_derivatives(net, res, n_ex):
    """Unclipped dt_j/dw_k and dt_j/da_k per example for a one-layer network
    (backward with a one-hot dL/dt)."""
    dw = np.zeros((n_ex, net.n_synapses))
    da = np.zeros((n_ex, net.n_synapses))
    for e in range(n_ex):
        for j in np.unique(net.post):
            onehot = np.zeros(res.times.shape)
            onehot[e, j] = 1.0
            g = eventsim.backward(net, res, onehot)
            into = net.post == j
            dw[e, into] = g.weights[into]
            da[e, into] = g.delays[into]
    return dw, da


@pytest.mark.parametrize("clip", [1e-3, 0.05, 0.3])
def test_clip_derivative_one_layer(rng, clip):
    """clip_derivative clips each local dt_j/dw_k and dt_j/da_k (not dt/dtheta)."""
    net, out = one_layer(rng, delays=0.05)
    x = rng.uniform(0, 1, (5, net.n_inputs))
    res = eventsim.simulate(net, x, record_tape=True)
    assert np.isfinite(res.times[:, out.ids]).sum() >= 3
    c = rng.normal(size=res.times.shape)
    c[:, net.kind != eventsim.ALPHA] = 0.0
    dw, da = local_derivatives(net, res, x.shape[0])
    assert np.abs(np.concatenate([dw, da])).max() > clip  # the clip does something
    spk = np.isfinite(res.times)
    cj = np.where(spk, c, 0.0)[:, net.post]  # c of each synapse's target, per example
    g = eventsim.backward(net, res, c, clip_derivative=clip)
    g0 = eventsim.backward(net, res, c)
    np.testing.assert_allclose(g.weights, (cj * np.clip(dw, -clip, clip)).sum(0),
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(g.delays, (cj * np.clip(da, -clip, clip)).sum(0),
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(g.theta, g0.theta, rtol=1e-12)
    # bounded: |dL/dw_k| <= clip * sum_e |c[e, post_k]|
    assert (np.abs(g.weights) <= clip * np.abs(cj).sum(0) * (1 + 1e-12)).all()
    # input and pulse times: sum over outgoing synapses of c_j * clip(dt_j/da_k)
    ex = (cj * np.clip(da, -clip, clip))
    src = net.source_index[net.pre]
    for e in range(x.shape[0]):
        want_x = np.zeros(net.n_inputs)
        np.add.at(want_x, src[net.kind[net.pre] == eventsim.INPUT],
                  ex[e, net.kind[net.pre] == eventsim.INPUT])
        np.testing.assert_allclose(g.input_times[e], want_x, rtol=1e-12, atol=1e-15)
    want_p = np.zeros(net.n_pulses)
    isp = net.kind[net.pre] == eventsim.PULSE
    np.add.at(want_p, src[isp], ex[:, isp].sum(0))
    np.testing.assert_allclose(g.pulse_times, want_p, rtol=1e-12, atol=1e-15)


def test_clip_derivative_large_is_identity(rng):
    net, out = one_layer(rng)
    x = rng.uniform(0, 1, (5, net.n_inputs))
    res = eventsim.simulate(net, x, record_tape=True)
    c = rng.normal(size=res.times.shape)
    g = eventsim.backward(net, res, c, clip_derivative=1e300)
    g0 = eventsim.backward(net, res, c)
    for field in ("weights", "delays", "theta", "pulse_times", "input_times"):
        np.testing.assert_array_equal(getattr(g, field), getattr(g0, field))


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_penalty_no_spike(data):
    """Each example in which neuron j stays silent adds -penalty to the gradient of
    every weight into j; nothing else changes."""
    net = data.draw(es.networks(max_neurons=6))
    x = data.draw(es.input_times(net, max_examples=4))
    penalty = data.draw(st.sampled_from([0.5, 1e-3, 7.0]))
    c = draw_c(data, (x.shape[0], net.n_neurons))
    res = eventsim.simulate(net, x, record_tape=True)
    g0 = eventsim.backward(net, res, c)
    g = eventsim.backward(net, res, c, penalty_no_spike=penalty)
    n_silent = (~np.isfinite(res.times)).sum(axis=0)  # per neuron, over examples
    want = g0.weights - penalty * n_silent[net.post]
    np.testing.assert_allclose(g.weights, want, rtol=1e-12, atol=1e-12 * max(1.0, penalty))
    for field in ("delays", "theta", "pulse_times", "input_times"):
        np.testing.assert_array_equal(getattr(g, field), getattr(g0, field))


def test_penalty_no_spike_fixed():
    net = eventsim.Network()
    x = net.add_inputs(2)
    h = net.add_population(2, tau=1.0, theta=1.0)
    # neuron h0 fires for example 0 only; h1 never fires
    net.connect([x.start, x.start + 1, x.start], [h.start, h.start, h.start + 1], [3.0, 3.0, 0.1])
    x = [[0.0, np.inf], [np.inf, np.inf], [np.inf, np.inf]]
    res = eventsim.simulate(net, x, record_tape=True)
    assert np.isfinite(res.times[0, h.start]) and np.isinf(res.times[1:, h.start]).all()
    g0 = eventsim.backward(net, res, np.zeros(res.times.shape))
    g = eventsim.backward(net, res, np.zeros(res.times.shape), penalty_no_spike=0.5)
    np.testing.assert_array_equal(g0.weights, 0.0)
    np.testing.assert_allclose(g.weights, [-1.0, -1.5, -1.0])  # CSR order: x0->h0, x0->h1, x1->h0
