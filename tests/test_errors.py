"""Bad input gives a clear error that names the problem."""

import numpy as np
import pytest
import scipy.sparse as sp

import eventsim
from eventsim.testing import strategies as es


@pytest.fixture
def net():
    net = eventsim.Network()
    net.add_inputs(2, name="x")
    net.add_pulses([0.5], name="p")
    net.add_population(3, tau=1.0, theta=1.0, name="h")
    net.connect_dense(net["x"], net["h"], np.full((2, 3), 2.0))
    net.connect_dense(net["p"], net["h"], np.full((1, 3), 1.5))
    return net


@pytest.fixture
def run(net):
    return eventsim.simulate(net, [[0.0, 0.1], [0.2, np.inf]], record_tape=True)


# --------------------------------------------------------------------------- simulate
@pytest.mark.parametrize("x,match", [
    (np.zeros((2, 3)), "3 columns but the network has 2 inputs"),
    (np.zeros(5), "5 columns but the network has 2 inputs"),
    (np.zeros((1, 2, 2)), "1-D .* or 2-D"),
    (np.zeros(()), "1-D .* or 2-D"),
    ([[0.0, np.nan]], "NaN"),
    ([[0.0, -np.inf]], "-inf"),
])
def test_bad_input_times(net, x, match):
    with pytest.raises(ValueError, match=match):
        eventsim.simulate(net, x)


def test_bad_simulate_options(net):
    with pytest.raises(ValueError, match="t_max is NaN"):
        eventsim.simulate(net, [0.0, 0.0], t_max=np.nan)
    with pytest.raises(ValueError, match="max_events must be >= 1"):
        eventsim.simulate(net, [0.0, 0.0], max_events=0)
    with pytest.raises(ValueError, match="n_threads"):
        eventsim.simulate(net, [0.0, 0.0], n_threads=0)


def test_event_budget_exceeded(net):
    with pytest.raises(eventsim.EventBudgetExceeded, match="max_events=2"):
        eventsim.simulate(net, [[0.0, 0.0], [1.0, 1.0]], max_events=2)
    # the budget is per example and generous by default
    eventsim.simulate(net, [[0.0, 0.0], [1.0, 1.0]])


def test_event_budget_runaway_recurrence():
    """Even single-spike networks can need many events; the budget is enforced."""
    net = eventsim.Network()
    x = net.add_inputs(1)
    h = net.add_population(50, tau=1.0, theta=1.0)
    net.connect(x.start, h.ids, 3.0)
    net.connect_dense(h, h, np.full((50, 50), 3.0), 0.01)
    eventsim.simulate(net, [0.0])
    with pytest.raises(eventsim.EventBudgetExceeded, match="event budget"):
        eventsim.simulate(net, [0.0], max_events=100)


# --------------------------------------------------------------------------- building
def test_bad_connect(net):
    with pytest.raises(ValueError, match="delays must be >= 0"):
        net.connect(0, 3, 1.0, -0.5)
    with pytest.raises(ValueError, match="unknown postsynaptic neuron id 99"):
        net.connect(0, 99, 1.0)
    with pytest.raises(ValueError, match="unknown presynaptic neuron id -1"):
        net.connect(-1, 3, 1.0)
    with pytest.raises(ValueError, match="neuron ids must be integers"):
        net.connect([0.5], [3], 1.0)
    with pytest.raises(ValueError, match="weights contains NaN"):
        net.connect(0, 3, np.nan)
    with pytest.raises(ValueError, match="weights contains inf"):
        net.connect(0, 3, np.inf)
    with pytest.raises(ValueError, match="delays contains inf"):
        net.connect(0, 3, 1.0, np.inf)
    with pytest.raises(ValueError, match="source .* cannot receive synapses"):
        net.connect(3, 0, 1.0)
    with pytest.raises(ValueError, match="source .* cannot receive synapses"):
        net.connect(3, 2, 1.0)  # the pulse
    with pytest.raises(ValueError, match="do not match"):
        net.connect([0, 1], [3, 4, 5], 1.0)
    with pytest.raises(ValueError, match=r"weight matrix must have shape \(2, 3\)"):
        net.connect_dense(net["x"], net["h"], np.ones((3, 2)))
    with pytest.raises(ValueError, match="scipy.sparse"):
        net.connect_sparse(net["x"], net["h"], np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"sparse matrix must have shape \(2, 3\)"):
        net.connect_sparse(net["x"], net["h"], sp.csr_array(np.ones((3, 3))))
    with pytest.raises(KeyError, match="no population named 'nope'"):
        net.connect("nope", net["h"], 1.0)
    # nothing of the failed calls was added
    assert net.n_synapses == 9


def test_bad_populations(net):
    with pytest.raises(ValueError, match="tau must be finite and > 0"):
        net.add_population(2, tau=0.0)
    with pytest.raises(ValueError, match="theta must be finite and > 0"):
        net.add_population(2, theta=np.nan)
    with pytest.raises(ValueError, match="unknown neuron model 'izhikevich'"):
        net.add_population(2, model="izhikevich")
    with pytest.raises(ValueError, match="unknown parameters for model 'lif': \\['tau'\\]"):
        net.add_population(2, model="lif", tau=1.0)
    with pytest.raises(ValueError, match="tau_syn must be finite and > 0"):
        net.add_population(2, model="lif", tau_syn=-1.0)
    with pytest.raises(ValueError, match="within 0.001 of 1 but not equal"):
        net.add_population(2, model="lif", tau_mem=1.0, tau_syn=1.0005)
    with pytest.raises(ValueError, match="unknown parameters .*'tau_m'"):
        net.add_population(2, tau_m=1.0)
    with pytest.raises(ValueError, match="already exists"):
        net.add_population(2, name="h")
    with pytest.raises(ValueError, match="non-negative integer"):
        net.add_population(-1)
    with pytest.raises(ValueError, match="pulse times contain -inf"):
        net.add_pulses([-np.inf])
    with pytest.raises(ValueError, match="pulse times contains NaN"):
        net.add_pulses([np.nan])


def test_bad_parameter_setters(net):
    with pytest.raises(ValueError, match="weights contains NaN"):
        net.weights = np.full(net.n_synapses, np.nan)
    with pytest.raises(ValueError, match="weights contains inf"):
        net.weights = np.where(np.arange(net.n_synapses) == 4, np.inf, 1.0)
    with pytest.raises(ValueError, match=r"weights must have shape \(9,\)"):
        net.weights = np.ones(8)
    with pytest.raises(ValueError, match="delays must be >= 0"):
        net.delays = np.full(net.n_synapses, -1.0)
    with pytest.raises(ValueError, match="theta must be finite and > 0, got .*0.0.* population 0"):
        net.theta = [0.0]
    with pytest.raises(ValueError, match="tau must be finite and > 0"):
        net.tau = [-1.0]
    with pytest.raises(ValueError, match=r"theta must have shape \(1,\)"):
        net.theta = [1.0, 1.0]
    net.add_population(2, model="lif", name="l")
    with pytest.raises(ValueError, match="population 1 is 'lif', which has no parameter 'tau'"):
        net.tau = [1.0, 1.0]
    with pytest.raises(ValueError, match="population 0 is 'alpha', which has no parameter 'tau_mem'"):
        net.tau_mem = [1.0, 1.0]
    with pytest.raises(ValueError, match="within 0.001 of 1"):
        net.tau_mem = [np.nan, 1.0005]
    net.tau_mem = [np.nan, 2.0]
    assert net.population_params("l") == {"model": "lif", "tau_mem": 2.0, "tau_syn": 1.0,
                                          "g_leak": 1.0, "theta": 1.0}
    with pytest.raises(ValueError, match="pulse_times contains NaN"):
        net.pulse_times = [np.nan]
    with pytest.raises(ValueError, match="pulse_times contain -inf"):
        net.pulse_times = [-np.inf]
    # failed assignments leave the old values
    np.testing.assert_array_equal(net.weights, np.r_[np.full(6, 2.0), np.full(3, 1.5)])
    assert net.theta[0] == 1.0 and net.pulse_times[0] == 0.5


# --------------------------------------------------------------------------- backward
def test_backward_without_tape(net):
    res = eventsim.simulate(net, [0.0, 0.0])
    with pytest.raises(ValueError, match="record_tape=True"):
        eventsim.backward(net, res, np.zeros(net.n_neurons))


def test_bad_dL_dt(net, run):
    n = net.n_neurons
    with pytest.raises(ValueError, match="dL_dt contains NaN"):
        eventsim.backward(net, run, np.full((2, n), np.nan))
    with pytest.raises(ValueError, match=r"dL_dt must have shape \(2, 6\)"):
        eventsim.backward(net, run, np.zeros((2, n + 1)))
    with pytest.raises(ValueError, match=r"dL_dt must have shape \(2, 3\)"):
        eventsim.backward(net, run, np.zeros((2, 2)), outputs=net["h"].ids)
    with pytest.raises(ValueError, match="unknown output neuron id 17"):
        eventsim.backward(net, run, np.zeros((2, 1)), outputs=[17])
    spiking = np.isfinite(run.times)
    bad = np.where(spiking, np.inf, 0.0)
    with pytest.raises(ValueError, match="inf for a neuron that spiked"):
        eventsim.backward(net, run, bad)


def test_bad_backward_options(net, run):
    g = np.zeros(run.times.shape)
    with pytest.raises(ValueError, match="clip_derivative must be > 0"):
        eventsim.backward(net, run, g, clip_derivative=0.0)
    with pytest.raises(ValueError, match="clip_derivative must be > 0"):
        eventsim.backward(net, run, g, clip_derivative=np.nan)
    with pytest.raises(ValueError, match="penalty_no_spike must be finite"):
        eventsim.backward(net, run, g, penalty_no_spike=np.inf)


def test_backward_after_network_changed(net, run):
    net.connect(0, 3, 1.0)
    with pytest.raises(ValueError, match="synapses changed"):
        eventsim.backward(net, run, np.zeros(run.times.shape))
    other = eventsim.Network()
    other.add_inputs(2)
    with pytest.raises(ValueError, match="result has 6 neurons but the network has 2"):
        eventsim.backward(other, run, np.zeros(run.times.shape))


def test_membrane_potential_errors(net, run):
    with pytest.raises(ValueError, match="is a source"):
        eventsim.membrane_potential(net, run.times[0], 0, [0.0])
    with pytest.raises(ValueError, match="unknown neuron id 42"):
        eventsim.membrane_potential(net, run.times[0], 42, [0.0])
    with pytest.raises(ValueError, match=r"times must have shape \(6,\)"):
        eventsim.membrane_potential(net, run.times, 3, [0.0])


# --------------------------------------------------------------------------- strategies
@pytest.mark.parametrize("fn,kwargs,match", [
    (es.networks, dict(min_neurons=5, max_neurons=2), "min_neurons=5 must be <= max_neurons=2"),
    (es.networks, dict(max_inputs=-1), "max_inputs must be >= 0"),
    (es.networks, dict(tau=(0.0, 1.0)), "tau must be > 0"),
    (es.networks, dict(theta=(2.0, 1.0)), "theta: low=2.0 must be <= high=1.0"),
    (es.networks, dict(weights=(0, np.inf)), "weights must be finite"),
    (es.networks, dict(weights=3.0), r"weights must be a \(low, high\) pair"),
    (es.networks, dict(density=(0.5, 1.5)), r"density must lie in \[0, 1\]"),
    (es.networks, dict(recurrent="yes"), "recurrent must be True or False"),
    (es.networks, dict(max_populations=0), "max_populations must be >= 1"),
    (es.networks, dict(max_delay=-1.0), "max_delay must be >= 0"),
    (es.networks, dict(resolution=0.0), "resolution must be > 0"),
    (es.feedforward_networks, dict(min_layers=0), "min_layers must be >= 1"),
    (es.feedforward_networks, dict(max_width=2.5), "max_width must be an integer"),
    (es.pulse_times, dict(min_size=3, max_size=1), "min_size=3 must be <= max_size=1"),
])
def test_strategy_argument_validation(fn, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fn(**kwargs)


def test_input_times_strategy_validation(net):
    with pytest.raises(ValueError, match="net must be an eventsim.Network"):
        es.input_times(object())
    with pytest.raises(ValueError, match="n_examples must be >= 1"):
        es.input_times(net, n_examples=0)
    with pytest.raises(ValueError, match="allow_silent must be True or False"):
        es.input_times(net, allow_silent=None)
    with pytest.raises(ValueError, match=r"low=3.0 must be <= high=1.0"):
        es.input_times(net, min_time=3.0, max_time=1.0)
