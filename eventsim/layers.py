"""Builders for common graphs: feed-forward layers with synchronisation pulses, and
deep excitatory/inhibitory (Dale's law) networks."""

from __future__ import annotations

import numpy as np

from .network import Network

__all__ = ["feedforward", "glorot_weights", "dale_network"]


def glorot_weights(fan_in, fan_out, *, multiplier=0.0, rng=None, size=None):
    """The modified Glorot initialisation of Comsa et al. (section 2.5).

    Normal with ``std = sqrt(2 / (fan_in + fan_out))`` and ``mean = multiplier * std``.

    Parameters
    ----------
    fan_in, fan_out : int
        Fan-in and fan-out of the layer (pulses count in the fan-in).
    multiplier : float
        Mean in units of the standard deviation (0: the original Glorot scheme).
    rng : numpy.random.Generator or int, optional
    size : tuple, optional
        Shape of the sample (default ``(fan_in, fan_out)``).
    """
    rng = np.random.default_rng(rng)
    std = np.sqrt(2.0 / (fan_in + fan_out))
    return rng.normal(multiplier * std, std, size=(fan_in, fan_out) if size is None else size)


def feedforward(n_inputs, hidden, n_outputs, *, n_pulses=0, pulses="per_layer", tau=1.0,
                theta=1.0, pulse_init_multiplier=0.0, nonpulse_init_multiplier=0.0,
                delays=0.0, rng=None, model="alpha", params=None) -> Network:
    """A fully connected layered network, optionally with pulses.

    Populations are named ``"input"``, ``"hidden0"``, ``"hidden1"``, ...,
    ``"output"``; pulses ``"pulses"`` (one set for the network) or ``"pulses0"``,
    ``"pulses1"``, ... (one set per non-input layer).  Pulse times start evenly
    spaced in (0, 1): ``(i + 1) / (n_pulses + 1)``.  Weights use the modified
    Glorot scheme of :func:`glorot_weights`, with the pulses counted in the fan-in.

    Parameters
    ----------
    n_inputs : int
    hidden : sequence of int
        Hidden layer sizes (may be empty).
    n_outputs : int
    n_pulses : int, default 0
        Pulses per set.
    pulses : {"per_layer", "per_network"}
        One set of pulses per non-input layer, or one set connected to all
        non-input neurons.
    tau, theta : float
        Decay rate and threshold of every layer (alpha neurons).
    model : {"alpha", "lif"}, default "alpha"
        Neuron model of every layer.
    params : dict, optional
        Model parameters for ``model="lif"`` (``tau_mem``, ``tau_syn``, ``theta``,
        ``g_leak``; see :meth:`Network.add_population`).
    pulse_init_multiplier, nonpulse_init_multiplier : float
        Mean of the initial weights in standard deviations, for pulse and
        non-pulse synapses.
    delays : float
        Delay of every synapse.
    rng : numpy.random.Generator or int, optional

    Returns
    -------
    Network
    """
    if pulses not in ("per_layer", "per_network"):
        raise ValueError(f"pulses must be 'per_layer' or 'per_network', got {pulses!r}")
    if n_pulses < 0:
        raise ValueError(f"n_pulses must be >= 0, got {n_pulses}")
    rng = np.random.default_rng(rng)
    sizes = [int(n_inputs), *[int(h) for h in hidden], int(n_outputs)]
    if min(sizes) < 1:
        raise ValueError(f"layer sizes must be >= 1, got {sizes}")
    net = Network()
    layers = [net.add_inputs(sizes[0], name="input")]
    spacing = np.arange(1, n_pulses + 1) / (n_pulses + 1)
    pulse_sets = []
    if n_pulses and pulses == "per_network":
        pulse_sets = [net.add_pulses(spacing, name="pulses")] * (len(sizes) - 1)
    for i, size in enumerate(sizes[1:]):
        if n_pulses and pulses == "per_layer":
            pulse_sets.append(net.add_pulses(spacing, name=f"pulses{i}"))
        name = "output" if i == len(sizes) - 2 else f"hidden{i}"
        if model == "alpha":
            if params:
                raise ValueError("alpha layers take tau and theta, not params")
            layers.append(net.add_population(size, tau=tau, theta=theta, name=name))
        else:
            layers.append(net.add_population(size, model=model, name=name, **(params or {})))
    for i in range(1, len(sizes)):
        fan_in, fan_out = sizes[i - 1] + n_pulses, sizes[i]
        w = glorot_weights(fan_in, fan_out, multiplier=nonpulse_init_multiplier, rng=rng,
                           size=(sizes[i - 1], sizes[i]))
        net.connect_dense(layers[i - 1], layers[i], w, delays)
        if n_pulses:
            wp = glorot_weights(fan_in, fan_out, multiplier=pulse_init_multiplier, rng=rng,
                                size=(n_pulses, sizes[i]))
            net.connect_dense(pulse_sets[i - 1], layers[i], wp, delays)
    return net


def dale_network(n_inputs, n_outputs, *, n_layers=3, n_excitatory=300, n_inhibitory=100,
                 model="lif", params=None, weight_scale=1.0, inhibition=0.5,
                 input_multiplier=1.0, input_dale=None, n_pulses=0, rng=None) -> Network:
    """A deep feed-forward network obeying Dale's law (the E/I networks of
    Oberste-Frielinghaus et al. 2025, docs/references.md).

    Layers: ``"input"`` -> ``"hidden0"`` -> ... -> ``"hidden{L-1}"`` -> ``"output"``,
    fully connected between consecutive layers.  Each hidden layer is one population
    whose first ``n_excitatory`` neurons are excitatory (outgoing weights >= 0) and
    last ``n_inhibitory`` inhibitory (<= 0); see ``Network.neuron_sign``.  One
    population per layer keeps the engine's vectorised layer path.

    Initialisation (seeded by ``rng``): with ``sd = weight_scale * sqrt(2 / (fan_in +
    fan_out))``, weights out of excitatory neurons are ``sd |z|``, out of inhibitory
    neurons ``-c sd |z|`` with ``c = inhibition * n_excitatory / n_inhibitory``, so the
    expected inhibitory drive into a neuron is ``inhibition`` times the excitatory
    drive; ``z`` standard normal.  Input weights (unconstrained unless ``input_dale``)
    are normal with mean ``input_multiplier * sd`` and standard deviation ``sd``.

    Parameters
    ----------
    n_inputs, n_outputs : int
    n_layers : int, default 3
        Hidden layers.
    n_excitatory, n_inhibitory : int, default 300 and 100
        Neurons per hidden layer.
    model : {"lif", "alpha"}
        Model of every hidden and output neuron.
    params : dict, optional
        Model parameters (default for LIF: ``tau_mem = tau_syn = 1``, ``theta = 1``,
        ``g_leak = 1``).
    weight_scale, inhibition, input_multiplier : float
        See above.
    input_dale : {"excitatory", "inhibitory", None}
        Sign constraint of the input weights (None: free).
    n_pulses : int, default 0
        Synchronisation pulses per layer (unconstrained weights, times evenly spaced
        in (0, 1)).
    rng : numpy.random.Generator or int, optional

    Returns
    -------
    Network
    """
    if n_layers < 1:
        raise ValueError(f"n_layers must be >= 1, got {n_layers}")
    if n_excitatory < 1 or n_inhibitory < 0:
        raise ValueError(f"need n_excitatory >= 1 and n_inhibitory >= 0, got "
                         f"{n_excitatory} and {n_inhibitory}")
    if not (weight_scale > 0 and inhibition >= 0):
        raise ValueError("weight_scale must be > 0 and inhibition >= 0")
    if n_pulses < 0:
        raise ValueError(f"n_pulses must be >= 0, got {n_pulses}")
    rng = np.random.default_rng(rng)
    params = dict(params or {})
    net = Network()
    prev = net.add_inputs(int(n_inputs), name="input", dale=input_dale)
    n_h = int(n_excitatory) + int(n_inhibitory)
    signs = np.r_[np.ones(int(n_excitatory), np.int8), -np.ones(int(n_inhibitory), np.int8)]
    spacing = np.arange(1, n_pulses + 1) / (n_pulses + 1)
    for layer in range(n_layers + 1):
        last = layer == n_layers
        size = int(n_outputs) if last else n_h
        pop = net.add_population(size, model=model, name="output" if last else f"hidden{layer}",
                                 dale=None if last else signs, **params)
        fan_in = prev.size + n_pulses
        sd = weight_scale * np.sqrt(2.0 / (fan_in + size))
        if layer == 0:
            w = rng.normal(input_multiplier * sd, sd, size=(prev.size, size))
            if input_dale is not None:
                w = np.abs(w) * (1 if str(input_dale).lower().startswith("e") else -1)
        else:
            mag = np.abs(rng.normal(0.0, sd, size=(prev.size, size)))
            c = inhibition * n_excitatory / n_inhibitory if n_inhibitory else 0.0
            w = np.where(signs[:, None] > 0, mag, -c * mag)
        net.connect_dense(prev, pop, w)
        if n_pulses:
            pulses = net.add_pulses(spacing, name=f"pulses{layer}")
            net.connect_dense(pulses, pop, rng.normal(0.0, sd, size=(n_pulses, size)))
        prev = pop
    return net
