"""Membrane potentials after a run, for plots and checks."""

from __future__ import annotations

import numpy as np

from .models import lookup
from .network import NEURON, Network, _real

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

    Alpha populations: :math:`V(t) = \\sum_{k:\\, a_k < \\min(t, t_{spike})} w_k
    (t - a_k) e^{-\\tau (t - a_k)}`; LIF populations use the kernel documented in
    :meth:`eventsim.Network.add_population` in place of the alpha kernel.
    """
    net._lower()            # checks every parameter, in-place edits included
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
    arrival = times[net.pre[syn]] + net.delays[syn]
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
