"""Mean-field theory of LIF populations: stationary rates and the transient (issue 11).

The model is the multi-spike LIF with exponential current synapses of
``docs/math.md`` G.1: ``tau_mem dV/dt = -V + J + bias/g_leak``, ``tau_syn dJ/dt = -J``,
and an arrival of weight ``w`` makes ``J`` jump by ``w / g_leak``.  Driven by many small,
independent (Poisson) arrivals, the membrane potential is approximately an
Ornstein-Uhlenbeck process (the diffusion approximation), whose firing rate is the
Siegert formula; synaptic filtering is folded in by the Fourcaud & Brunel (2002)
shift of threshold and reset.  The population rate over time through a transient is
the escape flux of a Fokker-Planck equation for the membrane density, solved by
finite volumes.  ``docs/meanfield.md`` derives every formula used here and says when
they fail.

Units are the engine's: rates are spikes per unit of simulated time (per ms when
times are in ms), weights are currents as given to :meth:`Network.connect`.

Public functions
----------------
* :func:`siegert_rate` -- stationary rate for given mean and noise of the input.
* :func:`input_moments` -- mean ``mu`` and noise ``sigma`` from rates and weights.
* :class:`MeanFieldModel` -- populations and their coupling, from numbers
  (:meth:`MeanFieldModel.from_indegrees`) or from a network
  (:meth:`MeanFieldModel.from_network`).
* :func:`stationary_rates` -- self-consistent rates of all populations.
* :func:`transient` -- population rates over time (Fokker-Planck, or a rate model).
* :func:`population_rate`, :func:`compare_rates` -- PSTH of simulated spikes and the
  error of a prediction against it.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np
from scipy import linalg, optimize, special

from eventsim.network import Network, Population

__all__ = ["FB_SHIFT", "siegert_rate", "input_moments", "MeanFieldModel", "stationary_rates",
           "Transient", "transient", "population_rate", "compare_rates"]

# |zeta(1/2)| / sqrt(2): threshold and reset move up by FB_SHIFT * sigma *
# sqrt(tau_syn / tau_mem) (Fourcaud & Brunel 2002, their alpha / 2).
FB_SHIFT = 1.4603545088095868 / math.sqrt(2.0)

# Gauss-Legendre nodes for integrals of erfcx over dyadic pieces [2^k, 2^(k+1)]:
# erfcx is analytic and changes by at most a factor ~2 on each, so 24 nodes reach
# rounding.
_GL_X, _GL_W = np.polynomial.legendre.leggauss(24)


def _int_erfcx(x):
    """G(x) = integral of erfcx(s) ds over [0, x], for x >= 0 (elementwise)."""
    x = np.asarray(x, np.float64)
    out = np.zeros_like(x)
    top = float(np.max(x, initial=0.0))
    edges = [0.0, 0.5, 1.0]
    while edges[-1] < top:
        edges.append(2.0 * edges[-1])
    for a, b in zip(edges[:-1], edges[1:]):
        hi = np.clip(x, a, b)
        half = 0.5 * (hi - a)
        nodes = a + half[..., None] * (1.0 + _GL_X)
        out += half * (special.erfcx(nodes) @ _GL_W)
    return out


def _siegert_integral(y_r, y_th):
    """Integral of exp(u^2) (1 + erf u) = erfcx(-u) du over [y_r, y_th], y_r <= y_th.

    Negative u: erfcx(|u|), bounded, by quadrature.  Positive u: exp(u^2) erfc(-u) =
    2 exp(u^2) - erfcx(u), the first in closed form by Dawson's integral.  The
    integrand is never formed as exp(u^2) times something small, so nothing cancels.
    """
    y_r, y_th = np.broadcast_arrays(np.asarray(y_r, np.float64), np.asarray(y_th, np.float64))
    neg = _int_erfcx(np.maximum(-y_r, 0.0)) - _int_erfcx(np.maximum(-y_th, 0.0))
    a, b = np.maximum(y_r, 0.0), np.maximum(y_th, 0.0)
    # integral of exp(u^2) over [a, b] = exp(b^2) (D(b) - exp(a^2 - b^2) D(a)), D
    # Dawson's integral: the factored form overflows only as a whole (to inf, beyond
    # b ~ 26.6, where the rate is 0 to double precision), never as inf - inf.
    with np.errstate(over="ignore", invalid="ignore"):
        gauss = np.exp(b * b) * (special.dawsn(b) - np.exp((a - b) * (a + b)) * special.dawsn(a))
        pos = np.where(b > a, 2.0 * gauss - (_int_erfcx(b) - _int_erfcx(a)), 0.0)
    return neg + pos


def siegert_rate(mu, sigma, *, tau_mem, theta, v_reset, t_ref=0.0, tau_syn=0.0):
    """Stationary firing rate of an LIF neuron with white-noise input (Siegert formula).

    The free membrane potential is taken to obey ``tau_mem dV = (mu - V) dt +
    sigma sqrt(tau_mem) dW``, so ``mu`` is its mean and ``sigma / sqrt(2)`` its standard
    deviation without threshold.  Then (``docs/meanfield.md`` 1)

    ``1 / rate = t_ref + tau_mem sqrt(pi) * integral of exp(u^2) (1 + erf u) du`` over
    ``[(v_reset - mu) / sigma + s, (theta - mu) / sigma + s]``, with ``s = FB_SHIFT *
    sqrt(tau_syn / tau_mem)`` the Fourcaud & Brunel (2002) correction for synaptic
    filtering (``tau_syn = 0``: none).

    Parameters
    ----------
    mu, sigma : array_like
        Mean and noise amplitude of the input in units of the potential (broadcast);
        ``sigma >= 0``.  ``sigma = 0`` gives the deterministic rate
        ``1 / (t_ref + tau_mem log((mu - v_reset) / (mu - theta)))`` above threshold.
    tau_mem, theta, v_reset, t_ref, tau_syn : float or array_like
        The neuron's parameters (broadcast with ``mu``); ``v_reset < theta``.

    Returns
    -------
    numpy.ndarray or float
        Spikes per unit time (a float for scalar arguments).

    Examples
    --------
    >>> round(float(siegert_rate(15.0, 5.0, tau_mem=20.0, theta=20.0, v_reset=10.0,
    ...                          t_ref=2.0)) * 1000, 2)   # Hz for times in ms
    9.46
    """
    mu, sigma, tau_mem, theta, v_reset, t_ref, tau_syn = np.broadcast_arrays(
        *(np.asarray(_finite(n, v), np.float64) for n, v in (
            ("mu", mu), ("sigma", sigma), ("tau_mem", tau_mem), ("theta", theta),
            ("v_reset", v_reset), ("t_ref", t_ref), ("tau_syn", tau_syn))))
    if (sigma < 0).any():
        raise ValueError("sigma must be >= 0")
    if (tau_mem <= 0).any() or (tau_syn < 0).any() or (t_ref < 0).any():
        raise ValueError("tau_mem must be > 0, tau_syn and t_ref >= 0")
    if not (v_reset < theta).all():
        raise ValueError("v_reset must be below theta")
    noisy = sigma > 0
    s = np.where(noisy, sigma, 1.0)
    shift = FB_SHIFT * np.sqrt(tau_syn / tau_mem)
    integral = _siegert_integral((v_reset - mu) / s + shift, (theta - mu) / s + shift)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        rate = 1.0 / (t_ref + tau_mem * math.sqrt(math.pi) * integral)
        det = np.where(mu > theta, 1.0 / (t_ref + tau_mem * np.log(
            (mu - v_reset) / np.where(mu > theta, mu - theta, 1.0))), 0.0)
    out = np.where(noisy, rate, det)
    return float(out) if out.ndim == 0 else out


def input_moments(rates, weight_sum, weight_sq_sum, *, tau_mem, tau_syn, g_leak=1.0,
                  bias=0.0):
    """Mean ``mu`` and noise ``sigma`` of the input, in the diffusion approximation.

    A neuron receiving, from source ``b`` firing at ``rates[b]``, synapses whose weights
    sum to ``weight_sum[b]`` (``K_b * mean w``) and whose squares sum to
    ``weight_sq_sum[b]`` (``K_b * mean w^2``) has (``docs/meanfield.md`` 1)

    ``mu = bias / g_leak + (tau_syn / g_leak) sum_b rates[b] weight_sum[b]``,
    ``sigma^2 = tau_syn^2 / (g_leak^2 tau_mem) sum_b rates[b] weight_sq_sum[b]``.

    Parameters
    ----------
    rates : array_like, shape (..., S)
        Firing rate of each source (spikes per unit time).
    weight_sum, weight_sq_sum : array_like, shape (..., S)
    tau_mem, tau_syn, g_leak, bias : float or array_like broadcasting with ``(...)``

    Returns
    -------
    mu, sigma : numpy.ndarray
    """
    r = np.asarray(rates, np.float64)
    w1, w2 = np.asarray(weight_sum, np.float64), np.asarray(weight_sq_sum, np.float64)
    if (r < 0).any() or (w2 < 0).any():
        raise ValueError("rates and weight_sq_sum must be >= 0")
    tau_mem, tau_syn, g_leak, bias = (np.asarray(v, np.float64) for v in (tau_mem, tau_syn,
                                                                         g_leak, bias))
    mu = bias / g_leak + tau_syn / g_leak * np.sum(r * w1, axis=-1)
    sigma = tau_syn / g_leak * np.sqrt(np.sum(r * w2, axis=-1) / tau_mem)
    return mu, sigma


def _finite(name, value):
    a = np.asarray(value, dtype=np.float64) if not isinstance(value, bool) else None
    if a is None or not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite real number(s), got {value!r}")
    return a


def _drive_table(pieces, n_pops):
    """Sum piecewise-constant drives into one table ``(times, w1, w2)``.

    ``pieces`` holds ``(population, times, rates, sum of w, sum of w^2)``, each with its
    own breakpoints (already shifted by its delay); the table has their union.
    """
    times = np.unique(np.concatenate([pc[1] for pc in pieces] + [np.zeros(1)]))
    w1, w2 = np.zeros((times.size, n_pops)), np.zeros((times.size, n_pops))
    for a, t, r, s1, s2 in pieces:
        k = np.searchsorted(t, times, side="right") - 1
        w1[:, a] += r[k] * s1
        w2[:, a] += r[k] * s2
    # Breakpoints where nothing changes (a generator's rate step that another
    # delay undoes, zero-rate segments) would only lengthen the table.
    keep = np.concatenate([[True], np.any((w1[1:] != w1[:-1]) | (w2[1:] != w2[:-1]), 1)])
    return times[keep], w1[keep], w2[keep]


_PARAMS = ("tau_mem", "tau_syn", "g_leak", "theta", "v_reset", "t_ref", "bias", "v_init")


@dataclasses.dataclass(frozen=True)
class MeanFieldModel:
    """``P`` LIF populations, their coupling and their external drive.

    Build it with :meth:`from_indegrees` (numbers) or :meth:`from_network` (an
    eventsim network).  Population ``a`` receives from population ``b`` synapses whose
    weights sum, per neuron on average, to ``weight_sum[a, b]`` and whose squared
    weights sum to ``weight_sq_sum[a, b]``, with delay ``delay[a, b]``; and from the
    external sources (Poisson), per unit time, ``ext_w1(t)[a] = sum of w * rate`` and
    ``ext_w2(t)[a] = sum of w^2 * rate`` over its synapses, piecewise constant in
    ``t`` (``ext_times``, ``ext_w1``, ``ext_w2``; already delayed).

    Attributes
    ----------
    names : tuple of str, length P
    tau_mem, tau_syn, g_leak, theta, v_reset, t_ref, bias, v_init : numpy.ndarray, shape (P,)
    weight_sum, weight_sq_sum, delay : numpy.ndarray, shape (P, P)
    ext_times : numpy.ndarray, shape (T,)
        Increasing, starting at 0: segment ``k`` holds from ``ext_times[k]``.
    ext_w1, ext_w2 : numpy.ndarray, shape (T, P)
    """

    names: tuple
    tau_mem: np.ndarray
    tau_syn: np.ndarray
    g_leak: np.ndarray
    theta: np.ndarray
    v_reset: np.ndarray
    t_ref: np.ndarray
    bias: np.ndarray
    weight_sum: np.ndarray
    weight_sq_sum: np.ndarray
    delay: np.ndarray
    ext_times: np.ndarray
    ext_w1: np.ndarray
    ext_w2: np.ndarray
    v_init: np.ndarray = 0.0

    def __post_init__(self):
        p = len(self.names)
        for k in _PARAMS:
            v = np.broadcast_to(_finite(k, getattr(self, k)), (p,)).astype(np.float64)
            object.__setattr__(self, k, v)
        for k in ("weight_sum", "weight_sq_sum", "delay"):
            v = np.broadcast_to(_finite(k, getattr(self, k)), (p, p)).astype(np.float64)
            object.__setattr__(self, k, v)
        t = _finite("ext_times", self.ext_times).reshape(-1)
        if not (t.size and t[0] == 0 and (np.diff(t) > 0).all()):
            raise ValueError("ext_times must be strictly increasing and start at 0")
        object.__setattr__(self, "ext_times", t)
        for k in ("ext_w1", "ext_w2"):
            v = np.broadcast_to(_finite(k, getattr(self, k)), (t.size, p)).astype(np.float64)
            object.__setattr__(self, k, v)
        if (self.tau_mem <= 0).any() or (self.tau_syn <= 0).any() or (self.g_leak <= 0).any():
            raise ValueError("tau_mem, tau_syn and g_leak must be > 0")
        if (self.t_ref < 0).any() or (self.delay < 0).any():
            raise ValueError("t_ref and delays must be >= 0")
        if not (self.v_reset < self.theta).all():
            raise ValueError("v_reset must be below theta")
        if (self.weight_sq_sum < 0).any() or (self.ext_w2 < 0).any():
            raise ValueError("sums of squared weights must be >= 0")

    @property
    def n_populations(self) -> int:
        return len(self.names)

    @classmethod
    def from_indegrees(cls, K, J, *, tau_mem, tau_syn, theta, v_reset, t_ref=0.0,
                       g_leak=1.0, bias=0.0, v_init=0.0, delay=0.0, ext_rate=(), ext_K=None,
                       ext_J=None, ext_delay=0.0, ext_times=None, names=None):
        """A model from in-degrees and weights (Brunel's ``C`` and ``J``).

        Parameters
        ----------
        K, J : array_like, shape (P, P)
            ``K[a, b]`` synapses from population ``b`` onto each neuron of ``a``, each of
            weight ``J[a, b]`` (a current, as in :meth:`Network.connect`).
        tau_mem, tau_syn, theta, v_reset, t_ref, g_leak, bias, v_init : float or array_like (P,)
            The neuron parameters of :func:`eventsim.Network.add_population`.
        delay : float or array_like (P, P)
        ext_rate : array_like, shape (E,) or (T, E)
            Rates of ``E`` external Poisson sources (per row of ``ext_times``).
        ext_K, ext_J : array_like, shape (P, E)
            In-degree and weight of each external source per population.
        ext_delay : float or array_like, shape (P, E), optional
            Delay of the external synapses: the drive reaches a population that much
            after the source's rate changes (and not before ``ext_delay``).
        ext_times : array_like, shape (T,), optional
            Start of each row of ``ext_rate`` (from 0); the drive is piecewise constant.
        names : sequence of str, optional

        Returns
        -------
        MeanFieldModel
        """
        K, J = np.atleast_2d(_finite("K", K)), np.atleast_2d(_finite("J", J))
        K, J = np.broadcast_arrays(K, J)
        if K.ndim != 2 or K.shape[0] != K.shape[1]:
            raise ValueError(f"K and J must be square (P, P), got shape {K.shape}")
        if (K < 0).any():
            raise ValueError("in-degrees must be >= 0")
        p = K.shape[0]
        rate = _finite("ext_rate", ext_rate)
        rate = rate.reshape(1, -1) if rate.ndim <= 1 else rate
        e = rate.shape[1]
        ek = np.zeros((p, e)) if ext_K is None else np.broadcast_to(_finite("ext_K", ext_K),
                                                                    (p, e))
        ej = np.zeros((p, e)) if ext_J is None else np.broadcast_to(_finite("ext_J", ext_J),
                                                                    (p, e))
        if (rate < 0).any() or (ek < 0).any():
            raise ValueError("external rates and in-degrees must be >= 0")
        t = np.zeros(1) if ext_times is None else _finite("ext_times", ext_times).reshape(-1)
        if rate.shape[0] != t.size:
            raise ValueError(f"ext_rate has {rate.shape[0]} rows but ext_times {t.size} entries")
        ed = np.broadcast_to(_finite("ext_delay", ext_delay), (p, e))
        if (ed < 0).any():
            raise ValueError("ext_delay must be >= 0")
        if not (t.size and t[0] == 0 and (np.diff(t) > 0).all()):
            raise ValueError("ext_times must be strictly increasing and start at 0")
        times, w1, w2 = _drive_table(
            [(a, np.concatenate([[0.0], t + ed[a, j]]), np.concatenate([[0.0], rate[:, j]]),
              ek[a, j] * ej[a, j], ek[a, j] * ej[a, j] ** 2) for a in range(p) for j in range(e)],
            p)
        names = tuple(names) if names is not None else tuple(f"pop{i}" for i in range(p))
        if len(names) != p:
            raise ValueError(f"{len(names)} names for {p} populations")
        return cls(names=names, tau_mem=tau_mem, tau_syn=tau_syn, g_leak=g_leak, theta=theta,
                   v_reset=v_reset, t_ref=t_ref, bias=bias, v_init=v_init, weight_sum=K * J,
                   weight_sq_sum=K * J * J, delay=delay, ext_times=times, ext_w1=w1,
                   ext_w2=w2)

    @classmethod
    def from_network(cls, net: Network, populations, *, source_rates=None):
        """The mean-field description of ``populations`` of an eventsim network.

        Every synapse onto a neuron of these populations enters through its actual
        weight and delay: for each source block, the sums of ``w`` and ``w^2`` over a
        neuron's incoming synapses, averaged over the neurons of the population, and
        the (weight-magnitude averaged) delay.  Poisson generators enter with their own
        (piecewise-constant) rates, each synapse's generator separately; other source
        blocks (inputs, pulses) need a rate in ``source_rates``.

        Parameters
        ----------
        net : Network
        populations : sequence of Population or str
            The ``"lif_multispike"`` populations to describe; every neuron population
            that projects onto them must be among them.
        source_rates : dict, optional
            ``{source block (Population or name): rate}`` for input or pulse blocks
            (spikes per unit time of each source), treated as Poisson.

        Returns
        -------
        MeanFieldModel
        """
        if not isinstance(net, Network):
            raise TypeError(f"net must be an eventsim Network, got {type(net).__name__}")
        if isinstance(populations, (Population, str)):
            populations = [populations]
        pops = [net[p] if isinstance(p, str) else net._own(p) for p in populations]
        if not pops:
            raise ValueError("no populations given")
        for p in pops:
            if p.kind != "lif_multispike":
                raise ValueError(f"population {p.name!r} is {p.kind!r}; the mean field covers "
                                 "LIF populations with multispike=True only")
        if len({p.name for p in pops}) != len(pops):
            raise ValueError("a population is given twice")
        rates = {}
        for key, r in (source_rates or {}).items():
            blk = net[key] if isinstance(key, str) else net._own(key)
            rates[blk.name] = float(_finite(f"rate of {blk.name!r}", r))
            if rates[blk.name] < 0:
                raise ValueError(f"rate of {blk.name!r} must be >= 0")
        n = net.n_neurons
        block_of = np.full(n, -1, np.int64)     # neuron -> index into net.populations
        for i, blk in enumerate(net.populations):
            block_of[blk.start:blk.stop] = i
        target = {p.name: a for a, p in enumerate(pops)}
        pre, post, w, d = net.pre, net.post, net.weights, net._delay_view()
        pre_blk = block_of[pre]
        P = len(pops)
        params = {k: [] for k in _PARAMS}
        ws, wsq = np.zeros((P, P)), np.zeros((P, P))
        dly_num, dly_den = np.zeros((P, P)), np.zeros((P, P))
        ext = []              # (population, rate times, rates, weights, delays, its size)
        for a, p in enumerate(pops):
            prm = net.population_params(p)
            for k in _PARAMS:
                params[k].append(prm[k])
            sel = (post >= p.start) & (post < p.stop)
            if not sel.any():
                continue
            for bi in np.unique(pre_blk[sel]):
                src = net.populations[bi]
                m = sel & (pre_blk == bi)
                sw, sd, spre = w[m], d[m], pre[m]
                if src.kind in ("lif_multispike", "lif", "alpha", "li"):
                    if src.name not in target:
                        raise ValueError(f"population {src.name!r} projects onto {p.name!r} "
                                         "but is not among the populations given")
                    b = target[src.name]
                    ws[a, b] = sw.sum() / p.size
                    wsq[a, b] = (sw * sw).sum() / p.size
                    dly_num[a, b], dly_den[a, b] = (np.abs(sw) * sd).sum(), np.abs(sw).sum()
                elif src.kind == "poisson":
                    # Each generator has its own piecewise-constant rate.
                    gen = src.index + (spre - src.start)
                    for g in np.unique(gen):
                        mg = gen == g
                        t, r = net.poisson_rate(g)
                        ext.append((a, t, r, sw[mg], sd[mg], p.size))
                else:
                    if src.name not in rates:
                        raise ValueError(f"source block {src.name!r} ({src.kind}) projects onto "
                                         f"{p.name!r}; give its rate in source_rates")
                    ext.append((a, np.zeros(1), np.array([rates[src.name]]), sw, sd, p.size))
        delay = np.where(dly_den > 0, dly_num / np.where(dly_den > 0, dly_den, 1.0), 0.0)
        # Delays of external synapses shift their rate steps: each distinct delay is
        # its own piecewise function, so the union of shifted breakpoints is exact.
        pieces = []
        for a, t, r, sw, sd, size in ext:
            for dv in np.unique(sd):
                mk = sd == dv
                pieces.append((a, np.concatenate([[0.0], t + dv]),
                               np.concatenate([[0.0], r]), sw[mk].sum() / size,
                               (sw[mk] ** 2).sum() / size))
        times, w1, w2 = _drive_table(pieces, P)
        return cls(names=tuple(p.name for p in pops), **{k: np.array(v) for k, v in
                                                         params.items()},
                   weight_sum=ws, weight_sq_sum=wsq, delay=delay, ext_times=times,
                   ext_w1=w1, ext_w2=w2)

    def external(self, t):
        """``(w1, w2)``: the external drive's ``sum w * rate`` and ``sum w^2 * rate`` at
        times ``t`` (shape ``t.shape + (P,)``)."""
        k = np.searchsorted(self.ext_times, np.asarray(t, np.float64), side="right") - 1
        return self.ext_w1[k], self.ext_w2[k]

    def moments(self, rates, t=np.inf):
        """``(mu, sigma)`` of each population for population ``rates`` (shape (..., P)),
        with the external drive at time ``t`` (default: its last segment)."""
        r = np.asarray(rates, np.float64)
        e1, e2 = self.external(min(t, self.ext_times[-1]))
        s1 = np.sum(r[..., None, :] * self.weight_sum, axis=-1) + e1
        s2 = np.sum(r[..., None, :] * self.weight_sq_sum, axis=-1) + e2
        return self._moments(s1, s2)

    def _moments(self, s1, s2):
        mu = self.bias / self.g_leak + self.tau_syn / self.g_leak * s1
        sigma = self.tau_syn / self.g_leak * np.sqrt(np.maximum(s2, 0.0) / self.tau_mem)
        return mu, sigma

    def transfer(self, mu, sigma, *, colored=True):
        """Siegert rate of each population for its ``(mu, sigma)``."""
        return siegert_rate(mu, sigma, tau_mem=self.tau_mem, theta=self.theta,
                            v_reset=self.v_reset, t_ref=self.t_ref,
                            tau_syn=self.tau_syn if colored else 0.0)


def stationary_rates(model: MeanFieldModel, *, t=np.inf, colored=True, rates0=None,
                     tol=1e-10):
    """Self-consistent stationary rates ``r = phi(mu(r), sigma(r))`` of all populations.

    Parameters
    ----------
    model : MeanFieldModel
    t : float, optional
        The external drive is taken as it is at time ``t`` (default: its last segment).
    colored : bool, optional
        Apply the Fourcaud-Brunel correction for the synaptic time constant (default).
    rates0 : array_like, shape (P,), optional
        Starting guess; by default the rates with the external drive alone, then 0.
    tol : float, optional
        Largest accepted ``|r - phi(r)|`` relative to ``max(r, 1e-6)``.

    Returns
    -------
    numpy.ndarray, shape (P,)
        Spikes per unit time.

    Raises
    ------
    RuntimeError
        If no fixed point is found (a network without a stable asynchronous state, or
        one far from the diffusion limit).
    """
    if not isinstance(model, MeanFieldModel):
        raise TypeError(f"model must be a MeanFieldModel, got {type(model).__name__}")

    def phi(r):
        return model.transfer(*model.moments(np.maximum(r, 0.0), t), colored=colored)

    p = model.n_populations
    starts = [] if rates0 is None else [np.broadcast_to(_finite("rates0", rates0), (p,))]
    starts += [phi(np.zeros(p)), np.zeros(p), np.full(p, 1e-3)]
    for r0 in starts:
        # The root is sought in log-rate: rates span decades and must stay positive.
        def f(x):
            r = np.exp(x)
            return (phi(r) - r) / np.maximum(r, 1e-6)
        x0 = np.log(np.maximum(r0, 1e-6))
        sol = optimize.root(f, x0, method="hybr", options={"xtol": 1e-13})
        r = np.exp(sol.x)
        out = phi(r)
        if np.all(np.abs(out - r) <= tol * np.maximum(r, 1e-6)):
            # One more application of phi: rates far below 1e-6 are otherwise only
            # absolutely accurate, and near the fixed point it changes the rest by < tol.
            return out
    raise RuntimeError("no self-consistent stationary rates found")


@dataclasses.dataclass(frozen=True)
class Transient:
    """Population rates over time predicted by :func:`transient`.

    Attributes
    ----------
    t : numpy.ndarray, shape (n,)
        Times ``0, dt, 2 dt, ...``.
    rate : numpy.ndarray, shape (n, P)
        Population rate (spikes per unit time per neuron) of each population.
    mu, sigma : numpy.ndarray, shape (n, P)
        Mean and noise of the input (``docs/meanfield.md`` 1), including the input's rise
        through ``tau_syn``.
    names : tuple of str
    method : str
    """

    t: np.ndarray
    rate: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    names: tuple
    method: str


def _sg_coefficients(a, d, h):
    """Scharfetter-Gummel flux ``alpha p_left - beta p_right`` through faces with drift
    ``a`` and diffusion ``d``: exact for the stationary flux of a constant drift across
    one cell, so drift-dominated cells are upwinded and diffusive ones centred."""
    d = np.maximum(d, 1e-300)
    pe = a * h / d
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        alpha = np.where(np.abs(pe) < 1e-8, d / h * (1.0 + 0.5 * pe), a / -np.expm1(-pe))
    alpha = np.where(np.isfinite(alpha), alpha, 0.0)
    return alpha, alpha - a


def transient(model: MeanFieldModel, t_max, *, dt=0.05, method="fokker-planck", v0=None,
              rates0=0.0, colored=True, n_grid=400, v_min=None):
    """Population rates over time from a given initial state, stepped through the transient.

    At ``t = 0`` every neuron has potential ``v0`` (or the given distribution) and no
    synaptic current, as in the engine; the drive then follows the model's external
    rates and the populations' own rates, each delayed by its synapses' delay.  The mean
    synaptic current rises through ``tau_syn``, exactly as the mean of ``J``; the noise
    (its variance) is filtered the same way.  See ``docs/meanfield.md`` 2.

    ``method="fokker-planck"`` (default) evolves the membrane density under the
    diffusion approximation: ``tau_mem dp/dt = -d/dV[(mu_eff(t) - V) p] +
    sigma(t)^2 / 2 d^2p/dV^2``, absorbing at ``theta``, reinjecting the escape flux at
    ``v_reset`` after ``t_ref``, reflecting at ``v_min``; finite volumes with
    Scharfetter-Gummel fluxes, implicit Euler.  ``mu_eff = mu - FB_SHIFT
    sqrt(tau_syn / tau_mem) sigma`` moves threshold and reset as Fourcaud & Brunel's
    correction.  The rate is the flux through ``theta``.

    ``method="rate"`` is the cheaper rate model ``tau_mem dr/dt = -r + phi(mu(t),
    sigma(t))`` with the Siegert transfer function ``phi``: right at stationarity and
    for slow inputs, too slow at a sudden onset.

    Parameters
    ----------
    model : MeanFieldModel
    t_max : float
        End of the prediction.
    dt : float, optional
        Time step (delays and ``t_ref`` are rounded to it).
    method : {"fokker-planck", "rate"}
    v0 : float, numpy.ndarray, list or tuple, optional
        Initial potential: a value (all neurons) or a 1-d array of samples (their
        histogram), for all populations; or a list or tuple with one of these per
        population.  Default: each population's ``v_init``.
    rates0 : float or array_like (P,), optional
        Rates before ``t = 0``, seen by delayed recurrent synapses at early times.
    colored : bool, optional
        Apply the Fourcaud-Brunel correction (default).
    n_grid : int, optional
        Finite volumes between ``v_min`` and ``theta`` (Fokker-Planck only).
    v_min : float or array_like (P,), optional
        Lower end of the grid; by default 5 standard deviations below the lowest mean
        input expected and below ``v_reset`` and the initial potentials.

    Returns
    -------
    Transient
    """
    if not isinstance(model, MeanFieldModel):
        raise TypeError(f"model must be a MeanFieldModel, got {type(model).__name__}")
    t_max, dt = float(_finite("t_max", t_max)), float(_finite("dt", dt))
    if not (t_max > 0 and dt > 0 and dt <= t_max):
        raise ValueError("need t_max > 0 and 0 < dt <= t_max")
    if method not in ("fokker-planck", "rate"):
        raise ValueError(f"method must be 'fokker-planck' or 'rate', got {method!r}")
    if isinstance(n_grid, bool) or not isinstance(n_grid, numbers.Integral) or n_grid < 20:
        raise ValueError(f"n_grid must be an integer >= 20, got {n_grid!r}")
    m, P = model, model.n_populations
    n_steps = int(math.ceil(t_max / dt - 1e-9))
    t = dt * np.arange(n_steps + 1)
    r_before = np.broadcast_to(_finite("rates0", rates0), (P,)).astype(np.float64)
    if (r_before < 0).any():
        raise ValueError("rates0 must be >= 0")
    if v0 is None:
        v0 = [np.array([v]) for v in m.v_init]
    elif np.ndim(v0) == 0 or (not isinstance(v0, (list, tuple)) and np.ndim(v0) == 1):
        v0 = [np.atleast_1d(_finite("v0", v0))] * P
    else:
        if len(v0) != P:
            raise ValueError(f"v0 has {len(v0)} entries for {P} populations")
        v0 = [np.atleast_1d(_finite("v0", v)).ravel() for v in v0]
    for a, v in enumerate(v0):
        if v.size == 0 or (v >= m.theta[a]).any():
            raise ValueError(f"initial potentials of {m.names[a]!r} must be below theta")
    # A delay below one step still waits one step: rates are known only up to the last.
    lag = np.maximum(np.rint(m.delay / dt).astype(np.int64), 1)
    n_ref = np.maximum(np.rint(m.t_ref / dt).astype(np.int64), 1)
    decay = np.exp(-dt / m.tau_syn)
    shift = FB_SHIFT * np.sqrt(m.tau_syn / m.tau_mem) if colored else np.zeros(P)
    rate = np.zeros((n_steps + 1, P))
    mu_out, sig_out = np.zeros((n_steps + 1, P)), np.zeros((n_steps + 1, P))
    mu_out[0] = m.bias / m.g_leak
    jbar = np.zeros(P)          # mean synaptic current in units of the potential
    var = np.zeros(P)           # sigma^2, filtered like the current

    if method == "fokker-planck":
        if v_min is None:
            try:
                r_inf = stationary_rates(m, colored=colored)
            except RuntimeError:    # no stationary state: the grid then rests on the drive
                r_inf = np.zeros(P)
            lows = []
            for seg in range(m.ext_times.size):
                for rr in (np.zeros(P), r_inf):
                    mu_s, sg_s = m.moments(rr, m.ext_times[seg])
                    lows.append(mu_s - 5.0 * sg_s)
            v_lo = np.min(lows, axis=0)
            v_lo = np.minimum(v_lo, m.v_reset - (m.theta - m.v_reset))
            v_lo = np.minimum(v_lo, [v.min() for v in v0])
            v_lo = v_lo - 0.05 * (m.theta - v_lo)
        else:
            v_lo = np.broadcast_to(_finite("v_min", v_min), (P,)).astype(np.float64)
            if not (v_lo < np.minimum(m.v_reset, [v.min() for v in v0])).all():
                raise ValueError("v_min must be below v_reset and the initial potentials")
        h = (m.theta - v_lo) / n_grid
        faces = v_lo[:, None] + h[:, None] * np.arange(1, n_grid)   # interior faces
        i_reset = np.minimum(((m.v_reset - v_lo) / h).astype(np.int64), n_grid - 1)
        dens = np.zeros((P, n_grid))
        for a, v in enumerate(v0):
            idx = np.minimum(((v - v_lo[a]) / h[a]).astype(np.int64), n_grid - 1)
            dens[a] = np.bincount(idx, minlength=n_grid) / (v.size * h[a])
        refractory = np.zeros((P, int(n_ref.max()) + 1))   # escaped mass, by steps left
        band = np.zeros((3, n_grid))
    else:
        r_now = np.zeros(P)

    for n in range(n_steps):
        tn = t[n]
        past = np.where(n + 1 - lag >= 0, rate[np.maximum(n + 1 - lag, 0),
                                                np.arange(P)[None, :]], r_before[None, :])
        e1, e2 = m.external(tn)
        s1 = np.sum(m.weight_sum * past, axis=1) + e1
        s2 = np.sum(m.weight_sq_sum * past, axis=1) + e2
        # Constant input over the step: the exact update of the filtered mean.
        jbar = jbar * decay + (1.0 - decay) * m.tau_syn / m.g_leak * s1
        var = var * decay + (1.0 - decay) * (m.tau_syn / m.g_leak) ** 2 * np.maximum(
            s2, 0.0) / m.tau_mem
        mu, sigma = m.bias / m.g_leak + jbar, np.sqrt(var)
        mu_out[n + 1], sig_out[n + 1] = mu, sigma
        if method == "rate":
            target = m.transfer(mu, sigma, colored=colored)
            r_now = target + (r_now - target) * np.exp(-dt / m.tau_mem)
            rate[n + 1] = r_now
            continue
        for a in range(P):
            mu_eff = mu[a] - shift[a] * sigma[a]
            diff = 0.5 * sigma[a] ** 2 / m.tau_mem[a]
            al, be = _sg_coefficients((mu_eff - faces[a]) / m.tau_mem[a], diff, h[a])
            # Escape through theta: the face flux with p = 0 half a cell beyond.
            out, _ = _sg_coefficients(np.array([(mu_eff - m.theta[a]) / m.tau_mem[a]]), diff,
                                      0.5 * h[a])
            c = dt / h[a]
            band[0, 1:] = -c * be
            band[1, :] = 1.0
            band[1, :-1] += c * al
            band[1, 1:] += c * be
            band[1, -1] += c * out[0]
            band[2, :-1] = -c * al
            rhs = dens[a].copy()
            # Mass whose refractory period ends now comes back at the reset potential.
            rhs[i_reset[a]] += refractory[a, 0] / h[a]
            refractory[a, :-1] = refractory[a, 1:]
            refractory[a, -1] = 0.0
            dens[a] = linalg.solve_banded((1, 1), band, rhs, overwrite_b=True,
                                          check_finite=False)
            flux = out[0] * dens[a, -1]
            refractory[a, n_ref[a] - 1] += flux * dt
            rate[n + 1, a] = flux
    return Transient(t=t, rate=rate, mu=mu_out, sigma=sig_out, names=m.names, method=method)


def population_rate(spikes, population, *, t_max, bin_width, t_min=0.0, examples=None):
    """Peri-stimulus time histogram: spikes per neuron per unit time in bins.

    Parameters
    ----------
    spikes : SpikeTrains
        E.g. ``simulate(...).spikes``; channels are neuron ids.
    population : Population or array_like of int
        The neurons to pool.
    t_max, bin_width : float
        Bins ``[t_min, t_min + bin_width), ...`` up to ``t_max`` (a last partial bin is
        dropped).
    t_min : float, optional
    examples : array_like of int, optional
        Examples (trials) to pool; default all.

    Returns
    -------
    edges : numpy.ndarray, shape (B + 1,)
    rate : numpy.ndarray, shape (B,)
        Averaged over neurons and examples.
    """
    from eventsim.spiketrains import SpikeTrains
    if not isinstance(spikes, SpikeTrains):
        raise TypeError(f"spikes must be a SpikeTrains, got {type(spikes).__name__}")
    t_min, t_max = float(_finite("t_min", t_min)), float(_finite("t_max", t_max))
    bin_width = float(_finite("bin_width", bin_width))
    if not bin_width > 0 or not t_max - t_min >= bin_width:
        raise ValueError("need bin_width > 0 and t_max - t_min >= bin_width")
    ids = population.ids if isinstance(population, Population) else np.asarray(population)
    ids = np.unique(ids.astype(np.int64).ravel())
    if ids.size == 0 or ids[0] < 0 or ids[-1] >= spikes.n_channels:
        raise ValueError("population ids must be non-empty and within the spikes' channels")
    ex = np.arange(spikes.n_examples) if examples is None else np.asarray(examples, np.int64)
    if ex.size == 0 or ex.min() < 0 or ex.max() >= spikes.n_examples:
        raise ValueError("examples out of range")
    n_bins = int(math.floor((t_max - t_min) / bin_width + 1e-9))
    edges = t_min + bin_width * np.arange(n_bins + 1)
    member = np.zeros(spikes.n_channels, bool)
    member[ids] = True
    counts = np.zeros(n_bins)
    for e in ex:
        idx, tt = spikes.example(int(e))
        counts += np.histogram(tt[member[idx]], bins=edges)[0]
    return edges, counts / (ids.size * ex.size * bin_width)


def compare_rates(edges, rate_sim, t_pred, rate_pred):
    """Error of a predicted rate against a binned one (e.g. from :func:`population_rate`).

    The prediction is averaged over each bin (integral by the trapezoid rule over its
    own time grid, divided by the bin width), so both sides mean the same thing.

    Parameters
    ----------
    edges : array_like, shape (B + 1,)
    rate_sim : array_like, shape (B,)
    t_pred, rate_pred : array_like, shape (n,)
        Increasing times covering the bins and the predicted rate there.

    Returns
    -------
    dict
        ``rmse`` (root mean square difference over bins), ``nrmse`` (``rmse`` over the
        mean simulated rate), ``bias`` (mean predicted minus mean simulated), ``corr``
        (Pearson correlation across bins; NaN if either is constant) and ``pred``, the
        bin-averaged prediction.
    """
    edges, sim = _finite("edges", edges).ravel(), _finite("rate_sim", rate_sim).ravel()
    tp, rp = _finite("t_pred", t_pred).ravel(), _finite("rate_pred", rate_pred).ravel()
    if edges.size != sim.size + 1 or sim.size < 1 or tp.size != rp.size or tp.size < 2:
        raise ValueError("need len(edges) == len(rate_sim) + 1 and matching t_pred, rate_pred")
    if edges[0] < tp[0] - 1e-12 or edges[-1] > tp[-1] + 1e-9 * max(1.0, abs(tp[-1])):
        raise ValueError("the prediction must cover all bins")
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (rp[1:] + rp[:-1]) * np.diff(tp))])
    pred = np.diff(np.interp(edges, tp, cum)) / np.diff(edges)
    err = pred - sim
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = float(np.corrcoef(pred, sim)[0, 1]) if sim.size > 1 and pred.std() > 0 and \
            sim.std() > 0 else float("nan")
    mean = float(sim.mean())
    rmse = float(np.sqrt(np.mean(err ** 2)))
    return dict(rmse=rmse, nrmse=rmse / mean if mean > 0 else float("inf"),
                bias=float(pred.mean() - mean), corr=corr, pred=pred)
