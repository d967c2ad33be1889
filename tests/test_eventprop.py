"""EventProp gradients of spike-train runs against central finite differences.

Finite differences are taken on the same spike sequence (a perturbation that changes
the number of spikes is skipped: the loss jumps there).  The comparison with an
independent forward-mode (tangent) implementation, to 1e-10, is in
tests/test_eventprop_tangent.py.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import eventsim
from eventsim import SpikeTrains

EPS = 1e-6
T_MAX = 10.0
READOUTS = np.array([3.0, 6.0, 9.5])


def network(rng, *, t_ref, ratio, v_reset=-0.2, n_hidden=5, autapses=True):
    net = eventsim.Network()
    inp = net.add_inputs(2)
    h = net.add_population(n_hidden, model="lif", multispike=True, tau_mem=2.0,
                           tau_syn=2.0 / ratio, theta=1.0, v_reset=v_reset, t_ref=t_ref,
                           bias=0.8, v_init=0.1)
    out = net.add_population(2, model="li", tau_mem=1.5, tau_syn=0.5, bias=0.1)
    net.connect_dense(inp, h, rng.normal(1.0, 0.5, (2, n_hidden)),
                      rng.uniform(0, 0.5, (2, n_hidden)))
    w = rng.normal(0.0, 0.4, (n_hidden, n_hidden))
    if not autapses:
        np.fill_diagonal(w, 0.0)
    net.connect_dense(h, h, w, rng.uniform(0.05, 0.3, (n_hidden, n_hidden)))
    net.connect_dense(h, out, rng.normal(0.3, 0.5, (n_hidden, 2)), rng.uniform(0, 0.3, (n_hidden, 2)))
    return net


INPUTS = SpikeTrains.from_lists([[[0.5, 2.0, 4.0, 6.5], [1.0, 3.0, 7.2]]])


class Loss:
    """A loss on every hidden spike time, the readout voltages and their maxima."""

    def __init__(self, rng, net, res):
        self.hidden = res.spikes.index >= net.n_inputs
        self.c = rng.normal(size=int(self.hidden.sum()))
        self.dv = rng.normal(size=res.voltages.shape)
        self.dm = rng.normal(size=res.v_max.shape)

    def __call__(self, res):
        return ((self.c * res.spikes.times[self.hidden]).sum() + (self.dv * res.voltages).sum()
                + (self.dm * res.v_max).sum())

    def grads(self, net, res):
        seed = np.zeros(res.spikes.n_spikes)
        seed[self.hidden] = self.c
        return eventsim.backward(net, res, dL_dspikes=seed, dL_dvoltages=self.dv,
                                 dL_dvmax=self.dm)


def central(net, x, loss, n_spikes, set_value, value, eps=None):
    eps = EPS if eps is None else eps
    out = []
    for v in (value + eps, value - eps):
        set_value(v)
        res = eventsim.simulate(net, x, t_max=T_MAX, readout_times=READOUTS)
        if res.spikes.n_spikes != n_spikes:
            set_value(value)
            return None
        out.append(loss(res))
    set_value(value)
    return (out[0] - out[1]) / (2 * eps)


def setter(net, name, i):
    def set_value(v):
        arr = getattr(net, name).copy()
        arr[i] = v
        setattr(net, name, arr)
    return set_value


PAIRS = []        # (finite difference, eventprop) of the test running now


def check(fd, g, what, rtol=2e-5):
    """Each entry to rtol of itself (finite differences of small entries are noisy);
    the test then checks all of them together to 1e-6 of the largest."""
    if fd is None:
        return 0
    PAIRS.append((fd, g))
    assert abs(fd - g) <= rtol * max(abs(fd), 1e-2), f"{what}: eventprop {g!r}, fd {fd!r}"
    return 1


def check_all_to_1e6():
    fd, g = np.array(PAIRS).T
    PAIRS.clear()
    assert np.abs(fd - g).max() <= 1e-6 * np.abs(fd).max()


@pytest.mark.parametrize("ratio", [0.3, 1.0, 1.0 + 1e-9, 2.0])
@pytest.mark.parametrize("t_ref", [0.0, 0.5])
def test_all_gradients_match_finite_differences(ratio, t_ref):
    PAIRS.clear()
    rng = np.random.default_rng(int(ratio * 10) + int(t_ref * 100))
    net = network(rng, t_ref=t_ref, ratio=ratio)
    res = eventsim.simulate(net, INPUTS, t_max=T_MAX, record_tape=True, readout_times=READOUTS)
    n_sp = res.spikes.n_spikes
    assert n_sp > 15
    loss = Loss(rng, net, res)
    g = loss.grads(net, res)
    checked = 0
    for name in ("weights", "delays"):
        for k in range(net.n_synapses):
            fd = central(net, INPUTS, loss, n_sp, setter(net, name, k), getattr(net, name)[k])
            checked += check(fd, getattr(g, name)[k], f"{name}[{k}]")
    for name in ("bias", "theta", "v_reset", "tau_mem", "tau_syn", "t_ref", "v_init"):
        for p in range(2):
            if not np.isfinite(getattr(net, name)[p]) or (name == "t_ref" and t_ref == 0):
                continue
            fd = central(net, INPUTS, loss, n_sp, setter(net, name, p), getattr(net, name)[p])
            checked += check(fd, getattr(g, name)[p], f"{name}[{p}]")
    times = INPUTS.times
    for k in range(INPUTS.n_spikes):
        def set_input(v, k=k):
            nonlocal x
            t = times.copy()
            t[k] = v
            x = SpikeTrains(t, INPUTS.index, INPUTS.offsets, 2)
        x = INPUTS
        vals = []
        for v in (times[k] + EPS, times[k] - EPS):
            set_input(v)
            r = eventsim.simulate(net, x, t_max=T_MAX, readout_times=READOUTS)
            vals.append(loss(r) if r.spikes.n_spikes == n_sp else None)
        if None not in vals:
            checked += check((vals[0] - vals[1]) / (2 * EPS), g.input_times[k], f"input {k}")
    assert checked > 0.9 * (2 * net.n_synapses + 10)
    check_all_to_1e6()


def test_sum_of_all_spike_times_as_wunderlich_and_pehle_check_it():
    # Their own check: L = sum of every spike time of the network, gradient w.r.t.
    # all weights, against finite differences.
    rng = np.random.default_rng(11)
    net = network(rng, t_ref=0.0, ratio=4.0, v_reset=0.0)
    res = eventsim.simulate(net, INPUTS, t_max=T_MAX, record_tape=True)
    neuron = res.spikes.index >= net.n_inputs
    g = eventsim.backward(net, res, dL_dspikes=neuron.astype(float))

    def loss(r):
        return r.spikes.times[r.spikes.index >= net.n_inputs].sum()

    checked = 0
    for k in range(net.n_synapses):
        w0 = net.weights[k]
        fd = central(net, INPUTS, loss, res.spikes.n_spikes, setter(net, "weights", k), w0)
        checked += check(fd, g.weights[k], f"weights[{k}]")
    assert checked > 40
    check_all_to_1e6()


def test_first_spike_losses_through_dL_dt_and_value_and_grad():
    rng = np.random.default_rng(5)
    net = network(rng, t_ref=0.3, ratio=2.0)
    hid = np.arange(net.n_inputs, net.n_inputs + 5)
    # The neurons that spike (a silent neuron's dL/dt is ignored).
    hid = hid[np.isfinite(eventsim.simulate(net, INPUTS, t_max=T_MAX).times[0, hid])]
    assert hid.size >= 3
    c = rng.normal(size=hid.size)

    def loss_fn(t):
        t = np.where(np.isfinite(t), t, 0.0)
        return float((c * t).sum()), np.broadcast_to(c, t.shape).copy()

    loss, g, res = eventsim.value_and_grad(net, INPUTS, loss_fn, outputs=hid, t_max=T_MAX)
    assert np.isfinite(res.times[0, hid]).all()
    # The same loss as a per-spike loss on the first spikes only.
    first = np.zeros(res.spikes.n_spikes)
    for j, cj in zip(hid, c):  # noqa: B007
        first[np.flatnonzero(res.spikes.index == j)[0]] = cj
    g2 = eventsim.backward(net, res, dL_dspikes=first)
    np.testing.assert_allclose(g.weights, g2.weights, rtol=1e-13, atol=1e-15)
    k = 3
    fd = central(net, INPUTS, lambda r: loss_fn(r.times[:, hid])[0], res.spikes.n_spikes,
                 setter(net, "weights", k), net.weights[k])
    check(fd, g.weights[k], "weights[3]")


def test_gradients_are_bit_identical_for_any_thread_count():
    rng = np.random.default_rng(2)
    net = network(rng, t_ref=0.2, ratio=3.0)
    x = SpikeTrains.from_lists([[np.sort(rng.uniform(0, 8, 4)), np.sort(rng.uniform(0, 8, 3))]
                                for _ in range(13)])
    res = eventsim.simulate(net, x, t_max=T_MAX, record_tape=True, readout_times=READOUTS)
    seed = rng.normal(size=res.spikes.n_spikes)
    dv = rng.normal(size=res.voltages.shape)
    gs = [eventsim.backward(net, res, dL_dspikes=seed, dL_dvoltages=dv, n_threads=k)
          for k in (1, 2, 4)]
    for g in gs[1:]:
        for name in ("weights", "delays", "bias", "tau_mem", "input_times", "spikes"):
            assert np.array_equal(getattr(g, name), getattr(gs[0], name), equal_nan=True), name
    # Summed over examples: the sum of the examples run alone.
    single = [eventsim.backward(net, res.select([e]), dL_dspikes=seed[
        res.spikes.offsets[e]:res.spikes.offsets[e + 1]], dL_dvoltages=dv[e:e + 1])
        for e in range(13)]
    np.testing.assert_allclose(sum(s.weights for s in single), gs[0].weights, rtol=1e-12,
                               atol=1e-12)


def test_poisson_driven_weights_get_gradients():
    net = eventsim.Network()
    net.add_inputs(0)
    g = net.add_poisson(1, 2.0)
    h = net.add_population(3, model="lif", multispike=True, tau_mem=1.0, tau_syn=0.5, t_ref=0.1)
    net.connect(np.zeros(3, int) + g.ids[0], h.ids, 2.5)
    res = eventsim.simulate(net, np.zeros((1, 0)), t_max=10.0, seed=4, record_tape=True)
    neuron = res.spikes.index >= 1
    assert neuron.sum() > 5
    gr = eventsim.backward(net, res, dL_dspikes=neuron.astype(float))
    for k in range(3):
        def loss(r):
            return r.spikes.times[r.spikes.index >= 1].sum()
        vals = []
        for v in (2.5 + EPS, 2.5 - EPS):
            w = net.weights.copy()
            w[k] = v
            net.weights = w
            vals.append(loss(eventsim.simulate(net, np.zeros((1, 0)), t_max=10.0, seed=4)))
        net.weights = np.full(3, 2.5)
        check((vals[0] - vals[1]) / (2 * EPS), gr.weights[k], f"poisson weight {k}")


def test_bad_backward_calls_are_refused():
    rng = np.random.default_rng(3)
    net = network(rng, t_ref=0.0, ratio=2.0)
    res = eventsim.simulate(net, INPUTS, t_max=T_MAX, record_tape=True, readout_times=READOUTS)
    with pytest.raises(ValueError, match="dL_dspikes must have shape"):
        eventsim.backward(net, res, dL_dspikes=np.zeros(3))
    with pytest.raises(ValueError, match="dL_dvoltages must have shape"):
        eventsim.backward(net, res, dL_dvoltages=np.zeros((1, 2, 2)))
    with pytest.raises(ValueError, match="NaN or inf"):
        eventsim.backward(net, res, dL_dvmax=np.full((1, 2), np.nan))
    with pytest.raises(ValueError, match="for first-spike networks"):
        eventsim.backward(net, res, clip_derivative=1.0)
    # First-spike seeds: NaN anywhere, inf on a neuron that spiked (the compiled pass
    # places them); inf on a silent neuron is ignored, like any of its seeds.
    t = res.times
    with pytest.raises(ValueError, match="dL_dt contains NaN"):
        eventsim.backward(net, res, np.full(t.shape, np.nan))
    with pytest.raises(ValueError, match="inf for a neuron that spiked"):
        eventsim.backward(net, res, np.where(np.isfinite(t), np.inf, 0.0))
    with pytest.raises(ValueError, match="unknown output neuron id"):
        eventsim.backward(net, res, np.zeros((1, 1)), outputs=[net.n_neurons])
    silent = ~np.isfinite(t)
    assert silent.any()             # the readouts never spike
    g = eventsim.backward(net, res, np.where(silent, np.inf, 0.0))
    assert np.all(g.weights == 0.0)
    net.weights = net.weights * 1.01
    with pytest.raises(ValueError, match="weights changed since the forward run"):
        eventsim.backward(net, res, dL_dvmax=np.ones((1, 2)))


def test_a_damaged_tape_raises_instead_of_crashing():
    rng = np.random.default_rng(3)
    net = network(rng, t_ref=0.0, ratio=2.0)
    res = eventsim.simulate(net, INPUTS, t_max=T_MAX, record_tape=True)
    log = res.tape.log.copy()
    log["syn"][log["type"] == 1] = 10**6
    res.tape.log = log
    with pytest.raises(ValueError, match="tape is damaged"):
        eventsim.backward(net, res, dL_dspikes=np.ones(res.spikes.n_spikes))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), t_ref=st.sampled_from([0.0, 0.5]),
       ratio=st.sampled_from([0.3, 1.0, 2.0, 10.0]))
# A CHECK reached just before its crossing: Newton's bracket shrinks towards 0 there,
# which once never met a purely relative stopping test (ConvergenceError).
@example(seed=228, t_ref=0.0, ratio=0.3)
@example(seed=1067, t_ref=0.0, ratio=0.3)
@example(seed=234, t_ref=0.0, ratio=0.3)
def test_random_recurrent_networks_weights_and_delays(seed, t_ref, ratio):
    rng = np.random.default_rng(seed)
    net = network(rng, t_ref=t_ref, ratio=ratio, n_hidden=4)
    res = eventsim.simulate(net, INPUTS, t_max=T_MAX, record_tape=True, readout_times=READOUTS)
    assume(res.spikes.n_spikes > 8)
    loss = Loss(rng, net, res)
    g = loss.grads(net, res)
    pairs = []
    for name in ("weights", "delays"):
        for k in rng.choice(net.n_synapses, 4, replace=False):
            fd = central(net, INPUTS, loss, res.spikes.n_spikes, setter(net, name, k),
                         getattr(net, name)[k])
            gk = getattr(g, name)[k]
            for shrink in (10, 100):
                if fd is None or abs(fd - gk) <= 1e-4 * max(abs(fd), 1e-2):
                    break
                # Two events close together make the loss curve within the step: the
                # difference quotient has not converged there (seed 1067: 2.70340,
                # 2.68952, 2.68550 at steps 1e-5, 1e-6, 1e-7; seed 234: 23.14, 26.92,
                # 27.6786107 at 1e-6, 1e-7, 1e-8 against 27.6786102), so take smaller steps.
                fd = central(net, INPUTS, loss, res.spikes.n_spikes, setter(net, name, k),
                             getattr(net, name)[k], eps=EPS / shrink)
            # Near-tangent crossings make finite differences (not the gradient) noisy.
            if fd is not None and abs(fd) < 1e4:
                pairs.append((name, k, fd, gk))
    assert np.isfinite(g.weights).all() and np.isfinite(g.delays).all()
    bad = [p for p in pairs if abs(p[2] - p[3]) > 1e-4 * max(abs(p[2]), 1e-2)]
    assert not bad, f"eventprop vs finite differences (name, k, fd, eventprop): {bad[:3]}"


def test_zero_weights_still_get_their_gradient():
    # A synapse of weight 0 changes nothing in the forward run, but moving it away
    # from 0 does: the tape must keep its arrivals.
    rng = np.random.default_rng(8)
    net = network(rng, t_ref=0.0, ratio=2.0)
    w = net.weights.copy()
    k = int(np.flatnonzero(net.post == net.n_inputs + 1)[0])
    w[k] = 0.0
    net.weights = w
    res = eventsim.simulate(net, INPUTS, t_max=T_MAX, record_tape=True)
    hidden = res.spikes.index >= net.n_inputs
    g = eventsim.backward(net, res, dL_dspikes=hidden.astype(float))

    def loss(r):
        return r.spikes.times[r.spikes.index >= net.n_inputs].sum()

    fd = central(net, INPUTS, loss, res.spikes.n_spikes, setter(net, "weights", k), 0.0)
    assert fd is not None and abs(fd) > 1e-6
    check(fd, g.weights[k], "zero weight")
