"""Figures: training curves, and the analyses of :mod:`eventsim.analysis`.

* :func:`plot_training_curves` -- loss, accuracy and spike times per epoch.
* :func:`raster` -- spikes of one example, layer by layer, with the pulses (first
  spikes, or whole spike trains).
* :func:`membrane_traces` -- membrane potentials of chosen neurons in one example.
* :func:`spike_time_histograms` -- spike-time histograms per layer.
* :func:`plot_pulse_packets` -- activity and temporal spread against depth.
* :func:`plot_information_gain` -- information-gain distributions per layer, E and I.
* :func:`plot_pathways` -- class-pathway specificity against depth, and the drive
  of the pathway neurons.

Functions drawing one panel take ``ax=None`` and return the Axes; those drawing
several return the Figure.  None of them calls ``plt.show()``.

Needs matplotlib (``pip install eventsim[plot]``).  Figures are drawn with the
non-interactive Agg backend, so they work on machines without a display.
"""

from __future__ import annotations

import pathlib

import numpy as np

from .models import REGISTRY
from .spiketrains import SpikeTrains

__all__ = ["plot_training_curves", "raster", "membrane_traces", "spike_time_histograms",
           "plot_pulse_packets", "plot_information_gain", "plot_pathways"]

#: Colours of excitatory and inhibitory neurons.
E_COLOR, I_COLOR = "tab:red", "tab:blue"


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install 'eventsim[plot]' "
                          "(or pip install matplotlib)") from None
    if matplotlib.get_backend().lower() != "agg":
        matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_training_curves(history, path=None, *, title=None):
    """Plot loss, accuracy and mean spike times per epoch.

    Parameters
    ----------
    history : dict of str -> list
        ``SpikingClassifier.history_`` (or a checkpoint's ``meta["history"]``).
    path : str or os.PathLike, optional
        Save the figure there as PNG.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    epochs = np.asarray(history.get("epoch", []), float)
    if epochs.size == 0:
        raise ValueError("the history is empty: nothing to plot")

    def series(key):
        vals = history.get(key)
        if vals is None or len(vals) != epochs.size:
            return None
        arr = np.asarray(vals, float)
        return arr if np.isfinite(arr).any() else None

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), constrained_layout=True)
    panels = [
        (axes[0], "loss", [("loss", "train"), ("test_loss", "test"),
                           ("running_loss", "running (during epoch)")]),
        (axes[1], "accuracy", [("train_accuracy", "train"), ("test_accuracy", "test"),
                               ("running_accuracy", "running (during epoch)")]),
        (axes[2], "mean spike time", [
            ("train_first_output_time", "first output (train)"),
            ("test_first_output_time", "first output (test)"),
            ("train_hidden_time", "hidden (train)"),
            ("test_hidden_time", "hidden (test)")]),
    ]
    for ax, ylabel, keys in panels:
        drawn = False
        for key, label in keys:
            vals = series(key)
            if vals is not None:
                style = ":" if key.startswith("running") else "-"
                ax.plot(epochs, vals, style, label=label, marker="." if epochs.size < 30 else None)
                drawn = True
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend(fontsize=8)
    if series("loss") is not None and np.nanmin(series("loss")) > 0:
        axes[0].set_yscale("log")
    axes[1].set_ylim(-0.02, 1.02)
    if title:
        fig.suptitle(title)
    if path is not None:
        path = pathlib.Path(path)
        if path.parent and not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110, format="png")
    return fig


# --------------------------------------------------------------------------- analysis plots
def _new_axes(ax, figsize):
    if ax is not None:
        return ax
    plt = _pyplot()
    _, ax = plt.subplots(figsize=figsize, constrained_layout=True)
    return ax


def _one_example(times, name="times"):
    t = np.asarray(times, np.float64)
    if t.ndim == 2 and t.shape[0] == 1:
        t = t[0]
    if t.ndim != 1:
        raise ValueError(f"{name} must hold one example (shape (n_neurons,)), got shape {t.shape}")
    return t


def raster(times, layers, *, pulses=None, excitatory=None, ax=None, marker_size=6.0, title=None,
           example=0):
    """Raster plot of one example: the spikes of every neuron, layer above layer.

    Layer 0 is at the bottom; inside a layer, neurons keep their order.  Silent
    neurons leave an empty row.

    Parameters
    ----------
    times : array_like, shape (n_neurons,), or SpikeTrains
        Spike times of one example (a row of ``SimulationResult.times``), or spike
        trains over the network's neurons (``SimulationResult.spikes``), of which
        example ``example`` is drawn, every spike of every neuron.
    layers : sequence or dict of neuron groups
        As in :mod:`eventsim.analysis` (index arrays, slices, masks, Populations).
    pulses : array_like, optional
        Synchronisation pulse times (e.g. ``times[net.pulse_ids]``), drawn as
        dashed vertical lines; ``inf`` entries are skipped.
    excitatory : array_like of bool, shape (n_neurons,), or list of per-layer masks, optional
        Colour excitatory neurons red and inhibitory ones blue.
    ax : matplotlib Axes, optional
    marker_size : float
    title : str, optional
    example : int, default 0
        With spike trains: the example drawn.

    Returns
    -------
    matplotlib.axes.Axes
        One scatter collection per layer (two, E and I, with ``excitatory``);
        one line per finite pulse and one separator line between layers.
    """
    from . import analysis as an

    if isinstance(times, SpikeTrains):
        e = int(example)
        if not 0 <= e < times.n_examples:
            raise ValueError(f"example {example} is outside the spike trains' "
                             f"{times.n_examples} examples")
        ids, t = times.example(e)
        n = times.n_channels
    else:
        t = _one_example(times)
        an._spike_times(t, allow_1d=True)
        n = t.size
        ids = np.arange(n)
    groups = an._layer_groups(layers, n)
    names = an._layer_names(layers)
    e_mask = None if excitatory is None else an._per_neuron_mask(excitatory, groups, n,
                                                                 "excitatory")
    ax = _new_axes(ax, (7, 4.5))
    # Every neuron's layer and row (layer -1: in none, not drawn); per spike, its neuron's.
    layer, row = np.full(n, -1, np.int64), np.zeros(n, np.int64)
    for j, g in enumerate(groups):
        layer[g] = j
        row[g] = sum(h.size for h in groups[:j]) + np.arange(g.size)
    fin = np.isfinite(t)
    sp_layer, sp_row = layer[ids], row[ids]
    sp_exc = None if e_mask is None else e_mask[ids]
    offset, centres = 0, []
    for j, g in enumerate(groups):
        here = fin & (sp_layer == j)
        sel = [(here, f"C{j % 10}", None)] if sp_exc is None else \
            [(here & sp_exc, E_COLOR, "E" if j == 0 else None),
             (here & ~sp_exc, I_COLOR, "I" if j == 0 else None)]
        for k, color, label in sel:
            ax.scatter(t[k], sp_row[k], s=marker_size, color=color,
                       marker="|" if g.size > 40 else "o", label=label, linewidths=1.0)
        centres.append(offset + (g.size - 1) / 2)
        offset += g.size
        if j < len(groups) - 1:
            ax.axhline(offset - 0.5, color="0.8", lw=0.6)
    if pulses is not None:
        p = np.atleast_1d(np.asarray(pulses, np.float64))
        for k, tp in enumerate(p[np.isfinite(p)]):
            ax.axvline(tp, color="0.4", ls="--", lw=0.8, label="pulse" if k == 0 else None)
    ax.set_yticks(centres)
    ax.set_yticklabels(names)
    ax.set_ylim(-0.5, offset - 0.5)
    ax.set_xlabel("time")
    if e_mask is not None or (pulses is not None and np.isfinite(np.asarray(pulses, float)).any()):
        ax.legend(fontsize=8, loc="upper right")
    if title:
        ax.set_title(title)
    return ax


def _params(net, neuron):
    """Model parameters of the population of ``neuron`` (a non-source neuron)."""
    if not 0 <= neuron < net.n_neurons:
        raise ValueError(f"unknown neuron id {neuron}")
    pop = int(net.population_index[neuron])
    if pop < 0:
        raise ValueError(f"neuron {neuron} is a source; it has no membrane potential")
    if hasattr(net, "population_params"):
        return net.population_params(pop)
    return {"model": "alpha", "tau": float(net.tau[pop]), "theta": float(net.theta[pop])}


def _time_scale(params):
    """A duration over which the neuron's kernel rises and decays."""
    model = REGISTRY.get(params.get("model"))
    return float(model.time_scale(params)) if model is not None else 1.0


def membrane_traces(net, input_times, neurons, *, t=None, times=None, ax=None, title=None,
                    t_max=None):
    """Membrane potentials of chosen neurons during one example.

    Parameters
    ----------
    net : eventsim.Network
    input_times : array_like, shape (n_inputs,), or SpikeTrains
        The example's input spike times, or its input spike trains (one example); it is
        simulated unless ``times`` is given.
    neurons : int or sequence of int
        Global ids of non-source neurons.
    t : array_like, optional
        Evaluation times (default: 400 points from 0 to ``t_max``, or to 1.3 times the
        latest finite spike among the inputs, pulses and chosen neurons).
    times : array_like, shape (n_neurons,), or SpikeTrains, optional
        All spike times of the example, if already simulated: one per neuron, or (for a
        network whose neurons fire again and again) the example's spike trains over the
        network's neurons (``res.spikes.select([e])``).
    ax : matplotlib Axes, optional
    title : str, optional
    t_max : float, optional
        Horizon of the simulation of a network with multi-spike or LI populations, or
        fed spike trains (default: the last of ``t``; one of the two is needed there).

    Returns
    -------
    matplotlib.axes.Axes
        One line per neuron (the trace, computed with
        :func:`eventsim.membrane_potential`), one dashed line per distinct
        threshold, and one scatter collection marking the spikes (every spike of a
        neuron that fires again and again).
    """
    from .potential import membrane_potential
    from .simulation import _spike_train_engine_needed, simulate

    ids = np.atleast_1d(np.asarray(neurons))
    if ids.size == 0 or ids.dtype.kind not in "iu" or ids.ndim != 1:
        raise ValueError("neurons must be one or more integer neuron ids")
    params = [_params(net, int(n)) for n in ids]
    if t is not None:
        t = np.asarray(t, np.float64)
    if times is None:
        if isinstance(input_times, SpikeTrains):
            if input_times.n_examples != 1:
                raise ValueError(f"input_times must be one example, got spike trains of "
                                 f"{input_times.n_examples} examples")
            x = input_times
        else:
            x = np.asarray(input_times, np.float64)
            if x.ndim != 1:
                raise ValueError(f"input_times must be one example (1-D), got shape {x.shape}")
        if _spike_train_engine_needed(net, x):
            if t_max is None:
                if t is None or t.size == 0:
                    raise ValueError("this network runs in the spike-train engine, which needs "
                                     "a horizon: pass t_max (or the evaluation times t)")
                t_max = float(np.max(t))
            times = simulate(net, x, t_max=t_max).spikes
        else:
            times = simulate(net, x if isinstance(x, np.ndarray) else x.first_spikes()[0]).times
    if isinstance(times, SpikeTrains):
        if times.n_examples != 1 or times.n_channels != net.n_neurons:
            raise ValueError(f"times must be the spikes of one example over the network's "
                             f"{net.n_neurons} neurons (res.spikes.select([e])), got "
                             f"{times.n_examples} examples x {times.n_channels} channels")
        sp_ids, sp_t = times.example(0)
    else:
        times = _one_example(times)
        if times.shape != (net.n_neurons,):
            raise ValueError(f"times must have shape ({net.n_neurons},), got {times.shape}")
        sp_ids = np.arange(net.n_neurons)
        sp_t = times
    if t is None:
        if t_max is not None:
            end = float(t_max)
        else:
            src = np.zeros(net.n_neurons, bool)
            src[np.concatenate([net.input_ids, net.pulse_ids, ids]).astype(np.int64)] = True
            fin = sp_t[src[sp_ids] & np.isfinite(sp_t)]
            end = 1.3 * fin.max() if fin.size and fin.max() > 0 else 1.0
            end = max(end, 3.0 * max(_time_scale(p) for p in params))
        t = np.linspace(0.0, end, 400)
    ax = _new_axes(ax, (7, 3.5))
    spikes_t, spikes_v = [], []
    for k, n in enumerate(ids):
        v = membrane_potential(net, times, int(n), t)
        ax.plot(t, v, color=f"C{k % 10}", lw=1.2, label=f"neuron {int(n)}")
        own = sp_t[(sp_ids == n) & np.isfinite(sp_t)]
        if "theta" in params[k]:
            spikes_t.extend(own)
            spikes_v.extend([params[k]["theta"]] * own.size)
    for th in np.unique([p["theta"] for p in params if "theta" in p]):
        ax.axhline(th, color="0.5", ls="--", lw=0.8)
    ax.scatter(spikes_t, spikes_v, color="k", marker="*", s=40, zorder=3,
               label="spike" if spikes_t else None)
    ax.set_xlabel("time")
    ax.set_ylabel("membrane potential")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def spike_time_histograms(times, layers, *, bins=30, range=None, density=False, fig=None):
    """Histograms of the spike times of each layer over a data set, one panel per layer.

    Parameters
    ----------
    times : array_like, shape (n_examples, n_neurons)
        First spike times, ``inf`` = silent.
    layers : sequence or dict of neuron groups
    bins, range, density
        As in :func:`eventsim.analysis.spike_time_histograms` (shared bins).
    fig : matplotlib Figure, optional
        Draw into this (empty) figure.

    Returns
    -------
    matplotlib.figure.Figure
        One Axes per layer, layer 0 at the top, sharing the time axis; each
        holds one step patch.
    """
    from . import analysis as an

    counts, edges = an.spike_time_histograms(times, layers, bins=bins, range=range, density=density)
    names = an._layer_names(layers)
    plt = _pyplot()
    n = len(names)
    if fig is None:
        fig = plt.figure(figsize=(6, 1.3 + 1.1 * n), constrained_layout=True)
    axes = np.atleast_1d(fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0])
    for j, ax in enumerate(axes):
        ax.stairs(counts[j], edges, fill=True, color=f"C{j % 10}", alpha=0.8)
        ax.set_ylabel(names[j], rotation=0, ha="right", va="center")
        ax.tick_params(labelsize=8)
    axes[-1].set_xlabel("spike time")
    fig.suptitle("spike-time density per layer" if density else "spike times per layer", fontsize=10)
    return fig


def plot_pulse_packets(result, *, fig=None, title=None):
    """Pulse-packet measures against depth.

    Parameters
    ----------
    result : eventsim.analysis.PulsePackets
    fig : matplotlib Figure, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Four Axes: fraction active, latency (mean spike time) and temporal
        spread against the layer, each with the standard deviation over examples
        as error bars; and the layers' ``(spread, activity)`` trajectory, the
        state space of synfire-chain analysis.
    """
    plt = _pyplot()
    if fig is None:
        fig = plt.figure(figsize=(13, 3.4), constrained_layout=True)
    axes = fig.subplots(1, 4)
    depth = np.arange(result.n_layers)
    pe = result.per_example

    def err(key):
        v = pe[key]
        ok = np.isfinite(v)
        n = ok.sum(axis=0)
        m = np.where(ok, v, 0.0).sum(axis=0) / np.maximum(n, 1)
        var = np.where(ok, (v - m) ** 2, 0.0).sum(axis=0) / np.maximum(n, 1)
        return np.where(n > 0, np.sqrt(var), np.nan)

    for ax, key, mean, label in [(axes[0], "fraction", result.fraction, "fraction active"),
                                 (axes[1], "latency", result.latency, "mean spike time"),
                                 (axes[2], "spread", result.spread,
                                  f"temporal spread σ (≥{result.min_spikes} spikes)")]:
        ax.errorbar(depth, mean, yerr=err(key), marker="o", capsize=3)
        ax.set_xticks(depth)
        ax.set_xticklabels(result.names, rotation=30, fontsize=8)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylim(-0.02, 1.02)
    ax = axes[3]
    ax.plot(result.spread, result.activity, "-o", color="0.3")
    for j, name in enumerate(result.names):
        if np.isfinite(result.spread[j]):
            ax.annotate(name, (result.spread[j], result.activity[j]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("temporal spread σ")
    ax.set_ylabel("activity a (spikes)")
    ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return fig


def plot_information_gain(values, layers=None, *, excitatory=None, ax=None, title=None):
    """Distributions of the information gain per layer, excitatory and inhibitory apart.

    Parameters
    ----------
    values : array_like, shape (n_neurons,), or eventsim.analysis.LayerValues
        :func:`eventsim.analysis.information_gain` per neuron (NaN = never
        active), or its :func:`eventsim.analysis.by_layer` grouping.
    layers : sequence or dict of neuron groups
        Needed unless ``values`` is already grouped.
    excitatory : array_like of bool, or list of per-layer masks, optional
        Split each layer into E (red) and I (blue); without it one box per layer.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
        One box per layer and group that has a defined value; the tick labels
        give each layer's count of never-active neurons.
    """
    from . import analysis as an

    if isinstance(values, an.LayerValues):
        lv = values
    else:
        if layers is None:
            raise ValueError("layers is needed to group per-neuron values")
        lv = an.by_layer(values, layers, excitatory=excitatory)
    ax = _new_axes(ax, (max(4.0, 1.2 * len(lv.names) + 2), 3.8))
    n_g = len(lv.groups)
    width = 0.7 / n_g
    colors = {"E": E_COLOR, "I": I_COLOR, "all": "0.5"}
    for gi, g in enumerate(lv.groups):
        pos, data = [], []
        for j, v in enumerate(lv.values[g]):
            if v.size:
                pos.append(j + (gi - (n_g - 1) / 2) * width)
                data.append(v)
        if data:
            bp = ax.boxplot(data, positions=pos, widths=width * 0.9, patch_artist=True,
                            showfliers=False, manage_ticks=False)
            for box in bp["boxes"]:
                box.set_facecolor(colors.get(g, "0.5"))
                box.set_alpha(0.6)
            for med in bp["medians"]:
                med.set_color("k")
        if n_g > 1:
            ax.plot([], [], "s", color=colors.get(g, "0.5"), alpha=0.6, label=g)
    labels = []
    for j, name in enumerate(lv.names):
        silent = sum(int(lv.n_nan[g][j]) for g in lv.groups)
        labels.append(f"{name}\n({silent} silent)" if silent else name)
    ax.set_xticks(np.arange(len(lv.names)))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_xlim(-0.6, len(lv.names) - 0.4)
    ax.set_ylabel("information gain (normalised)")
    ax.axhline(1.0, color="0.7", lw=0.6, ls=":")
    ax.grid(alpha=0.3, axis="y")
    if n_g > 1:
        ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def plot_pathways(pathways, *, layer=-1, names=None, fig=None, title=None):
    """Class-pathway specificity against depth, and the drive of one layer's pathways.

    Parameters
    ----------
    pathways : eventsim.analysis.Pathways
    layer : int, default -1
        Layer whose pathway neurons the right panel shows (default the last
        hidden layer).
    names : sequence of str, optional
        Layer names for the x axis (default ``0 .. L-1``).
    fig : matplotlib Figure, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Two Axes.  Left: ``own / other`` drive per class (thin lines; infinite
        values left out) and per layer (thick), log scale.  Right: the drive of
        the top neurons of every class (rows, grouped by class) to every output
        (columns): a block diagonal means class-specific pathways.
    """
    plt = _pyplot()
    n_layers, k = pathways.n_layers, pathways.n_classes
    if not -n_layers <= layer < n_layers:
        raise ValueError(f"layer {layer} out of range for {n_layers} layers")
    layer = layer % n_layers
    if names is None:
        names = [str(i) for i in range(n_layers)]
    if len(names) != n_layers:
        raise ValueError(f"names has {len(names)} entries for {n_layers} layers")
    if fig is None:
        fig = plt.figure(figsize=(11, 4), constrained_layout=True)
    ax, ax2 = fig.subplots(1, 2)
    depth = np.arange(n_layers)
    spec = pathways.specificity
    for c in range(k):
        ok = np.isfinite(spec[:, c]) & (spec[:, c] > 0)
        ax.plot(depth[ok], spec[ok, c], color="0.6", lw=0.7, alpha=0.7)
    ls = pathways.layer_specificity
    ok = np.isfinite(ls) & (ls > 0)
    ax.plot(depth[ok], ls[ok], "-o", color="k", lw=2, label="all classes")
    ax.axhline(1.0, color="0.7", ls=":", lw=0.8)
    if ok.any() or np.isfinite(spec).any():
        ax.set_yscale("log")
    ax.set_xticks(depth)
    ax.set_xticklabels(names, fontsize=8)
    ax.set_xlabel("layer")
    ax.set_ylabel("drive to own class / to each other class")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)

    d = pathways.drive[layer]
    rows, bounds = [], []
    for c in range(k):
        sel = pathways.neurons(layer, c)
        rows.append(d[sel])
        bounds.append(sum(r.shape[0] for r in rows))
    mat = np.concatenate(rows) if any(r.shape[0] for r in rows) else np.zeros((1, k))
    im = ax2.imshow(mat, aspect="auto", interpolation="nearest", cmap="viridis")
    for b in bounds[:-1]:
        ax2.axhline(b - 0.5, color="w", lw=0.5)
    ax2.set_xticks(np.arange(k))
    ax2.set_xlabel("output class")
    ax2.set_ylabel("pathway neurons, grouped by class")
    ax2.set_title(f"drive in layer {names[layer]}", fontsize=9)
    fig.colorbar(im, ax=ax2, label="drive (layer max = 1)")
    if title:
        fig.suptitle(title)
    return fig
