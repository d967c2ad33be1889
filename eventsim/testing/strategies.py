"""Hypothesis strategies for eventsim networks and inputs.

Every function returns a hypothesis strategy; arguments are keyword-only and
validated eagerly (a bad argument raises :class:`ValueError` when the strategy is
built, not when it is drawn from).  For example:

>>> from hypothesis import given
>>> from eventsim.testing import strategies as es
>>> @given(es.networks(max_neurons=4), es.data())       # doctest: +SKIP
... def test_something(net, data):
...     x = data.draw(es.input_times(net))
...     ...

Weights are drawn relative to the target population: a weight ``u`` in
``weights`` becomes ``u * theta / peak``, with ``peak`` the maximum of the target's
PSP kernel, so ``u = 1`` is the weight at which a single input alone exactly
touches the threshold.  For alpha neurons the peak of ``s exp(-tau s)`` is
``1 / (e tau)`` (a weight ``u e tau theta``); for LIF neurons (``models`` with
``"lif"``) it is the maximum of ``tau_s / (g_l (tau_m - tau_s)) (e^{-s/tau_m} -
e^{-s/tau_s})``, at ``s = tau_m tau_s ln(tau_m / tau_s) / (tau_m - tau_s)`` (``s =
tau`` and ``1 / (e g_l)`` for equal time constants).  Ranges around 1 therefore
give networks in which some neurons spike and some do not.
"""

from __future__ import annotations

import math
import numbers
from types import SimpleNamespace

import numpy as np

try:
    import hypothesis.strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "eventsim.testing.strategies requires the hypothesis package; install it with "
        "`pip install eventsim[testing]` (or `pip install hypothesis`)") from exc

__all__ = ["networks", "feedforward_networks", "input_times", "pulse_times", "data"]

#: Re-exported for convenience: ``st.data()``.
data = st.data


# --------------------------------------------------------------------------- validation
def _check_int(name, value, minimum=0):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_bounds(min_name, min_value, max_name, max_value, minimum=0):
    lo = _check_int(min_name, min_value, minimum)
    hi = _check_int(max_name, max_value, minimum)
    if lo > hi:
        raise ValueError(f"{min_name}={lo} must be <= {max_name}={hi}")
    return lo, hi


def _check_range(name, value, *, positive=False, nonneg=False):
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a (low, high) pair of numbers, got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if lo > hi:
        raise ValueError(f"{name}: low={lo} must be <= high={hi}")
    if positive and lo <= 0:
        raise ValueError(f"{name} must be > 0, got low={lo}")
    if nonneg and lo < 0:
        raise ValueError(f"{name} must be >= 0, got low={lo}")
    return lo, hi


def _check_float(name, value, *, positive=False, nonneg=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    if nonneg and value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return float(value)


def _grid(lo, hi, step):
    n = int(math.floor((hi - lo) / step + 1e-9))
    return [lo + i * step for i in range(n + 1)]


def _floats(lo, hi):
    if lo == hi:
        return st.just(lo)
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def _time_strategy(lo, hi, resolution, coincident):
    """Times in [lo, hi]: from a grid (ties likely) or continuous."""
    if coincident:
        return st.sampled_from(_grid(lo, hi, resolution))
    return _floats(lo, hi)


@st.composite
def _arrays_of(draw, rows, n_cols, elements):
    """A float array with a drawn number of rows (1-D when ``n_cols`` is None)."""
    m = draw(rows)
    shape = (m,) if n_cols is None else (m, n_cols)
    return draw(hnp.arrays(np.float64, shape, elements=elements, fill=st.nothing()))


# --------------------------------------------------------------------------- networks
def _net_class():
    from eventsim.network import Network

    return Network


def _check_common(max_delay, resolution, density, tau, theta, weights, pulse_range):
    """Validate the arguments that the network strategies share."""
    max_delay = _check_float("max_delay", max_delay, nonneg=True)
    resolution = _check_float("resolution", resolution, positive=True)
    dens = _check_range("density", density)
    if not (0 <= dens[0] and dens[1] <= 1):
        raise ValueError(f"density must lie in [0, 1], got {density!r}")
    return (max_delay, resolution, dens, _check_range("tau", tau, positive=True),
            _check_range("theta", theta, positive=True), _check_range("weights", weights),
            _check_range("pulse_range", pulse_range))


#: Default ratios ``tau_mem / tau_syn`` drawn for LIF populations: the three solver
#: paths (equal time constants, ``tau_mem = 2 tau_syn``, any other ratio).
LIF_RATIOS = (1.0, 2.0, 0.3, 0.7, 1.5, 3.0)
_MODELS = ("alpha", "lif")


def _check_models(models, tau_syn, g_leak, tau_ratios, continuous_ratios):
    """Validate the model arguments; returns ``None`` for alpha-only networks (then
    nothing extra is drawn) or a namespace of LIF strategies."""
    if isinstance(models, str):
        models = (models,)
    try:
        models = tuple(models)
    except TypeError:
        raise ValueError(f"models must be a sequence of model names, got {models!r}") from None
    if not models or any(m not in _MODELS for m in models):
        raise ValueError(f"models must be a non-empty sequence from {_MODELS}, got {models!r}")
    ts_r = _check_range("tau_syn", tau_syn, positive=True)
    g_r = _check_range("g_leak", g_leak, positive=True)
    try:
        ratios = tuple(float(r) for r in tau_ratios)
    except (TypeError, ValueError):
        raise ValueError(f"tau_ratios must be a sequence of numbers, got {tau_ratios!r}") from None
    for r in ratios:
        if not (math.isfinite(r) and r > 0):
            raise ValueError(f"tau_ratios must be finite and > 0, got {r!r}")
        if r != 1.0 and abs(1.0 / r - 1.0) < 1e-3:
            raise ValueError(f"tau_ratio {r!r} is within 1e-3 of 1 (refused by the network)")
    if continuous_ratios is not None:
        cr = _check_range("continuous_ratios", continuous_ratios, positive=True)
    if not ratios and continuous_ratios is None:
        raise ValueError("give tau_ratios or continuous_ratios")
    if models == ("alpha",):
        return None
    ratio_st = []
    if ratios:
        ratio_st.append(st.sampled_from(ratios))
    if continuous_ratios is not None:
        # Ratios within 1e-2 of 1 are left out (the network refuses those within 1e-3).
        ratio_st.append(_floats(*cr).filter(lambda r: abs(1.0 / r - 1.0) >= 1e-2))
    return SimpleNamespace(models=models, model_st=st.sampled_from(models),
                           tau_syn_st=_floats(*ts_r), g_leak_st=_floats(*g_r),
                           ratio_st=st.one_of(*ratio_st))


def _lif_peak(tau_mem, tau_syn, g_leak):
    """Maximum of the LIF kernel ``tau_s/(g_l(tau_m - tau_s))(e^{-s/tau_m} - e^{-s/tau_s})``."""
    if tau_mem == tau_syn:
        return 1.0 / (math.e * g_leak)
    s = tau_mem * tau_syn * math.log(tau_mem / tau_syn) / (tau_mem - tau_syn)
    return tau_syn / (g_leak * (tau_mem - tau_syn)) * (math.exp(-s / tau_mem)
                                                       - math.exp(-s / tau_syn))


def _add_neurons(draw, net, size, name, c):
    """Add a population whose model is drawn from ``c.lif.models`` (alpha only if
    ``c.lif`` is None: then the draws are exactly those of the alpha-only strategy)."""
    if c.lif is None:
        return net.add_population(size, tau=draw(c.tau_st), theta=draw(c.theta_st), name=name)
    model = draw(c.lif.model_st)
    if model == "alpha":
        return net.add_population(size, model="alpha", tau=draw(c.tau_st),
                                  theta=draw(c.theta_st), name=name)
    tau_syn = draw(c.lif.tau_syn_st)
    ratio = draw(c.lif.ratio_st)
    # ratio 1 and 2 give tau_mem == tau_syn and tau_mem == 2 * tau_syn exactly
    tau_mem = tau_syn if ratio == 1.0 else ratio * tau_syn
    return net.add_population(size, model="lif", tau_mem=tau_mem, tau_syn=tau_syn,
                              g_leak=draw(c.lif.g_leak_st), theta=draw(c.theta_st), name=name)


def _weight_units(net, pops):
    """Per neuron ``(tau, theta)`` arrays such that ``u * e * tau * theta`` is weight
    ``u`` in units of "one input alone touches threshold" (alpha: the decay rate;
    LIF: ``1 / (e peak)``)."""
    n = net.n_neurons
    tau_n = np.zeros(n)
    theta_n = np.zeros(n)
    for p in pops:
        if p.kind == "lif":
            prm = net.population_params(p.index)
            tau_n[p.start:p.stop] = 1.0 / (math.e * _lif_peak(prm["tau_mem"], prm["tau_syn"],
                                                              prm["g_leak"]))
        else:
            tau_n[p.start:p.stop] = net.tau[p.index]
        theta_n[p.start:p.stop] = net.theta[p.index]
    return tau_n, theta_n


def _check_flags(**flags):
    for name, flag in flags.items():
        if not isinstance(flag, bool):
            raise ValueError(f"{name} must be True or False, got {flag!r}")


def _delay_strategy(max_delay, resolution):
    if max_delay == 0:
        return st.just(0.0)
    return st.one_of(st.just(0.0), st.sampled_from(_grid(0.0, max_delay, resolution)),
                     _floats(0.0, max_delay))


def _connect(draw, net, pre_ids, post_ids, *, density, weights, delay_st, multi, tau, theta,
             allowed):
    """Draw synapses pre -> post, each with probability ``density`` (where ``allowed``);
    ``weights`` and ``delay_st`` are element strategies."""
    pre_ids = np.asarray(pre_ids, np.int64)
    post_ids = np.asarray(post_ids, np.int64)
    if pre_ids.size == 0 or post_ids.size == 0:
        return
    ok = np.array([[allowed(i, j) for j in post_ids] for i in pre_ids], bool).reshape(
        pre_ids.size, post_ids.size)
    # The connectivity pattern comes from a drawn seed (one draw instead of one per
    # pair keeps generation fast); hypothesis shrinks it through `density` and the seed.
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    mask = (rng.random(ok.shape) < density) & ok
    r, c = np.nonzero(mask)
    pre, post = pre_ids[r], post_ids[c]
    if multi and pre.size:
        dup = rng.random(pre.size) < 0.1
        pre = np.concatenate([pre, pre[dup]])
        post = np.concatenate([post, post[dup]])
    m = pre.size
    if m == 0:
        return
    u = draw(hnp.arrays(np.float64, m, elements=weights, fill=st.nothing()))
    d = draw(hnp.arrays(np.float64, m, elements=delay_st, fill=st.nothing()))
    w = u * np.e * tau[post] * theta[post]
    net.connect(pre, post, w, d)


def _always(i, j):
    return True


@st.composite
def _networks_impl(draw, c):
    Network = _net_class()
    n_alpha = draw(st.integers(c.min_neurons, c.max_neurons))
    n_in = draw(st.integers(c.min_inputs, c.max_inputs))
    n_pulse = draw(st.integers(c.min_pulses, c.max_pulses))
    n_pops = draw(st.integers(1, max(1, min(c.max_populations, n_alpha))))
    # split n_alpha into n_pops non-empty sizes (or one empty population)
    cuts = sorted(draw(st.lists(st.integers(1, max(1, n_alpha - 1)), min_size=n_pops - 1,
                                max_size=n_pops - 1, unique=True))) if n_alpha > 1 else []
    bounds = [0, *cuts, n_alpha]
    sizes = [b - a for a, b in zip(bounds[:-1], bounds[1:])]
    blocks = [("input", n_in), ("pulse", n_pulse)] + [("alpha", s) for s in sizes]
    order = draw(st.permutations(range(len(blocks))))
    net = Network()
    pops = {}
    for b in order:
        kind, size = blocks[b]
        if kind == "input":
            pops[b] = net.add_inputs(size, name="x")
        elif kind == "pulse":
            times = [draw(c.pulse_st) for _ in range(size)]
            pops[b] = net.add_pulses(np.array(times, np.float64), name="p")
        else:
            pops[b] = _add_neurons(draw, net, size, f"h{b - 2}", c)
    tau_n, theta_n = _weight_units(net, [pops[b] for b in range(2, len(blocks))])
    alpha_ids = []
    for b in range(2, len(blocks)):
        alpha_ids.extend(range(pops[b].start, pops[b].stop))
    source_ids = list(pops[0].ids) + list(pops[1].ids)
    rank = {j: r for r, j in enumerate(alpha_ids)}
    dens_val = draw(c.dens_st)

    def allowed(i, j):
        if i not in rank:  # source
            return True
        if i == j:
            return c.recurrent and c.self_connections
        return c.recurrent or rank[i] < rank[j]

    _connect(draw, net, source_ids + alpha_ids, alpha_ids, density=dens_val, weights=c.w_st,
             delay_st=c.delay_st, multi=c.multi_synapses, tau=tau_n, theta=theta_n, allowed=allowed)
    return net


def networks(*, min_neurons=1, max_neurons=8, min_inputs=1, max_inputs=4, min_pulses=0,
             max_pulses=2, max_populations=2, recurrent=True, self_connections=True,
             delays=True, max_delay=2.0, multi_synapses=True, density=(0.3, 1.0),
             tau=(0.5, 2.0), theta=(0.5, 2.0), weights=(-1.0, 2.5), pulse_range=(0.0, 2.0),
             silent_pulses=True, resolution=0.25, models=("alpha",), tau_syn=(0.5, 2.0),
             g_leak=(0.5, 2.0), tau_ratios=LIF_RATIOS, continuous_ratios=None):
    """Strategy for random :class:`eventsim.Network` graphs of alpha (and LIF) neurons.

    Requires the hypothesis package to be installed.

    The network has ``min_inputs..max_inputs`` inputs, ``min_pulses..max_pulses``
    pulses and ``min_neurons..max_neurons`` alpha neurons split into
    ``1..max_populations`` populations (each with its own ``tau`` and ``theta``;
    with ``models=("alpha", "lif")`` each population's model is drawn too).
    Blocks are added in a random order, so neuron ids of every kind can come first.
    Each possible synapse exists with a probability drawn from ``density``.

    Parameters
    ----------
    min_neurons, max_neurons : int
        Number of alpha neurons.
    min_inputs, max_inputs : int
        Number of input neurons.
    min_pulses, max_pulses : int
        Number of synchronisation pulses.
    max_populations : int
        Alpha neurons are split into at most this many populations (>= 1).
    recurrent : bool
        If False, alpha-to-alpha synapses only go from lower to higher ids (a DAG).
    self_connections : bool
        Allow ``n -> n`` synapses (only with ``recurrent=True``).
    delays : bool
        Draw delays in ``[0, max_delay]`` (zero, on the ``resolution`` grid, or
        continuous); otherwise every delay is 0.
    max_delay : float
    multi_synapses : bool
        Occasionally add a second, parallel synapse between the same pair.
    density : (float, float)
        Range of the connection probability.
    tau, theta : (float, float)
        Ranges (> 0) of the decay rate and threshold of each population.
    weights : (float, float)
        Range of weights in units of ``theta / peak`` of the target population,
        ``peak`` the maximum of its kernel (``e * tau * theta`` for alpha; 1 = a
        single input alone exactly reaches threshold).
    pulse_range : (float, float)
        Pulse times are drawn from the ``resolution`` grid in this range.
    silent_pulses : bool
        Allow pulses at ``inf`` (never firing).
    resolution : float
        Grid step for pulse times and grid delays (> 0).
    models : sequence of {"alpha", "lif"}
        Each population's model is drawn from these.  The default ``("alpha",)``
        draws exactly what earlier versions drew.
    tau_syn, g_leak : (float, float)
        Ranges (> 0) of an LIF population's synaptic time constant and leak.
    tau_ratios : sequence of float
        Ratios ``tau_mem / tau_syn`` of LIF populations, drawn uniformly; ``1`` and
        ``2`` give exactly equal time constants and exactly ``tau_mem = 2
        tau_syn`` (the closed-form solver paths).
    continuous_ratios : (float, float), optional
        Also draw continuous ratios from this range (those within 1e-2 of 1 are
        left out).

    Returns
    -------
    hypothesis.strategies.SearchStrategy[eventsim.Network]
    """
    min_neurons, max_neurons = _check_bounds("min_neurons", min_neurons, "max_neurons", max_neurons)
    min_inputs, max_inputs = _check_bounds("min_inputs", min_inputs, "max_inputs", max_inputs)
    min_pulses, max_pulses = _check_bounds("min_pulses", min_pulses, "max_pulses", max_pulses)
    max_populations = _check_int("max_populations", max_populations, 1)
    max_delay, resolution, dens, tau_r, theta_r, w_r, p_r = _check_common(
        max_delay, resolution, density, tau, theta, weights, pulse_range)
    _check_flags(recurrent=recurrent, self_connections=self_connections, delays=delays,
                 multi_synapses=multi_synapses, silent_pulses=silent_pulses)
    delay_st = _delay_strategy(max_delay if delays else 0.0, resolution)
    w_st, tau_st, theta_st, dens_st = (_floats(*r) for r in (w_r, tau_r, theta_r, dens))
    pulse_st = st.sampled_from(_grid(p_r[0], p_r[1], resolution))
    if silent_pulses:
        pulse_st = st.one_of(pulse_st, st.just(math.inf))
    lif = _check_models(models, tau_syn, g_leak, tau_ratios, continuous_ratios)

    return _networks_impl(SimpleNamespace(
        min_neurons=min_neurons, max_neurons=max_neurons, min_inputs=min_inputs,
        max_inputs=max_inputs, min_pulses=min_pulses, max_pulses=max_pulses,
        max_populations=max_populations, pulse_st=pulse_st, tau_st=tau_st, theta_st=theta_st,
        dens_st=dens_st, recurrent=recurrent, self_connections=self_connections, w_st=w_st,
        delay_st=delay_st, multi_synapses=multi_synapses, lif=lif))


@st.composite
def _feedforward_impl(draw, c):
    Network = _net_class()
    n_layers = draw(st.integers(c.min_layers, c.max_layers))
    net = Network()
    layers = [net.add_inputs(draw(st.integers(c.min_inputs, c.max_inputs)), name="input")]
    pulses = []
    for k in range(n_layers):
        n_p = draw(st.integers(0, c.max_pulses))
        pulses.append(net.add_pulses([draw(c.pulse_st) for _ in range(n_p)], name=f"pulses{k}"))
        name = "output" if k == n_layers - 1 else f"layer{k}"
        layers.append(_add_neurons(draw, net, draw(st.integers(c.min_width, c.max_width)),
                                   name, c))
    tau_n, theta_n = _weight_units(net, layers[1:])
    dens_val = draw(c.dens_st)
    for k in range(1, n_layers + 1):
        pre = list(pulses[k - 1].ids)
        srcs = layers[:k] if c.skip_connections else [layers[k - 1]]
        for lay in srcs:
            pre.extend(lay.ids)
        _connect(draw, net, pre, list(layers[k].ids), density=dens_val, weights=c.w_st,
                 delay_st=c.delay_st, multi=False, tau=tau_n, theta=theta_n,
                 allowed=_always)
    return net


def feedforward_networks(*, min_layers=1, max_layers=3, min_width=1, max_width=4, min_inputs=1,
                         max_inputs=4, max_pulses=2, skip_connections=False, delays=False,
                         max_delay=2.0, density=(0.6, 1.0), tau=(0.5, 2.0), theta=(0.5, 2.0),
                         weights=(-0.5, 2.0), pulse_range=(0.0, 2.0), resolution=0.25,
                         models=("alpha",), tau_syn=(0.5, 2.0), g_leak=(0.5, 2.0),
                         tau_ratios=LIF_RATIOS, continuous_ratios=None):
    """Strategy for layered feed-forward :class:`eventsim.Network` graphs.

    Requires the hypothesis package to be installed.

    Inputs (one block) feed ``min_layers..max_layers`` layers of
    ``min_width..max_width`` alpha neurons, each layer its own population (own
    ``tau`` and ``theta``; with ``models=("alpha", "lif")`` its own model too) with
    its own ``0..max_pulses`` synchronisation pulses.
    The last layer is named ``"output"``, the others ``"layer0"``, ``"layer1"``, ...

    Parameters
    ----------
    min_layers, max_layers : int
        Number of alpha layers (>= 1).
    min_width, max_width : int
        Neurons per layer (>= 1).
    min_inputs, max_inputs : int
        Number of inputs (>= 1).
    max_pulses : int
        Pulses per layer.
    skip_connections : bool
        Also connect every earlier layer (inputs included) to each layer.
    delays : bool
        Draw delays in ``[0, max_delay]``; otherwise all delays are 0.
    max_delay : float
    density : (float, float)
        Range of the connection probability between consecutive layers.
    tau, theta : (float, float)
        Ranges (> 0) of each layer's decay rate and threshold.
    weights : (float, float)
        Weights in units of ``theta / peak`` of the target layer (``e * tau *
        theta`` for alpha).
    pulse_range : (float, float)
        Pulse times are drawn from the ``resolution`` grid in this range.
    resolution : float
        Grid step for pulse times and delays.
    models : sequence of {"alpha", "lif"}
        Each population's model is drawn from these.  The default ``("alpha",)``
        draws exactly what earlier versions drew.
    tau_syn, g_leak : (float, float)
        Ranges (> 0) of an LIF population's synaptic time constant and leak.
    tau_ratios : sequence of float
        Ratios ``tau_mem / tau_syn`` of LIF populations, drawn uniformly; ``1`` and
        ``2`` give exactly equal time constants and exactly ``tau_mem = 2
        tau_syn`` (the closed-form solver paths).
    continuous_ratios : (float, float), optional
        Also draw continuous ratios from this range (those within 1e-2 of 1 are
        left out).

    Returns
    -------
    hypothesis.strategies.SearchStrategy[eventsim.Network]
    """
    min_layers, max_layers = _check_bounds("min_layers", min_layers, "max_layers", max_layers, 1)
    min_width, max_width = _check_bounds("min_width", min_width, "max_width", max_width, 1)
    min_inputs, max_inputs = _check_bounds("min_inputs", min_inputs, "max_inputs", max_inputs, 1)
    max_pulses = _check_int("max_pulses", max_pulses)
    max_delay, resolution, dens, tau_r, theta_r, w_r, p_r = _check_common(
        max_delay, resolution, density, tau, theta, weights, pulse_range)
    _check_flags(skip_connections=skip_connections, delays=delays)
    delay_st = _delay_strategy(max_delay if delays else 0.0, resolution)
    w_st, tau_st, theta_st, dens_st = (_floats(*r) for r in (w_r, tau_r, theta_r, dens))
    pulse_st = st.sampled_from(_grid(p_r[0], p_r[1], resolution))
    lif = _check_models(models, tau_syn, g_leak, tau_ratios, continuous_ratios)

    return _feedforward_impl(SimpleNamespace(
        min_layers=min_layers, max_layers=max_layers, min_width=min_width, max_width=max_width,
        min_inputs=min_inputs, max_inputs=max_inputs, max_pulses=max_pulses,
        skip_connections=skip_connections, pulse_st=pulse_st, tau_st=tau_st, theta_st=theta_st,
        dens_st=dens_st, w_st=w_st, delay_st=delay_st, lif=lif))


def input_times(net, *, n_examples=None, min_examples=1, max_examples=4, min_time=0.0,
                max_time=2.0, resolution=0.25, allow_silent=True, coincident=True):
    """Strategy for an ``(n_examples, net.n_inputs)`` array of input spike times.

    Requires the hypothesis package to be installed.

    Parameters
    ----------
    net : eventsim.Network
        Only ``net.n_inputs`` is used.
    n_examples : int, optional
        Fixed number of examples (rows); by default drawn from
        ``min_examples..max_examples``.
    min_examples, max_examples : int
    min_time, max_time : float
        Range of the finite times.
    resolution : float
        Grid step used when ``coincident`` is True.
    allow_silent : bool
        Some inputs may be ``inf`` (no spike).
    coincident : bool
        Draw times from the grid ``min_time, min_time + resolution, ...`` so that
        several inputs often spike at exactly the same time; otherwise draw
        continuous floats.

    Returns
    -------
    hypothesis.strategies.SearchStrategy[numpy.ndarray]
    """
    n_inputs = getattr(net, "n_inputs", None)
    if n_inputs is None:
        raise ValueError(f"net must be an eventsim.Network, got {type(net).__name__}")
    if n_examples is not None:
        n_examples = _check_int("n_examples", n_examples, 1)
    min_examples, max_examples = _check_bounds("min_examples", min_examples, "max_examples",
                                               max_examples, 1)
    t_r = _check_range("(min_time, max_time)", (min_time, max_time))
    resolution = _check_float("resolution", resolution, positive=True)
    for name, flag in [("allow_silent", allow_silent), ("coincident", coincident)]:
        if not isinstance(flag, bool):
            raise ValueError(f"{name} must be True or False, got {flag!r}")
    elem = _time_strategy(t_r[0], t_r[1], resolution, coincident)
    if allow_silent:
        elem = st.one_of(elem, st.just(math.inf))
    if n_examples is not None:
        rows = st.just(n_examples)
    else:
        rows = st.integers(min_examples, max_examples)
    return _arrays_of(rows, n_inputs, elem)


def pulse_times(*, min_size=0, max_size=4, min_time=0.0, max_time=2.0, resolution=0.25,
                allow_silent=False, coincident=True):
    """Strategy for a 1-D array of pulse times (for :meth:`eventsim.Network.add_pulses`).

    Requires the hypothesis package to be installed.

    Parameters
    ----------
    min_size, max_size : int
        Number of pulses.
    min_time, max_time : float
        Range of the finite times.
    resolution : float
        Grid step when ``coincident`` is True.
    allow_silent : bool
        Some pulses may be ``inf``.
    coincident : bool
        Draw from the grid (ties likely) instead of continuous floats.

    Returns
    -------
    hypothesis.strategies.SearchStrategy[numpy.ndarray]
    """
    min_size, max_size = _check_bounds("min_size", min_size, "max_size", max_size)
    t_r = _check_range("(min_time, max_time)", (min_time, max_time))
    resolution = _check_float("resolution", resolution, positive=True)
    elem = _time_strategy(t_r[0], t_r[1], resolution, bool(coincident))
    if allow_silent:
        elem = st.one_of(elem, st.just(math.inf))
    return _arrays_of(st.integers(min_size, max_size), None, elem)
