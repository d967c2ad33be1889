"""The hypothesis strategies shipped in eventsim.testing draw what they promise."""

import subprocess
import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import eventsim
from eventsim.testing import strategies as es

FAST = settings(max_examples=40, deadline=None)


def alpha_graph_is_acyclic(net):
    alpha = net.kind == eventsim.ALPHA
    keep = alpha[net.pre] & alpha[net.post]
    edges = set(zip(net.pre[keep].tolist(), net.post[keep].tolist()))
    indeg = {j: 0 for j in np.flatnonzero(alpha).tolist()}
    for _, j in edges:
        indeg[j] += 1
    ready = [j for j, d in indeg.items() if d == 0]
    seen = 0
    while ready:
        i = ready.pop()
        seen += 1
        for a, b in edges:
            if a == i:
                indeg[b] -= 1
                if indeg[b] == 0:
                    ready.append(b)
    return seen == len(indeg)


@FAST
@given(es.networks(max_neurons=6, max_inputs=3, max_pulses=2, max_populations=3))
def test_networks_respect_bounds(net):
    assert isinstance(net, eventsim.Network)
    n_alpha = int((net.kind == eventsim.ALPHA).sum())
    assert 1 <= n_alpha <= 6 and 1 <= net.n_inputs <= 3 and net.n_pulses <= 2
    assert 1 <= net.n_populations <= 3
    assert (net.tau >= 0.5).all() and (net.tau <= 2.0).all()
    assert (net.theta >= 0.5).all() and (net.theta <= 2.0).all()
    assert (net.delays >= 0).all() and (net.delays <= 2.0).all()
    assert (net.kind[net.post] == eventsim.ALPHA).all()
    pop = net.population_index[net.post]
    scale = np.e * net.tau[pop] * net.theta[pop]
    u = net.weights / scale
    assert (u >= -1.0 - 1e-12).all() and (u <= 2.5 + 1e-12).all()


@FAST
@given(es.networks(recurrent=False))
def test_networks_feedforward_option(net):
    assert alpha_graph_is_acyclic(net)
    assert (net.pre != net.post).all()


@FAST
@given(es.networks(self_connections=False, delays=False, multi_synapses=False, silent_pulses=False))
def test_networks_flags(net):
    assert (net.pre != net.post).all()
    assert (net.delays == 0).all()
    pairs = list(zip(net.pre.tolist(), net.post.tolist()))
    assert len(set(pairs)) == len(pairs)
    assert np.isfinite(net.pulse_times).all()


@FAST
@given(es.feedforward_networks(max_layers=3, max_width=3, max_pulses=1))
def test_feedforward_networks(net):
    assert alpha_graph_is_acyclic(net)
    assert net["output"].size >= 1 and net["input"].size >= 1
    assert (net.delays == 0).all()
    layers = [p for p in net.populations if p.kind == "alpha"]
    assert layers[-1].name == "output"
    layer_of = np.full(net.n_neurons, 0)
    for k, p in enumerate(layers):
        layer_of[p.start:p.stop] = k + 1
    src = net.kind[net.pre] == eventsim.ALPHA
    # alpha -> alpha synapses go to the next layer only (no skip connections by default)
    assert (layer_of[net.post[src]] == layer_of[net.pre[src]] + 1).all()
    inp = net.kind[net.pre] == eventsim.INPUT
    assert (layer_of[net.post[inp]] == 1).all()


@FAST
@given(st.data())
def test_input_times(data):
    net = data.draw(es.networks(max_neurons=2))
    x = data.draw(es.input_times(net, max_examples=3))
    assert x.ndim == 2 and 1 <= x.shape[0] <= 3 and x.shape[1] == net.n_inputs
    fin = x[np.isfinite(x)]
    assert ((fin >= 0) & (fin <= 2.0)).all()
    np.testing.assert_array_equal(fin * 4, np.round(fin * 4))  # on the 0.25 grid
    assert not np.isneginf(x).any()
    y = data.draw(es.input_times(net, n_examples=5, allow_silent=False, coincident=False,
                                 min_time=1.0, max_time=3.0))
    assert y.shape == (5, net.n_inputs) and np.isfinite(y).all()
    assert ((y >= 1.0) & (y <= 3.0)).all()


@FAST
@given(es.pulse_times(min_size=1, max_size=3, allow_silent=True))
def test_pulse_times(p):
    assert 1 <= p.size <= 3
    net = eventsim.Network()
    net.add_pulses(p)  # always valid input for add_pulses


def test_hypothesis_setup_hook_registers_network():
    from eventsim.testing import _hypothesis_setup_hook

    _hypothesis_setup_hook()

    @settings(max_examples=5, deadline=None)
    @given(st.from_type(eventsim.Network))
    def check(net):
        assert isinstance(net, eventsim.Network) and net.n_inputs >= 1

    check()


def test_testing_package_imports_hypothesis_lazily():
    code = ("import sys, eventsim.testing; assert 'hypothesis' not in sys.modules; "
            "eventsim.testing.networks; assert 'hypothesis' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_strategy_docstrings_mention_hypothesis():
    for fn in (es.networks, es.feedforward_networks, es.input_times, es.pulse_times):
        assert "Requires the hypothesis package to be installed." in fn.__doc__
