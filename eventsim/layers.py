"""Builders for common graphs: feed-forward layers with synchronisation pulses."""

from __future__ import annotations

import numpy as np

from .network import Network

__all__ = ["feedforward", "glorot_weights"]


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
                delays=0.0, rng=None) -> Network:
    """A fully connected layered network of alpha neurons, optionally with pulses.

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
        Decay rate and threshold of every layer.
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
        layers.append(net.add_population(size, tau=tau, theta=theta, name=name))
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
