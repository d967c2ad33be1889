"""eventsim.nir: networks and spike data to and from NIR.

The mapping is checked against ``nir_ode.simulate_graph``, an independent reader that
integrates NIR's CubaLIF / CubaLI equations numerically (solve_ivp with event
location), and by file round trips that must reproduce eventsim's spike times.
"""

import warnings

import numpy as np
import pytest

nir = pytest.importorskip("nir")
pytest.importorskip("h5py")

import eventsim  # noqa: E402
from eventsim import SpikeTrains  # noqa: E402
from eventsim import nir as enir  # noqa: E402
from nir_ode import simulate_graph  # noqa: E402

# Agreement required between eventsim's exact spike times and the ODE solve
# (measured: about 1e-12 relative).
ODE_RTOL = 1e-6


def _first_spike_net(rng):
    """Alpha -> LIF (tau_mem = 2 tau_syn) and -> LIF (other ratio), with delays, a
    pulse, Dale signs and a sparse connection."""
    net = eventsim.Network()
    x = net.add_inputs(4, name="x", dale="excitatory")
    p = net.add_pulses([0.3], name="pulse")
    h = net.add_population(5, tau=1.0, theta=1.0, name="hidden")
    o = net.add_population(3, model="lif", tau_mem=2.0, tau_syn=1.0, theta=0.2, name="out")
    o2 = net.add_population(2, model="lif", tau_mem=1.0, tau_syn=3.3, g_leak=0.8, theta=0.2,
                            name="out2")
    net.connect_dense(x, h, rng.uniform(0.5, 3.0, (4, 5)))
    net.connect_dense(p, h, np.full((1, 5), 0.4), delays=0.05)
    net.connect_dense(h, o, rng.uniform(-0.5, 1.5, (5, 3)), delays=rng.uniform(0, 0.5, (5, 3)))
    net.connect(h.ids[[0, 2, 4]], o2.ids[[0, 1, 1]], [0.9, 1.2, 0.7])
    return net


def _multispike_net(rng):
    """Recurrent multi-spike LIF with reset, bias and an LI readout."""
    net = eventsim.Network()
    x = net.add_inputs(3, name="x")
    h = net.add_population(6, model="lif", multispike=True, tau_mem=10.0, tau_syn=5.0,
                           theta=1.0, v_reset=-0.2, bias=0.05, name="rec")
    r = net.add_population(2, model="li", tau_mem=10.0, tau_syn=5.0, bias=0.1, name="readout")
    net.connect_dense(x, h, rng.uniform(0.5, 2.5, (3, 6)))
    net.connect_dense(h, h, rng.normal(0, 0.3, (6, 6)))
    net.connect_dense(h, r, rng.normal(0, 0.3, (6, 2)))
    return net


def _quiet_to_nir(net, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", enir.NIRExportWarning)
        return enir.to_nir(net, **kw)


def _first_spikes(trains):
    return np.array([t[0] if len(t) else np.inf for t in trains])


def _rel_err(a, b):
    fin = np.isfinite(a)
    assert np.array_equal(fin, np.isfinite(b)), (a, b)
    return float(np.max(np.abs(a[fin] - b[fin]) / np.abs(a[fin]))) if fin.any() else 0.0


# ------------------------------------------------------------------ round trips
@pytest.mark.filterwarnings("ignore::eventsim.nir.NIRExportWarning")
def test_file_round_trip_reproduces_first_spikes(rng, tmp_path):
    net = _first_spike_net(rng)
    x = rng.uniform(0, 1, (6, 4))
    x[0, 1] = np.inf
    enir.save_nir(net, tmp_path / "net.nir")
    back = enir.load_nir(tmp_path / "net.nir")
    a, b = eventsim.simulate(net, x).times, eventsim.simulate(back, x).times
    fin = np.isfinite(a)
    assert np.array_equal(fin, np.isfinite(b)) and np.all(np.abs(a[fin] - b[fin]) <= 1e-12)


@pytest.mark.filterwarnings("ignore::eventsim.nir.NIRExportWarning")
def test_file_round_trip_keeps_structure(rng, tmp_path):
    net = _first_spike_net(rng)
    enir.save_nir(net, tmp_path / "net.nir")
    back = enir.load_nir(tmp_path / "net.nir")
    same = [np.array_equal(getattr(net, k), getattr(back, k))
            for k in ("pre", "post", "weights", "delays", "pulse_times", "neuron_sign")]
    assert all(same) and back.models == net.models and [
        (p.name, p.kind, p.size) for p in back.populations] == [
        (p.name, p.kind, p.size) for p in net.populations]


@pytest.mark.filterwarnings("ignore::eventsim.nir.NIRExportWarning")
def test_round_trip_multispike_trains_and_voltages(rng, tmp_path):
    net = _multispike_net(rng)
    net.t_ref = np.array([1.5, np.nan])
    net.v_init = np.array([0.3, -0.1])
    inputs = SpikeTrains.from_lists([[np.sort(rng.uniform(0, 40, 4)) for _ in range(3)]])
    enir.save_nir(net, tmp_path / "net.nir")
    back = enir.load_nir(tmp_path / "net.nir")
    r1 = eventsim.simulate(net, inputs, t_max=60.0, readout_times=[30.0, 60.0])
    r2 = eventsim.simulate(back, inputs, t_max=60.0, readout_times=[30.0, 60.0])
    assert (np.array_equal(r1.spikes.index, r2.spikes.index)
            and np.max(np.abs(r1.spikes.times - r2.spikes.times)) <= 1e-12
            and np.max(np.abs(r1.voltages - r2.voltages)) <= 1e-12)


@pytest.mark.filterwarnings("ignore::eventsim.nir.NIRExportWarning")
def test_round_trip_of_unconnected_empty_and_cyclic_populations(tmp_path):
    # NIR's type inference adds an Input node in front of a population without
    # incoming synapses and needs an Output node even when every population is in a
    # cycle; neither may change the network that comes back.
    net = eventsim.Network()
    x = net.add_inputs(2, name="x")
    h = net.add_population(2, tau=1.0, name="h")
    net.add_population(2, model="lif", tau_mem=2.0, tau_syn=1.0, name="alone")
    net.add_population(0, tau=1.0, name="empty")
    net.connect_dense(h, h, np.ones((2, 2)), delays=0.5)
    net.connect_dense(x, h, np.full((2, 2), 3.0))
    enir.save_nir(net, tmp_path / "net.nir")
    back = enir.load_nir(tmp_path / "net.nir")
    a, b = eventsim.simulate(net, [[0.1, 0.2]]).times, eventsim.simulate(back, [[0.1, 0.2]]).times
    assert ([(p.name, p.kind, p.size) for p in back.populations]
            == [(p.name, p.kind, p.size) for p in net.populations]
            and np.array_equal(a, b) and np.isfinite(a[0, 2:4]).all())


# ------------------------------------------------------------------ against the ODE solve
def test_single_layer_alpha_matches_plain_nir_semantics(rng):
    # One layer: later spikes (NIR resets and fires again) cannot change first spikes,
    # so the ODE reads the graph without any eventsim metadata.
    net = eventsim.Network()
    x = net.add_inputs(3, name="x")
    h = net.add_population(4, tau=2.0, theta=0.7, name="h")
    net.connect_dense(x, h, rng.uniform(0.5, 3.0, (3, 4)))
    xin = rng.uniform(0, 1, (3, 3))
    res = eventsim.simulate(net, xin)
    graph = _quiet_to_nir(net)
    errs = [_rel_err(res.times[e, 3:], _first_spikes(
        simulate_graph(graph, {"x": [[t] for t in xin[e]]}, 10.0)[0]["h"])) for e in range(3)]
    assert max(errs) <= ODE_RTOL


def test_deep_first_spike_network_matches_ode_with_fire_once(rng):
    net = _first_spike_net(rng)
    xin = rng.uniform(0, 1, (3, 4))
    res = eventsim.simulate(net, xin)
    graph = _quiet_to_nir(net)
    errs = []
    for e in range(3):
        spikes, _ = simulate_graph(graph, {"x": [[t] for t in xin[e]], "pulse": [[0.3]]},
                                   20.0, honour_metadata=True)
        ode = np.concatenate([_first_spikes(spikes[k]) for k in ("hidden", "out", "out2")])
        errs.append(_rel_err(res.times[e, 5:], ode))
    assert np.isfinite(res.times[:, 5:]).sum() >= 20 and max(errs) <= ODE_RTOL


def test_multispike_trains_match_plain_nir_semantics(rng):
    # Reset, bias (v_leak) and recurrence are NIR's own semantics: no metadata needed.
    net = _multispike_net(rng)
    trains = [np.sort(rng.uniform(0, 40, 4)) for _ in range(3)]
    res = eventsim.simulate(net, SpikeTrains.from_lists([trains]), t_max=60.0,
                            readout_times=[60.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # nothing here needs metadata
        graph = enir.to_nir(net)
    spikes, v_end = simulate_graph(graph, {"x": trains}, 60.0)
    ours = res.spikes.trains(0)[3:9]
    counts_equal = [len(a) == len(b) for a, b in zip(ours, spikes["rec"])]
    err = max(_rel_err(a, b) for a, b in zip(ours, spikes["rec"]))
    assert (all(counts_equal) and sum(map(len, ours)) >= 10 and err <= ODE_RTOL
            and np.allclose(res.voltages[0, 0], v_end["readout"], rtol=ODE_RTOL, atol=1e-9))


def test_time_scale_scales_every_time(rng):
    net = _multispike_net(rng)
    trains = [np.sort(rng.uniform(0, 40, 4)) for _ in range(3)]
    res = eventsim.simulate(net, SpikeTrains.from_lists([trains]), t_max=60.0)
    graph = enir.to_nir(net, time_scale=1e-3)           # eventsim ms -> NIR seconds
    spikes, _ = simulate_graph(graph, {"x": [t * 1e-3 for t in trains]}, 60e-3)
    err = max(_rel_err(a * 1e-3, b) for a, b in zip(res.spikes.trains(0)[3:9], spikes["rec"]))
    assert err <= ODE_RTOL and enir.from_nir(graph).tau_mem[0] == pytest.approx(10.0, rel=1e-12)


def test_foreign_graph_runs_as_multispike_lif(rng):
    # A graph as another tool writes it: no eventsim metadata, w_in != 1.
    w = rng.uniform(0.5, 2.0, (3, 2))
    cuba = nir.CubaLIF(tau_syn=np.full(3, 4e-3), tau_mem=np.full(3, 8e-3), r=np.full(3, 2.0),
                       v_leak=np.full(3, 0.1), v_threshold=np.full(3, 1.0),
                       v_reset=np.full(3, 0.0), w_in=np.full(3, 3e-3))
    graph = nir.NIRGraph(nodes={"in": nir.Input(np.array([2])), "fc": nir.Linear(weight=w),
                                "lif": cuba, "out": nir.Output(np.array([3]))},
                         edges=[("in", "fc"), ("fc", "lif"), ("lif", "out")])
    net = enir.from_nir(graph, time_scale=1e-3)
    trains = [np.array([1.0, 3.0, 9.0]), np.array([2.0, 2.5])]
    res = eventsim.simulate(net, SpikeTrains.from_lists([trains]), t_max=30.0)
    spikes, _ = simulate_graph(graph, {"in": [t * 1e-3 for t in trains]}, 30e-3)
    ours = res.spikes.trains(0)[2:]
    err = max(_rel_err(a * 1e-3, b) for a, b in zip(ours, spikes["lif"]))
    assert net.models == ("lif_multispike",) and sum(map(len, ours)) >= 3 and err <= ODE_RTOL


# ------------------------------------------------------------------ warnings
def test_export_warns_about_what_nir_cannot_express(rng):
    with pytest.warns(enir.NIRExportWarning) as rec:
        enir.to_nir(_first_spike_net(rng))
    text = str(rec[0].message)
    assert all(s in text for s in ("fire-once", "delays", "Dale", "pulses", "sparse"))


def test_export_of_plain_multispike_network_is_silent(rng):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        graph = enir.to_nir(_multispike_net(rng))
    assert set(graph.nodes) >= {"x", "rec", "readout", "x->rec", "rec->rec", "rec->readout"}


def test_stale_metadata_warns_and_uses_nir_fields(rng):
    graph = _quiet_to_nir(_multispike_net(rng))
    graph.nodes["rec"].v_threshold = np.full(6, 1.5)
    with pytest.warns(UserWarning, match="no longer match"):
        net = enir.from_nir(graph)
    assert net.theta[0] == 1.5


# ------------------------------------------------------------------ bad input
def _simple_graph(**overrides):
    nodes = {"in": nir.Input(np.array([2])), "fc": nir.Linear(weight=np.ones((3, 2))),
             "lif": nir.CubaLIF(tau_syn=np.ones(3), tau_mem=np.full(3, 2.0), r=np.ones(3),
                                v_leak=np.zeros(3), v_threshold=np.ones(3)),
             "out": nir.Output(np.array([3]))}
    nodes.update(overrides)
    return nir.NIRGraph(nodes=nodes, edges=[("in", "fc"), ("fc", "lif"), ("lif", "out")],
                        type_check=False)


def test_unknown_node_type_is_refused():
    graph = _simple_graph(lif=nir.LIF(tau=np.ones(3), r=np.ones(3), v_leak=np.zeros(3),
                                      v_threshold=np.ones(3)))
    with pytest.raises(ValueError, match="type LIF.*current-based") as exc:
        enir.from_nir(graph)
    assert "'lif'" in str(exc.value)


def test_nonzero_affine_bias_is_refused():
    graph = _simple_graph(fc=nir.Affine(weight=np.ones((3, 2)), bias=np.full(3, 0.1)))
    with pytest.raises(ValueError, match="nonzero bias") as exc:
        enir.from_nir(graph)
    assert "'fc'" in str(exc.value)


def test_weight_shape_mismatch_is_refused():
    graph = _simple_graph(fc=nir.Linear(weight=np.ones((3, 4))))
    with pytest.raises(ValueError, match=r"expected \(3, 2\)") as exc:
        enir.from_nir(graph)
    assert "shape (3, 4)" in str(exc.value)


def test_nan_parameters_and_weights_are_refused():
    bad_w = _simple_graph(fc=nir.Linear(weight=np.array([[1.0, np.nan]] * 3)))
    bad_tau = _simple_graph(lif=nir.CubaLIF(tau_syn=np.ones(3), tau_mem=np.array([2, np.nan, 2.]),
                                            r=np.ones(3), v_leak=np.zeros(3),
                                            v_threshold=np.ones(3)))
    with pytest.raises(ValueError, match="NaN") as e1:
        enir.from_nir(bad_w)
    with pytest.raises(ValueError, match="tau_mem contains NaN") as e2:
        enir.from_nir(bad_tau)
    assert "'fc'" in str(e1.value) and "'lif'" in str(e2.value)


def test_non_uniform_parameters_are_refused():
    graph = _simple_graph(lif=nir.CubaLIF(tau_syn=np.ones(3), tau_mem=np.array([2.0, 3.0, 2.0]),
                                          r=np.ones(3), v_leak=np.zeros(3),
                                          v_threshold=np.ones(3)))
    with pytest.raises(ValueError, match="differs between neurons") as exc:
        enir.from_nir(graph)
    assert "tau_mem" in str(exc.value)


def test_nested_and_unsupported_structures_are_refused():
    inner = _simple_graph()
    nested = nir.NIRGraph(nodes={"in": nir.Input(np.array([2])), "sub": inner},
                          edges=[("in", "sub")], type_check=False)
    li = nir.CubaLI(tau_syn=np.ones(3), tau_mem=np.full(3, 2.0), r=np.ones(3), v_leak=np.zeros(3))
    li_source = nir.NIRGraph(
        nodes={"in": nir.Input(np.array([2])), "fc": nir.Linear(weight=np.ones((3, 2))),
               "li": li, "fc2": nir.Linear(weight=np.ones((3, 3))),
               "lif": _simple_graph().nodes["lif"]},
        edges=[("in", "fc"), ("fc", "li"), ("li", "fc2"), ("fc2", "lif")], type_check=False)
    msgs = []
    for g in (nested, li_source):
        with pytest.raises(ValueError) as exc:
            enir.from_nir(g)
        msgs.append(str(exc.value))
    assert "nested" in msgs[0] and "continuous potential" in msgs[1]


def test_export_refuses_poisson_and_bad_names():
    net = eventsim.Network()
    net.add_poisson(2, 5.0, name="noise")
    net2 = eventsim.Network()
    net2.add_inputs(2, name="a/b")
    with pytest.raises(ValueError, match="Poisson"):
        enir.to_nir(net)
    with pytest.raises(ValueError, match="'/'") as exc:
        enir.to_nir(net2)
    assert "a/b" in str(exc.value)


def test_bad_time_scale_is_refused():
    net = eventsim.Network()
    net.add_inputs(1)
    with pytest.raises(ValueError, match="time_scale") as exc:
        enir.to_nir(net, time_scale=0.0)
    assert "> 0" in str(exc.value)


# ------------------------------------------------------------------ spike data
def test_event_data_round_trip(rng):
    st = SpikeTrains.from_lists([[[0.1, 0.5], [], [0.3]], [[], [], []], [[0.2], [0.2], [0.9]]])
    data = enir.to_event_data(st, t_max=1.0, time_scale=1e-3)
    back = enir.from_event_data(data, time_scale=1e-3)
    assert (data.idx.shape == (3, 3) and data.n_neurons == 3 and data.t_max == 1e-3
            and (data.idx[1] == -1).all() and np.isinf(data.time[1]).all()
            and np.array_equal(back.index, st.index) and np.allclose(back.times, st.times,
                                                                    rtol=1e-15)
            and np.array_equal(back.offsets, st.offsets))


def test_event_data_from_first_spike_matrix_and_file(tmp_path):
    times = np.array([[0.2, np.inf], [np.inf, 0.4]])
    data = enir.to_event_data(times, t_max=1.0)
    graph_data = nir.NIRGraphData(nodes={"x": nir.NIRNodeData(observables={"spikes": data})})
    nir.write_data(tmp_path / "data.h5", graph_data)
    read = nir.read_data(tmp_path / "data.h5").nodes["x"].observables["spikes"]
    assert np.array_equal(enir.from_event_data(read).first_spikes(), times)


def test_bad_event_data_is_refused():
    base = dict(n_neurons=2, t_max=1.0)
    cases = {
        "padding": nir.EventData(idx=np.array([[-1, 0]]), time=np.array([[0.1, 0.2]]), **base),
        "NaN": nir.EventData(idx=np.array([[0, 1]]), time=np.array([[0.1, np.nan]]), **base),
        "outside": nir.EventData(idx=np.array([[0, 5]]), time=np.array([[0.1, 0.2]]), **base),
        "after t_max": nir.EventData(idx=np.array([[0, 1]]), time=np.array([[0.1, 2.0]]),
                                     **base),
        "value": nir.ValuedEventData(idx=np.array([[0]]), time=np.array([[0.1]]),
                                     value=np.array([[2.0]]), **base),
    }
    found = []
    for what, data in cases.items():
        with pytest.raises(ValueError) as exc:
            enir.from_event_data(data)
        found.append(what in str(exc.value))
    assert all(found), dict(zip(cases, found))


def test_to_event_data_refuses_spikes_outside_recording():
    st = SpikeTrains.from_lists([[[0.5, 2.0]]])
    with pytest.raises(ValueError, match="t_max") as exc:
        enir.to_event_data(st, t_max=1.0)
    assert "2.0" in str(exc.value)
