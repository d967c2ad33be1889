"""The Python <-> compiled boundary: what a user can pass in, edit or break.

Every test here names a mistake a user can make (an out-of-range option, an
in-place edit, a foreign population, a damaged tape) and checks that it raises an
error naming the problem instead of crashing, warning or computing garbage.
"""

import dataclasses
import warnings

import numpy as np
import pytest

import eventsim
from eventsim import _engine
from eventsim.simulation import MAX_EVENTS_LIMIT, ConvergenceError


def small_net(model="alpha", delays=0.0):
    net = eventsim.Network()
    net.add_inputs(2, name="x")
    net.add_pulses([0.5], name="p")
    if model == "alpha":
        net.add_population(3, tau=1.0, theta=1.0, name="h")
    else:
        net.add_population(3, model="lif", tau_mem=1.5, tau_syn=1.0, theta=0.2, name="h")
    net.connect_dense(net["x"], net["h"], np.full((2, 3), 2.0), delays)
    net.connect_dense(net["p"], net["h"], np.full((1, 3), 1.5))
    return net


X = np.array([[0.0, 0.1], [0.2, np.inf]])


# ------------------------------------------------------------------ max_events (9)
@pytest.mark.parametrize("bad", [2**63, 2**70, 1e300, 1e19])
def test_max_events_above_the_limit_names_it(bad):
    with pytest.raises(ValueError, match=r"max_events must be at most 2\*\*63 - 1"):
        eventsim.simulate(small_net(), X, max_events=bad)


@pytest.mark.parametrize("bad,err,match", [
    (np.nan, ValueError, "whole number or inf"),
    (1.5, ValueError, "whole number or inf"),
    (-np.inf, ValueError, "whole number or inf"),
    ("many", TypeError, "integer, inf or None"),
])
def test_max_events_not_a_count(bad, err, match):
    with pytest.raises(err, match=match):
        eventsim.simulate(small_net(), X, max_events=bad)


def test_max_events_inf_means_unlimited():
    net = small_net()
    want = eventsim.simulate(net, X).times
    for m in (np.inf, float("inf"), MAX_EVENTS_LIMIT, np.int64(MAX_EVENTS_LIMIT), 50.0):
        np.testing.assert_array_equal(eventsim.simulate(net, X, max_events=m).times, want)


# ------------------------------------------------------------------ membrane_potential (10)
def test_membrane_potential_refuses_nan_times():
    net = small_net()
    times = eventsim.simulate(net, X[0]).times
    j = int(net["h"].start)
    assert np.isfinite(eventsim.membrane_potential(net, times, j, [0.3, 1.0])).all()
    with pytest.raises(ValueError, match=r"t contains NaN \(at index \[1\]\)"):
        eventsim.membrane_potential(net, times, j, [0.3, np.nan])


# ------------------------------------------------------------------ in-place parameter edits (11)
@pytest.mark.parametrize("model,key,value,match", [
    ("alpha", "theta", np.nan, r"theta of population 'h' \(#0, alpha\) is nan"),
    ("alpha", "theta", 0.0, r"theta of population 'h' \(#0, alpha\) is 0.0"),
    ("alpha", "theta", -1.0, r"theta of population 'h' .* must be finite and > 0"),
    ("alpha", "tau", np.inf, r"tau of population 'h' \(#0, alpha\) is inf"),
    ("lif", "tau_mem", 0.0, r"tau_mem of population 'h' \(#0, lif\) is 0.0"),
    ("lif", "tau_syn", np.nan, r"tau_syn of population 'h'"),
    ("lif", "g_leak", -2.0, r"g_leak of population 'h' \(#0, lif\) is -2.0"),
    ("lif", "tau_syn", 1.5 * (1 + 1e-5), r"LIF population 'h': tau_syn / tau_mem"),
    ("alpha", "tau_mem", 1.0, r"tau_mem of population 'h' \(#0\) is 1.0, but a 'alpha' "
                              r"population has no 'tau_mem'"),
])
def test_in_place_parameter_edits_are_checked_on_every_run(model, key, value, match):
    net = small_net(model)
    res = eventsim.simulate(net, X, record_tape=True)
    getattr(net, key)[0] = value
    with pytest.raises(ValueError, match=match):
        eventsim.simulate(net, X)
    with pytest.raises(ValueError, match=match):
        eventsim.backward(net, res, np.ones(res.times.shape))
    with pytest.raises(ValueError, match=match):
        eventsim.membrane_potential(net, res.times[0], net["h"].start, [0.5])


@pytest.mark.parametrize("model,key,value", [("alpha", "theta", 1.7), ("alpha", "tau", 1.6),
                                             ("lif", "tau_mem", 2.0), ("lif", "g_leak", 0.7),
                                             ("lif", "theta", 0.3)])
def test_valid_in_place_edits_take_effect(model, key, value):
    """The lowered per-population arrays are cached; an in-place edit must refresh them
    exactly as the setter would."""
    net = small_net(model)
    eventsim.simulate(net, X)                 # fill the caches
    getattr(net, key)[0] = value
    got = eventsim.simulate(net, X).times
    fresh = small_net(model)
    arr = getattr(fresh, key).copy()
    arr[0] = value
    setattr(fresh, key, arr)
    np.testing.assert_array_equal(got, eventsim.simulate(fresh, X).times)
    assert not np.array_equal(got, eventsim.simulate(small_net(model), X).times)


# ------------------------------------------------------------------ stale backward (12)
@pytest.mark.parametrize("edit,match", [
    (lambda n: n.weights.__setitem__(4, 0.25), r"weights changed since the forward run "
                                               r"\(weights\[4\] was 2.0, is now 0.25\)"),
    (lambda n: n.delays.__setitem__(1, 0.5), r"delays changed .*delays\[1\] was 0.0, is now 0.5"),
    (lambda n: n.pulse_times.__setitem__(0, 0.25), r"pulse_times changed .*was 0.5, is now 0.25"),
    (lambda n: n.theta.__setitem__(0, 1.25), r"theta of population #0 changed .*was 1.0, is "
                                             r"now 1.25"),
    (lambda n: n.tau.__setitem__(0, 2.0), r"tau of population #0 changed"),
    (lambda n: setattr(n, "weights", n.weights * 2), r"weights changed"),
    (lambda n: n.connect(0, 3, 0.5), r"populations or synapses changed"),
])
def test_backward_refuses_a_network_changed_since_the_forward_run(edit, match):
    net = small_net()
    res = eventsim.simulate(net, X, record_tape=True)
    g = np.ones(res.times.shape)
    eventsim.backward(net, res, g)            # unchanged: fine
    edit(net)
    with pytest.raises(ValueError, match=match):
        eventsim.backward(net, res, g)


def test_backward_refuses_a_result_of_another_network():
    a, b = small_net(), small_net()
    res = eventsim.simulate(a, X, record_tape=True)
    with pytest.raises(ValueError, match="from another network"):
        eventsim.backward(b, res, np.ones(res.times.shape))


def test_backward_with_delays_and_lif_unchanged_networks():
    for model in ("alpha", "lif"):
        net = small_net(model, delays=np.array([[0.0, 0.1, 0.2], [0.3, 0.0, 0.1]]))
        net.connect_dense(net["p"], net["h"], np.zeros((1, 3)), 0.05)
        res = eventsim.simulate(net, X, record_tape=True)
        eventsim.backward(net, res, np.ones(res.times.shape))
        net.delays[2] += 0.01
        with pytest.raises(ValueError, match=r"delays changed .*delays\[2\]"):
            eventsim.backward(net, res, np.ones(res.times.shape))


def test_select_keeps_the_check_and_equals_resimulation():
    rng = np.random.default_rng(3)
    net = small_net()
    x = rng.uniform(0, 1, (9, 2))
    res = eventsim.simulate(net, x, record_tape=True)
    g = rng.normal(size=res.times.shape)
    for rows in ([2, 3, 4], [7, 1, 4], []):
        sub = res.select(rows)
        alone = eventsim.simulate(net, x[rows], record_tape=True)
        np.testing.assert_array_equal(sub.times, alone.times)
        a = eventsim.backward(net, sub, g[rows])
        b = eventsim.backward(net, alone, g[rows])
        np.testing.assert_array_equal(a.weights, b.weights)
        np.testing.assert_array_equal(a.input_times, b.input_times)
    net.weights[0] += 1.0
    with pytest.raises(ValueError, match="weights changed"):
        eventsim.backward(net, res.select([1, 2]), g[[1, 2]])
    with pytest.raises(ValueError, match=r"rows must lie in 0..8"):
        res.select([9])


# ------------------------------------------------------------------ complex inputs (13)
def _refuses_complex(fn, match):
    with warnings.catch_warnings():
        warnings.simplefilter("error")        # no ComplexWarning first
        with pytest.raises(TypeError, match=match):
            fn()


def test_complex_arrays_are_refused():
    net = small_net()
    res = eventsim.simulate(net, X, record_tape=True)
    cx = X.astype(complex) + 1j
    _refuses_complex(lambda: eventsim.simulate(net, cx), r"input_times must be real .*complex")
    _refuses_complex(lambda: setattr(net, "weights", net.weights + 0j), "weights must be real")
    _refuses_complex(lambda: setattr(net, "delays", net.delays + 1j), "delays must be real")
    _refuses_complex(lambda: setattr(net, "pulse_times", [0.5 + 1j]), "pulse.times must be real")
    _refuses_complex(lambda: setattr(net, "theta", [1 + 0j]), "theta must be real")
    _refuses_complex(lambda: net.add_pulses([1j]), "pulse times must be real")
    _refuses_complex(lambda: net.connect(0, 3, 1 + 1j), "weights must be real")
    _refuses_complex(lambda: net.connect(0, 3, 1.0, 1j), "delays must be real")
    _refuses_complex(lambda: net.connect_dense(net["x"], net["h"], np.ones((2, 3)) * 1j),
                     "weights must be real")
    _refuses_complex(lambda: eventsim.backward(net, res, np.ones(res.times.shape) * 1j),
                     "dL_dt must be real")
    _refuses_complex(lambda: eventsim.membrane_potential(net, res.times[0], 3, [1j]),
                     "t must be real")
    _refuses_complex(lambda: eventsim.value_and_grad(
        net, X, lambda t: (0.0, np.ones(t.shape) * 1j)), "dL_dt must be real")
    with pytest.raises(ValueError, match=r"tau must be finite and > 0, got \(1\+0j\)"):
        net.add_population(2, tau=1 + 0j)
    import scipy.sparse as sp
    _refuses_complex(lambda: net.connect_sparse(net["x"], net["h"],
                                                sp.csr_array(np.ones((2, 3)) * 1j)),
                     "weights must be real")


# ------------------------------------------------------------------ read-only internals (14)
def test_index_arrays_are_read_only():
    net = small_net()
    arrays = {"indptr": net.indptr, "pre": net.pre, "post": net.post, "kind": net.kind,
              "source_index": net.source_index, "population_index": net.population_index,
              "incoming": net.incoming()[0], "incoming synapses": net.incoming()[1],
              **{f"block {i}": a for i, a in enumerate(net._delivery_blocks())}}
    for name, arr in arrays.items():
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 10**6
        with pytest.raises(ValueError, match="WRITEABLE"):
            arr.setflags(write=True)
    copy = net.copy()
    with pytest.raises(ValueError, match="read-only"):
        copy.post[0] = 10**6
    # Parameters stay editable in place.
    net.weights[0] = 0.5
    net.theta[0] = 1.5


def test_tampered_structure_is_refused_not_followed():
    net = small_net()
    net.populations.append(dataclasses.replace(net["x"], name="bogus", index=10**6))
    net._structure_changed()
    with pytest.raises(RuntimeError, match="internal structure is inconsistent"):
        eventsim.simulate(net, X)


def test_pickled_and_copied_networks_stay_read_only_and_equal():
    import pickle

    net = small_net("lif")
    net.add_population(2, name="d", dale="excitatory")
    net.connect_dense(net["h"], net["d"], np.ones((3, 2)))
    want = eventsim.simulate(net, X).times
    for other in (pickle.loads(pickle.dumps(net)), net.copy()):
        for arr in (other.indptr, other.pre, other.post, other.kind, other.synapse_sign):
            with pytest.raises(ValueError, match="read-only"):
                arr[0] = 10**6
        np.testing.assert_array_equal(eventsim.simulate(other, X).times, want)
        other.connect_dense(other["x"], other["h"], np.ones((2, 3)))   # its own structure
        assert other.n_synapses == net.n_synapses + 6


def test_tape_arrays_are_read_only_and_checked():
    net = small_net(delays=0.1)
    res = eventsim.simulate(net, X, record_tape=True)
    g = np.ones(res.times.shape)
    tape = res.tape
    for arr in (tape.q, tape.deliveries, tape.offsets, tape.delay_order):
        with pytest.raises(ValueError, match="read-only"):
            arr.reshape(-1)[0] = 10**6
        with pytest.raises(ValueError, match="WRITEABLE"):
            arr.setflags(write=True)

    def with_tape(**change):
        return dataclasses.replace(res, tape=dataclasses.replace(tape, **change))

    bad_rows = tape.deliveries.copy()
    bad_rows[0, 0] = 10**6
    with pytest.raises(ValueError, match="neuron id or synapse range"):
        eventsim.backward(net, with_tape(deliveries=bad_rows), g)
    bad_rows = tape.deliveries.copy()
    bad_rows[0, 2] = 10**6
    with pytest.raises(ValueError, match="neuron id or synapse range"):
        eventsim.backward(net, with_tape(deliveries=bad_rows), g)
    with pytest.raises(ValueError, match="tape.offsets must rise"):
        eventsim.backward(net, with_tape(offsets=np.array([0, 10**6, 0])), g)
    with pytest.raises(ValueError, match="tape.offsets must rise"):
        eventsim.backward(net, with_tape(offsets=np.array([0, 5, 2])), g)
    # Equal delays: the order is the identity, kept empty; spelled out, it is accepted.
    assert tape.delay_order.size == 0
    order = np.arange(net.n_synapses)
    want = eventsim.backward(net, res, g)
    got = eventsim.backward(net, with_tape(delay_order=order), g)
    np.testing.assert_array_equal(got.weights, want.weights)
    order[0] = 10**6
    with pytest.raises(ValueError, match="delay_order does not match"):
        eventsim.backward(net, with_tape(delay_order=order), g)
    with pytest.raises(ValueError, match="delay_order does not match"):
        eventsim.backward(net, with_tape(delay_order=order[:-1]), g)
    with pytest.raises(ValueError, match="shapes do not match"):
        eventsim.backward(net, with_tape(q=np.zeros((2, 1))), g)


# ------------------------------------------------------------------ foreign populations (15)
def test_population_of_another_network_is_refused():
    a = small_net()
    b = eventsim.Network()
    b.add_inputs(1, name="other")
    b.add_inputs(2, name="x")
    b.add_population(3, name="h")
    msg = r"population 'x' \(ids 0..1\) belongs to another Network \(this network's 'x' holds ids 1..2\)"
    with pytest.raises(ValueError, match=msg):
        b.connect_dense(a["x"], b["h"], np.ones((2, 3)))
    with pytest.raises(ValueError, match="belongs to another Network"):
        b.connect(a["x"], b["h"].ids[0], 1.0)
    with pytest.raises(ValueError, match="belongs to another Network"):
        b.population_params(a["h"])
    with pytest.raises(ValueError, match="belongs to another Network"):
        b.synapse_ids(a["x"], b["h"])
    lone = eventsim.Network()
    lone.add_inputs(2, name="x")
    with pytest.raises(ValueError, match="this network has no population 'p'"):
        lone.connect(a["p"], 0, 1.0)
    # Identical construction is still another network.
    with pytest.raises(ValueError, match="belongs to another Network"):
        small_net().connect(a["x"], 3, 1.0)


def test_copies_accept_shared_populations():
    a = small_net()
    b = a.copy()
    b.connect_dense(a["x"], a["h"], np.full((2, 3), 0.5))    # same ids in the copy
    a.connect_dense(b["p"], b["h"], np.full((1, 3), 0.5))
    assert b.n_synapses == 9 + 6 and a.n_synapses == 9 + 3
    extra = a.add_population(2, name="extra")
    with pytest.raises(ValueError, match="this network has no population 'extra'"):
        b.connect(a["x"], extra, 1.0)
    other = b.add_population(3, name="extra")   # same name, other ids
    with pytest.raises(ValueError, match=r"this network's 'extra' holds ids 6..7"):
        a.connect_dense(a["x"], other, np.ones((2, 3)))


# ------------------------------------------------------------------ loss_fn contract (17)
@pytest.mark.parametrize("ret,err,match", [
    (lambda t: 1.0, TypeError, r"loss_fn\(times\) must return a pair \(loss, dL_dt\), with "
                               r"dL_dt of the shape of times, \(2, 3\); it returned a float"),
    (lambda t: (1.0,), TypeError, "it returned a tuple of length 1"),
    (lambda t: (1.0, np.ones(6)), ValueError, r"shape of times, \(2, 3\); dL_dt has shape \(6,\)"),
])
def test_value_and_grad_names_the_loss_fn_contract(ret, err, match):
    net = small_net()
    with pytest.raises(err, match=match):
        eventsim.value_and_grad(net, X, ret, outputs=net["h"])


def test_value_and_grad_single_example_row():
    net = small_net()
    loss, g, res = eventsim.value_and_grad(net, X[0], lambda t: (t.sum(), np.ones(t.shape[1])),
                                           outputs=net["h"])
    want = eventsim.backward(net, res, np.ones((1, 3)), outputs=net["h"])
    np.testing.assert_array_equal(g.weights, want.weights)


# ------------------------------------------------------------------ Newton status (18)
def test_newton_non_convergence_is_reported():
    net = small_net("lif")
    want = eventsim.simulate(net, X, n_threads=1).times
    hid = want[:, net["h"].ids]
    assert np.isfinite(hid).any()             # the Newton path is exercised
    old = _engine._set_newton_iterations(1)
    try:
        with pytest.raises(ConvergenceError, match=r"example 0: the Newton iteration for the "
                           r"threshold crossing of neuron 3 \(LIF population 'h'\) did not "
                           r"converge"):
            eventsim.simulate(net, X, n_threads=1)
    finally:
        _engine._set_newton_iterations(old)
    np.testing.assert_array_equal(eventsim.simulate(net, X, n_threads=1).times, want)


def test_newton_iterations_are_enough_at_a_near_tangency():
    """Newton converges only linearly at a tangency; the default limit still holds."""
    net = eventsim.Network()
    net.add_inputs(1)
    net.add_population(1, model="lif", tau_mem=1.5, tau_syn=1.0, theta=1.0)
    # Peak of the kernel, so that a weight of 1 / peak is exactly tangent.
    s = np.log(1.5) / (1 / 1.0 - 1 / 1.5)
    peak = 1.0 / (1.5 - 1.0) * (np.exp(-s / 1.5) - np.exp(-s))
    net.connect(0, 1, 1.0 / peak * (1 + 1e-13))
    t = eventsim.simulate(net, [0.0]).times
    assert t[1] == pytest.approx(s, rel=1e-5)


# ------------------------------------------------------------------ lowering (21)
def test_lowered_record_uses_rates_and_is_read_only():
    net = eventsim.Network()
    net.add_inputs(1)
    net.add_population(1, tau=3.0, name="a")
    net.add_population(1, model="lif", tau_mem=2.0, tau_syn=1.0, g_leak=0.5, name="l2")
    net.add_population(1, model="lif", tau_mem=4.0, tau_syn=4.0, g_leak=2.0, theta=0.5, name="l1")
    net.connect([0, 0, 0], [1, 2, 3], 1.0)
    low = net._lower()
    np.testing.assert_array_equal(low.model, [0, 2, 0])
    np.testing.assert_array_equal(low.rate, [3.0, 0.5, 0.25])
    np.testing.assert_array_equal(low.rate_syn, [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(low.theta, [1.0, 1.0, 0.5 * 2.0 * 4.0])
    assert low.rate_max == 3.0
    for name in ("indptr", "order", "post", "kind", "source_index", "pop", "model", "rate",
                 "theta", "block", "block_start", "block_stop"):
        assert not getattr(low, name).flags.writeable, name
    assert net._lower().structure is low.structure
    net.connect(0, 1, 1.0)
    assert net._lower().structure is not low.structure
