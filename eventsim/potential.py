"""Membrane potentials after a run, for plots and checks."""

from __future__ import annotations

import numpy as np

from . import models as _models
from .models import lookup
from .network import NEURON, POISSON, Network, _real
from .spiketrains import SpikeTrains

__all__ = ["membrane_potential", "kernel"]


def membrane_potential(net: Network, times, neuron, t) -> np.ndarray:
    """Membrane potential of ``neuron`` at times ``t``, given one example's spike times.

    Only the inputs the neuron integrated count: those arriving strictly before
    its own spike (a single-spike neuron ignores later inputs), so after the spike
    the trace shows the decay of what drove it.

    Parameters
    ----------
    net : Network
    times : array_like, shape (n_neurons,)
        Spike times of one example (a row of ``SimulationResult.times``).
    neuron : int
        A non-source neuron id.
    t : array_like
        Times at which to evaluate.

    Returns
    -------
    ndarray, shape of ``t``

    Raises
    ------
    ValueError
        ``t`` contains NaN, ``times`` has the wrong shape, ``neuron`` is not a
        neuron with a model, or a network parameter is invalid.

    Notes
    -----
    Alpha populations: :math:`V(t) = \\sum_{k:\\, a_k < \\min(t, t_{spike})} w_k
    (t - a_k) e^{-\\tau (t - a_k)}`; LIF populations use the kernel documented in
    :meth:`eventsim.Network.add_population` in place of the alpha kernel.

    Multi-spike LIF and LI neurons (spike-train networks): pass ``times`` as one
    example's :class:`eventsim.SpikeTrains` (``res.spikes.select([e])``).  The neuron's
    arrivals and its own spikes are replayed through the exact dynamics (reset,
    refractory clamp, bias; docs/math.md G.1); ``V`` is right-continuous, so it is
    ``v_reset`` at a spike.  Neurons driven by Poisson generators are refused: their
    arrivals are not recorded.
    """
    net._lower()            # checks every parameter, in-place edits included
    spec = None
    if 0 <= int(neuron) < net.n_neurons and net.kind[int(neuron)] == NEURON:
        spec = _models.REGISTRY[net.models[int(net.population_index[int(neuron)])]]
    if isinstance(times, SpikeTrains):
        if times.n_examples != 1 or times.n_channels != net.n_neurons:
            raise ValueError(f"times must be the spikes of one example over the network's "
                             f"{net.n_neurons} neurons (res.spikes.select([e])), got "
                             f"{times.n_examples} examples x {times.n_channels} channels")
        if spec is not None and not spec.first_spike:
            return _replayed_potential(net, times, int(neuron), t)
        times = times.first_spikes()[0]
    elif spec is not None and not spec.first_spike:
        raise ValueError(f"neuron {int(neuron)} is a {spec.name!r} neuron, which fires again and "
                         f"again: pass its example's spikes as a SpikeTrains "
                         f"(res.spikes.select([e])), not one time per neuron")
    times = np.asarray(_real("times", times), np.float64)
    if times.shape != (net.n_neurons,):
        raise ValueError(f"times must have shape ({net.n_neurons},), got {times.shape}")
    neuron = int(neuron)
    if not 0 <= neuron < net.n_neurons:
        raise ValueError(f"unknown neuron id {neuron}")
    if net.kind[neuron] != NEURON:
        raise ValueError(f"neuron {neuron} is a source; it has no membrane potential")
    params = net.population_params(int(net.population_index[neuron]))
    in_indptr, in_syn = net.incoming()
    syn = in_syn[in_indptr[neuron]:in_indptr[neuron + 1]]
    arrival = times[net.pre[syn]] + net._delay_view()[syn]
    keep = np.isfinite(arrival) & (arrival < times[neuron])
    a, w = arrival[keep], net.weights[syn][keep]
    t = np.asarray(_real("t", t), np.float64)
    if np.isnan(t).any():
        raise ValueError(f"t contains NaN (at index {np.argwhere(np.isnan(t))[0].tolist()})")
    s = t[..., None] - a
    with np.errstate(over="ignore", invalid="ignore"):
        contrib = np.where(s > 0, w * kernel(params, np.where(s > 0, s, 0.0)), 0.0)
    return contrib.sum(axis=-1)


def kernel(params: dict, s) -> np.ndarray:
    """The postsynaptic potential of a unit weight, ``s`` after its arrival (``s >= 0``).

    ``params`` is :meth:`eventsim.Network.population_params` of a population.
    """
    s = np.asarray(s, np.float64)
    return lookup(params["model"]).kernel(params, s)


def _replayed_potential(net, spikes, neuron, t):
    """V of a multi-spike LIF or LI neuron, replaying its arrivals and spikes."""
    t = np.asarray(_real("t", t), np.float64)
    if np.isnan(t).any():
        raise ValueError(f"t contains NaN (at index {np.argwhere(np.isnan(t))[0].tolist()})")
    pop = int(net.population_index[neuron])
    (_, tau_m, tau_s, g, theta, v_reset, t_ref, bias, v_init) = \
        _models.REGISTRY[net.models[pop]].spike_train(net._pop_params(pop))
    in_indptr, in_syn = net.incoming()
    syn = in_syn[in_indptr[neuron]:in_indptr[neuron + 1]]
    if (net.kind[net.pre[syn]] == POISSON).any():
        raise ValueError(f"neuron {neuron} is driven by a Poisson generator, whose spikes are not "
                         f"recorded: its membrane potential cannot be replayed")
    trains = spikes.trains(0)
    pre, delays = net.pre, net._delay_view()
    arr_t, arr_w = [], []
    for k in syn:
        tp = trains[pre[k]]
        if tp.size:
            arr_t.append(tp + delays[k])
            arr_w.append(np.full(tp.size, net.weights[k] / g))
    a = np.concatenate(arr_t) if arr_t else np.zeros(0)
    w = np.concatenate(arr_w) if arr_w else np.zeros(0)
    own = trains[neuron]
    # Events in time order; at equal times arrivals first, then the spike (the
    # engine's order), then a release.
    ev_t = np.concatenate([a, own, own + t_ref if np.isfinite(t_ref) else np.zeros(0)])
    ev_k = np.concatenate([np.zeros(a.size, int), np.ones(own.size, int),
                           np.full(own.size if np.isfinite(t_ref) else 0, 2, int)])
    ev_w = np.concatenate([w, np.zeros(ev_t.size - w.size)])
    order = np.lexsort((ev_k, ev_t))
    b = bias / g
    near = abs(tau_m - tau_s) < 0.05 * tau_m

    def flow(V, J, s, free):
        es = np.exp(-s / tau_s)
        if not free:
            return V, J * es
        em = np.exp(-s / tau_m)
        if near:
            x = s * (1.0 / tau_m - 1.0 / tau_s)
            k = s / tau_m * (np.expm1(x) / x if x != 0.0 else 1.0) * em
        else:
            k = tau_s / (tau_m - tau_s) * (em - es)
        return b + (V - b) * em + J * k, J * es

    flat = t.reshape(-1)
    out = np.empty(flat.size)
    q_order = np.argsort(flat, kind="stable")
    V, J, t0, free, i = v_init, 0.0, 0.0, True, 0
    for q in q_order:
        tq = flat[q]
        while i < order.size and ev_t[order[i]] <= tq:
            e = order[i]
            V, J = flow(V, J, ev_t[e] - t0, free)
            t0 = ev_t[e]
            if ev_k[e] == 0:
                J += ev_w[e]
            elif ev_k[e] == 1:
                V = v_reset
                free = t_ref == 0.0
            else:
                V, free = v_reset, True
            i += 1
        if tq < 0:
            out[q] = np.nan
            continue
        Vq, _ = flow(V, J, tq - t0, free)
        out[q] = Vq
    return out.reshape(t.shape)

