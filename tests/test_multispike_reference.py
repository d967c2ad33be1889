"""The spike-train engine against the independent brute-force simulator
(tests/reference_spiketrains.py: analytic V between events, dense brackets and brentq,
no shared code) on hypothesis-generated recurrent networks: N 2 to 50, tau_mem / tau_syn
in {0.3, 1, 1 + 1e-9, 2, 10}, t_ref in {0, 0.5}, v_reset != 0, bias, autapses, delays,
inhibition.  No spike-count mismatch, and every spike within 1e-9."""

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import eventsim
from eventsim import SpikeTrains

from reference_spiketrains import (crossing_margins, simulate_reference, spiketrain_networks,
                                   superposition_voltage, voltage_reference)

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def to_network(desc):
    """The plain description as an eventsim Network (one population per neuron)."""
    net = eventsim.Network()
    net.add_inputs(desc["n_inputs"])
    for i, p in enumerate(desc["neurons"]):
        common = dict(tau_mem=p["tau_mem"], tau_syn=p["tau_syn"], g_leak=p["g_leak"],
                      bias=p["bias"], v_init=p["v_init"], name=f"n{i}")
        if p["model"] == "li":
            net.add_population(1, model="li", **common)
        else:
            net.add_population(1, model="lif", multispike=True, theta=p["theta"],
                               v_reset=p["v_reset"], t_ref=p["t_ref"], **common)
    # Synapses from LI neurons never carry a spike; eventsim refuses them outright.
    n_in = desc["n_inputs"]
    li = np.array([p["model"] == "li" for p in desc["neurons"]] or [False])
    pre = np.asarray(desc["pre"], np.int64)
    keep = (pre < n_in) | ~li[np.maximum(pre - n_in, 0)]
    if keep.any():
        net.connect(pre[keep], np.asarray(desc["post"])[keep], np.asarray(desc["weight"])[keep],
                    np.asarray(desc["delay"])[keep])
    return net


def run_both(desc, inputs, t_max):
    try:
        ref = simulate_reference(desc, inputs, t_max, max_spikes=2000)
    except RuntimeError:
        assume(False)
    margins = crossing_margins(desc, inputs, t_max, ref)
    # Near-tangent crossings, spikes within 1e-7 of an arrival or of t_max: the
    # spike's existence or time is ill-conditioned there, for any simulator.
    assume(margins["min"] > 1e-7)
    net = to_network(desc)
    x = SpikeTrains.from_lists([inputs], n_channels=desc["n_inputs"])
    res = eventsim.simulate(net, x, t_max=t_max, max_events=10**7)
    trains = res.spikes.trains(0)
    return net, ref, trains[desc["n_inputs"]:], res


def mismatch(ref, got):
    """(neurons whose spike counts differ, largest |dt| relative to max(1, |t|))."""
    counts = [i for i, (r, g) in enumerate(zip(ref, got)) if r.size != g.size]
    err = max((np.abs(r - g).max() / max(1.0, np.abs(r).max())
               for r, g in zip(ref, got) if r.size and r.size == g.size), default=0.0)
    return counts, err


def compare(ref, got):
    counts, err = mismatch(ref, got)
    assert not counts, f"spike counts differ for neurons {counts}"
    assert err <= 1e-9, f"|dt| = {err:.3g}"


@SETTINGS
@given(case=spiketrain_networks(n_range=(2, 12)))
def test_small_recurrent_networks_match_the_reference(case):
    desc, inputs, t_max = case
    net, ref, got, res = run_both(desc, inputs, t_max)
    counts, err = mismatch(ref, got)
    assert not counts, f"spike counts differ for neurons {counts}"
    assert err <= 1e-9, f"|dt| = {err:.3g}"


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=spiketrain_networks(n_range=(20, 50), t_max_range=(5.0, 10.0)))
def test_larger_recurrent_networks_match_the_reference(case):
    desc, inputs, t_max = case
    net, ref, got, res = run_both(desc, inputs, t_max)
    counts, err = mismatch(ref, got)
    assert not counts, f"spike counts differ for neurons {counts}"
    assert err <= 1e-9, f"|dt| = {err:.3g}"


@SETTINGS
@given(case=spiketrain_networks(n_range=(2, 10), t_refs=(0.0,), li_fraction=0.3))
def test_voltages_match_the_reference_and_the_superposition_form(case):
    desc, inputs, t_max = case
    net, ref, got, res = run_both(desc, inputs, t_max)
    compare(ref, got)
    li = [i for i, p in enumerate(desc["neurons"]) if p["model"] == "li"]
    assume(li)
    times = np.linspace(0.0, t_max, 17)
    res = eventsim.simulate(net, SpikeTrains.from_lists([inputs], n_channels=desc["n_inputs"]),
                            t_max=t_max, readout_times=times, max_events=10**7)
    for col, i in enumerate(li):
        v_ref = voltage_reference(desc, inputs, t_max, i, times)
        v_sup = superposition_voltage(desc, inputs, ref, i, times)
        got_v = res.voltages[0, :, col]
        scale = max(1.0, np.abs(v_ref).max())
        assert np.abs(got_v - v_ref).max() <= 1e-9 * scale
        assert np.abs(got_v - v_sup).max() <= 1e-9 * scale
        # The maximum is at least every sampled value, and reached.
        assert res.v_max[0, col] >= got_v.max() - 1e-12 * scale
        v_at = voltage_reference(desc, inputs, t_max, i, [res.t_v_max[0, col]])[0]
        assert abs(v_at - res.v_max[0, col]) <= 1e-9 * scale


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=spiketrain_networks(n_range=(8, 8), t_refs=(0.5,), delays="random",
                                li_fraction=0.0),
       n_threads=st.sampled_from([1, 2]), seed=st.integers(0, 2**31))
def test_batched_examples_match_the_reference(case, n_threads, seed):
    # Many examples of one network in one call: each is its own reference run.
    desc, _, t_max = case
    rng = np.random.default_rng(seed)
    examples = [[np.sort(rng.uniform(0, t_max, rng.integers(0, 5)))
                 for _ in range(desc["n_inputs"])] for _ in range(10)]
    net = to_network(desc)
    try:
        refs = [simulate_reference(desc, inputs, t_max, max_spikes=2000) for inputs in examples]
    except RuntimeError:
        assume(False)
    res = eventsim.simulate(net, SpikeTrains.from_lists(examples, n_channels=desc["n_inputs"]),
                            t_max=t_max, n_threads=n_threads, max_events=10**7)
    for e, (inputs, ref) in enumerate(zip(examples, refs)):
        if crossing_margins(desc, inputs, t_max, ref)["min"] > 1e-7:
            counts, err = mismatch(ref, res.spikes.trains(e)[desc["n_inputs"]:])
            assert not counts and err <= 1e-9, f"example {e}: counts {counts}, |dt| {err:.3g}"


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=spiketrain_networks(n_range=(2, 8), li_fraction=0.2))
def test_membrane_potential_replay_matches_the_reference(case):
    # eventsim.membrane_potential replays one neuron from the recorded spikes; the
    # reference integrates the whole network.
    desc, inputs, t_max = case
    net, ref, got, res = run_both(desc, inputs, t_max)
    compare(ref, got)
    times = np.linspace(0.0, t_max, 23)
    one = res.spikes.select([0])
    for i in range(len(desc["neurons"])):
        v = eventsim.membrane_potential(net, one, desc["n_inputs"] + i, times)
        v_ref = voltage_reference(desc, inputs, t_max, i, times)
        assert np.abs(v - v_ref).max() <= 1e-9 * max(1.0, np.abs(v_ref).max())
