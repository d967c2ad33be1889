"""Tests for the analysis figures in eventsim.plotting (Agg backend, small data)."""

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")

import eventsim  # noqa: E402
from eventsim import analysis as an  # noqa: E402
from eventsim import plotting as pl  # noqa: E402


@pytest.fixture(autouse=True)
def _agg_and_close(monkeypatch):
    plt = pl._pyplot()

    def no_show(*args, **kwargs):
        raise AssertionError("plotting functions must not call plt.show()")

    monkeypatch.setattr(plt, "show", no_show)
    yield
    assert matplotlib.get_backend().lower() == "agg"
    plt.close("all")


@pytest.fixture
def data():
    """Spike times of 3 layers (4, 6, 3 neurons) over 10 examples, labels, E/I mask."""
    rng = np.random.default_rng(7)
    t = np.where(rng.random((10, 13)) < 0.7, rng.random((10, 13)) * 2, np.inf)
    t[:, :4] = rng.random((10, 4))                 # the input layer always spikes
    t[:, 9] = np.inf                                # one neuron never spikes
    layers = {"in": slice(0, 4), "hid": slice(4, 10), "out": slice(10, 13)}
    exc = np.ones(13, bool)
    exc[[7, 8]] = False
    return t, np.arange(10) % 3, layers, exc


def test_raster(data):
    t, _, layers, exc = data
    ax = pl.raster(t[0], layers, pulses=[0.2, 0.5, np.inf])
    assert len(ax.collections) == 3                # one scatter per layer
    assert len(ax.lines) == 2 + 2                  # two finite pulses, two layer separators
    assert [tl.get_text() for tl in ax.get_yticklabels()] == ["in", "hid", "out"]
    n_points = sum(c.get_offsets().shape[0] for c in ax.collections)
    assert n_points == np.isfinite(t[0]).sum()
    # E/I colouring: two collections per layer; drawn into a given Axes.
    fig, ax0 = pl._pyplot().subplots()
    ax2 = pl.raster(t[1:2], list(layers.values()), excitatory=exc, ax=ax0, title="ex 1")
    assert ax2 is ax0 and len(ax2.collections) == 6 and len(ax2.lines) == 2
    hid_i = ax2.collections[3].get_offsets()
    assert hid_i.shape[0] == np.isfinite(t[1, [7, 8]]).sum()
    with pytest.raises(ValueError, match="one example"):
        pl.raster(t, layers)


def _small_net():
    net = eventsim.Network()
    x = net.add_inputs(2, name="x")
    p = net.add_pulses([0.3], name="p")
    h = net.add_population(3, name="h")
    net.connect_dense(x, h, [[3.0, 1.0, -1.0], [2.0, 1.0, 0.5]])
    net.connect_dense(p, h, [[1.0, 0.5, 0.5]])
    return net, h


def test_membrane_traces():
    net, h = _small_net()
    x = np.array([0.1, 0.2])
    times = net.simulate(x).times
    ids = h.ids
    ax = pl.membrane_traces(net, x, ids)
    assert len(ax.lines) == 3 + 1                  # one trace per neuron, one threshold
    assert len(ax.collections) == 1                # spike markers
    assert ax.collections[0].get_offsets().shape[0] == np.isfinite(times[ids]).sum()
    for line, n in zip(ax.lines[:3], ids):
        tt, v = line.get_data()
        np.testing.assert_allclose(v, eventsim.membrane_potential(net, times, n, tt))
    # Given spike times and evaluation grid: nothing is simulated.
    grid = np.linspace(0, 2, 50)
    ax2 = pl.membrane_traces(net, None, int(ids[0]), t=grid, times=times)
    assert len(ax2.lines) == 2
    np.testing.assert_array_equal(ax2.lines[0].get_xdata(), grid)
    with pytest.raises(ValueError, match="source"):
        pl.membrane_traces(net, x, [0])


def _recurrent_net():
    """Inputs, a recurrent multi-spike LIF layer and an LI readout."""
    net = eventsim.Network()
    x = net.add_inputs(2, name="x")
    h = net.add_population(4, model="lif", tau_mem=10.0, tau_syn=5.0, theta=1.0,
                           v_reset=-0.2, t_ref=0.5, bias=1.5, multispike=True, name="h")
    r = net.add_population(1, model="li", tau_mem=10.0, tau_syn=5.0, name="r")
    rng = np.random.default_rng(3)
    net.connect_dense(x, h, rng.uniform(1.0, 3.0, (2, 4)))
    net.connect_dense(h, h, rng.uniform(-0.5, 0.8, (4, 4)))
    net.connect_dense(h, r, np.ones((4, 1)))
    return net, x, h, r


def test_raster_of_spike_trains_draws_every_spike_at_its_neurons_row():
    net, x, h, r = _recurrent_net()
    st = eventsim.SpikeTrains.from_lists([[[0.0, 3.0, 6.0], [1.0]], [[2.0], [0.5, 9.0]]])
    res = eventsim.simulate(net, st, t_max=40.0)
    spikes = res.spikes
    assert spikes.select([1]).count()[0, h.ids].min() >= 2     # neurons fire again
    ax = pl.raster(spikes, [x, h], example=1)
    ids, t = spikes.example(1)
    rows = {int(n): k for k, n in enumerate(np.concatenate([x.ids, h.ids]))}
    drawn = sorted(tuple(p) for c in ax.collections for p in c.get_offsets().tolist())
    expected = sorted((float(tt), float(rows[int(n)])) for n, tt in zip(ids, t)
                      if int(n) in rows)                         # the readout is in no layer
    assert drawn == expected and len(expected) == spikes.select([1]).count()[0, :6].sum()
    assert [tl.get_text() for tl in ax.get_yticklabels()] == ["x", "h"]
    with pytest.raises(ValueError, match="example 2 is outside the spike trains' 2 examples"):
        pl.raster(spikes, [x, h], example=2)


def test_membrane_traces_of_a_recurrent_network_fed_spike_trains():
    net, x, h, r = _recurrent_net()
    st = eventsim.SpikeTrains.from_lists([[[0.0, 3.0, 6.0], [1.0]]])
    neurons = [int(h.ids[0]), int(h.ids[2]), int(r.ids[0])]
    ax = pl.membrane_traces(net, st, neurons, t_max=30.0)
    one = eventsim.simulate(net, st, t_max=30.0).spikes
    assert len(ax.lines) == 3 + 1                  # three traces, one threshold (LI has none)
    for line, n in zip(ax.lines[:3], neurons):
        tt, v = line.get_data()
        assert tt[-1] == 30.0
        np.testing.assert_array_equal(v, eventsim.membrane_potential(net, one, n, tt))
    marks = ax.collections[0].get_offsets()
    own = one.count()[0, neurons[:2]].sum()
    assert own > 2 and marks.shape[0] == own and np.all(marks[:, 1] == 1.0)
    # Already simulated: the spike trains as times, on a grid of one's own.
    grid = np.linspace(0.0, 12.0, 31)
    ax2 = pl.membrane_traces(net, None, neurons[0], t=grid, times=one)
    np.testing.assert_array_equal(ax2.lines[0].get_ydata(),
                                  eventsim.membrane_potential(net, one, neurons[0], grid))
    with pytest.raises(ValueError, match="needs a horizon: pass t_max"):
        pl.membrane_traces(net, st, neurons)
    with pytest.raises(ValueError, match="one example"):
        pl.membrane_traces(net, None, neurons, times=eventsim.simulate(
            net, eventsim.SpikeTrains.from_lists([[[0.0], []], [[1.0], []]]), t_max=5.0).spikes)


def test_spike_time_histograms(data):
    t, _, layers, _ = data
    fig = pl.spike_time_histograms(t, layers, bins=8)
    axes = fig.get_axes()
    assert len(axes) == 3
    counts, edges = an.spike_time_histograms(t, layers, bins=8)
    for ax, c in zip(axes, counts):
        assert len(ax.patches) == 1
        np.testing.assert_array_equal(ax.patches[0].get_data().values, c)
    assert axes[0].get_ylabel() == "in"


def test_plot_pulse_packets(data):
    t, _, layers, _ = data
    pp = an.pulse_packets(t, layers)
    fig = pl.plot_pulse_packets(pp, title="packets")
    axes = fig.get_axes()
    assert len(axes) == 4
    for ax in axes[:3]:
        assert len(ax.containers) == 1            # one errorbar container
        np.testing.assert_array_equal(ax.get_xticks(), [0, 1, 2])
    np.testing.assert_allclose(axes[2].containers[0].lines[0].get_ydata(), pp.spread)
    np.testing.assert_allclose(axes[3].lines[0].get_xdata(), pp.spread)


def test_plot_information_gain(data):
    t, y, layers, exc = data
    ig = an.information_gain(t, y)
    ax = pl.plot_information_gain(ig, layers, excitatory=exc)
    # Boxes: E in every layer, I only in "hid" (neurons 7, 8).
    boxes = [p for p in ax.patches if isinstance(p, matplotlib.patches.PathPatch)]
    assert len(boxes) == 4
    assert "(1 silent)" in ax.get_xticklabels()[1].get_text()
    assert len(ax.get_legend().get_texts()) == 2
    ax2 = pl.plot_information_gain(an.by_layer(ig, layers))
    boxes = [p for p in ax2.patches if isinstance(p, matplotlib.patches.PathPatch)]
    assert len(boxes) == 3 and ax2.get_legend() is None
    with pytest.raises(ValueError, match="layers is needed"):
        pl.plot_information_gain(ig)


def test_plot_pathways():
    rng = np.random.default_rng(2)
    weights = [rng.normal(0.3, 1, (5, 6)), rng.normal(0.3, 1, (6, 4)), rng.normal(0.3, 1, (4, 3))]
    exc = [np.ones(5, bool), rng.random(6) < 0.7, np.ones(4, bool)]
    pw = an.class_pathways(weights, exc, top_k=2)
    fig = pl.plot_pathways(pw, names=["in", "h0", "h1"])
    axes = fig.get_axes()
    assert len(axes) == 3                          # two panels and the colour bar
    img = axes[1].images[0].get_array()
    assert img.shape == (sum(pw.neurons(2, c).size for c in range(3)), 3)
    assert len(axes[0].lines) == 3 + 1 + 1         # per class, all classes, the 1-line
    fig2 = pl.plot_pathways(pw, layer=0)
    assert fig2.get_axes()[1].images[0].get_array().shape[0] == sum(pw.neurons(0, c).size for c in range(3))
    with pytest.raises(ValueError, match="out of range"):
        pl.plot_pathways(pw, layer=3)


def test_figures_save(tmp_path, data):
    t, y, layers, exc = data
    fig = pl.plot_pulse_packets(an.pulse_packets(t, layers))
    fig.savefig(tmp_path / "pp.png")
    assert (tmp_path / "pp.png").stat().st_size > 0
