"""EventProp against an independent forward-mode (tangent / saltation) implementation.

tests/tangent_spiketrains.py propagates the derivative of every state variable with
respect to one parameter forward through the events, with no code in common with the
engine or the adjoint sweep.  For random recurrent networks and a random linear loss on
every spike time (and on LI readout voltages and maxima), the two gradients must agree to
1e-10 relative for every parameter kind: weights, delays, input spike times, bias,
theta, v_reset, tau_mem, tau_syn.
"""

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import eventsim
from eventsim import SpikeTrains

from reference_spiketrains import spiketrain_networks
from tangent_spiketrains import all_params, readout_tangents, simulate_tangents
from test_multispike_reference import to_network

RTOL = 1e-10
NEURON_PARAMS = ("bias", "theta", "v_reset", "tau_mem", "tau_syn")


def eventsim_synapse(net, desc):
    """Eventsim synapse id of each desc synapse (-1: dropped, from an LI neuron)."""
    n_in = desc["n_inputs"]
    li = [p["model"] == "li" for p in desc["neurons"]]
    pairs = {}
    for k, (a, b, d, w) in enumerate(zip(net.pre, net.post, net.delays, net.weights)):
        pairs.setdefault((int(a), int(b), float(d), float(w)), []).append(k)
    out = []
    for a, b, d, w in zip(desc["pre"], desc["post"], desc["delay"], desc["weight"]):
        if a >= n_in and li[a - n_in]:
            out.append(-1)
        else:
            out.append(pairs[(int(a), int(b), float(d), float(w))].pop(0))
    return out


def input_position(x, c, j):
    """Position of input spike j of channel c in the SpikeTrains' flat order."""
    return int(np.flatnonzero(x.index == c)[j])


def eventprop_value(g, net, desc, x, syn_map, param):
    kind = param[0]
    if kind == "weight":
        k = syn_map[param[1]]
        return 0.0 if k < 0 else g.weights[k]
    if kind == "delay":
        k = syn_map[param[1]]
        return 0.0 if k < 0 else g.delays[k]
    if kind == "input":
        return g.input_times[input_position(x, param[1], param[2])]
    return getattr(g, kind)[param[1]]


def conditioned(desc, inputs, t_max):
    try:
        spikes, _, info = simulate_tangents(desc, inputs, t_max, [], max_spikes=400,
                                            return_info=True)
    except RuntimeError:
        return None
    # Near-tangent crossings, near-threshold peaks, arrivals next to spikes: the
    # gradient is ill-conditioned (or undefined) there, for any method.
    if info["min_slope"] < 1e-2 or info["peak_gap"] < 1e-3 or info["event_gap"] < 1e-4:
        return None
    return spikes


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=spiketrain_networks(n_range=(2, 8), li_fraction=0.0, weight_scale=0.8),
       seed=st.integers(0, 2**31))
def test_spike_time_gradients_match_the_tangent(case, seed):
    desc, inputs, t_max = case
    assume(conditioned(desc, inputs, t_max) is not None)
    params = [p for p in all_params(desc, inputs)
              if p[0] not in NEURON_PARAMS or desc["neurons"][p[1]]["model"] == "lif"]
    spikes, dspikes = simulate_tangents(desc, inputs, t_max, params)
    n_sp = sum(s.size for s in spikes)
    assume(n_sp >= 3)
    rng = np.random.default_rng(seed)
    coef = [rng.normal(size=s.size) for s in spikes]
    want = sum((c @ d for c, d in zip(coef, dspikes) if c.size), np.zeros(len(params)))
    net = to_network(desc)
    x = SpikeTrains.from_lists([inputs], n_channels=desc["n_inputs"])
    res = eventsim.simulate(net, x, t_max=t_max, record_tape=True, max_events=10**7)
    n_in = desc["n_inputs"]
    seed_t = np.zeros(res.spikes.n_spikes)
    for i, c in enumerate(coef):
        where = np.flatnonzero(res.spikes.index == n_in + i)
        assert where.size == c.size, f"neuron {i}: spike counts differ"
        np.testing.assert_allclose(res.spikes.times[where], spikes[i], rtol=0, atol=1e-9)
        seed_t[where] = c
    g = eventsim.backward(net, res, dL_dspikes=seed_t)
    syn_map = eventsim_synapse(net, desc)
    got = np.array([eventprop_value(g, net, desc, x, syn_map, p) for p in params])
    scale = np.abs(want).max()
    bad = np.abs(got - want) > RTOL * np.abs(want) + 1e-13 * scale
    assert not bad.any(), [(params[i], got[i], want[i]) for i in np.flatnonzero(bad)[:5]]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=spiketrain_networks(n_range=(3, 8), li_fraction=0.3, weight_scale=0.8,
                                t_refs=(0.0, 0.5)),
       seed=st.integers(0, 2**31))
def test_readout_gradients_match_the_tangent(case, seed):
    desc, inputs, t_max = case
    li = [i for i, p in enumerate(desc["neurons"]) if p["model"] == "li"]
    assume(li)
    assume(conditioned(desc, inputs, t_max) is not None)
    rng = np.random.default_rng(seed)
    times = np.sort(rng.uniform(0.05 * t_max, 0.95 * t_max, 3))
    params = [p for p in all_params(desc, inputs)
              if p[0] not in NEURON_PARAMS or desc["neurons"][p[1]]["model"] == "lif"
              or p[0] in ("bias", "tau_mem", "tau_syn")]
    net = to_network(desc)
    x = SpikeTrains.from_lists([inputs], n_channels=desc["n_inputs"])
    res = eventsim.simulate(net, x, t_max=t_max, record_tape=True, readout_times=times,
                            max_events=10**7)
    dv = rng.normal(size=res.voltages.shape)
    dm = rng.normal(size=res.v_max.shape)
    want = np.zeros(len(params))
    for col, i in enumerate(li):
        V, dV, vmax, dvmax = readout_tangents(desc, inputs, t_max, params, i, times)
        np.testing.assert_allclose(res.voltages[0, :, col], V, rtol=1e-9, atol=1e-12)
        assert abs(res.v_max[0, col] - vmax) <= 1e-9 * max(1.0, abs(vmax))
        want += dv[0, :, col] @ dV + dm[0, col] * dvmax
    g = eventsim.backward(net, res, dL_dvoltages=dv, dL_dvmax=dm)
    syn_map = eventsim_synapse(net, desc)
    got = np.array([eventprop_value(g, net, desc, x, syn_map, p) for p in params])
    scale = np.abs(want).max()
    bad = np.abs(got - want) > RTOL * np.abs(want) + 1e-13 * scale
    assert not bad.any(), [(params[i], got[i], want[i]) for i in np.flatnonzero(bad)[:5]]
