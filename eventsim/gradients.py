"""Exact gradients of a loss on spike times: the backward pass over the tape.

For a spiking alpha neuron ``j`` with spike time ``t_j`` and causal inputs
``k`` (arrival ``a_k = t_pre(k) + d_k < t_j``, weight ``w_k``), the implicit
function theorem gives (stable form, ``q = 1 + W``; see docs/math.md)

.. math::

    \\dot V_j = \\tau\\theta q / (1 - q), \\quad
    \\frac{\\partial t_j}{\\partial w_k} = -\\frac{\\varepsilon(t_j - a_k)}{\\dot V_j}, \\quad
    \\frac{\\partial t_j}{\\partial a_k} = \\frac{w_k \\varepsilon'(t_j - a_k)}{\\dot V_j}, \\quad
    \\frac{\\partial t_j}{\\partial \\theta} = \\frac{1}{\\dot V_j}

with :math:`\\varepsilon(s) = s e^{-\\tau s}`.  The backward pass sweeps the
tape's deliveries in reverse time order, so every spike's adjoint ``g_j = dL/dt_j``
is complete before it is pushed to its causes; arrival-time derivatives go to
both the delay and the presynaptic spike.  Sources end with the gradients of input
and pulse times.  The sweep itself is compiled (``eventsim._backward``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .network import Network, _real
from .simulation import (SimulationResult, TrainTape, _net_cached, _train_table, resolve_threads,
                         simulate)

try:
    from . import _backward, _eventprop
except ImportError as exc:  # pragma: no cover
    raise ImportError("eventsim's compiled backward pass (eventsim._backward) is missing; "
                      "reinstall with `pip install .`") from exc

__all__ = ["Gradients", "backward", "value_and_grad"]


@dataclasses.dataclass
class Gradients:
    """Gradients of a loss, summed over the examples of a batch.

    Attributes
    ----------
    weights, delays : ndarray, shape (n_synapses,)
        In synapse-id order (``Network.weights``).
    theta : ndarray, shape (n_populations,)
        Per neuron population (``Network.theta``).
    pulse_times : ndarray, shape (n_pulses,)
    input_times : ndarray, shape (n_examples, n_inputs), or (n_input_spikes,)
        Per example (not summed).  For a spike-train run: per input spike, in the
        order of the input :class:`eventsim.SpikeTrains` (``input_times.times``);
        0 for spikes after ``t_max``.
    v_reset, t_ref, bias, v_init, tau_mem, tau_syn : ndarray, shape (n_populations,), or None
        Spike-train runs: per population, NaN where its model has no such
        parameter (``Network.v_reset`` etc.).  None for first-spike runs.
    spikes : ndarray or None
        Spike-train runs: the total ``dL/dt`` of every spike of ``result.spikes``
        (its canonical order), everything downstream of it included.
    """

    weights: np.ndarray
    delays: np.ndarray
    theta: np.ndarray
    pulse_times: np.ndarray
    input_times: np.ndarray
    v_reset: np.ndarray | None = None
    t_ref: np.ndarray | None = None
    bias: np.ndarray | None = None
    v_init: np.ndarray | None = None
    tau_mem: np.ndarray | None = None
    tau_syn: np.ndarray | None = None
    spikes: np.ndarray | None = None


def backward(net: Network, result: SimulationResult, dL_dt=None, *, outputs=None,
             clip_derivative: float | None = None, penalty_no_spike: float = 0.0,
             n_threads: int | None = None, dL_dspikes=None, dL_dvoltages=None,
             dL_dvmax=None) -> Gradients:
    """Exact gradients of a loss given its derivative with respect to spike times.

    Parameters
    ----------
    net : Network
        The network that produced ``result``, unchanged since: a result whose tape
        records different weights, delays, pulse times, per-population parameters
        or synapses (in-place edits included) is refused.
    result : SimulationResult
        From :func:`eventsim.simulate` with ``record_tape=True``.
    dL_dt : array_like, shape (n_examples, n_neurons) or (n_examples, len(outputs))
        Derivative of the loss with respect to each neuron's (first) spike time.
        Entries for silent neurons are ignored (a silent neuron has no time to
        move).
    outputs : array_like of int, optional
        Neuron ids that the columns of ``dL_dt`` refer to (default: all neurons).
    clip_derivative : float, optional
        Clip every local derivative ``dt_j/dw_k`` and ``dt_j/da_k`` to
        ``[-clip, clip]`` before use (Comsa et al.; ``clip_derivative`` in Table 1).
    penalty_no_spike : float, default 0
        For every neuron that stays silent in an example, ``-penalty_no_spike`` is
        added to the gradient of each of its incoming weights, so that gradient
        descent raises them (Comsa et al., section 2.5).
    n_threads : int, optional
        Worker threads (default all cores); results do not depend on it.

    Returns
    -------
    Gradients

    Raises
    ------
    ValueError
        Bad arguments, a network changed since the forward run, or a tape whose
        indices do not fit the network.
    """
    if result.tape is None:
        raise ValueError("the result has no tape: simulate with record_tape=True")
    if isinstance(result.tape, TrainTape):
        if clip_derivative is not None or penalty_no_spike:
            raise ValueError("clip_derivative and penalty_no_spike are for first-spike networks")
        return _backward_trains(net, result, dL_dt, outputs, dL_dspikes, dL_dvoltages,
                                dL_dvmax, n_threads)
    if dL_dspikes is not None or dL_dvoltages is not None or dL_dvmax is not None:
        raise ValueError("dL_dspikes, dL_dvoltages and dL_dvmax are for spike-train runs "
                         "(networks with multi-spike or LI populations)")
    if dL_dt is None:
        raise ValueError("dL_dt is required")
    times = result.times if result.times.ndim == 2 else result.times[None, :]
    n_ex, n = times.shape
    if n != net.n_neurons:
        raise ValueError(f"result has {n} neurons but the network has {net.n_neurons}")
    tape = result.tape
    snapshot = tape._snapshot
    # With a snapshot, weights, delays and pulse times must equal, bit for bit, what
    # the forward run checked, so they need no second check.
    low = net._lower(incoming=penalty_no_spike != 0.0, check_values=snapshot is None)
    if snapshot is not None:
        snapshot.check(net, low)
    _check_tape(tape, low)
    g = np.asarray(_real("dL_dt", dL_dt), dtype=np.float64)
    if result.single and g.ndim == 1:
        g = g[None, :]
    if outputs is not None:
        outputs = net._ids(outputs, "output")
        if g.shape != (n_ex, outputs.size):
            raise ValueError(f"dL_dt must have shape {(n_ex, outputs.size)}, got {g.shape}")
        full = np.zeros((n_ex, n))
        np.add.at(full, (slice(None), outputs), g)
        g = full
    elif g.shape != (n_ex, n):
        raise ValueError(f"dL_dt must have shape {(n_ex, n)}, got {g.shape}")
    if np.isnan(g).any():
        raise ValueError("dL_dt contains NaN")
    g = np.where(np.isfinite(times), g, 0.0)
    if not np.isfinite(g).all():
        raise ValueError("dL_dt contains inf for a neuron that spiked")
    clip = np.inf if clip_derivative is None else float(clip_derivative)
    if not clip > 0:
        raise ValueError(f"clip_derivative must be > 0, got {clip_derivative}")
    penalty = float(penalty_no_spike)
    if not np.isfinite(penalty):
        raise ValueError("penalty_no_spike must be finite")
    gw, gd, gtheta, gpulse, ginput = _backward.backward_batch(
        low, np.ascontiguousarray(times, dtype=np.float64),
        np.ascontiguousarray(tape.q, dtype=np.float64),
        np.ascontiguousarray(tape.deliveries, dtype=np.int64).reshape(-1, 3),
        np.ascontiguousarray(tape.offsets, dtype=np.int64), np.ascontiguousarray(g), clip,
        penalty, resolve_threads(n_threads))
    # LIF populations with equal time constants run as alpha with a scaled threshold.
    return Gradients(gw, gd, gtheta * low.theta_scale, gpulse, ginput)


def _check_tape(tape, low) -> None:
    """The tape's synapse order must be the network's: the compiled pass uses the
    network's (validated) one."""
    order, ref = tape.delay_order, low.order
    same_view = (isinstance(order, np.ndarray) and (order is ref or order.base is ref)
                 and order.shape == ref.shape and order.strides == ref.strides
                 and order.__array_interface__["data"][0] == ref.__array_interface__["data"][0])
    if same_view or (np.shape(order) == ref.shape and np.array_equal(order, ref)):
        return
    # An empty order is the identity, which a tape may also spell out in full.
    m = low.post.size
    if not (ref.size == 0 and np.shape(order) == (m,) and np.array_equal(order, np.arange(m))):
        raise ValueError("the tape's delay_order does not match the network's synapses "
                         "(synapses or delays changed since the forward run?)")
    # Offsets and delivery rows are checked by the compiled pass itself (one loop).


def value_and_grad(net: Network, input_times, loss_fn, *, outputs=None, t_max=np.inf,
                   clip_derivative=None, penalty_no_spike=0.0, n_threads=None):
    """Simulate, evaluate a loss on spike times and return its exact gradients.

    Parameters
    ----------
    net : Network
    input_times : array_like, shape (n_examples, n_inputs)
    loss_fn : callable
        ``loss_fn(times) -> (loss, dL_dt)``, a tuple, where ``times`` has shape
        ``(n_examples, len(outputs))`` (or all neurons when ``outputs`` is None)
        and ``dL_dt`` has exactly the same shape.  Anything else raises
        ``TypeError`` (not a pair) or ``ValueError`` (wrong shape).
    outputs : array_like of int, optional
        Neuron ids given to ``loss_fn``.

    Returns
    -------
    loss, Gradients, SimulationResult
    """
    res = simulate(net, input_times, record_tape=True, t_max=t_max, n_threads=n_threads)
    times = res.times if res.times.ndim == 2 else res.times[None, :]
    ids = None if outputs is None else net._ids(outputs, "output")
    sel = times if ids is None else times[:, ids]
    out = loss_fn(sel)
    contract = (f"loss_fn(times) must return a pair (loss, dL_dt), with dL_dt of the shape of "
                f"times, {sel.shape}")
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        what = (f"a {type(out).__name__} of length {len(out)}" if isinstance(out, (tuple, list))
                else f"a {type(out).__name__}")
        raise TypeError(f"{contract}; it returned {what}")
    loss, dl = out
    dl = np.asarray(_real("dL_dt", dl), np.float64)
    if sel.shape[0] == 1 and dl.shape == sel.shape[1:]:
        dl = dl[None, :]            # one example: a row is fine
    if dl.shape != sel.shape:
        raise ValueError(f"{contract}; dL_dt has shape {dl.shape}")
    grads = backward(net, res, dl, outputs=ids, clip_derivative=clip_derivative,
                     penalty_no_spike=penalty_no_spike, n_threads=n_threads)
    return loss, grads, res


# ------------------------------------------------------------------------------
# Spike-train runs: EventProp (_eventprop.pyx)
# ------------------------------------------------------------------------------
def _float_array(name, value, shape):
    a = np.asarray(_real(name, value), dtype=np.float64)
    if a.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf")
    return np.ascontiguousarray(a)


def _backward_trains(net, result, dL_dt, outputs, dL_dspikes, dL_dvoltages, dL_dvmax,
                     n_threads) -> Gradients:
    """EventProp over a spike-train run (see :func:`backward`)."""
    tape = result.tape
    low = net._lower(check_values=tape._snapshot is None)
    if tape._snapshot is not None:
        tape._snapshot.check(net, low)
    spikes = result.spikes
    n_ex = spikes.n_examples
    seed_c = _EMPTY                             # dL/dt per spike, canonical order
    if dL_dspikes is not None:
        seed_c = _float_array("dL_dspikes", dL_dspikes, (spikes.n_spikes,))
    ids, g = _EMPTY_IDS, _EMPTY.reshape(0, 0)
    if dL_dt is not None:
        ids = (np.arange(net.n_neurons, dtype=np.int32) if outputs is None
               else net._ids(outputs, "output").astype(np.int32))
        g = np.asarray(_real("dL_dt", dL_dt), np.float64)
        if result.single and g.ndim == 1:
            g = g[None, :]
        if g.shape != (n_ex, ids.size):
            raise ValueError(f"dL_dt must have shape {(n_ex, ids.size)}, got {g.shape}")
        if np.isnan(g).any():
            raise ValueError("dL_dt contains NaN")
        g = np.ascontiguousarray(g)
    n_ro = result.readout_times.size
    n_li = result.readout_ids.size
    dv = (np.zeros((n_ex, n_ro, n_li)) if dL_dvoltages is None
          else _float_array("dL_dvoltages", dL_dvoltages, (n_ex, n_ro, n_li)))
    dvm = (np.zeros((n_ex, n_li)) if dL_dvmax is None
           else _float_array("dL_dvmax", dL_dvmax, (n_ex, n_li)))
    li_slot = np.full(net.n_neurons, -1, np.int32)
    li_slot[result.readout_ids] = np.arange(n_li, dtype=np.int32)
    # The compiled pass puts the first-spike seeds on each neuron's first spike, and
    # maps spikes between the engine's order (the tape's) and the canonical one.
    gw, gd, gpop, gpulse, gsp, ginput = _eventprop.backward_batch(
        low, _train_table(net, low), tape.log, tape.log_offsets, spikes.offsets,
        tape.spike_order, spikes.index, seed_c, g, ids, result.input_times.offsets,
        result.readout_times, li_slot, n_li, dv, dvm, np.ascontiguousarray(result.t_v_max),
        result.t_max, resolve_threads(n_threads))
    # Per population, NaN where its model has no such parameter.
    gpop = np.where(_has_params(net, low), gpop, np.nan)
    per_pop = {name: gpop[:, c] for c, name in enumerate(_POP_GRADS)}
    return Gradients(gw, gd, per_pop.pop("theta"), gpulse, ginput, spikes=gsp, **per_pop)


_EMPTY = np.zeros(0)
_EMPTY_IDS = np.zeros(0, np.int32)

#: The columns of the per-population gradients of _eventprop.backward_batch.
_POP_GRADS = ("theta", "v_reset", "t_ref", "bias", "v_init", "tau_mem", "tau_syn")


def _has_params(net, low):
    """(n_populations, 7): which of _POP_GRADS each population's model has (a finite
    value), cached per structure and parameter values."""
    return _net_cached(net, "has_params", (low.structure, low.params_key), lambda: np.stack(
        [np.isfinite(getattr(net, name)) for name in _POP_GRADS], axis=1).reshape(-1, len(_POP_GRADS)))
