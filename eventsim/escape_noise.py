"""Escape-noise LIF neurons in discrete time and the noise-driven learning rule.

The neuron of Jaltare et al.'s poster (issue 12): a leaky integrate-and-fire
membrane that fires in time bin ``t`` with probability

.. math::

    p_t = F(z_t), \\qquad z_t = (V_t - u) / \\sigma_n ,

and the rule that trains it: gradient ascent on the exact log-likelihood of a target spike
train ``q``,

.. math::

    \\ell = \\sum_t q_t \\ln p_t + (1 - q_t) \\ln (1 - p_t), \\qquad
    \\frac{\\partial \\ell}{\\partial w_i} = \\sum_t \\lambda(z_t, q_t)\\,
    \\frac{1}{\\sigma_n} \\frac{\\partial V_t}{\\partial w_i} .

The noise level ``sigma_n`` is the knob of the poster: large values give a rate code, small
ones a timing code, and as ``sigma_n -> 0`` the neuron becomes the deterministic multi-spike
LIF of the event-driven engine (sampled on the bin grid).  ``docs/escape_noise.md`` derives
everything below and states each convention.

Model (one neuron; ``docs/escape_noise.md`` 1)
----------------------------------------------
The membrane is the engine's multi-spike LIF (``docs/math.md`` G.1),
``tau_mem dV/dt = -V + J + bias/g_leak`` and ``tau_syn dJ/dt = -J``, integrated *exactly*
from grid point to grid point (``t_k = k dt``).  In bin ``k``:

1. the spike is drawn from ``V_k`` (the potential at ``t_k``): ``s_k ~ Bernoulli(F(z_k))``,
   with ``p_k = 0`` while refractory;
2. the inputs counted in bin ``k`` arrive at ``t_k``: ``J += sum_i w_i x_{i,k} / g_leak``;
3. after a spike, ``V`` is reset to ``v_reset`` at ``t_k`` (and held there for
   ``t_ref = n_ref dt``; bins ``k+1 .. k+n_ref`` cannot fire), or, with
   ``reset="subtract"``, lowered by ``theta - v_reset``;
4. ``V`` and ``J`` flow exactly to ``t_{k+1}``.

Links ``F`` (``docs/escape_noise.md`` 2): ``"probit"`` (the poster's, ``Phi``),
``"logistic"`` and ``"exponential"`` (``p = 1 - exp(-e^z)``: an exponential hazard
``rho = rho_0 e^z`` integrated over one bin, with ``rho_0 dt = 1`` absorbed into ``u``).

Which spikes reset the membrane (``docs/escape_noise.md`` 4)
------------------------------------------------------------
* ``mode="teacher"`` (teacher forcing): the target train drives the resets.  ``V_t`` is then
  a smooth function of the parameters and the gradient is the exact gradient of the
  likelihood of ``q``.
* ``mode="free"``: the neuron's own sampled spikes drive the resets (seeded, see below).
  The likelihood of ``q`` given those resets is differentiated *with the sampled reset times
  held fixed* (``estimator="fixed_resets"``), which is exact for that sample but ignores how
  the sampled spikes move with the weights; ``estimator="score"`` adds the score-function
  term ``(l - baseline) d ln P(s)/dw``, which makes it an unbiased estimate of the gradient
  of the expected likelihood ``E_s[l(q | s)]``.

Random numbers
--------------
Every uniform draw is a pure function of ``(seed, example, neuron, bin)`` through
splitmix64's finaliser, the design of the engine's ``_random.pxd``, so samples do not depend
on batch composition, the number of threads or the order of examples.

Entry points
------------
:func:`simulate`, :func:`log_likelihood`, :func:`value_and_grad` (forward, likelihood and
gradient in one call, for your own training loop), :func:`hidden_value_and_grad` (one
stochastic hidden layer, the likelihood gradient carried back through the hidden spikes),
:func:`per_bin_weight` (the numerically stable ``lambda``), noise schedules
(:func:`constant`, :func:`exponential_cooling`, :func:`steps`) and :func:`train`.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np
from scipy import special

try:  # the per-bin loops, compiled; the numpy versions below are the fallback and the reference
    from . import _escape_noise as _kernel
except ImportError:  # pragma: no cover - a build without the extension
    _kernel = None

__all__ = [
    "LINKS", "DiscreteLIF", "EscapeResult", "EscapeGradients",
    "firing_probability", "log_probabilities", "per_bin_weight",
    "naive_per_bin_weight", "uniforms", "stream_key", "bin_spike_times", "van_rossum",
    "simulate", "log_likelihood", "value_and_grad", "hidden_value_and_grad", "HiddenGradients",
    "NoiseSchedule", "constant", "exponential_cooling", "steps", "learning_rate", "train",
    "TrainHistory", "psp_traces", "stable_learning_rate",
]

#: The escape-noise links ``F`` (``p = F(z)``) this module knows.
LINKS = ("probit", "logistic", "exponential")

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


# --------------------------------------------------------------------------- checks
def _positive(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _real(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    return float(value)


def _check_membrane(p):
    """The checks every escape-noise neuron's membrane parameters share (discrete time
    here, continuous time in :mod:`eventsim.hazard`)."""
    for name in ("theta", "v_reset", "v_init"):
        _real(name, getattr(p, name))
    if p.v_reset >= p.theta:
        raise ValueError(f"v_reset ({p.v_reset}) must be below theta ({p.theta})")
    if isinstance(p.t_ref, bool) or not isinstance(p.t_ref, numbers.Real) \
            or not math.isfinite(p.t_ref) or p.t_ref < 0:
        raise ValueError(f"t_ref must be a finite number >= 0, got {p.t_ref!r}")


def _link(link):
    if link not in LINKS:
        raise ValueError(f"link must be one of {LINKS}, got {link!r}")
    return link


def _sigma(sigma):
    return _positive("sigma_n", sigma)


def _finite_array(name, a):
    a = np.asarray(a)
    if a.dtype == bool:
        a = a.astype(np.float64)
    if a.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be a real-valued array, got dtype {a.dtype}")
    a = a.astype(np.float64, copy=False)
    # One sum is finite exactly when every entry is (NaN and inf propagate), unless it
    # overflows; only then is the entry-wise test needed.  Saves a pass over large inputs.
    if not math.isfinite(float(a.sum())) and not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf")
    return a


# --------------------------------------------------------------------------- the neuron
@dataclasses.dataclass(frozen=True)
class DiscreteLIF:
    """Parameters of the discrete-time escape-noise LIF neuron (all neurons of a layer).

    Parameters
    ----------
    dt : float
        Bin width (> 0), in the time unit of the time constants.
    tau_mem, tau_syn : float
        Membrane and synaptic time constants (> 0; equal values are allowed).
    theta : float
        The escape threshold ``u`` in ``z = (V - u) / sigma_n``.
    v_reset : float
        Potential after a spike; must be below ``theta``.
    t_ref : float
        Absolute refractory period, a whole number of bins (``0`` by default).
    g_leak : float
        Leak conductance: inputs and bias act as ``w / g_leak`` (the engine's convention).
    v_init : float
        Potential at ``t = 0`` (the synaptic current starts at 0).
    link : {"probit", "logistic", "exponential"}
        The escape function ``F``.
    reset : {"value", "subtract"}
        ``"value"`` (default, the engine's reset): ``V`` is set to ``v_reset`` in the spike's
        bin.  ``"subtract"``: ``V`` drops by ``theta - v_reset`` instead, which keeps how far
        the membrane had gone past threshold during the bin; with ``sigma_n -> 0`` its spike
        trains stay closer to the engine's inside bursts (``docs/escape_noise.md`` 5).
        Requires ``t_ref = 0``.

    Notes
    -----
    The defaults match ``Network.add_population(n, model="lif", multispike=True)`` with
    ``tau_mem = 20``, ``tau_syn = 5`` and a 0.1 bin, so that with ``sigma_n -> 0`` both run
    the same membrane (``docs/escape_noise.md`` 5).
    """

    dt: float = 0.1
    tau_mem: float = 20.0
    tau_syn: float = 5.0
    theta: float = 1.0
    v_reset: float = 0.0
    t_ref: float = 0.0
    g_leak: float = 1.0
    v_init: float = 0.0
    link: str = "probit"
    reset: str = "value"

    def __post_init__(self):
        for name in ("dt", "tau_mem", "tau_syn", "g_leak"):
            _positive(name, getattr(self, name))
        _check_membrane(self)
        n = self.t_ref / self.dt
        if abs(n - round(n)) > 1e-9 * max(1.0, n):
            raise ValueError(f"t_ref ({self.t_ref}) must be a whole number of bins of dt = {self.dt}")
        _link(self.link)
        if self.reset not in ("value", "subtract"):
            raise ValueError(f"reset must be 'value' or 'subtract', got {self.reset!r}")
        if self.reset == "subtract" and self.t_ref != 0:
            raise ValueError("reset='subtract' needs t_ref = 0 (a clamp would undo the subtraction)")

    @property
    def n_ref(self) -> int:
        """The refractory period in bins."""
        return int(round(self.t_ref / self.dt))

    def propagators(self):
        """``(a_m, a_s, k)``: one bin of the exact flow.

        ``V(t+dt) - b = a_m (V(t) - b) + k J(t)`` and ``J(t+dt) = a_s J(t)``, with
        ``k = kappa(dt)`` the engine's kernel (``docs/math.md`` G.1) written with
        ``expm1`` so equal time constants need no special case.
        """
        tm, ts, dt = self.tau_mem, self.tau_syn, self.dt
        a_m, a_s = math.exp(-dt / tm), math.exp(-dt / ts)
        x = dt * (1.0 / tm - 1.0 / ts)
        phi = 1.0 if x == 0.0 else math.expm1(x) / x
        return a_m, a_s, (dt / tm) * phi * a_m


# --------------------------------------------------------------------------- links
def firing_probability(z, link="probit"):
    """Probability ``F(z)`` of a spike in one bin.

    Parameters
    ----------
    z : array_like
        Scaled distance to threshold, ``(V - u) / sigma_n``.
    link : {"probit", "logistic", "exponential"}

    Returns
    -------
    ndarray
        ``Phi(z)``, ``1 / (1 + e^-z)`` or ``1 - exp(-e^z)``.
    """
    z = np.asarray(z, np.float64)
    link = _link(link)
    if link == "probit":
        return special.ndtr(z)
    if link == "logistic":
        return special.expit(z)
    with np.errstate(over="ignore"):
        return -np.expm1(-np.exp(z))


def log_probabilities(z, link="probit"):
    """``(ln p, ln(1 - p))`` without cancellation or underflow to ``-inf`` for moderate ``z``.

    Parameters
    ----------
    z : array_like
    link : {"probit", "logistic", "exponential"}

    Returns
    -------
    log_p, log_not_p : ndarray
        Finite for every finite ``z`` with the probit and logistic links; with the
        exponential link ``ln(1 - p) = -e^z`` overflows to ``-inf`` beyond ``z = 709``.
    """
    z = np.asarray(z, np.float64)
    link = _link(link)
    if link == "probit":
        return special.log_ndtr(z), special.log_ndtr(-z)
    if link == "logistic":
        return -np.logaddexp(0.0, -z), -np.logaddexp(0.0, z)
    with np.errstate(over="ignore", divide="ignore"):
        e = np.exp(z)
        return np.log(-np.expm1(-e)), -e


def per_bin_weight(z, q, link="probit"):
    """The per-bin weight ``lambda(z, q) = d/dz [q ln F(z) + (1 - q) ln(1 - F(z))]``.

    The poster writes it as ``(q - p) / (p (1 - p)) * F'(z)``; that form gives NaN or inf
    once ``p`` rounds to 0 or 1 (``|z| > 8`` for the probit).  Here each case is evaluated
    without cancellation (``docs/escape_noise.md`` 3):

    * probit, ``q = 1``: ``phi(z)/Phi(z)``; for ``z < 0`` as ``sqrt(2/pi) / erfcx(-z/sqrt 2)``
      (no underflow, about ``-z`` for a missed spike); ``q = 0``: ``-lambda(-z, 1)``;
    * logistic: exactly ``q - p`` (the classical GLM rule);
    * exponential: ``e^z / expm1(e^z)`` for ``q = 1``, ``-e^z`` for ``q = 0``.

    Parameters
    ----------
    z : array_like
        Scaled distance to threshold.
    q : array_like
        Target spike indicator (0 or 1; fractional values interpolate linearly), broadcast
        against ``z``.
    link : {"probit", "logistic", "exponential"}

    Returns
    -------
    ndarray
        ``lambda``; ``dl/dV = lambda / sigma_n``.
    """
    z = np.asarray(z, np.float64)
    q = np.asarray(q, np.float64)
    link = _link(link)
    if link == "logistic":
        return q - special.expit(z)
    if link == "probit":
        # Both ratios are finite for every real z (about |z| on the far side), so the
        # products never meet 0 * inf.
        return q * _mills_ratio(z) - (1.0 - q) * _mills_ratio(-z)
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(z)
        # e / expm1(e) -> 1 as e -> 0 (a missed spike far below threshold), 0 as e -> inf.
        hit = np.where(e > 0, e / np.expm1(e), 1.0)
        hit = np.where(np.isinf(e), 0.0, hit)
    return q * hit - (1.0 - q) * e


def _mills_ratio(z):
    """``phi(z) / Phi(z)`` for every real ``z`` (inverse Mills ratio of ``-z``)."""
    z = np.asarray(z, np.float64)
    out = np.empty_like(z)
    neg = z < 0
    # For z < 0: Phi(z) = erfcx(-z/sqrt2) exp(-z^2/2) / 2, so the Gaussian factors cancel
    # analytically and nothing underflows (erfcx is evaluated without cancellation).
    out[neg] = _SQRT_2_OVER_PI / special.erfcx(-z[neg] * _INV_SQRT_2)
    zp = np.minimum(z[~neg], 1e150)          # exp(-z^2/2) is 0 long before z^2 overflows
    # For z >= 0, Phi(z) >= 1/2, so the direct quotient is accurate; it underflows to 0
    # beyond z ~ 38 where the true value is below the smallest double.
    out[~neg] = np.exp(-0.5 * zp * zp) * _INV_SQRT_2PI / special.ndtr(zp)
    return out


# --------------------------------------------------------------------------- random numbers
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix64(z):
    """splitmix64's finaliser on a uint64 array (wrapping arithmetic, as in ``_random.pxd``)."""
    z = np.asarray(z, np.uint64)
    with np.errstate(over="ignore"):
        z = z + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def _as_u64(name, a):
    a = np.asarray(a)
    if a.dtype.kind not in "iu" or (a.dtype.kind == "i" and (a < 0).any()):
        raise ValueError(f"{name} must hold non-negative integers, got {a!r}")
    return a.astype(np.uint64)


def stream_key(seed, example, neuron):
    """Key of the random stream of one (example, neuron): ``_random.pxd``'s ``stream_key``.

    Parameters
    ----------
    seed, example, neuron : int or array_like of int
        Non-negative; broadcast together.

    Returns
    -------
    ndarray of uint64
    """
    s, e, n = (_as_u64(k, v) for k, v in (("seed", seed), ("example", example), ("neuron", neuron)))
    return _mix64(_mix64(_mix64(s) ^ e) ^ n)


def uniforms(seed, examples, neurons, n_bins, offset=0):
    """Uniform draws on ``(0, 1)`` for every (example, bin, neuron).

    Draw ``k`` of the stream ``(seed, example, neuron)`` is
    ``((mix64(key ^ mix64(k)) >> 11) + 0.5) / 2**53``, exactly as ``_random.pxd``'s
    ``uniform_open``, so it is never 0 or 1 and does not depend on which other examples or
    neurons are drawn with it.

    Parameters
    ----------
    seed : int
    examples : array_like of int, shape (n_examples,)
        Global example ids.
    neurons : array_like of int, shape (n_neurons,)
        Global neuron (stream) ids.
    n_bins : int
    offset : int
        Counter of the first bin (draws ``offset .. offset + n_bins - 1``); repeated samples
        of one example use disjoint counter ranges.

    Returns
    -------
    ndarray, shape (n_examples, n_bins, n_neurons)
    """
    keys = stream_key(seed, np.asarray(examples)[:, None], np.asarray(neurons)[None, :])
    counters = _mix64(np.arange(int(offset), int(offset) + int(n_bins), dtype=np.uint64))
    bits = _mix64(keys[:, None, :] ^ counters[None, :, None]) >> np.uint64(11)
    return (bits.astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)


def bin_spike_times(trains, dt, n_bins):
    """Spike counts per bin from spike times: a spike at ``a`` counts in bin ``ceil(a/dt)``.

    The rounding is *up*, so an input is never delivered before it happens; times on the
    grid (``a = k dt`` up to a relative 1e-9) land in bin ``k`` exactly, which is what the
    ``sigma_n -> 0`` comparison with the event-driven engine relies on.

    Parameters
    ----------
    trains : sequence of array_like
        One array of spike times per input channel.
    dt : float
    n_bins : int
        Spikes at or after ``n_bins * dt`` (after rounding) are dropped.

    Returns
    -------
    ndarray, shape (n_bins, n_channels)
    """
    dt = _positive("dt", dt)
    x = np.zeros((int(n_bins), len(trains)))
    for i, t in enumerate(trains):
        t = _finite_array(f"trains[{i}]", t).ravel()
        if (t < 0).any():
            raise ValueError(f"trains[{i}] has negative spike times")
        k = np.ceil(t / dt - 1e-9).astype(np.int64)
        k = k[k < n_bins]
        np.add.at(x[:, i], k, 1.0)
    return x


def van_rossum(a, b, tau):
    """van Rossum distance between two spike trains, normalised so that one spike
    against none is at ``1/sqrt(2)`` (``D^2 = (1/tau) int (f - g)^2 dt`` with
    ``f = sum_i exp(-(t - a_i)/tau) H(t - a_i)``).

    The closed form is :func:`eventsim.coding.van_rossum_distance`'s, whose
    normalisation (elephant's) puts one spike against none at 1.

    Parameters
    ----------
    a, b : array_like
        Spike times.
    tau : float

    Returns
    -------
    float
    """
    from .coding import van_rossum_distance
    tau = _positive("tau", tau)
    return van_rossum_distance(np.asarray(a, np.float64).ravel(),
                               np.asarray(b, np.float64).ravel(), tau) / math.sqrt(2.0)


# --------------------------------------------------------------------------- input shapes
def _shapes(x, w, bias, q=None):
    """Validated ``x (E, T, n_in)``, ``w (n_in, N)``, ``bias (N,)``, ``q (E, T, N)``.

    Returns the arrays and a function that undoes the added axes on outputs.
    """
    x = _finite_array("x", x)
    w = _finite_array("w", w)
    squeeze_e = x.ndim == 2
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise ValueError("x must have shape (n_bins, n_inputs) or (n_examples, n_bins, n_inputs), "
                         f"got {x.shape}")
    if x.shape[1] == 0:
        raise ValueError("x has no time bins")
    squeeze_n = w.ndim == 1
    if w.ndim == 1:
        w = w[:, None]
    if w.ndim != 2 or w.shape[0] != x.shape[2]:
        raise ValueError(f"w must have shape (n_inputs,) or (n_inputs, n_neurons) with n_inputs = "
                         f"{x.shape[2]} (the last axis of x), got {w.shape}")
    b = _finite_array("bias", bias)
    if b.ndim == 0:
        b = np.full(w.shape[1], float(b))
    if b.shape != (w.shape[1],):
        raise ValueError(f"bias must be a scalar or have shape ({w.shape[1]},), got {b.shape}")
    if q is not None:
        q = _finite_array("q", q)
        want = x.shape[:2] + (w.shape[1],)
        if squeeze_n and q.shape == x.shape[:2]:
            q = q[..., None]
        elif squeeze_e and squeeze_n and q.shape == x.shape[1:2]:
            q = q[None, :, None]
        elif squeeze_e and q.shape == want[1:]:
            q = q[None]
        if q.shape != want:
            raise ValueError(f"q must have one entry per (example, bin, neuron), shape {want} "
                             f"(without the axes x and w leave out), got {q.shape}")
        if not np.isin(q, (0.0, 1.0)).all():
            raise ValueError("q must hold 0 (no spike) or 1 (spike) in every bin")

    def unshape(a):
        if squeeze_n:
            a = a[..., 0]
        if squeeze_e:
            a = a[0]
        return a
    unshape.squeeze_n = squeeze_n
    return x, w, b, q, unshape


def _examples_ids(examples, n):
    if examples is None:
        return np.arange(n, dtype=np.uint64)
    e = _as_u64("examples", np.atleast_1d(examples))
    if e.shape != (n,):
        raise ValueError(f"examples must have one id per example ({n}), got shape {e.shape}")
    return e


# --------------------------------------------------------------------------- forward and backward
def _drive(x, w, g_leak):
    """``c = x w / g_leak``, (E, T, N), as one matrix product over the 2-D view of ``x``."""
    E, T, n_in = x.shape
    return (np.ascontiguousarray(x).reshape(E * T, n_in) @ w).reshape(E, T, -1) / g_leak


def _pullback(x, cbar, g_leak):
    """``dl/dw = x^T dl/dc / g_leak`` summed over examples and bins (one BLAS product)."""
    E, T, n_in = x.shape
    return (np.ascontiguousarray(x).reshape(E * T, n_in).T @ cbar.reshape(E * T, -1)) / g_leak


_LINK_CODES = {"probit": 0, "logistic": 1, "exponential": 2}


def _forward(c, b, neuron, sigma, *, resets=None, u=None, use_kernel=True):
    """:func:`_forward_numpy`, in compiled code when the extension is built."""
    if _kernel is None or not use_kernel:
        return _forward_numpy(c, b, neuron, sigma, resets=resets, u=u)
    E, T, N = c.shape
    a_m, a_s, k = neuron.propagators()
    V = np.empty((E, T, N))
    S, R, F = (np.empty((E, T, N), np.uint8) for _ in range(3))
    dummy = np.zeros((1, 1, 1))
    _kernel.forward(np.ascontiguousarray(c), np.ascontiguousarray(b, np.float64),
                    dummy if resets is None else np.ascontiguousarray(resets, np.float64),
                    dummy if u is None else np.ascontiguousarray(u), resets is not None,
                    a_m, a_s, k, neuron.n_ref, neuron.v_reset, neuron.v_init, neuron.theta,
                    sigma, _LINK_CODES[neuron.link], neuron.reset == "subtract", V, S, R, F)
    return V, S.view(bool), R.view(bool), F.view(bool)


def _backward(g, spikes, frozen, neuron, use_kernel=True):
    """:func:`_backward_numpy`, in compiled code when the extension is built."""
    if _kernel is None or not use_kernel:
        return _backward_numpy(g, spikes, frozen, neuron)
    E, T, N = g.shape
    a_m, a_s, k = neuron.propagators()
    cbar = np.empty((E, T, N))
    bbar = np.empty((E, N))
    rbar = np.empty((E, N))
    _kernel.backward(np.ascontiguousarray(g), np.ascontiguousarray(spikes).view(np.uint8),
                     np.ascontiguousarray(frozen).view(np.uint8), a_m, a_s, k,
                     neuron.reset == "subtract", cbar, bbar, rbar)
    return cbar, bbar, rbar


def _forward_numpy(c, b, neuron, sigma, *, resets=None, u=None):
    """Run the membrane over all bins for a batch.

    Parameters
    ----------
    c : ndarray (E, T, N)
        Input drive per bin, already divided by ``g_leak``.
    b : ndarray (N,)
        ``bias / g_leak``.
    resets : ndarray (E, T, N) of {0, 1} or None
        Teacher forcing: these spikes reset the membrane.
    u : ndarray (E, T, N) or None
        Uniform draws for free running (a spike when ``u < p``).

    Returns
    -------
    V, spikes, refractory, frozen : ndarrays (E, T, N)
    """
    E, T, N = c.shape
    a_m, a_s, k = neuron.propagators()
    n_ref, v_reset, theta, link = neuron.n_ref, neuron.v_reset, neuron.theta, neuron.link
    subtract = neuron.reset == "subtract"
    V = np.full((E, N), neuron.v_init)
    J = np.zeros((E, N))
    hold = np.zeros((E, N), np.int64)
    Vs = np.empty((E, T, N))
    S = np.empty((E, T, N), bool)
    R = np.empty((E, T, N), bool)
    F = np.empty((E, T, N), bool)
    for t in range(T):
        Vs[:, t] = V
        ref = hold > 0
        if resets is not None:
            s = resets[:, t] > 0.5
        else:
            p = firing_probability((V - theta) / sigma, link)
            s = (u[:, t] < p) & ~ref
        # A neuron that fired holds V at v_reset for n_ref bins: frozen over [t_k, t_{k+1}).
        frozen = (s & (n_ref > 0)) | (hold > 1)
        R[:, t], S[:, t], F[:, t] = ref, s, frozen
        hold = np.where(s, n_ref, np.maximum(hold - 1, 0))
        J = J + c[:, t]
        Vp = np.where(s, V - (theta - v_reset) if subtract else v_reset, V)
        V = np.where(frozen, v_reset, b + a_m * (Vp - b) + k * J)
        J = a_s * J
    return Vs, S, R, F


def _backward_numpy(g, spikes, frozen, neuron):
    """Reverse sweep: ``g = dl/dV_k`` (E, T, N) -> ``dl/dc_k`` (E, T, N), ``dl/db`` (E, N)
    and ``rbar`` (E, N), the adjoint of the potential just after each reset, summed over the
    spikes (with ``reset="subtract"`` the reset lowers V by ``theta - v_reset``, so
    ``dl/dtheta`` gains ``-rbar``).

    The adjoint of :func:`_forward_numpy` with the spikes (resets) held fixed
    (``docs/escape_noise.md`` 4).
    """
    E, T, N = g.shape
    a_m, a_s, k = neuron.propagators()
    subtract = neuron.reset == "subtract"
    Vbar = np.zeros((E, N))
    Jbar = np.zeros((E, N))
    bbar = np.zeros((E, N))
    rbar = np.zeros((E, N))
    cbar = np.empty((E, T, N))
    for t in range(T - 1, -1, -1):
        f = frozen[:, t]
        live = np.where(f, 0.0, Vbar)            # V_{t+1} depends on bin t's state unless frozen
        Jbar = a_s * Jbar + k * live
        bbar += (1.0 - a_m) * live
        rbar += np.where(spikes[:, t], a_m * live, 0.0)
        # A reset to a value cuts the dependence on V; a subtraction keeps it (slope 1).
        Vbar = g[:, t] + (a_m * live if subtract else np.where(spikes[:, t], 0.0, a_m * live))
        cbar[:, t] = Jbar
    return cbar, bbar, rbar


def _terms(V, q, refractory, neuron, sigma, naive_clip=None):
    """Per-bin log-likelihood terms and weights ``lambda`` (0 in refractory bins)."""
    z = (V - neuron.theta) / sigma
    lp, lnp = log_probabilities(z, neuron.link)
    # Select rather than multiply: 0 * (-inf) would be NaN where a term is impossible.
    ll = np.where(refractory, 0.0, np.where(q > 0.5, lp, lnp))
    lam = per_bin_weight(z, q, neuron.link) if naive_clip is None else \
        naive_per_bin_weight(z, q, neuron.link, clip=naive_clip)
    return ll, np.where(refractory, 0.0, lam), z


def naive_per_bin_weight(z, q, link="probit", *, clip=1e-7, dtype=np.float64):
    """The poster's form ``(q - p) / (p (1 - p)) * F'(z)``, with ``p`` clipped, for comparison.

    This is how the rule is commonly written in code (``p`` clamped to ``[clip, 1 - clip]``
    to avoid division by zero).  It is *not* the gradient once ``p`` is clipped: far from
    threshold ``F'(z)`` underflows (``|z| > 38`` in float64, ``> 14`` in float32) or is
    dwarfed by ``1 / clip``, so the weight vanishes where the exact one grows like ``|z|``.
    The example uses it to reproduce the poster's gradient landscape.

    Parameters
    ----------
    z, q : array_like
    link : {"probit", "logistic", "exponential"}
    clip : float
        ``p`` is clipped to ``[clip, 1 - clip]``; ``0`` clips nothing (then NaN and inf
        appear, as the tests show).
    dtype : numpy dtype
        Arithmetic precision (``np.float32`` mimics a float32 deep-learning framework).

    Returns
    -------
    ndarray (float64)
    """
    link = _link(link)
    z = np.asarray(z, dtype)
    q = np.asarray(q, dtype)
    with np.errstate(all="ignore"):
        p = firing_probability(z.astype(np.float64), link).astype(dtype)
        if link == "probit":
            dp = (np.exp(-z * z / dtype(2)) * dtype(_INV_SQRT_2PI)).astype(dtype)
        elif link == "logistic":
            dp = p * (dtype(1) - p)
        else:
            e = np.exp(z)
            dp = e * np.exp(-e)
        if clip:
            p = np.clip(p, dtype(clip), dtype(1) - dtype(clip))
        return ((q - p) / (p * (dtype(1) - p)) * dp).astype(np.float64)


def _check_teacher(q, refractory):
    bad = (q > 0.5) & refractory
    if bad.any():
        e, t, n = np.argwhere(bad)[0]
        raise ValueError(f"target spike in bin {t} of example {e}, neuron {n} falls in the "
                         f"refractory period of an earlier target spike (t_ref too long for q)")


# --------------------------------------------------------------------------- results
@dataclasses.dataclass
class EscapeResult:
    """What :func:`simulate` returns (shapes without the axes the inputs left out).

    Attributes
    ----------
    spikes : ndarray of bool, (n_examples, n_bins, n_neurons)
        The sampled spikes (or, with teacher forcing, the target spikes that reset).
    v : ndarray
        The potential ``V_k`` at the start of each bin, before that bin's reset.
    p : ndarray
        Firing probability of each bin given the history (0 while refractory).
    refractory : ndarray of bool
    """

    spikes: np.ndarray
    v: np.ndarray
    p: np.ndarray
    refractory: np.ndarray


@dataclasses.dataclass
class EscapeGradients:
    """Log-likelihood and its gradients (summed over examples and bins).

    Attributes
    ----------
    value : float
        ``l``, summed over examples, bins and neurons.
    weights : ndarray, shape of ``w``
    bias : ndarray, (n_neurons,) (a float for a 1-D ``w``)
    theta : ndarray
        ``dl/du``, the threshold gradient.
    per_example : ndarray (n_examples,)
        Each example's log-likelihood (summed over its neurons).
    spikes : ndarray of bool
        The spikes that reset the membrane (the target, or the free-running sample).
    p : ndarray
        Per-bin firing probabilities under those resets.
    """

    value: float
    weights: np.ndarray
    bias: np.ndarray
    theta: np.ndarray
    per_example: np.ndarray
    spikes: np.ndarray
    p: np.ndarray


# --------------------------------------------------------------------------- public API
def simulate(x, w, bias=0.0, *, neuron=None, sigma_n, seed=0, examples=None, neurons=None,
             resets=None):
    """Sample the escape-noise neuron(s) in discrete time.

    Parameters
    ----------
    x : array_like, (n_bins, n_inputs) or (n_examples, n_bins, n_inputs)
        Input spike counts per bin (delivered at the bin's start, see :func:`bin_spike_times`).
    w : array_like, (n_inputs,) or (n_inputs, n_neurons)
    bias : float or array_like (n_neurons,)
        Constant current; acts as ``bias / g_leak`` on ``V``.
    neuron : DiscreteLIF, optional
        Parameters (default :class:`DiscreteLIF()`).
    sigma_n : float
        Noise level, > 0.
    seed : int
        Seed of the counter-based generator.
    examples, neurons : array_like of int, optional
        Global ids of the examples and neurons (default ``0..n-1``): the draws of a row depend
        on its ids only, so splitting a batch gives bit-identical samples.
    resets : array_like, optional
        Teacher forcing: a spike train (shape of ``p``) that drives the resets instead of
        the samples; then nothing is drawn and ``spikes`` is ``resets``.

    Returns
    -------
    EscapeResult
    """
    neuron = DiscreteLIF() if neuron is None else neuron
    sigma = _sigma(sigma_n)
    x, w, b, r, unshape = _shapes(x, w, bias, resets)
    E, T, _ = x.shape
    N = w.shape[1]
    c = _drive(x, w, neuron.g_leak)
    ids = _examples_ids(examples, E)
    nids = _examples_ids(neurons, N) if neurons is not None else np.arange(N, dtype=np.uint64)
    u = None if r is not None else uniforms(seed, ids, nids, T)
    V, S, R, _ = _forward(c, b / neuron.g_leak, neuron, sigma, resets=r, u=u)
    if r is not None:
        _check_teacher(r, R)
    p = np.where(R, 0.0, firing_probability((V - neuron.theta) / sigma, neuron.link))
    return EscapeResult(unshape(S), unshape(V), unshape(p), unshape(R))


def log_likelihood(x, q, w, bias=0.0, *, neuron=None, sigma_n):
    """Log-likelihood of the target train ``q`` with teacher forcing, per example.

    Parameters
    ----------
    x, w, bias, neuron, sigma_n
        As in :func:`simulate`.
    q : array_like
        Target spikes, 0 or 1 per (example, bin, neuron).

    Returns
    -------
    ndarray (n_examples,)
        One entry per example (a single entry for a 2-D ``x``), summed over bins and neurons.
    """
    return value_and_grad(x, q, w, bias, neuron=neuron, sigma_n=sigma_n).per_example


def value_and_grad(x, q, w, bias=0.0, *, neuron=None, sigma_n, mode="teacher",
                   estimator="fixed_resets", baseline=0.0, seed=0, examples=None, neurons=None,
                   naive_clip=None):
    """Log-likelihood of a target spike train and its exact gradient (the noise-driven rule).

    Use it to drive the rule from your own training loop: ``w += lr * g.weights``
    (gradient *ascent*; ``g.value`` is a log-likelihood).

    Parameters
    ----------
    x : array_like, (n_bins, n_inputs) or (n_examples, n_bins, n_inputs)
        Input spike counts per bin.
    q : array_like
        Target spikes (0/1) with shape (n_examples, n_bins, n_neurons), leaving out the
        axes that ``x`` and ``w`` leave out.
    w : array_like, (n_inputs,) or (n_inputs, n_neurons)
    bias : float or array_like (n_neurons,)
    neuron : DiscreteLIF, optional
    sigma_n : float
        Noise level (> 0).
    mode : {"teacher", "free"}
        Which spikes reset the membrane: the target's (exact gradient) or the neuron's own
        seeded samples (see the module docstring).
    estimator : {"fixed_resets", "score"}
        Free running only: hold the sampled resets fixed, or add the score-function term
        ``(l_e - baseline) d ln P(s_e)/dtheta`` per example (unbiased for the gradient of
        ``E_s[l]``).
    baseline : float or array_like (n_examples,)
        Subtracted from ``l_e`` in the score term (variance reduction; any value keeps it
        unbiased).
    seed, examples, neurons
        The random streams of free running (as in :func:`simulate`).
    naive_clip : float, optional
        Replace the exact per-bin weight by :func:`naive_per_bin_weight` with this clip (the
        poster's form as commonly coded; not a gradient; for comparisons only).

    Returns
    -------
    EscapeGradients
        Sums over examples; ``weights`` has the shape of ``w``.

    Notes
    -----
    Teacher forcing gives, with ``lambda`` from :func:`per_bin_weight`,
    ``dl/dw_i = sum_t lambda(z_t, q_t) / sigma_n * dV_t/dw_i``; the traces ``dV_t/dw_i``
    are not formed: one reverse sweep over the bins gives ``dl/dc_t`` for the drive
    ``c_t = sum_i w_i x_{i,t}``, and ``dl/dw = x^T dl/dc`` (``docs/escape_noise.md`` 4).
    Cost ``O(T N)`` for the sweeps plus two products with ``x``.
    """
    neuron = DiscreteLIF() if neuron is None else neuron
    sigma = _sigma(sigma_n)
    if mode not in ("teacher", "free"):
        raise ValueError(f"mode must be 'teacher' or 'free', got {mode!r}")
    if estimator not in ("fixed_resets", "score"):
        raise ValueError(f"estimator must be 'fixed_resets' or 'score', got {estimator!r}")
    x, w, b, q, unshape = _shapes(x, w, bias, q)
    E, T, n_in = x.shape
    N = w.shape[1]
    g_l = neuron.g_leak
    c = _drive(x, w, g_l)
    if mode == "teacher":
        V, S, R, Fz = _forward(c, b / g_l, neuron, sigma, resets=q)
        _check_teacher(q, R)
    else:
        ids = _examples_ids(examples, E)
        nids = _examples_ids(neurons, N) if neurons is not None else np.arange(N, dtype=np.uint64)
        V, S, R, Fz = _forward(c, b / g_l, neuron, sigma, u=uniforms(seed, ids, nids, T))
    ll, lam, z = _terms(V, q, R, neuron, sigma, naive_clip)
    per_example = ll.sum(axis=(1, 2))
    cbar, bbar, rbar = _backward(lam / sigma, S, Fz, neuron)
    gw = _pullback(x, cbar, g_l)
    gb = bbar.sum(axis=0) / g_l
    gu = -(lam.sum(axis=(0, 1))) / sigma
    if neuron.reset == "subtract":
        gu = gu - rbar.sum(axis=0)
    if mode == "free" and estimator == "score":
        # d ln P(s)/dparams: the teacher-forced gradient with the sample itself as target.
        s = S.astype(np.float64)
        ll_s, lam_s, _ = _terms(V, s, R, neuron, sigma)
        cb_s, bb_s, rb_s = _backward(lam_s / sigma, S, Fz, neuron)
        adv = per_example - np.broadcast_to(np.asarray(baseline, np.float64), (E,))
        gw = gw + _pullback(x, cb_s * adv[:, None, None], g_l)
        gb = gb + (bb_s * adv[:, None]).sum(axis=0) / g_l
        gu = gu - (lam_s * adv[:, None, None]).sum(axis=(0, 1)) / sigma
        if neuron.reset == "subtract":
            gu = gu - (rb_s * adv[:, None]).sum(axis=0)
    p = np.where(R, 0.0, firing_probability(z, neuron.link))
    if unshape.squeeze_n:
        gw, gb, gu = gw[:, 0], float(gb[0]), float(gu[0])
    return EscapeGradients(value=float(per_example.sum()), weights=gw, bias=gb, theta=gu,
                           per_example=per_example, spikes=unshape(S), p=unshape(p))


# --------------------------------------------------------------------------- hidden layer
@dataclasses.dataclass
class HiddenGradients:
    """What :func:`hidden_value_and_grad` returns (sums over examples).

    Attributes
    ----------
    value : float
        Sum over examples of ``ln mean_k P(q | h_k)``: the sampled estimate of the marginal
        log-likelihood ``ln P(q | x)`` (a lower bound in expectation, by Jensen).
    w_hidden, w_out : ndarray
        Gradients for the input-to-hidden and hidden-to-output weights.
    bias_hidden, bias_out : ndarray
    per_example : ndarray (n_examples,)
    ess : ndarray (n_examples,)
        Effective sample size ``1 / sum_k omega_k^2`` of the importance weights: when it is
        near 1, a single hidden sample dominates and the estimate is noisy.
    hidden_spikes : ndarray of bool, (n_examples, n_samples, n_bins, n_hidden)
    """

    value: float
    w_hidden: np.ndarray
    w_out: np.ndarray
    bias_hidden: np.ndarray
    bias_out: np.ndarray
    per_example: np.ndarray
    ess: np.ndarray
    hidden_spikes: np.ndarray


def hidden_value_and_grad(x, q, w_hidden, w_out, bias_hidden=0.0, bias_out=0.0, *,
                          hidden=None, output=None, sigma_n, n_samples=16, seed=0,
                          examples=None):
    r"""The likelihood rule through one stochastic hidden layer.

    The hidden neurons are escape-noise neurons driven by ``x``; their spikes drive the
    output neurons, which are teacher-forced by the target ``q``.  The hidden spikes ``h``
    are latent, so the quantity to maximise is the marginal likelihood
    ``P(q | x) = sum_h P(h | x) P(q | h)``, whose gradient is the posterior expectation

    .. math::

        \nabla \ln P(q|x) = E_{h \sim P(h | q, x)}
        \bigl[\nabla \ln P(h | x) + \nabla \ln P(q | h)\bigr] .

    It is estimated with ``n_samples`` free-running hidden samples per example, weighted by
    the self-normalised importance weights ``omega_k = P(q | h_k) / sum_j P(q | h_j)``
    (``docs/escape_noise.md`` 6): the output term is the exact teacher-forced gradient, the
    hidden term is the exact gradient of the log-probability of the sampled hidden train
    (each with that sample's resets).  The estimate is consistent (exact as
    ``n_samples -> inf``), biased for finite ``n_samples``.

    Parameters
    ----------
    x : array_like, (n_bins, n_inputs) or (n_examples, n_bins, n_inputs)
    q : array_like
        Target spikes of the output neurons, (n_examples, n_bins, n_out) (axes left out as
        in ``x``; ``w_out`` must be 2-D).
    w_hidden : array_like (n_inputs, n_hidden)
    w_out : array_like (n_hidden, n_out)
    bias_hidden, bias_out : float or array_like
    hidden, output : DiscreteLIF, optional
        Parameters of each layer (default :class:`DiscreteLIF()`).
    sigma_n : float or (float, float)
        Noise level, or ``(hidden, output)`` levels.
    n_samples : int
        Hidden samples per example.
    seed : int
    examples : array_like of int, optional
        Global example ids; sample ``k`` of example ``e`` uses counters ``k T .. k T + T - 1``
        of the streams ``(seed, e, hidden neuron)``.

    Returns
    -------
    HiddenGradients
    """
    hidden = DiscreteLIF() if hidden is None else hidden
    output = DiscreteLIF() if output is None else output
    if np.ndim(sigma_n) == 0:
        s_h = s_o = _sigma(sigma_n)
    else:
        if len(sigma_n) != 2:
            raise ValueError(f"sigma_n must be a number or a (hidden, output) pair, got {sigma_n!r}")
        s_h, s_o = _sigma(sigma_n[0]), _sigma(sigma_n[1])
    if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) or n_samples < 1:
        raise ValueError(f"n_samples must be an integer >= 1, got {n_samples!r}")
    K = int(n_samples)
    w_out = _finite_array("w_out", w_out)
    if w_out.ndim != 2:
        raise ValueError(f"w_out must have shape (n_hidden, n_out), got {w_out.shape}")
    x, w_h, b_h, _, _ = _shapes(x, w_hidden, bias_hidden)
    if np.ndim(w_hidden) != 2:
        raise ValueError(f"w_hidden must have shape (n_inputs, n_hidden), got {np.shape(w_hidden)}")
    E, T, n_in = x.shape
    H = w_h.shape[1]
    if w_out.shape[0] != H:
        raise ValueError(f"w_out has {w_out.shape[0]} rows but there are {H} hidden neurons")
    _, w_o, b_o, q, _ = _shapes(np.zeros((E, T, H)), w_out, bias_out, q if np.ndim(q) == 3
                                 else np.asarray(q)[None])
    ids = _examples_ids(examples, E)
    # Hidden layer, free running: K samples per example, counters k*T.. of its own streams.
    c_h = np.repeat(_drive(x, w_h, hidden.g_leak), K, axis=0)             # (E K, T, H)
    u = np.concatenate([uniforms(seed, ids, np.arange(H, dtype=np.uint64), T, offset=k * T)
                        for k in range(K)], axis=2).reshape(E, T, K, H)
    u = u.transpose(0, 2, 1, 3).reshape(E * K, T, H)
    Vh, Sh, Rh, Fh = _forward(c_h, b_h / hidden.g_leak, hidden, s_h, u=u)
    h = Sh.astype(np.float64)
    _, lam_h, _ = _terms(Vh, h, Rh, hidden, s_h)
    cb_h, bb_h, _ = _backward(lam_h / s_h, Sh, Fh, hidden)
    # Output layer, teacher forced, driven by the hidden samples.
    qk = np.repeat(q, K, axis=0)
    c_o = _drive(h, w_o, output.g_leak)
    Vo, So, Ro, Fo = _forward(c_o, b_o / output.g_leak, output, s_o, resets=qk)
    _check_teacher(qk, Ro)
    ll_o, lam_o, _ = _terms(Vo, qk, Ro, output, s_o)
    cb_o, bb_o, _ = _backward(lam_o / s_o, So, Fo, output)
    ll = ll_o.sum(axis=(1, 2)).reshape(E, K)
    m = ll.max(axis=1, keepdims=True)
    wts = np.exp(ll - m)
    per_example = (m[:, 0] + np.log(wts.mean(axis=1)))
    omega = (wts / wts.sum(axis=1, keepdims=True)).reshape(E * K)
    xk = np.repeat(x, K, axis=0)
    g_wh = _pullback(xk, cb_h * omega[:, None, None], hidden.g_leak)
    g_bh = (bb_h * omega[:, None]).sum(axis=0) / hidden.g_leak
    g_wo = _pullback(h, cb_o * omega[:, None, None], output.g_leak)
    g_bo = (bb_o * omega[:, None]).sum(axis=0) / output.g_leak
    ess = 1.0 / (omega.reshape(E, K) ** 2).sum(axis=1)
    return HiddenGradients(value=float(per_example.sum()), w_hidden=g_wh, w_out=g_wo,
                           bias_hidden=g_bh, bias_out=g_bo, per_example=per_example, ess=ess,
                           hidden_spikes=Sh.reshape(E, K, T, H))


# --------------------------------------------------------------------------- noise schedules
@dataclasses.dataclass(frozen=True)
class NoiseSchedule:
    """``sigma_n`` as a function of the epoch: call it, ``schedule(epoch) -> sigma_n``.

    Build one with :func:`constant`, :func:`exponential_cooling` or :func:`steps`.
    """

    kind: str
    values: tuple
    boundaries: tuple = ()
    gamma: float = 1.0
    floor: float = 0.0

    def __call__(self, epoch):
        if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 0:
            raise ValueError(f"epoch must be an integer >= 0, got {epoch!r}")
        if self.kind == "constant":
            return self.values[0]
        if self.kind == "exponential":
            return max(self.floor, self.values[0] * self.gamma ** int(epoch))
        return self.values[int(np.searchsorted(self.boundaries, epoch, side="right"))]


def constant(sigma_n):
    """A fixed noise level.

    Parameters
    ----------
    sigma_n : float
        > 0.

    Returns
    -------
    NoiseSchedule
    """
    return NoiseSchedule("constant", (_sigma(sigma_n),))


def exponential_cooling(sigma_0, gamma, floor):
    """Cooling: ``sigma_n(epoch) = max(floor, sigma_0 * gamma**epoch)``.

    Parameters
    ----------
    sigma_0 : float
        Starting noise, > 0.
    gamma : float
        Factor per epoch, in (0, 1].
    floor : float
        Lowest noise, in (0, sigma_0].

    Returns
    -------
    NoiseSchedule
    """
    s0, fl = _sigma(sigma_0), _positive("floor", floor)
    g = _positive("gamma", gamma)
    if g > 1:
        raise ValueError(f"gamma must lie in (0, 1] (cooling), got {gamma!r}")
    if fl > s0:
        raise ValueError(f"floor ({fl}) must not exceed sigma_0 ({s0})")
    return NoiseSchedule("exponential", (s0,), gamma=g, floor=fl)


def steps(values, boundaries):
    """Piecewise-constant noise: ``values[j]`` for ``boundaries[j-1] <= epoch < boundaries[j]``.

    Parameters
    ----------
    values : sequence of float
        ``len(boundaries) + 1`` noise levels, each > 0.
    boundaries : sequence of int
        Strictly increasing epochs at which the level changes.

    Returns
    -------
    NoiseSchedule
    """
    vals = tuple(_sigma(v) for v in values)
    bnd = tuple(int(b) for b in boundaries)
    if len(vals) != len(bnd) + 1:
        raise ValueError(f"need len(values) == len(boundaries) + 1, got {len(vals)} and {len(bnd)}")
    if any(b1 <= b0 for b0, b1 in zip(bnd, bnd[1:])) or (bnd and bnd[0] <= 0):
        raise ValueError(f"boundaries must be strictly increasing positive epochs, got {bnd}")
    return NoiseSchedule("steps", vals, boundaries=bnd)


def learning_rate(lr, sigma_n, *, scale_with_sigma2=False, sigma_ref=1.0):
    """The step size at noise ``sigma_n``: ``lr`` or ``lr * (sigma_n / sigma_ref)**2``.

    For a missed spike ``lambda / sigma_n ~ (u - V) / sigma_n**2`` (``docs/escape_noise.md``
    3), so scaling the rate with ``sigma_n**2`` keeps steps bounded while the noise cools.

    Parameters
    ----------
    lr : float
    sigma_n : float
    scale_with_sigma2 : bool
    sigma_ref : float
        The noise level at which the scaled rate equals ``lr``.

    Returns
    -------
    float
    """
    lr = _positive("lr", lr)
    if not scale_with_sigma2:
        return lr
    return lr * (_sigma(sigma_n) / _positive("sigma_ref", sigma_ref)) ** 2


def psp_traces(x, q, neuron=None):
    """The PSP traces ``xbar_{i,t} = dV_t/dw_i`` of one neuron under teacher forcing by ``q``.

    With the resets fixed by the target, ``V_t`` is affine in the weights, so the traces
    are exact differences of two runs: ``V(w = e_i) - V(w = 0)`` for every input at once.

    Parameters
    ----------
    x : array_like, (n_bins, n_inputs) or (n_examples, n_bins, n_inputs)
    q : array_like, (n_bins,) or (n_examples, n_bins)
        The target that drives the resets.
    neuron : DiscreteLIF, optional

    Returns
    -------
    ndarray, the shape of ``x``
    """
    neuron = DiscreteLIF() if neuron is None else neuron
    xa = _finite_array("x", x)
    n_in = xa.shape[-1]
    W = np.concatenate([np.zeros((n_in, 1)), np.eye(n_in)], axis=1)
    qa = np.asarray(q, np.float64)
    r = simulate(xa, W, 0.0, neuron=neuron, sigma_n=1.0,
                 resets=np.repeat(qa[..., None], n_in + 1, axis=-1))
    return r.v[..., 1:] - r.v[..., :1]


def stable_learning_rate(x, q, sigma_n, neuron=None):
    """The largest step of plain gradient ascent on the weights that never overshoots.

    With teacher forcing ``l`` is concave in ``w`` (``V`` is affine in ``w``; ``ln F`` and
    ``ln(1 - F)`` are concave for the probit and logistic links) and its curvature is at
    most ``c / sigma_n^2`` times that of ``sum_t xbar_t xbar_t^T`` (``c = 1`` for the
    probit, ``1/4`` for the logistic link; ``docs/escape_noise.md`` 3).  So
    ``lr = sigma_n^2 / (c * lambda_max(sum_t xbar_t xbar_t^T))`` is a safe step: this is
    the ``sigma_n^2`` scaling of the learning rate, with its constant.

    Parameters
    ----------
    x : array_like, (n_bins, n_inputs) or (n_examples, n_bins, n_inputs)
    q : array_like, (n_bins,) or (n_examples, n_bins)
    sigma_n : float
    neuron : DiscreteLIF, optional
        ``link`` must be "probit" or "logistic" (the exponential link has unbounded
        curvature).

    Returns
    -------
    float
    """
    neuron = DiscreteLIF() if neuron is None else neuron
    sigma = _sigma(sigma_n)
    if neuron.link == "exponential":
        raise ValueError("the exponential link has unbounded curvature: no safe constant step")
    tr = psp_traces(x, q, neuron)
    tr = tr.reshape(-1, tr.shape[-1])
    lam = float(np.linalg.eigvalsh(tr.T @ tr)[-1])
    c = 1.0 if neuron.link == "probit" else 0.25
    return sigma * sigma / (c * lam) if lam > 0 else math.inf


@dataclasses.dataclass
class TrainHistory:
    """What :func:`train` returns: the final parameters and one entry per epoch.

    Attributes
    ----------
    w, bias : ndarray
    sigma_n, log_likelihood : ndarray (n_epochs,)
        The noise of each epoch and the log-likelihood (mean over examples) before its step.
    w_path : ndarray (n_epochs + 1, ...)
        The weights before every epoch and after the last.
    """

    w: np.ndarray
    bias: np.ndarray
    sigma_n: np.ndarray
    log_likelihood: np.ndarray
    w_path: np.ndarray


def train(x, q, w, bias=0.0, *, neuron=None, schedule, epochs, lr, scale_lr_with_sigma2=False,
          sigma_ref=1.0, mode="teacher", train_bias=False, seed=0, mask=None, w_min=None,
          w_max=None):
    """Gradient ascent on the log-likelihood with a noise schedule (full batch).

    Each epoch: ``sigma = schedule(epoch)``, ``g = value_and_grad(...)`` averaged over the
    examples, ``w += learning_rate(lr, sigma, ...) * g.weights`` (and the bias with
    ``train_bias``), then clipping to ``[w_min, w_max]``.

    Parameters
    ----------
    x, q, w, bias, neuron
        As in :func:`value_and_grad` (``w`` and ``bias`` are copied).
    schedule : NoiseSchedule or callable
        ``epoch -> sigma_n``.
    epochs : int
    lr : float
    scale_lr_with_sigma2 : bool
        Multiply the rate by ``(sigma_n / sigma_ref)**2`` (see :func:`learning_rate`).
    sigma_ref : float
    mode : {"teacher", "free"}
        Free running draws a fresh sample each epoch (seed ``seed + epoch``).
    train_bias : bool
    seed : int
    mask : array_like of bool, optional
        Shape of ``w``: only these weights learn (e.g. block-diagonal batches of neurons).
    w_min, w_max : float, optional
        Clip the weights after every step.

    Returns
    -------
    TrainHistory
    """
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 0:
        raise ValueError(f"epochs must be an integer >= 0, got {epochs!r}")
    w = np.array(w, np.float64)
    b = np.array(bias, np.float64)
    msk = None if mask is None else np.asarray(mask, bool)
    if msk is not None and msk.shape != w.shape:
        raise ValueError(f"mask must have the shape of w {w.shape}, got {msk.shape}")
    n_ex = 1 if np.ndim(x) == 2 else np.shape(x)[0]
    sig, lls, path = [], [], [w.copy()]
    for epoch in range(int(epochs)):
        sigma = schedule(epoch)
        g = value_and_grad(x, q, w, b, neuron=neuron, sigma_n=sigma, mode=mode, seed=seed + epoch)
        step = learning_rate(lr, sigma, scale_with_sigma2=scale_lr_with_sigma2,
                             sigma_ref=sigma_ref) / n_ex
        gw = g.weights if msk is None else np.where(msk, g.weights, 0.0)
        w = w + step * gw
        if w_min is not None or w_max is not None:
            w = np.clip(w, w_min, w_max)
        if train_bias:
            b = b + step * np.asarray(g.bias)
        sig.append(sigma)
        lls.append(g.value / n_ex)
        path.append(w.copy())
    return TrainHistory(w=w, bias=b, sigma_n=np.array(sig), log_likelihood=np.array(lls),
                        w_path=np.array(path))
