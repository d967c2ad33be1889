"""Networks and spike data to and from NIR, the Neuromorphic Intermediate Representation.

NIR (https://neuroir.org) is the graph format that snnTorch, Norse, Rockpool, Sinabs,
Spyx, Lava and others read and write.  This module needs the optional extra
``pip install eventsim[nir]`` (the ``nir`` package and ``h5py``).

How eventsim's models map to NIR nodes
--------------------------------------
Every neuron population becomes one ``CubaLIF`` node (``CubaLI`` for LI readouts),
whose equations in NIR are

.. math::

    \\tau_{syn} \\dot I = -I + w_{in} S, \\qquad
    \\tau_{mem} \\dot v = (v_{leak} - v) + r I,

with ``S`` a sum of Dirac impulses, one per arriving spike, scaled by its weight.
The weights of each pair of connected populations go into one ``Linear`` node
(``weight`` has shape ``(n_post, n_pre)``), so a graph reads
``Input -> Linear -> CubaLIF -> Linear -> CubaLIF -> Output``.  Solving these
equations for one unit impulse gives the kernels of docs/math.md exactly:

* alpha neurons, decay rate ``k``: ``tau_syn = tau_mem = 1/k``, ``r = 1/k**2``,
  ``v_leak = 0``, ``w_in = 1``, ``v_threshold = theta`` (the potential
  ``r w s e^{-s/tau} / tau**2`` is then ``w s e^{-k s}``);
* LIF neurons: ``r = tau_syn / g_leak``, ``w_in = 1`` (the impulse makes ``I`` jump by
  ``w / tau_syn``, so ``r I`` jumps by ``w / g_leak``, eventsim's ``J``);
  multi-spike LIF also ``v_reset`` and ``v_leak = bias / g_leak``;
* LI readouts: ``CubaLI`` with the same ``r`` and ``v_leak``.

With ``time_scale=c`` (NIR time = eventsim time times ``c``, e.g. ``1e-3`` when
eventsim times are milliseconds and the NIR graph should be in seconds) every time
constant, delay and spike time is multiplied by ``c`` and ``r`` too (the impulse
``delta(t)`` is ``c delta(c t)``).

What NIR cannot express is kept in each node's ``metadata`` under keys that start
with ``eventsim_`` and :func:`to_nir` warns (:class:`NIRExportWarning`): that alpha
and first-spike LIF neurons fire once (NIR's CubaLIF resets and fires again),
per-synapse delays, Dale's-law signs, trainable synchronisation pulses (exported as
an ``Input`` node whose spike times are in its metadata), refractory periods and
initial potentials.  :func:`from_nir` restores all of it, so ``from_nir(to_nir(net))``
simulates exactly as ``net`` does; a graph from another tool (no such metadata) is
read as multi-spike LIF / LI populations, and a graph eventsim cannot run (other node
types, non-uniform parameters within a node, nonzero affine biases, multi-dimensional
shapes, ...) is refused with a message that names the node.

Spike data: :func:`to_event_data` / :func:`from_event_data` convert
:class:`eventsim.SpikeTrains` (or a first-spike time matrix) to and from NIR's
``EventData``.
"""

from __future__ import annotations

import io as _io
import numbers
import pathlib
import warnings

import numpy as np

try:
    import nir as _nir
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("eventsim.nir needs the NIR package: pip install 'eventsim[nir]' "
                      "(nir and h5py)") from exc

from ._atomic import atomic_write
from .network import Network, SOURCE_KINDS
from .spiketrains import SpikeTrains

__all__ = ["to_nir", "from_nir", "save_nir", "load_nir", "to_event_data", "from_event_data",
           "NIRExportWarning"]

# Metadata keys (prefixed so that they cannot clash with another tool's).
_MODEL = "eventsim_model"          # registered model name of a neuron node
_PARAMS = "eventsim_params"        # its exact parameters (eventsim units), a dict
_FIRE_ONCE = "eventsim_fire_once"  # True: each neuron fires at most once
_BLOCK = "eventsim_block"          # position of the population in the network
_DALE = "eventsim_dale"            # Dale's-law sign per neuron
_KIND = "eventsim_kind"            # "pulse" for synchronisation pulses
_PULSES = "eventsim_pulse_times"   # their spike times (NIR time units)
_DELAYS = "eventsim_delays"        # synaptic delays, shape of the weight (NIR time units)
_SYN_ID = "eventsim_synapse_id"    # synapse id per weight entry, -1: no synapse
_TIME_SCALE = "eventsim_time_scale"
_FORMAT = "eventsim_format"
_FORMAT_VERSION = 1

# Relative tolerance within which a node's NIR parameters must agree with its
# eventsim metadata for the metadata's exact values to be used.
_AGREE_RTOL = 1e-9


class NIRExportWarning(UserWarning):
    """The network uses features that NIR cannot express; they are in the metadata."""


# ------------------------------------------------------------------------------ helpers
def _check_time_scale(time_scale):
    if (isinstance(time_scale, bool) or not isinstance(time_scale, numbers.Real)
            or not np.isfinite(time_scale) or time_scale <= 0):
        raise ValueError(f"time_scale must be a finite number > 0, got {time_scale!r}")
    return float(time_scale)


def _full(n, value):
    return np.full(n, float(value), np.float64)


def _nir_params(model, p, n, c):
    """The NIR node (CubaLIF or CubaLI) of a population of ``n`` neurons of ``model``
    with parameters ``p`` (eventsim units), time scale ``c``."""
    if model == "alpha":
        tau = 1.0 / p["tau"]
        return _nir.CubaLIF(tau_syn=_full(n, tau * c), tau_mem=_full(n, tau * c),
                            r=_full(n, tau * tau * c), v_leak=_full(n, 0.0),
                            v_threshold=_full(n, p["theta"]), v_reset=_full(n, 0.0),
                            w_in=_full(n, 1.0))
    r = _full(n, p["tau_syn"] * c / p["g_leak"])
    common = dict(tau_syn=_full(n, p["tau_syn"] * c), tau_mem=_full(n, p["tau_mem"] * c), r=r,
                  v_leak=_full(n, p.get("bias", 0.0) / p["g_leak"]), w_in=_full(n, 1.0))
    if model == "li":
        return _nir.CubaLI(**common)
    return _nir.CubaLIF(**common, v_threshold=_full(n, p["theta"]),
                        v_reset=_full(n, p.get("v_reset", 0.0)))


def _fire_once(model, p):
    return model in ("alpha", "lif") or (model == "lif_multispike" and p["t_ref"] == np.inf)


def _safe_name(name, what):
    # HDF5 (nir.write) cannot store a group name with "/" or the names "." / "".
    if "/" in name or name in (".", ""):
        raise ValueError(f"{what} name {name!r} cannot be a NIR node name (HDF5 group names "
                         f"may not contain '/' or be '.'); rename it")
    return name


def _unique(name, taken):
    out, k = name, 1
    while out in taken:
        out, k = f"{name}#{k}", k + 1
    taken.add(out)
    return out


# ------------------------------------------------------------------------------ export
def to_nir(net: Network, *, time_scale=1.0, outputs=None) -> "_nir.NIRGraph":
    """The NIR graph of ``net``.

    Parameters
    ----------
    net : Network
        Any network of alpha, LIF (first-spike or multi-spike) and LI populations fed
        by inputs and synchronisation pulses.  Poisson generators have no NIR form and
        are refused.
    time_scale : float, default 1
        NIR time per eventsim time unit: time constants, delays, pulse times and ``r``
        are multiplied by it.
    outputs : sequence of str or Population, optional
        Populations that get an ``Output`` node.  Default: every neuron population with
        no synapse to another neuron population.

    Returns
    -------
    nir.NIRGraph
        Nodes named after the populations (``Input`` for inputs and pulses, ``CubaLIF``
        or ``CubaLI`` for neurons), one ``Linear`` node ``"pre->post"`` per connected pair
        of populations (``"pre->post#1"``, ... for parallel synapses), and ``Output``
        nodes ``"pop:out"``.

    Warns
    -----
    NIRExportWarning
        Once, listing what NIR cannot express and where in the metadata it went.

    Raises
    ------
    ValueError
        Poisson generators, population names that HDF5 cannot store, unknown outputs.
    """
    if not isinstance(net, Network):
        raise TypeError(f"to_nir needs an eventsim.Network, got {type(net).__name__}")
    c = _check_time_scale(time_scale)
    pops = net.populations
    kinds = {p.name: p.kind for p in pops}
    for p in pops:
        if p.kind == "poisson":
            raise ValueError(f"population {p.name!r} is a Poisson generator, which NIR cannot "
                             f"express (its spikes are drawn inside the simulation); give the "
                             f"network spike-train inputs instead")
        _safe_name(p.name, "population")
    notes = {}       # what NIR cannot express -> population / connection names

    def note(what, where):
        notes.setdefault(what, []).append(where)

    nodes, taken = {}, {p.name for p in pops}
    sign = net.neuron_sign
    pulse_times = net.pulse_times
    for b, p in enumerate(pops):
        meta = {_BLOCK: b}
        if sign[p.start:p.stop].any():
            meta[_DALE] = sign[p.start:p.stop].astype(np.int64)
            note("Dale's-law signs (metadata 'eventsim_dale')", p.name)
        if p.kind == "input":
            nodes[p.name] = _nir.Input(np.array([p.size]), metadata=meta)
        elif p.kind == "pulse":
            meta[_KIND] = "pulse"
            meta[_PULSES] = pulse_times[p.index:p.index + p.size] * c
            note("trainable synchronisation pulses (an Input node; times in metadata "
                 "'eventsim_pulse_times', to be fed as input spikes)", p.name)
            nodes[p.name] = _nir.Input(np.array([p.size]), metadata=meta)
        else:
            prm = net.population_params(p.index)
            model = prm.pop("model")
            node = _nir_params(model, prm, p.size, c)
            meta[_MODEL] = model
            meta[_PARAMS] = dict(prm)
            meta[_FIRE_ONCE] = bool(_fire_once(model, prm))
            if meta[_FIRE_ONCE]:
                note("fire-once semantics (metadata 'eventsim_fire_once'; NIR's CubaLIF "
                     "resets and fires again)", p.name)
            elif model == "lif_multispike" and prm["t_ref"] > 0:
                note("refractory periods (metadata 'eventsim_params')", p.name)
            if prm.get("v_init", 0.0) != 0.0:
                note("initial potentials v_init (metadata 'eventsim_params')", p.name)
            node.metadata = meta
            nodes[p.name] = node

    # One Linear node per (pre population, post population, parallel copy).
    pre, post, w, d = net.pre, net.post, net.weights, net._delay_view()
    pop_of = np.full(net.n_neurons, -1, np.int64)
    for b, p in enumerate(pops):
        pop_of[p.start:p.stop] = b
    pb, qb = pop_of[pre], pop_of[post]
    # Rank of each synapse among the parallel synapses of its (pre, post) pair, in
    # synapse-id order: rank 0 for the first, 1 for the second, ...
    key = pre.astype(np.int64) * net.n_neurons + post
    order = np.lexsort((np.arange(key.size), key))
    rank = np.zeros(key.size, np.int64)
    if key.size:
        ks = key[order]
        start = np.r_[0, np.flatnonzero(ks[1:] != ks[:-1]) + 1]
        run = np.repeat(start, np.diff(np.r_[start, ks.size]))
        rank[order] = np.arange(ks.size) - run
    edges = []
    groups = sorted(set(zip(pb.tolist(), qb.tolist(), rank.tolist())),
                    key=lambda g: (g[2], g[0], g[1]))
    feeds = {p.name: False for p in pops}
    for gi, (a, b, r) in enumerate(groups):
        src, dst = pops[a], pops[b]
        sel = np.flatnonzero((pb == a) & (qb == b) & (rank == r))
        rows, cols = post[sel] - dst.start, pre[sel] - src.start
        weight = np.zeros((dst.size, src.size))
        weight[rows, cols] = w[sel]
        syn = np.full((dst.size, src.size), -1, np.int64)
        syn[rows, cols] = sel
        meta = {_BLOCK: gi, _SYN_ID: syn}
        if (d[sel] != 0).any():
            delays = np.zeros((dst.size, src.size))
            delays[rows, cols] = d[sel] * c
            meta[_DELAYS] = delays
            note("per-synapse delays (metadata 'eventsim_delays' of the Linear nodes)",
                 f"{src.name}->{dst.name}")
        if sel.size != dst.size * src.size:
            note("sparse connectivity (missing synapses are zero weights; the pattern is "
                 "in metadata 'eventsim_synapse_id')", f"{src.name}->{dst.name}")
        name = _unique(f"{src.name}->{dst.name}", taken)
        nodes[name] = _nir.Linear(weight=weight, metadata=meta)
        edges += [(src.name, name), (name, dst.name)]
        if dst.kind not in SOURCE_KINDS and src.kind not in SOURCE_KINDS and a != b:
            feeds[src.name] = True

    if outputs is None:
        out_names = [p.name for p in pops if p.kind not in SOURCE_KINDS and not feeds[p.name]]
        neurons = [p.name for p in pops if p.kind not in SOURCE_KINDS]
        if not out_names and neurons:
            # Every population feeds another (a cycle): NIR's type inference needs an
            # exit point, so the last population added is the output.
            out_names = neurons[-1:]
    else:
        out_names = []
        for o in outputs:
            name = o if isinstance(o, str) else getattr(o, "name", None)
            if name not in kinds or kinds[name] in SOURCE_KINDS:
                raise ValueError(f"outputs must name neuron populations of the network, got {o!r}")
            out_names.append(name)
    for name in out_names:
        oname = _unique(f"{name}:out", taken)
        nodes[oname] = _nir.Output(np.array([net[name].size]))
        edges.append((name, oname))

    if notes:
        lines = [f"{what}: {', '.join(sorted(set(where)))}" for what, where in notes.items()]
        warnings.warn("NIR cannot express these features of the network; they are kept in "
                      "node metadata, which eventsim.nir.from_nir restores but other NIR "
                      "readers ignore:\n  " + "\n  ".join(lines), NIRExportWarning, stacklevel=2)
    meta = {_FORMAT: _FORMAT_VERSION, _TIME_SCALE: c}
    return _nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def save_nir(net, path, *, time_scale=1.0, outputs=None):
    """Write ``to_nir(net, ...)`` to the HDF5 file ``path`` (atomically: a reader sees
    the old file or the complete new one)."""
    graph = to_nir(net, time_scale=time_scale, outputs=outputs)
    buf = _io.BytesIO()
    _nir.write(buf, graph)
    atomic_write(path, lambda f: f.write(buf.getvalue()))


def load_nir(path, *, time_scale=None) -> Network:
    """``from_nir`` of the NIR file ``path``."""
    return from_nir(path, time_scale=time_scale)


# ------------------------------------------------------------------------------ import
def _meta(node):
    m = getattr(node, "metadata", None)
    return m if isinstance(m, dict) else {}


def _scalar(meta, key, default=None):
    v = meta.get(key, default)
    if isinstance(v, bytes):
        v = v.decode("utf8")
    if isinstance(v, np.ndarray) and v.shape == ():
        v = v.item()
    if isinstance(v, np.generic):
        v = v.item()
    return v


def _vector(name, node, field, n):
    arr = np.asarray(getattr(node, field), dtype=np.float64)
    if arr.shape != (n,):
        try:
            arr = np.broadcast_to(arr, (n,))
        except ValueError:
            raise ValueError(f"node {name!r}: {field} has shape {np.shape(getattr(node, field))}, "
                             f"expected ({n},)") from None
    if np.isnan(arr).any():
        raise ValueError(f"node {name!r}: {field} contains NaN")
    return arr


def _uniform(name, field, arr):
    if arr.size and not (arr == arr[0]).all():
        raise ValueError(f"node {name!r}: {field} differs between neurons ({arr.min()!r} .. "
                         f"{arr.max()!r}); an eventsim population has one value per parameter "
                         f"(split the node into one node per value)")
    return float(arr[0]) if arr.size else 0.0


def _size(name, node):
    shape = node.output_type.get("output") if isinstance(node.output_type, dict) else None
    if shape is None:
        shape = next(iter(node.input_type.values()))
    shape = tuple(int(s) for s in np.atleast_1d(shape))
    if len(shape) != 1:
        raise ValueError(f"node {name!r} has shape {shape}; eventsim populations are 1-D "
                         f"(flatten the data first)")
    return shape[0]


def _generic_params(name, node, n, c):
    """Model and parameters (eventsim units) of a CubaLIF / CubaLI node from its NIR
    fields alone."""
    is_lif = isinstance(node, _nir.CubaLIF)
    if n == 0:
        # No neurons, no values: the model's defaults (they can never matter).
        return ("lif_multispike" if is_lif else "li"), {}
    fields = ["tau_syn", "tau_mem", "r", "v_leak", "w_in"] + (["v_threshold", "v_reset"]
                                                              if is_lif else [])
    v = {f: _uniform(name, f, _vector(name, node, f, n)) for f in fields}
    for f in ("tau_syn", "tau_mem"):
        if not (np.isfinite(v[f]) and v[f] > 0):
            raise ValueError(f"node {name!r}: {f} must be finite and > 0, got {v[f]!r}")
    if not (np.isfinite(v["r"]) and v["r"] > 0):
        raise ValueError(f"node {name!r}: r must be finite and > 0, got {v['r']!r}")
    if not (np.isfinite(v["w_in"]) and v["w_in"] > 0):
        raise ValueError(f"node {name!r}: w_in must be finite and > 0, got {v['w_in']!r} "
                         f"(fold a sign into the weights)")
    # r w_in / tau_syn is what one unit impulse adds to the membrane drive; eventsim's
    # is 1 / g_leak.
    g = v["tau_syn"] / (v["r"] * v["w_in"])
    p = {"tau_mem": v["tau_mem"] / c, "tau_syn": v["tau_syn"] / c, "g_leak": g,
         "bias": v["v_leak"] * g}
    if is_lif:
        p.update(theta=v["v_threshold"], v_reset=v["v_reset"])
        return "lif_multispike", p
    return "li", p


def _node_params(name, node, n, c):
    """``(model, params)`` of a neuron node: the exact values of its eventsim metadata
    when its NIR fields agree with them, else what the NIR fields say."""
    model_g, p_g = _generic_params(name, node, n, c)
    meta = _meta(node)
    model = _scalar(meta, _MODEL)
    params = meta.get(_PARAMS)
    if model is not None and isinstance(params, dict):
        p = {k: float(_scalar(params, k)) for k in params}
        try:
            expect = _nir_params(model, p, n, c)
        except (KeyError, TypeError):
            expect = None
        fields = [f for f in ("tau_syn", "tau_mem", "r", "v_leak", "w_in", "v_threshold",
                              "v_reset") if hasattr(node, f)]
        if (expect is not None and type(expect) is type(node)
                and all(np.allclose(getattr(node, f), getattr(expect, f), rtol=_AGREE_RTOL,
                                    atol=0) for f in fields)):
            return model, p
        warnings.warn(f"node {name!r}: its NIR parameters no longer match its eventsim "
                      f"metadata (model {model!r}); using the NIR parameters", stacklevel=3)
    if (model_g == "lif_multispike" and bool(_scalar(meta, _FIRE_ONCE, False))
            and p_g["bias"] == 0.0):
        # Fire-once LIF: the first-spike model (its reset potential is never used).
        return "lif", {k: p_g[k] for k in ("tau_mem", "tau_syn", "theta", "g_leak")}
    return model_g, p_g


def _weights(name, node, n_pre, n_post):
    if isinstance(node, _nir.Affine):
        bias = np.asarray(node.bias, np.float64)
        if np.isnan(bias).any() or (bias != 0).any():
            raise ValueError(f"node {name!r}: an Affine node with a nonzero bias drives the "
                             f"synaptic current with a constant that switches on at t = 0, "
                             f"which eventsim has no form for; use a Linear node (a constant "
                             f"drive of a CubaLIF can go into its v_leak)")
    w = np.asarray(node.weight, np.float64)
    if w.shape != (n_post, n_pre):
        raise ValueError(f"node {name!r}: weight has shape {w.shape}, but it connects {n_pre} "
                         f"sources to {n_post} neurons (expected ({n_post}, {n_pre}))")
    if not np.isfinite(w).all():
        raise ValueError(f"node {name!r}: weight contains NaN or inf")
    return w


def from_nir(graph, *, time_scale=None) -> Network:
    """An eventsim Network from a NIR graph (or the path of a NIR file).

    Parameters
    ----------
    graph : nir.NIRGraph, str or path-like
    time_scale : float, optional
        NIR time per eventsim time unit (default: the value :func:`to_nir` stored in
        the graph's metadata, else 1).

    Returns
    -------
    Network
        Populations named after the nodes: ``Input`` nodes become inputs (pulses when
        their metadata says so), ``CubaLIF`` nodes LIF populations (the original model
        when eventsim's metadata is present and agrees with the node; otherwise
        multi-spike LIF, whose reset and repeated firing are NIR's semantics), ``CubaLI``
        nodes LI readouts.  ``Linear`` / ``Affine`` (zero bias) nodes and direct edges
        (one-to-one, weight 1) become synapses.

    Raises
    ------
    ValueError
        A graph eventsim cannot run: node types other than Input, Output, Linear,
        Affine, CubaLIF and CubaLI; nested graphs; edges other than source -> weights ->
        neurons (or source -> neurons, neuron -> Output); a CubaLI's potential used as
        a spike source; non-uniform parameters within a node; shape mismatches; NaN.
    """
    if isinstance(graph, (str, pathlib.PurePath)):
        graph = _nir.read(graph)
    if not isinstance(graph, _nir.NIRGraph):
        raise TypeError(f"from_nir needs a nir.NIRGraph or a file path, got {type(graph).__name__}")
    gmeta = _meta(graph)
    if time_scale is None:
        time_scale = _scalar(gmeta, _TIME_SCALE, 1.0)
    c = _check_time_scale(time_scale)

    nodes = dict(graph.nodes)
    edges = list(graph.edges)
    if _scalar(gmeta, _FORMAT) is not None:
        # NIR's type inference (NIRGraph(type_check=True), also in nir.read) adds an
        # Input node in front of every population without incoming synapses; in a
        # graph that eventsim wrote, every population node carries its block index,
        # so nodes without one were added that way and are dropped.
        added = {k for k, n in nodes.items()
                 if isinstance(n, _nir.Input) and _scalar(_meta(n), _BLOCK) is None}
        nodes = {k: n for k, n in nodes.items() if k not in added}
        edges = [(a, b) for a, b in edges if a not in added]
    weight_types = (_nir.Linear, _nir.Affine)
    neuron_types = (_nir.CubaLIF, _nir.CubaLI)
    for name, node in nodes.items():
        if isinstance(node, _nir.NIRGraph):
            raise ValueError(f"node {name!r} is a nested NIR graph; flatten it first")
        if not isinstance(node, (_nir.Input, _nir.Output) + weight_types + neuron_types):
            hint = {"LIF": " (a LIF without synaptic current: eventsim's neurons are "
                           "current-based, CubaLIF)",
                    "LI": " (a leaky integrator without synaptic current; use CubaLI)",
                    "Delay": " (put delays on eventsim synapses instead)"}
            raise ValueError(f"node {name!r} has type {type(node).__name__}, which eventsim "
                             f"cannot run{hint.get(type(node).__name__, '')}; supported: "
                             f"Input, Output, Linear, Affine, CubaLIF, CubaLI")
    for a, b in edges:
        for x in (a, b):
            if x not in nodes:
                raise ValueError(f"edge ({a!r}, {b!r}) names node {x!r}, which is not in the graph")
    incoming = {k: [] for k in nodes}
    outgoing = {k: [] for k in nodes}
    for a, b in edges:
        outgoing[a].append(b)
        incoming[b].append(a)

    # Populations, in the exported order when there is one, else the graph's.
    pop_names = [k for k, n in nodes.items() if isinstance(n, (_nir.Input,) + neuron_types)]
    position = {k: i for i, k in enumerate(nodes)}

    def rank(k):
        block = _scalar(_meta(nodes[k]), _BLOCK)
        return (0, int(block), position[k]) if block is not None else (1, position[k], 0)

    pop_names.sort(key=rank)
    net = Network()
    sizes = {}
    for name in pop_names:
        node = nodes[name]
        n = _size(name, node)
        sizes[name] = n
        meta = _meta(node)
        dale = meta.get(_DALE)
        dale = None if dale is None else np.asarray(dale).astype(np.int64).reshape(-1)
        if isinstance(node, _nir.Input):
            if _scalar(meta, _KIND) == "pulse":
                times = np.asarray(meta.get(_PULSES), np.float64).reshape(-1)
                if times.shape != (n,) or np.isnan(times).any():
                    raise ValueError(f"node {name!r}: eventsim_pulse_times must hold {n} "
                                     f"times without NaN")
                if dale is not None and dale.any():
                    raise ValueError(f"node {name!r}: pulses carry no Dale's-law sign")
                net.add_pulses(times / c, name=name)
            else:
                net.add_inputs(n, name=name, dale=dale)
            continue
        model, p = _node_params(name, node, n, c)
        try:
            net.add_population(n, model=model, name=name, dale=dale, **p)
        except ValueError as exc:
            raise ValueError(f"node {name!r}: eventsim cannot run these parameters: {exc}") from None

    # Synapses.
    is_source = {k: isinstance(nodes[k], (_nir.Input, _nir.CubaLIF)) for k in pop_names}
    groups = []          # (order key, pre name, post name, weight, delays, synapse ids)
    for name, node in nodes.items():
        if isinstance(node, _nir.Output):
            for src in incoming[name]:
                if not isinstance(nodes[src], neuron_types + (_nir.Input,)):
                    raise ValueError(f"edge ({src!r}, {name!r}): only neuron and Input nodes may "
                                     f"feed an Output node")
            continue
        if isinstance(node, weight_types):
            if len(incoming[name]) != 1:
                raise ValueError(f"node {name!r} ({type(node).__name__}) has {len(incoming[name])} "
                                 f"incoming edges; eventsim needs exactly one source population")
            src = incoming[name][0]
            if src not in is_source:
                raise ValueError(f"edge ({src!r}, {name!r}): a {type(node).__name__} node must be "
                                 f"fed by an Input or CubaLIF node, not {type(nodes[src]).__name__}")
            if not is_source[src]:
                raise ValueError(f"edge ({src!r}, {name!r}): a CubaLI node's output is a "
                                 f"continuous potential, not spikes; eventsim's LI readouts do "
                                 f"not drive other neurons")
            if not outgoing[name]:
                raise ValueError(f"node {name!r} ({type(node).__name__}) feeds nothing")
            meta = _meta(node)
            for dst in outgoing[name]:
                if not isinstance(nodes[dst], neuron_types):
                    raise ValueError(f"edge ({name!r}, {dst!r}): a {type(node).__name__} node must "
                                     f"feed CubaLIF or CubaLI nodes, not {type(nodes[dst]).__name__}")
                w = _weights(name, node, sizes[src], sizes[dst])
                d = meta.get(_DELAYS)
                d = np.zeros_like(w) if d is None else np.asarray(d, np.float64) / c
                if d.shape != w.shape or not np.isfinite(d).all() or (d < 0).any():
                    raise ValueError(f"node {name!r}: eventsim_delays must be finite, >= 0 and "
                                     f"of the weight's shape {w.shape}")
                syn = meta.get(_SYN_ID)
                syn = None if syn is None else np.asarray(syn, np.int64)
                if syn is not None and syn.shape != w.shape:
                    syn = None
                groups.append((src, dst, w, d, syn))
            continue
        # Neuron and Input nodes: direct edges to neurons are one-to-one, weight 1.
        for dst in outgoing[name]:
            if isinstance(nodes[dst], neuron_types):
                if not is_source.get(name, False):
                    raise ValueError(f"edge ({name!r}, {dst!r}): a CubaLI node's output is a "
                                     f"continuous potential, not spikes")
                if sizes[name] != sizes[dst]:
                    raise ValueError(f"edge ({name!r}, {dst!r}) connects {sizes[name]} to "
                                     f"{sizes[dst]} neurons directly; a direct edge is one-to-one "
                                     f"and needs equal sizes (or put a Linear node between)")
                groups.append((name, dst, np.eye(sizes[name]), np.zeros((sizes[name],) * 2), None))
            elif not isinstance(nodes[dst], (_nir.Output,) + weight_types):
                raise ValueError(f"edge ({name!r}, {dst!r}) is not supported")

    # With eventsim's synapse ids on every weight entry (an exported graph), the
    # synapses come back in their original order: the same synapse ids, so gradients
    # line up with the original network's.
    use_ids = bool(groups) and all(g[4] is not None for g in groups)
    pres, posts, ws, ds, ids = [], [], [], [], []
    for src, dst, w, d, syn in groups:
        sp, dp = net[src], net[dst]
        mask = (syn >= 0) if use_ids else (np.ones(w.shape, bool) if syn is None
                                           else (syn >= 0) | (w != 0))
        rows, cols = np.nonzero(mask)
        pres.append(sp.start + cols)
        posts.append(dp.start + rows)
        ws.append(w[rows, cols])
        ds.append(d[rows, cols])
        ids.append(syn[rows, cols] if use_ids else np.zeros(rows.size, np.int64))
    if pres:
        pre, post, w, d, sid = (np.concatenate(x) for x in (pres, posts, ws, ds, ids))
        if use_ids and np.array_equal(np.sort(sid), np.arange(sid.size)):
            order = np.argsort(sid, kind="stable")
            pre, post, w, d = pre[order], post[order], w[order], d[order]
        try:
            net.connect(pre, post, w, d)
        except ValueError as exc:
            raise ValueError(f"the graph's synapses are not valid in eventsim: {exc}") from None
    return net


# ------------------------------------------------------------------------------ spike data
def _as_spiketrains(spikes):
    if isinstance(spikes, SpikeTrains):
        return spikes
    return SpikeTrains.from_first_spikes(spikes)


def to_event_data(spikes, t_max, *, time_scale=1.0) -> "_nir.EventData":
    """NIR ``EventData`` of spike data.

    Parameters
    ----------
    spikes : SpikeTrains or array_like, shape (n_examples, n_channels)
        Spike trains, or first-spike times (``inf``: no spike).
    t_max : float
        End of the recording (eventsim time units); every spike must lie in
        ``[0, t_max]``.
    time_scale : float, default 1
        NIR time per eventsim time unit.

    Returns
    -------
    nir.EventData
        ``idx`` and ``time`` of shape ``(n_examples, max spikes of an example)``, each
        example's events in time order, padded with ``-1`` / ``inf``.
    """
    st = _as_spiketrains(spikes)
    c = _check_time_scale(time_scale)
    t_max = float(t_max)
    if not (np.isfinite(t_max) and t_max >= 0):
        raise ValueError(f"t_max must be finite and >= 0, got {t_max!r}")
    if st.n_spikes and (st.times.min() < 0 or st.times.max() > t_max):
        raise ValueError(f"spike times must lie in [0, t_max = {t_max}], got "
                         f"{st.times.min()!r} .. {st.times.max()!r}")
    counts = np.diff(st.offsets)
    width = int(counts.max()) if counts.size else 0
    idx = np.full((st.n_examples, width), -1, np.int64)
    time = np.full((st.n_examples, width), np.inf)
    example = np.repeat(np.arange(st.n_examples), counts)
    col = np.arange(st.n_spikes) - np.repeat(st.offsets[:-1], counts)
    idx[example, col] = st.index
    time[example, col] = st.times * c
    return _nir.EventData(idx=idx, time=time, n_neurons=st.n_channels, t_max=t_max * c)


def from_event_data(data, *, time_scale=1.0) -> SpikeTrains:
    """:class:`eventsim.SpikeTrains` of NIR ``EventData`` (times divided by
    ``time_scale``; padding entries, index ``-1`` with time ``inf``, are dropped).

    Raises
    ------
    ValueError
        Inconsistent padding, NaN or negative times, times after ``t_max``, indices
        outside ``0 .. n_neurons - 1``, or valued events (their values have no
        eventsim form).
    """
    if isinstance(data, _nir.ValuedEventData):
        raise ValueError("ValuedEventData carries a value per event, which eventsim spike "
                         "trains cannot hold; pass plain EventData")
    if isinstance(data, _nir.TimeGriddedData):
        raise ValueError("TimeGriddedData is on a time grid; convert it with "
                         "data.to_event(n_events) first")
    if not isinstance(data, _nir.EventData):
        raise TypeError(f"from_event_data needs nir.EventData, got {type(data).__name__}")
    c = _check_time_scale(time_scale)
    idx = np.asarray(data.idx)
    time = np.asarray(data.time, np.float64)
    if idx.ndim == 1:
        idx, time = idx[None, :], time[None, :]
    if idx.ndim != 2 or idx.shape != time.shape:
        raise ValueError(f"EventData idx and time must both have shape (n_samples, n_events), "
                         f"got {np.shape(data.idx)} and {np.shape(data.time)}")
    if idx.size and (idx.dtype.kind not in "iu" and not np.all(idx == np.round(idx))):
        raise ValueError("EventData idx must hold whole numbers")
    idx = idx.astype(np.int64)
    n = int(data.n_neurons)
    pad = idx == -1
    if (pad != np.isposinf(time)).any():
        raise ValueError("EventData padding must pair index -1 with time inf (one without the "
                         "other found)")
    real = ~pad
    if np.isnan(time).any():
        raise ValueError("EventData times contain NaN")
    t = time[real]
    if t.size and (t.min() < 0 or not np.isfinite(t).all()):
        raise ValueError("EventData times must be finite and >= 0")
    if t.size and t.max() > data.t_max:
        raise ValueError(f"EventData has an event at {t.max()!r}, after t_max = {data.t_max!r}")
    i = idx[real]
    if i.size and (i.min() < 0 or i.max() >= n):
        raise ValueError(f"EventData index {int(i[(i < 0) | (i >= n)][0])} is outside "
                         f"0 .. {n - 1}")
    example = np.nonzero(real)[0]
    return SpikeTrains.from_events(i, t / c, n, example=example, n_examples=idx.shape[0])
