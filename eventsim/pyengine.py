"""The event-driven algorithm in plain Python: read this to understand the engine.

This module computes what the compiled engine (``eventsim.simulate`` /
``eventsim.backward``) computes for alpha networks -- the same spike times (to
rounding, about 1e-12) and the same gradients -- with the same maths (closed-form
crossings through Lambert W0, the implicit-function-theorem backward pass), written
for clarity rather than speed.  The tests use it as a second, independent oracle.
Equation references (A.2, A.3, ...) are to the maths notes (``docs/math.md``).

How it differs from the compiled engine:

* It schedules differently.  Here every predicted spike is an event in one sorted
  queue, tagged with the neuron's *version*; a new input bumps the version and
  pushes a new prediction, and stale ones are skipped when popped (lazy
  deletion).  Every prediction is the exact crossing (Lambert W).  The compiled
  engine keeps sources and deliveries in a heap and at most one pending action per
  neuron in a separate min-structure (overwritten in place, so no versions), and
  predicts with a cheap tangent lower bound (``CHECK``), computing the exact
  crossing only when the bound is reached.  Both process simultaneous events as
  one batch, so the spike times agree.
* It has no event budget (``max_events``) and no threads.
* It supports alpha populations only (no LIF).
* Its tape is a list of :class:`Spike` and :class:`Delivery` records, not the
  compiled engine's flat arrays.

The neuron
----------
An alpha neuron with decay rate ``tau`` and threshold ``theta`` sums its inputs
(arrival times ``a_k``, weights ``w_k``)::

    V(t) = sum_k w_k eps(t - a_k),     eps(s) = s exp(-tau s) for s > 0, else 0

and fires once, at the first time ``V`` reaches ``theta``.  Between two inputs
``V`` is ``exp(-tau t) (A t - B)``, which crosses ``theta`` upwards at most once; that
crossing has a closed form through the principal branch ``W0`` of Lambert's W
function (A.1).  So a neuron never needs to be integrated over time: each input
updates two numbers and yields a new *predicted* spike time, or none.

The event loop
--------------
One queue holds every future event of an example, ordered by ``(time, seq)``
(``seq`` is an insertion counter, so ties are broken by insertion order and
runs are deterministic).  There are two kinds of events:

* ``SPIKE``: a source neuron fires at its given time, or an alpha neuron fires at
  its predicted time.  A prediction carries the neuron's *version* at the moment it
  was made.  When a later input changes the prediction, the version is bumped and a
  new event is pushed; the old event stays in the queue and is skipped when popped
  (lazy deletion).  A spike starts the delivery of its synapses.
* ``DELIVER``: the synapses of one spike reach their targets.  The synapses of a
  neuron are sorted by delay, so one event walks this list: it delivers every
  synapse due now and re-schedules itself for the next delay.

An input reaching an alpha neuron at time ``t`` is ignored if the neuron has
already fired or has a pending prediction ``<= t`` (single-spike neurons).
Otherwise it is added to the neuron's state.  Predictions are recomputed only when
the clock is about to move past ``t``, so inputs that arrive at the same time act
as one batch.  Predictions beyond ``t_max`` may sit in the queue but are never
popped.  Single-spike networks cannot run away (each neuron fires at most once),
so unlike the compiled engine this one needs no event budget.

The tape and the backward pass
------------------------------
With ``record_tape=True`` each example keeps a list of :class:`Spike` and
:class:`Delivery` records in the order they happened.  The causal inputs of a
spike at ``t_j`` are exactly the deliveries to ``j`` with arrival ``a_k < t_j``;
the implicit-function theorem gives the derivatives of ``t_j`` with respect to
their weights and arrival times (A.4).  :func:`backward` walks the tape backwards,
so by the time it meets a delivery to ``j`` the adjoint ``g_j = dL/dt_j`` already
holds every contribution from ``j``'s own (later) outgoing deliveries.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from fractions import Fraction
from typing import NamedTuple

import numpy as np
from sortedcontainers import SortedList

from .network import ALPHA, INPUT, PULSE, Network

__all__ = [
    "simulate", "backward", "Result", "Gradients", "Spike", "Delivery",
    "lambertw0", "lambertw0_from_log",
]


# ---------------------------------------------------------------------------------
# Lambert W0 on [-1/e, 0)  (docs/math.md A.6)
# ---------------------------------------------------------------------------------

def _branch_point_coefficients(n_terms=23):
    """Coefficients ``mu_1 .. mu_n`` of ``1 + W0(z) = sum_k mu_k p^k``, ``p = sqrt(2(1 + e z))``.

    Computed exactly in rational arithmetic with the recurrence of Corless et al.
    (1996); it reproduces the published fractions -1, 1, -1/3, 11/72, -43/540, ...
    """
    mu = [Fraction(-1), Fraction(1)]
    alpha = [Fraction(2), Fraction(-1)]
    for k in range(2, n_terms + 1):
        alpha.append(sum((mu[j] * mu[k + 1 - j] for j in range(2, k)), Fraction(0)))
        mu.append(Fraction(k - 1, k + 1) * (mu[k - 2] / 2 + alpha[k - 2] / 4)
                  - alpha[k] / 2 - mu[k - 1] / (k + 1))
    return tuple(float(m) for m in mu[1:])


_MU = _branch_point_coefficients()
# e = E_HI + E_LO to about 1e-32, so that 1 + e z can be formed without cancellation.
_E_HI = 2.718281828459045
_E_LO = 1.4456468917292502e-16
_E_EXACT = Fraction(_E_HI) + Fraction(_E_LO)


def _lambertw0(z, d):
    """``(W0(z), 1 + W0(z))`` given ``z`` in [-1/e, 0) and ``d = 1 + e z`` computed accurately.

    Near the branch point ``W0`` has a square-root singularity, so Newton-type
    iterations on ``z`` lose half the digits of ``1 + W``; there the series in
    ``p = sqrt(2 d)`` is used instead, and it returns ``q = 1 + W`` directly, never
    as the difference ``1 + W`` (which would cancel).
    """
    p = math.sqrt(2.0 * d)
    if p < 0.3:
        # Truncation error of 23 terms is below 3e-18 here.
        q = 0.0
        for mu in reversed(_MU):
            q = (q + mu) * p
        return q - 1.0, q
    if z < -0.25:
        w = -1.0 + p - p * p / 3.0 + 11.0 / 72.0 * p ** 3
    else:
        w = z * (1.0 - z + 1.5 * z * z)
    # Halley's iteration converges cubically: 3.0e-5, 3.4e-15, 5.3e-16 after 1, 2, 3 steps.
    for _ in range(3):
        ew = math.exp(w)
        f = w * ew - z
        w -= f / (ew * (w + 1.0) - (w + 2.0) * f / (2.0 * w + 2.0))
    return w, 1.0 + w


def lambertw0(z):
    """Principal branch of Lambert's W on ``[-1/e, 0)``, and ``1 + W``.

    Parameters
    ----------
    z : float
        Argument, ``-1/e <= z < 0`` (the double nearest to ``-1/e`` is accepted).

    Returns
    -------
    w : float
        ``W0(z)``, the solution in ``[-1, 0)`` of ``w exp(w) = z``.
    q : float
        ``1 + W0(z)``, accurate to about 1e-15 relative even next to the branch
        point ``z = -1/e``, where ``1 + w`` would lose all its digits.

    Notes
    -----
    ``1 + e z`` is formed exactly from the double ``z`` (rational arithmetic), so the
    only error left is that of the evaluation.  :func:`lambertw0_from_log` is the
    form the engine uses.
    """
    z = float(z)
    if not z < 0.0:
        raise ValueError(f"lambertw0 needs -1/e <= z < 0, got z = {z!r}")
    d = float(1 + _E_EXACT * Fraction(z))
    if d < 0.0 and z == -1.0 / math.e:
        d = 0.0  # the double nearest to -1/e lies just below it
    if d < 0.0:
        raise ValueError(f"lambertw0 needs -1/e <= z < 0, got z = {z!r} (below -1/e)")
    return _lambertw0(z, d)


def lambertw0_from_log(ell):
    """``(W0(z), 1 + W0(z))`` for ``z = -exp(ell)``, ``ell <= -1``.

    The engine tests whether the potential's peak reaches the threshold in the log
    domain (``ell <= -1``, docs/math.md A.3); from ``ell`` the distance to the branch
    point ``d = 1 + e z = -expm1(ell + 1)`` is obtained accurately, which is what
    ``1 + W`` needs near the branch point.
    """
    if not ell <= -1.0:
        raise ValueError(f"lambertw0_from_log needs ell <= -1, got {ell!r}")
    return _lambertw0(-math.exp(ell), 0.0 - math.expm1(ell + 1.0))  # 0.0 - : never -0.0


# ---------------------------------------------------------------------------------
# One alpha neuron  (docs/math.md A.2, A.3)
# ---------------------------------------------------------------------------------

class _AlphaNeuron:
    """State of one alpha neuron during one example.

    With a reference time ``r`` (the latest input), the potential of the inputs
    received so far is ``V(t) = exp(-tau (t - r)) (A (t - r) - B)`` where
    ``A = sum w_k exp(tau (a_k - r))`` and ``B = sum w_k (a_k - r) exp(tau (a_k - r))``.
    Because ``a_k <= r``, no exponential exceeds 1: nothing overflows however long
    the simulation, and inputs from long ago underflow harmlessly to 0.

    ``t_pred`` is the pending (or, once fired, emitted) spike time, ``inf`` if none;
    ``q = 1 + W`` of that crossing is kept for the backward pass.  ``version``
    identifies the newest prediction in the event queue.
    """

    __slots__ = ("tau", "theta", "r", "a", "b", "t_pred", "q", "version")

    def __init__(self, tau, theta):
        self.tau = tau
        self.theta = theta
        self.r = -math.inf
        self.a = 0.0
        self.b = 0.0
        self.t_pred = math.inf
        self.q = math.nan
        self.version = 0

    def receive(self, t, w):
        """Add an input of weight ``w`` arriving at ``t`` (never before earlier inputs)."""
        if self.r == -math.inf:
            self.r = t
        elif t > self.r:
            # Move the reference time to t, so that every exponent stays <= 0.
            elapsed = t - self.r
            decay = math.exp(-self.tau * elapsed)
            self.b = (self.b - elapsed * self.a) * decay
            self.a *= decay
            self.r = t
        # The new input sits at the reference time: a_k - r = 0 adds nothing to B.
        self.a += w

    def predict(self):
        """The next upward threshold crossing of the current potential, or ``None``.

        Returns ``(t, q)``: the crossing time and ``q = 1 + W`` there.
        """
        if self.a <= 0.0:
            # V(t) = exp(-tau (t - r)) (A (t - r) - B) with A <= 0 can only fall
            # through theta, never rise to it.
            return None
        # z = -(tau theta / A) exp(tau B / A); a crossing exists iff z >= -1/e, and
        # that test is done on ell = log(-z) so that nothing overflows.
        ell = math.log(self.tau * self.theta) - math.log(self.a) + self.tau * self.b / self.a
        if ell > -1.0:
            return None  # the peak of V stays below theta
        w, q = lambertw0_from_log(ell)
        t = self.r + (self.b / self.a - w / self.tau)
        if t < self.r:
            # The crossing of this closed form lies before the latest input, where
            # this closed form did not yet describe V: the peak is already past.
            return None
        return t, q


# ---------------------------------------------------------------------------------
# Simulation
# ---------------------------------------------------------------------------------

SPIKE = 0
DELIVER = 1


class Spike(NamedTuple):
    """A spike on the tape."""

    time: float
    neuron: int
    #: ``1 + W`` at the threshold crossing (alpha neurons; ``nan`` for sources).
    #: ``dV/dt`` there is ``tau * theta * q / (1 - q)``.
    q: float


class Delivery(NamedTuple):
    """Synapses of one spike reaching their targets at ``time`` (on the tape)."""

    time: float
    pre: int
    #: Synapse ids delivered at ``time``, in delay order.  Targets that had
    #: already fired ignored them; the backward pass tells them apart by time.
    synapses: tuple


@dataclasses.dataclass
class Result:
    """Outcome of :func:`simulate`.

    Attributes
    ----------
    times : ndarray, shape (n_examples, n_neurons), or (n_neurons,) for 1-D input
        First spike time of every neuron, sources included; ``inf`` = silent.
    tapes : list of list, or None
        Per example, the :class:`Spike` and :class:`Delivery` records in the order
        they happened (``record_tape=True`` only).
    input_times : ndarray, shape (n_examples, n_inputs)
    t_max : float
    single : bool
        The input was one example (1-D).
    """

    times: np.ndarray
    tapes: list | None
    input_times: np.ndarray
    t_max: float
    single: bool = False


@dataclasses.dataclass
class _Graph:
    """The network as plain Python lists (fast to index in the loops below)."""

    kind: list
    source_index: list
    population: list
    tau: list
    theta: list
    post: list
    weights: list
    delays: list
    outgoing: list   # per neuron: its synapse ids sorted by delay
    incoming: list   # per neuron: the synapse ids that target it
    pulse_times: list

    @classmethod
    def of(cls, net: Network):
        if any(m != "alpha" for m in net.models):
            raise ValueError(
                f"the pure-Python engine simulates alpha populations only; this network has "
                f"{sorted(set(net.models) - {'alpha'})} populations (use eventsim.simulate)")
        indptr = net.indptr
        order = net.delay_order()
        in_indptr, in_syn = net.incoming()
        n = net.n_neurons
        return cls(
            kind=net.kind.tolist(), source_index=net.source_index.tolist(),
            population=net.population_index.tolist(),
            tau=net.tau.tolist(), theta=net.theta.tolist(),
            post=net.post.tolist(), weights=net.weights.tolist(), delays=net._delay_view().tolist(),
            outgoing=[order[indptr[i]:indptr[i + 1]].tolist() for i in range(n)],
            incoming=[in_syn[in_indptr[i]:in_indptr[i + 1]].tolist() for i in range(n)],
            pulse_times=net.pulse_times.tolist(),
        )


class _EventLoop:
    """The simulation of one example."""

    def __init__(self, g: _Graph, input_times, t_max, record_tape):
        self.g = g
        self.t_max = t_max
        n = len(g.kind)
        self.times = [math.inf] * n
        self.neurons = [_AlphaNeuron(g.tau[g.population[i]], g.theta[g.population[i]])
                        if g.kind[i] == ALPHA else None for i in range(n)]
        self.tape = [] if record_tape else None
        self.queue = SortedList()
        self.seq = itertools.count()
        self.now = -math.inf
        # Neurons that received input at `now`: their predictions are recomputed once
        # every input arriving at `now` is in (a dict: a set that keeps insertion order).
        self.touched = {}
        for i in range(n):
            if g.kind[i] == INPUT:
                t = input_times[g.source_index[i]]
            elif g.kind[i] == PULSE:
                t = g.pulse_times[g.source_index[i]]
            else:
                continue
            if t < math.inf:
                self.push(t, SPIKE, i, 0)

    def push(self, time, kind, neuron, payload):
        self.queue.add((time, next(self.seq), kind, neuron, payload))

    def run(self):
        queue = self.queue
        while True:
            if self.touched and (not queue or queue[0][0] > self.now):
                self.settle()
                continue
            if not queue or queue[0][0] > self.t_max:
                return self.times, self.tape
            self.now, _, kind, neuron, payload = queue.pop(0)
            if kind == SPIKE:
                self.fire(neuron, payload)
            else:
                self.deliver(neuron, payload)

    def fire(self, i, version):
        """A spike event of neuron ``i`` is due (if ``version`` is still current)."""
        neuron = self.neurons[i]
        if neuron is not None and version != neuron.version:
            return  # a prediction that later inputs have replaced
        self.times[i] = self.now
        if self.tape is not None:
            self.tape.append(Spike(self.now, i, math.nan if neuron is None else neuron.q))
        synapses = self.g.outgoing[i]
        if synapses:
            self.push(self.now + self.g.delays[synapses[0]], DELIVER, i, 0)

    def deliver(self, i, first):
        """Synapses ``outgoing[i][first:]`` of neuron ``i``'s spike: deliver those due now.

        They are sorted by delay; the event comes back for the first one not yet due.
        """
        g = self.g
        synapses = g.outgoing[i]
        t_pre = self.times[i]
        stop = first
        while stop < len(synapses) and t_pre + g.delays[synapses[stop]] == self.now:
            stop += 1
        for s in synapses[first:stop]:
            j = g.post[s]
            target = self.neurons[j]
            if self.now >= target.t_pred:
                continue  # at or after the target's (pending or emitted) spike: ignored
            if j not in self.touched:
                # The pending prediction is void; a new one follows after this batch.
                target.version += 1
                target.t_pred = math.inf
                self.touched[j] = None
            target.receive(self.now, g.weights[s])
        if self.tape is not None:
            self.tape.append(Delivery(self.now, i, tuple(synapses[first:stop])))
        if stop < len(synapses):
            self.push(t_pre + g.delays[synapses[stop]], DELIVER, i, stop)

    def settle(self):
        """Every input arriving at ``now`` is in: predict the touched neurons' spikes."""
        for j in self.touched:
            neuron = self.neurons[j]
            prediction = neuron.predict()
            if prediction is not None:
                neuron.t_pred, neuron.q = prediction
                self.push(neuron.t_pred, SPIKE, j, neuron.version)
        self.touched.clear()


def simulate(net: Network, input_times, *, t_max=np.inf, record_tape=False) -> Result:
    """Simulate one or many examples exactly, event by event, in pure Python.

    Parameters
    ----------
    net : Network
    input_times : array_like, shape (n_inputs,) or (n_examples, n_inputs)
        Spike time of each input neuron per example; ``inf`` = no spike.
    t_max : float, default inf
        Horizon: events later than ``t_max`` are not processed, so spikes later than
        ``t_max`` are not produced (reported as ``inf``, sources included).
    record_tape : bool, default False
        Keep the per-example records that :func:`backward` needs.

    Returns
    -------
    Result
        ``times`` has the same meaning and shape as in :func:`eventsim.simulate`.

    Examples
    --------
    One input of weight 3 into a neuron with ``tau = theta = 1``: it fires at
    ``-W0(-1/3) = 0.619...``, where ``q = 1 + W0(-1/3) = 0.381...``.

    >>> import eventsim
    >>> from eventsim import pyengine
    >>> net = eventsim.Network()
    >>> x = net.add_inputs(1)
    >>> h = net.add_population(1, tau=1.0, theta=1.0)
    >>> net.connect(x.start, h.start, 3.0)
    >>> res = pyengine.simulate(net, [0.0], record_tape=True)
    >>> res.times.round(6).tolist()
    [0.0, 0.619061]
    >>> for record in res.tapes[0]:
    ...     print(record)  # doctest: +ELLIPSIS
    Spike(time=0.0, neuron=0, q=nan)
    Delivery(time=0.0, pre=0, synapses=(0,))
    Spike(time=0.619061286735945..., neuron=1, q=0.380938713264054...)
    """
    x = np.asarray(input_times, dtype=np.float64)
    single = x.ndim == 1
    if single:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != net.n_inputs:
        raise ValueError(f"input_times must have shape (n_examples, {net.n_inputs}), got {x.shape}")
    if np.isnan(x).any() or np.isneginf(x).any():
        raise ValueError("input_times contains NaN or -inf")
    t_max = float(t_max)
    g = _Graph.of(net)
    times = np.full((x.shape[0], net.n_neurons), np.inf)
    tapes = [] if record_tape else None
    for e, row in enumerate(x.tolist()):
        times_e, tape = _EventLoop(g, row, t_max, record_tape).run()
        times[e] = times_e
        if record_tape:
            tapes.append(tape)
    return Result(times[0] if single else times, tapes, x, t_max, single)


# ---------------------------------------------------------------------------------
# Backward pass  (docs/math.md A.4, C)
# ---------------------------------------------------------------------------------

@dataclasses.dataclass
class Gradients:
    """Gradients of a loss; the same fields as :class:`eventsim.Gradients`.

    ``weights``, ``delays`` (synapse-id order), ``theta`` (per population) and
    ``pulse_times`` are summed over examples; ``input_times`` has shape
    ``(n_examples, n_inputs)``.
    """

    weights: np.ndarray
    delays: np.ndarray
    theta: np.ndarray
    pulse_times: np.ndarray
    input_times: np.ndarray


def _clip(x, c):
    return min(max(x, -c), c)


def backward(net: Network, result: Result, dL_dt, *, clip_derivative=None,
             penalty_no_spike=0.0) -> Gradients:
    """Exact gradients of a loss, given its derivative with respect to spike times.

    For an alpha neuron ``j`` firing at ``t_j`` with ``q = 1 + W`` at the crossing,
    ``dV/dt = tau theta q / (1 - q)``, and for each causal input ``k`` (arrival
    ``a_k = t_pre + d_k < t_j``, weight ``w_k``) the implicit-function theorem gives::

        dt_j/dw_k    = -eps(t_j - a_k) / (dV/dt)           eps(s)  = s exp(-tau s)
        dt_j/da_k    = w_k eps'(t_j - a_k) / (dV/dt)       eps'(s) = (1 - tau s) exp(-tau s)
        dt_j/dtheta  = 1 / (dV/dt)

    ``dt_j/da_k`` counts twice: for the delay ``d_k`` and for the presynaptic spike
    time, whose adjoint it extends.  Sources end with the gradients of their times.

    Parameters
    ----------
    net : Network
        The network that produced ``result``, parameters unchanged.
    result : Result
        From :func:`simulate` with ``record_tape=True``.
    dL_dt : array_like, shape (n_examples, n_neurons) (or (n_neurons,) for one example)
        Derivative of the loss with respect to each spike time.  Entries of silent
        neurons are ignored.
    clip_derivative : float, optional
        Clip each local ``dt_j/dw_k`` and ``dt_j/da_k`` to ``[-clip, clip]`` before
        it is multiplied by ``dL/dt_j`` (Comsa et al.): they diverge as ``q -> 0``.
    penalty_no_spike : float, default 0
        For each alpha neuron that stays silent in an example, ``-penalty`` is added
        to the gradient of each of its incoming weights, once per example, so that
        gradient descent raises them (Comsa et al., docs/math.md C.6).

    Returns
    -------
    Gradients

    Notes
    -----
    A spike at an exact tangential touch (``q = 0``: the peak of ``V`` equals
    ``theta``) has infinite derivatives; it passes no gradient back.
    """
    if result.tapes is None:
        raise ValueError("the result has no tape: simulate with record_tape=True")
    times = np.atleast_2d(result.times)
    n_ex, n = times.shape
    if n != net.n_neurons:
        raise ValueError(f"result has {n} neurons but the network has {net.n_neurons}")
    dL = np.asarray(dL_dt, dtype=np.float64).reshape(times.shape)
    dL = np.where(np.isfinite(times), dL, 0.0)
    clip = math.inf if clip_derivative is None else float(clip_derivative)
    penalty = float(penalty_no_spike)
    g = _Graph.of(net)

    grad_w = [0.0] * len(g.weights)
    grad_d = [0.0] * len(g.weights)
    grad_theta = [0.0] * len(g.tau)
    grad_pulse = [0.0] * len(g.pulse_times)
    grad_input = np.zeros((n_ex, net.n_inputs))

    for e in range(n_ex):
        t = times[e].tolist()
        adjoint = dL[e].tolist()   # dL/dt_i; complete for i once the sweep has passed t_i
        tape = result.tapes[e]
        inv_vdot = {}              # 1 / (dV/dt) at each alpha spike
        for rec in tape:
            if isinstance(rec, Spike) and g.kind[rec.neuron] == ALPHA:
                p = g.population[rec.neuron]
                if rec.q > 0.0:
                    inv_vdot[rec.neuron] = (1.0 - rec.q) / (g.tau[p] * g.theta[p] * rec.q)
                else:
                    # A tangential touch (the peak of V at theta exactly): t_j is not
                    # differentiable there (docs/math.md A.5); like the compiled engine,
                    # pass nothing back through it.
                    inv_vdot[rec.neuron] = 0.0

        for rec in reversed(tape):
            if isinstance(rec, Spike):
                i = rec.neuron
                if g.kind[i] == ALPHA:
                    grad_theta[g.population[i]] += adjoint[i] * inv_vdot[i]
                elif g.kind[i] == INPUT:
                    grad_input[e, g.source_index[i]] = adjoint[i]
                else:
                    grad_pulse[g.source_index[i]] += adjoint[i]
                continue
            a = rec.time
            for s in rec.synapses:
                j = g.post[s]
                if not a < t[j] or adjoint[j] == 0.0:
                    continue  # not a cause of j's spike (or nothing to pass on)
                tau = g.tau[g.population[j]]
                lag = t[j] - a
                decay = math.exp(-tau * lag)
                dt_dw = _clip(-lag * decay * inv_vdot[j], clip)
                dt_da = _clip(g.weights[s] * (1.0 - tau * lag) * decay * inv_vdot[j], clip)
                grad_w[s] += adjoint[j] * dt_dw
                grad_d[s] += adjoint[j] * dt_da
                adjoint[rec.pre] += adjoint[j] * dt_da

        if penalty:
            for j in range(n):
                if g.kind[j] == ALPHA and t[j] == math.inf:
                    for s in g.incoming[j]:
                        grad_w[s] -= penalty

    return Gradients(np.array(grad_w), np.array(grad_d), np.array(grad_theta),
                     np.array(grad_pulse), grad_input)
