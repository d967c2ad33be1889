"""Continuous-time escape-noise (hazard) neurons: exact sampling and exact likelihood gradients.

The event-driven form of the neuron of Jaltare et al.'s poster (issue 12; the discrete-time
form is :mod:`eventsim.escape_noise`).  A leaky integrate-and-fire membrane ``V(t)`` with
exponential current synapses, the engine's multi-spike LIF (``docs/math.md`` G.1), fires
with the hazard (instantaneous rate)

.. math::

    \\rho(t) = \\rho_0\\, F\\bigl((V(t) - u) / \\sigma_n\\bigr),

``F`` the probit, logistic or exponential link, and is reset to ``v_reset`` after each spike
(and held there for ``t_ref``).  There is no time grid:

* :func:`simulate` samples the spikes exactly by thinning: between two arrivals ``V`` is
  analytic with at most one extremum, so its maximum over any stretch is exact, and so is a
  bound of the hazard; candidates of the dominating Poisson process are accepted with
  probability ``rho(t) / bound``.  Every random number is a pure function of
  ``(seed, example, neuron, counter)``: samples are bit-identical for any thread count.
* :func:`log_likelihood` and :func:`value_and_grad` score a target spike train with the
  point-process log-likelihood ``l = sum_k ln rho(t_k) - int_0^T rho dt`` under teacher forcing
  (the target spikes reset the membrane), and give its exact gradients with respect to the
  weights, the biases, the synaptic delays, the threshold and (optionally) the input spike
  times.  The integral has no closed form for the probit and logistic links: it is computed
  per stretch between events by adaptive Gauss-Kronrod quadrature to about ``1e-13``
  relative, and the gradient comes from one reverse sweep of the adjoint of the membrane,
  whose integrals are computed in the same quadrature.

As ``sigma_n -> 0`` and ``rho_0 -> inf`` the neuron becomes the deterministic multi-spike LIF
of :func:`eventsim.simulate`: it fires where ``V`` crosses ``u``.  ``docs/escape_noise.md`` 11
derives everything here and reports the measured accuracy and speed.

The network is one layer: ``n_inputs`` spike-train channels (:class:`eventsim.SpikeTrains`)
drive ``n_neurons`` hazard neurons through a dense weight matrix ``w`` ``(n_inputs, n_neurons)``
with delays ``delays`` of the same shape.
"""

from __future__ import annotations

import dataclasses
import numbers

import numpy as np

from . import _hazard
from .escape_noise import LINKS, _check_membrane, _finite_array, _link, _positive, _sigma
from .simulation import resolve_threads
from .spiketrains import SpikeTrains

__all__ = ["HazardLIF", "HazardGradients", "simulate", "log_likelihood", "value_and_grad",
           "time_rescaled_intervals", "equivalent_network"]


@dataclasses.dataclass(frozen=True)
class HazardLIF:
    """Parameters of the continuous-time escape-noise LIF neuron (all neurons of a layer).

    Parameters
    ----------
    tau_mem, tau_syn : float
        Membrane and synaptic time constants (> 0; equal values are allowed).
    theta : float
        The escape threshold ``u`` in ``z = (V - u) / sigma_n``.
    v_reset : float
        Potential after a spike; must be below ``theta``.
    t_ref : float
        Absolute refractory period (>= 0): ``V`` is held at ``v_reset`` and the hazard is 0.
    g_leak : float
        Leak conductance: weights and bias act as ``w / g_leak`` (the engine's convention).
    v_init : float
        Potential at ``t = 0`` (the synaptic current starts at 0).
    link : {"probit", "logistic", "exponential"}
        The escape function ``F``.  The exponential link's hazard is capped at
        ``rho_0 e^700`` so that it stays a finite number.
    rho_0 : float
        The rate scale (> 0, per unit of time): the largest hazard of the probit and
        logistic links, ``rho_0 e^z`` for the exponential one.

    Notes
    -----
    The defaults match ``Network.add_population(n, model="lif", multispike=True)``; see
    :func:`equivalent_network`.
    """

    tau_mem: float = 20.0
    tau_syn: float = 5.0
    theta: float = 1.0
    v_reset: float = 0.0
    t_ref: float = 0.0
    g_leak: float = 1.0
    v_init: float = 0.0
    link: str = "probit"
    rho_0: float = 1.0

    def __post_init__(self):
        for name in ("tau_mem", "tau_syn", "g_leak", "rho_0"):
            _positive(name, getattr(self, name))
        _check_membrane(self)
        _link(self.link)

    def _row(self):
        # One row of the spike-train engine's population table (_model_lif_multispike.pxd);
        # the bias column is overridden per neuron by the kernels.
        return np.array([0.0, self.tau_mem, self.tau_syn, self.g_leak, self.theta,
                         self.v_reset, self.t_ref, 0.0, self.v_init], np.float64)


@dataclasses.dataclass
class HazardGradients:
    """What :func:`value_and_grad` returns.

    Attributes
    ----------
    value : float
        The log-likelihood summed over examples and neurons.
    per_example : ndarray (n_examples, n_neurons)
    weights, delays : ndarray (n_inputs, n_neurons)
        ``dl/dw`` and ``dl/d(delay)``.
    bias, theta : ndarray (n_neurons,)
        ``dl/d(bias)`` and ``dl/du``.
    input_times : ndarray (n_input_spikes,) or None
        ``dl/dt`` of every input spike (in the order of ``inputs.times``), when asked for.
    """

    value: float
    per_example: np.ndarray
    weights: np.ndarray
    delays: np.ndarray
    bias: np.ndarray
    theta: np.ndarray
    input_times: np.ndarray | None = None


# --------------------------------------------------------------------------- checks
def _trains(name, trains, n_channels=None):
    if not isinstance(trains, SpikeTrains):
        raise TypeError(f"{name} must be an eventsim.SpikeTrains, got {type(trains).__name__}")
    if n_channels is not None and trains.n_channels != n_channels:
        raise ValueError(f"{name} has {trains.n_channels} channels but there are {n_channels} "
                         f"{'inputs' if name == 'inputs' else 'neurons'}")
    if trains.n_spikes and trains.times.min() < 0:
        k = int(np.argmin(trains.times))
        raise ValueError(f"{name}: spike {k} (channel {int(trains.index[k])}) is at "
                         f"{trains.times[k]!r} < 0; the neurons start at rest at t = 0")
    return trains


def _layer(inputs, w, bias, delays):
    inputs = _trains("inputs", inputs)
    w = _finite_array("w", w)
    d = _finite_array("delays", delays)
    if w.ndim == 1:
        w = w[:, None]
        d = d[:, None] if d.ndim == 1 else d
    if w.ndim != 2:
        raise ValueError(f"w must have shape (n_inputs,) or (n_inputs, n_neurons), got {w.shape}")
    if w.shape[0] != inputs.n_channels:
        raise ValueError(f"w has {w.shape[0]} rows but the inputs have {inputs.n_channels} "
                         "channels")
    N = w.shape[1]
    b = _finite_array("bias", bias)
    if b.ndim == 0:
        b = np.full(N, float(b))
    if b.shape != (N,):
        raise ValueError(f"bias must be a number or have shape ({N},), got {b.shape}")
    try:
        d = np.broadcast_to(d, w.shape)
    except ValueError:
        raise ValueError(f"delays must broadcast to the shape of w {w.shape}, got {d.shape}") \
            from None
    if (d < 0).any():
        i, n = np.argwhere(d < 0)[0]
        raise ValueError(f"delays must be >= 0: the synapse from input {i} to neuron {n} has "
                         f"delay {d[i, n]!r}")
    # A neuron whose delays differ across inputs needs its arrivals sorted.
    sort_col = (d != d[:1]).any(axis=0).astype(np.uint8)
    return (inputs, np.ascontiguousarray(w), np.ascontiguousarray(b, np.float64),
            np.ascontiguousarray(d, np.float64), np.ascontiguousarray(sort_col))


def _t_max(t_max):
    return _positive("t_max", t_max)


def _ids(name, ids, n):
    if ids is None:
        return np.arange(n, dtype=np.uint64)
    a = np.asarray(ids)
    if a.shape != (n,) or a.dtype.kind not in "iu" or (a.dtype.kind == "i" and (a < 0).any()):
        raise ValueError(f"{name} must be {n} non-negative integers, got {ids!r}")
    return np.ascontiguousarray(a, np.uint64)


def _seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed) % 2**64


_LINK_CODE = {name: k for k, name in enumerate(LINKS)}


# --------------------------------------------------------------------------- entry points
def simulate(inputs, w, bias=0.0, delays=0.0, *, neuron=None, sigma_n, t_max, seed=0,
             examples=None, neurons=None, n_threads=None):
    """Sample the hazard neurons' spikes exactly (free running: each neuron resets on its
    own spikes).

    Parameters
    ----------
    inputs : SpikeTrains
        ``n_inputs`` channels, spike times >= 0.
    w : array_like, (n_inputs,) or (n_inputs, n_neurons)
    bias : float or array_like (n_neurons,)
    delays : float or array_like, broadcast to the shape of ``w``
        Synaptic delays (>= 0): input spike ``t`` reaches neuron ``n`` at ``t + delays[i, n]``.
    neuron : HazardLIF, optional
    sigma_n : float
        Noise level (> 0).
    t_max : float
        End of the simulated time (the neurons start at 0).
    seed : int
    examples, neurons : array_like of int, optional
        Global ids of the examples and neurons: the stream of ``(example, neuron)`` is
        keyed by ``(seed, examples[e], neurons[n])`` (default ``0..``).
    n_threads : int, optional
        Worker threads (default all cores); the result does not depend on it.

    Returns
    -------
    SpikeTrains
        ``n_neurons`` channels, one example per input example.
    """
    neuron = HazardLIF() if neuron is None else neuron
    sigma = _sigma(sigma_n)
    T = _t_max(t_max)
    inputs, w, b, d, sort_col = _layer(inputs, w, bias, delays)
    E, N = inputs.n_examples, w.shape[1]
    counts, times = _hazard.simulate(
        inputs.times, inputs.index, inputs.offsets, w, d, b, neuron._row(), sort_col,
        neuron.theta, sigma, neuron.rho_0, _LINK_CODE[neuron.link], _seed(seed),
        _ids("examples", examples, E), _ids("neurons", neurons, N), T,
        resolve_threads(n_threads))
    index = np.repeat(np.tile(np.arange(N), E), counts.reshape(-1))
    offsets = np.concatenate([[0], np.cumsum(counts.sum(axis=1))])
    return SpikeTrains(times, index, offsets, N)


def _run(inputs, targets, w, bias, delays, neuron, sigma_n, t_max, grad, input_times,
         n_threads):
    neuron = HazardLIF() if neuron is None else neuron
    sigma = _sigma(sigma_n)
    T = _t_max(t_max)
    inputs, w, b, d, sort_col = _layer(inputs, w, bias, delays)
    targets = _trains("targets", targets, w.shape[1])
    if targets.n_examples != inputs.n_examples:
        raise ValueError(f"targets have {targets.n_examples} examples but the inputs have "
                         f"{inputs.n_examples}")
    if targets.n_spikes and targets.times.max() > T:
        k = int(np.argmax(targets.times))
        raise ValueError(f"target spike {k} (neuron {int(targets.index[k])}) is at "
                         f"{targets.times[k]!r} > t_max = {T}")
    out = _hazard.likelihood(
        inputs.times, inputs.index, inputs.offsets, targets.times, targets.index,
        targets.offsets, w, d, b, neuron._row(), sort_col, neuron.theta, sigma,
        neuron.rho_0, _LINK_CODE[neuron.link], T, grad, input_times, resolve_threads(n_threads))
    err = out[-1]
    bad = np.flatnonzero(err[:, 0] != 0)
    if bad.size:
        n = int(bad[0])
        if err[n, 0] == 1:
            raise MemoryError("out of memory while computing the likelihood")
        raise ValueError(f"target spike of neuron {n} in example {int(err[n, 1])} at "
                         f"t = {err[n, 2]!r} falls in the refractory period of the previous "
                         f"one (t_ref = {neuron.t_ref}): its likelihood is 0")
    return out


def log_likelihood(inputs, targets, w, bias=0.0, delays=0.0, *, neuron=None, sigma_n, t_max,
                   n_threads=None):
    """The point-process log-likelihood of target spike trains under teacher forcing.

    ``l = sum_k ln rho(t_k-) - int_0^T rho(t) dt`` per (example, neuron), with the membrane
    reset at the target spikes ``t_k`` (the hazard is 0 while refractory).

    Parameters
    ----------
    inputs : SpikeTrains
    targets : SpikeTrains
        ``n_neurons`` channels, spikes in ``[0, t_max]``, one example per input example.
    w, bias, delays, neuron, sigma_n, t_max, n_threads
        As in :func:`simulate`.

    Returns
    -------
    ndarray (n_examples, n_neurons)
    """
    return _run(inputs, targets, w, bias, delays, neuron, sigma_n, t_max, False, False,
                n_threads)[0]


def value_and_grad(inputs, targets, w, bias=0.0, delays=0.0, *, neuron=None, sigma_n, t_max,
                   input_times=False, n_threads=None):
    """The log-likelihood of :func:`log_likelihood`, summed, and its exact gradients.

    One teacher-forced forward pass integrates the hazard and the adjoint kernels per
    stretch between events (adaptive Gauss-Kronrod); one reverse sweep of the adjoint
    ``(lambda_V, lambda_J)`` of the membrane then gives ``dl/dw = lambda_J(a) / g_leak`` at
    each arrival ``a``, ``dl/da = (w / g_leak) dlambda_J/dt`` for its time (delays, input
    times), and the bias and threshold gradients (``docs/escape_noise.md`` 11).

    Parameters
    ----------
    inputs, targets, w, bias, delays, neuron, sigma_n, t_max, n_threads
        As in :func:`log_likelihood`.
    input_times : bool
        Also return ``dl/dt`` of every input spike.

    Returns
    -------
    HazardGradients
    """
    ll, _, gw, gd, gb, gu, gt, _ = _run(inputs, targets, w, bias, delays, neuron, sigma_n, t_max,
                                        True, bool(input_times), n_threads)
    return HazardGradients(value=float(ll.sum()), per_example=ll, weights=gw, delays=gd,
                           bias=gb, theta=gu, input_times=None if gt is None else gt.sum(axis=1))


def time_rescaled_intervals(inputs, spikes, w, bias=0.0, delays=0.0, *, neuron=None, sigma_n,
                            t_max, n_threads=None):
    """The integrated hazard between consecutive spikes (the first from ``t = 0``).

    By the time-rescaling theorem these are independent Exp(1) draws when ``spikes`` was
    sampled from the model (:func:`simulate` with the same parameters): the test of the
    sampler.  Each example's last stretch, from its last spike to ``t_max``, is censored and
    left out.

    Parameters
    ----------
    inputs : SpikeTrains
    spikes : SpikeTrains
        The spike trains to rescale (``n_neurons`` channels); they also drive the resets.
    w, bias, delays, neuron, sigma_n, t_max, n_threads
        As in :func:`simulate`.

    Returns
    -------
    ndarray
        One value per spike, in the order of ``spikes.times``.
    """
    return _run(inputs, spikes, w, bias, delays, neuron, sigma_n, t_max, False, False,
                n_threads)[1]


def equivalent_network(w, bias=0.0, delays=0.0, *, neuron=None):
    """The deterministic network that the hazard layer becomes as ``sigma_n -> 0``.

    Parameters
    ----------
    w, bias, delays, neuron
        As in :func:`simulate`.

    Returns
    -------
    (Network, ndarray of int)
        ``n_inputs`` inputs driving multi-spike LIF neurons (``multispike=True``) with the
        same membrane, threshold ``u``, reset, weights and delays, and the network's id of
        each hazard neuron; run it with :func:`eventsim.simulate`.  The engine's bias is
        one value per population, so neurons with different biases get a population each.
    """
    from .network import Network

    neuron = HazardLIF() if neuron is None else neuron
    w = _finite_array("w", w)
    w = w[:, None] if w.ndim == 1 else w
    N = w.shape[1]
    b = np.broadcast_to(_finite_array("bias", bias), (N,))
    d = _finite_array("delays", delays)
    d = np.broadcast_to(d[:, None] if d.ndim == 1 and w.shape[1] == 1 else d, w.shape)
    net = Network()
    inp = net.add_inputs(w.shape[0])
    params = dict(model="lif", multispike=True, tau_mem=neuron.tau_mem, tau_syn=neuron.tau_syn,
                  theta=neuron.theta, v_reset=neuron.v_reset, t_ref=neuron.t_ref,
                  g_leak=neuron.g_leak, v_init=neuron.v_init)
    groups = [np.arange(N)] if (b == b[0]).all() else [np.array([n]) for n in range(N)]
    ids = np.empty(N, np.int64)
    for g in groups:
        pop = net.add_population(g.size, bias=float(b[g[0]]), **params)
        net.connect_dense(inp, pop, w[:, g], delays=np.ascontiguousarray(d[:, g]))
        ids[g] = pop.ids
    return net, ids
