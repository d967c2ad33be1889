"""Networks as directed graphs of populations, sources and synapses.

A :class:`Network` holds

* **populations** of neurons that share a model and its parameters (``"alpha"``:
  the alpha-kernel spike response model of Comsa et al., with decay rate ``tau``
  and threshold ``theta``; ``"lif"``: leaky integrate-and-fire with exponential
  current synapses, time to first spike, after Göltz et al., with ``tau_mem``,
  ``tau_syn``, ``g_leak`` and ``theta``);
* **sources**: input neurons, whose spike times are given per example, and
  synchronisation pulses, whose spike times are trainable parameters shared by all
  examples;
* **synapses** ``pre -> post`` with a weight and a delay ``>= 0``.

Neuron ids are global integers ``0 .. n_neurons - 1``, assigned block by block in
the order populations and sources are added.  Synapses are kept sorted by
presynaptic neuron (CSR: ``indptr``, ``post``, ``weights``, ``delays``); the
position of a synapse in that order is its *synapse id*, and the weight and delay
gradients returned by the backward pass use the same order.  Any directed graph
is allowed: recurrence, self-connections, skip connections and cycles.

Per synapse the network holds 12 bytes, its weight and its postsynaptic neuron:
the presynaptic neuron follows from ``indptr``, delays that are all equal are kept
as one number, and the delivery order is kept only when the delays do not already
give it (docs/engine.md 2).
"""

from __future__ import annotations

import dataclasses
import numbers
import uuid

import numpy as np

from . import models as _models
from ._arrays import readonly as _readonly
from .models import LIF_MIN_RATIO_GAP  # noqa: F401  (kept importable from here)

__all__ = ["Network", "Population", "MODELS", "INPUT", "PULSE", "ALPHA", "NEURON", "POISSON"]

# Neuron kinds as stored in ``Network.kind`` (int8); the compiled passes declare the
# same codes once, in cython_src/eventsim/_netrec.pxd.
# Kind 2 means "a neuron with a model" whatever the model (the name ALPHA is historical).
INPUT = 0
PULSE = 1
ALPHA = NEURON = 2
POISSON = 3

#: Population kinds that are sources, not neuron models.
SOURCE_KINDS = ("input", "pulse", "poisson")

#: Neuron models a population can have, and their parameters with defaults (a view
#: of the registry, eventsim.models.REGISTRY).
MODELS = {name: dict(m.defaults) for name, m in _models.REGISTRY.items()}

# Per-population parameter arrays of the network, and which models have them.
_PARAM_MODELS = _models.param_models()


@dataclasses.dataclass(frozen=True)
class Population:
    """A contiguous block of neuron ids.

    Attributes
    ----------
    name : str
        Unique name within the network.
    kind : {"input", "pulse", "poisson", "alpha", "lif", "lif_multispike", "li"}
        ``"input"``, ``"pulse"`` and ``"poisson"`` are sources; the others are neuron
        models.
    start, stop : int
        The block holds neuron ids ``start .. stop - 1``.
    index : int
        Index of the population among the network's neuron populations (the
        position of its parameters in ``Network.theta`` and the other per-population
        arrays), or the
        position of its first source among inputs / pulses for source blocks.
    owner : int
        Token of the network that created the block.  A network accepts a
        Population only if it holds an equal one (same name, ids and token), so a
        block of another network is refused instead of wiring whatever neurons
        have the same ids.  :meth:`Network.copy` keeps the token: a copy has the
        same neuron ids, so it accepts the original's populations (and the
        original the copy's) as long as it holds them.
    """

    name: str
    kind: str
    start: int
    stop: int
    index: int
    owner: int = dataclasses.field(default=0, repr=False)

    @property
    def size(self) -> int:
        return self.stop - self.start

    @property
    def ids(self) -> np.ndarray:
        """Global neuron ids of this block."""
        return np.arange(self.start, self.stop)

    def __len__(self) -> int:
        return self.size


def _dale_sign(dale, size) -> np.ndarray:
    if dale is None:
        return np.zeros(size, np.int8)
    if isinstance(dale, str):
        key = dale.lower()
        if key in ("excitatory", "e", "exc"):
            return np.ones(size, np.int8)
        if key in ("inhibitory", "i", "inh"):
            return np.full(size, -1, np.int8)
        raise ValueError(f"dale must be 'excitatory', 'inhibitory', None or an array of "
                         f"signs, got {dale!r}")
    arr = np.asarray(dale)
    if arr.shape != (size,):
        raise ValueError(f"dale must have one sign per neuron, shape ({size},), got {arr.shape}")
    if not np.isin(arr, (-1, 0, 1)).all():
        raise ValueError("dale signs must be +1 (excitatory), -1 (inhibitory) or 0 (free)")
    return arr.astype(np.int8)


def _check_signs(w, sign, pre_of):
    """Refuse weights of the wrong sign; ``pre_of(k)`` names synapse k's presynaptic
    neuron (a function: the network does not keep that array)."""
    bad = np.flatnonzero(sign * w < 0)
    if bad.size:
        k = bad[0]
        what = "excitatory" if sign[k] > 0 else "inhibitory"
        need = ">= 0" if sign[k] > 0 else "<= 0"
        raise ValueError(
            f"Dale's law: a synapse from {what} neuron {int(pre_of(k))} has weight {float(w[k])!r} "
            f"(must be {need}); {bad.size} such synapse(s). Use Network.project_dale to "
            f"project weights onto the allowed signs")


def _real(name, values):
    """``values`` as an array, refusing complex numbers (NumPy would only warn and
    drop the imaginary part)."""
    arr = np.asarray(values)
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} must be real numbers, got complex values (dtype {arr.dtype})")
    return arr


_ONE_DELAY = {}


def _one_delay(value):
    """The delay array of a network whose synapses share one delay: read-only, so one
    array per value (its bits: -0.0 is not 0.0) serves every run."""
    key = np.float64(value).tobytes()
    arr = _ONE_DELAY.get(key)
    if arr is None:
        if len(_ONE_DELAY) >= 64:
            _ONE_DELAY.clear()
        arr = _ONE_DELAY[key] = _readonly(np.full(1, value, np.float64))
    return arr


def _uniform(d) -> bool:
    """Whether every entry of float64 array ``d`` has the same bits (so one number
    stands for all of them exactly, -0.0 and 0.0 kept apart)."""
    bits = d.view(np.int64)
    return bool(bits.size == 0 or (bits == bits[0]).all())


def _bits(x) -> int:
    return int(np.float64(x).view(np.int64))


class _Lowered:
    """A network in the compiled passes' terms: the fields of the ``NetRec`` record
    (``cython_src/eventsim/_netrec.pxd``), as arrays of the exact dtypes it reads.

    Built by :meth:`Network._lower`, which validated everything in it.  Index arrays
    are the network's read-only ones; ``weights`` and ``pulse_times`` are the live
    parameter arrays; ``structure`` identifies the synapse graph.  Two fields are
    compact: ``order`` is empty when the delivery order is the identity, and
    ``delays`` holds one value when every synapse has that delay (else it is the
    live array); :meth:`order_array` and :meth:`delay_array` expand them.
    """

    __slots__ = ("indptr", "order", "post", "weights", "delays", "has_delays", "kind",
                 "source_index", "pop", "model", "rate", "rate_syn", "coef", "theta",
                 "theta_scale", "log_rate_theta", "rate_max", "pulse_times", "n_inputs",
                 "n_pulses", "block", "block_start", "block_stop", "in_indptr", "in_syn",
                 "structure", "params_key")

    def order_array(self) -> np.ndarray:
        """Synapse ids in delivery order, one per synapse (allocated when the order
        is the identity)."""
        return self.order if self.order.size else np.arange(self.post.size, dtype=np.int64)

    def delay_array(self) -> np.ndarray:
        """The delay of every synapse (a read-only broadcast view when they are all
        equal)."""
        m = self.post.size
        if self.delays.size == m:
            return self.delays
        return np.broadcast_to(self.delays[:1], (m,))


_EMPTY_I64 = _readonly(np.zeros(0, np.int64))


def _as_finite(name, values, *, shape=None, allow_inf=False, dtype=np.float64):
    arr = np.array(_real(name, values), dtype=dtype, copy=True)
    if shape is not None and arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN")
    if not allow_inf and np.isinf(arr).any():
        raise ValueError(f"{name} contains inf (must be finite)")
    return arr


class Network:
    """A spiking network: populations, sources and synapses.

    Examples
    --------
    >>> import numpy as np, eventsim
    >>> net = eventsim.Network()
    >>> x = net.add_inputs(2, name="x")
    >>> p = net.add_pulses([0.5], name="pulse")
    >>> h = net.add_population(3, tau=1.0, theta=1.0, name="hidden")
    >>> net.connect_dense(x, h, np.full((2, 3), 2.0))
    >>> net.connect_dense(p, h, np.full((1, 3), 1.0))
    >>> net.n_neurons, net.n_synapses
    (6, 9)
    """

    def __init__(self):
        self.populations: list[Population] = []
        self._names: dict[str, Population] = {}
        self._n_neurons = 0
        self._n_inputs = 0
        self._n_pulses = 0
        self._n_pops = 0
        self._pulse_times = np.zeros(0)
        self._n_poisson = 0
        # Poisson generators' rates, piecewise constant: generator g has segments
        # _poisson_offsets[g]:_poisson_offsets[g + 1] starting at _poisson_t (the first
        # at 0) with rates _poisson_rate.
        self._poisson_offsets = np.zeros(1, np.int64)
        self._poisson_t = np.zeros(0)
        self._poisson_rate = np.zeros(0)
        for key in _PARAM_MODELS:      # one array per model parameter, NaN where absent
            setattr(self, "_" + key, np.zeros(0))
        self._models: list[str] = []
        # Synapses waiting to be merged into the sorted arrays (lists of arrays).
        # A pending batch's delays are one float when they are all equal.
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | float]] = []
        self._post = _readonly(np.zeros(0, np.int32))
        self._weights = np.zeros(0)
        # Delays: None while every synapse has _delay_value (the common case, and
        # 8 bytes per synapse saved), else the live array.
        self._delays = None
        self._delay_value = 0.0
        self._indptr = _readonly(np.zeros(1, np.int64))
        self._in_cache = None
        self._struct_cache = None
        self._block_cache = None
        self._sign_cache = None
        self._neuron_sign = np.zeros(0, np.int8)
        self._owner = uuid.uuid4().int >> 65
        self._structure_token = object()
        self._order_cache = None
        self._pop_cache = None
        self._lower_cache = None

    def _structure_changed(self):
        self._struct_cache = None
        self._in_cache = None
        self._block_cache = None
        self._sign_cache = None
        self._order_cache = None
        self._lower_cache = None
        self._structure_token = object()

    # ------------------------------------------------------------------ building
    def _add_block(self, kind, size, name, index, dale=None):
        if not isinstance(size, numbers.Integral) or size < 0:
            raise ValueError(f"population size must be a non-negative integer, got {size!r}")
        if name is None:
            name = f"{kind}{len(self.populations)}"
        if name in self._names:
            raise ValueError(f"a population named {name!r} already exists")
        sign = _dale_sign(dale, int(size))
        pop = Population(name, kind, self._n_neurons, self._n_neurons + int(size), index,
                         self._owner)
        self._neuron_sign = np.concatenate([self._neuron_sign, sign])
        self.populations.append(pop)
        self._names[name] = pop
        self._n_neurons += int(size)
        self._structure_changed()
        return pop

    def add_inputs(self, n, *, name=None, dale=None) -> Population:
        """Add ``n`` input neurons, whose spike times are given to :meth:`simulate`.

        Input columns of ``input_times`` follow the order in which inputs were added.
        ``dale`` ("excitatory", "inhibitory" or None) constrains the sign of their
        outgoing weights, as for :meth:`add_population`.
        """
        pop = self._add_block("input", n, name, self._n_inputs, dale)
        self._n_inputs += pop.size
        return pop

    def add_pulses(self, times, *, name=None) -> Population:
        """Add synchronisation pulses firing at the given (trainable) times.

        ``inf`` means the pulse never fires.
        """
        times = _as_finite("pulse times", np.atleast_1d(times), allow_inf=True)
        if times.ndim != 1:
            raise ValueError(f"pulse times must be 1-D, got shape {times.shape}")
        if np.isneginf(times).any():
            raise ValueError("pulse times contain -inf")
        pop = self._add_block("pulse", times.size, name, self._n_pulses)
        self._n_pulses += pop.size
        self._pulse_times = np.concatenate([self._pulse_times, times])
        return pop

    def add_poisson(self, n, rate, *, rate_times=None, name=None, dale=None) -> Population:
        """Add ``n`` Poisson generators, whose spikes the spike-train engine draws.

        Every synapse from a generator carries its own independent stream, as if each
        target had a generator of its own (NEST's ``poisson_generator`` does the
        same): connecting one generator to every neuron of a population gives each
        neuron an independent drive.  Streams are seeded by ``(seed, example,
        synapse)`` (:func:`eventsim.simulate`'s ``seed``), so results are
        bit-identical for any thread count.  Their spikes are not recorded.

        Parameters
        ----------
        n : int
        rate : float or array_like, shape (n,) or (n, K)
            Spikes per unit time (>= 0, finite).  With ``rate_times``, ``rate[:, k]``
            holds from ``rate_times[k]`` until ``rate_times[k + 1]`` (the last for
            ever): a piecewise-constant rate, sampled exactly by inverting its
            integral (no thinning, no time grid).
        rate_times : array_like, shape (K,), optional
            Increasing start times of the rate segments; ``rate_times[0]`` must be 0.
        name : str, optional
        dale : {"excitatory", "inhibitory", None}, optional
            Sign constraint of the outgoing weights, as for :meth:`add_population`.
        """
        if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 0:
            raise ValueError(f"population size must be a non-negative integer, got {n!r}")
        n = int(n)
        if rate_times is None:
            t = np.zeros(1)
        else:
            t = np.asarray(_real("rate_times", rate_times), np.float64).reshape(-1)
            if not (t.size and t[0] == 0.0 and np.isfinite(t).all() and (np.diff(t) > 0).all()):
                raise ValueError("rate_times must be finite, strictly increasing and start at 0")
        r = np.asarray(_real("rate", rate), np.float64)
        if r.ndim == 1 and r.shape == (n,):
            r = r[:, None]
        if r.ndim == 0 or (r.ndim == 2 and r.shape[0] == 1):
            r = np.broadcast_to(r.reshape(1, -1), (n, r.size))
        if r.shape != (n, t.size):
            raise ValueError(f"rate must be a scalar, shape ({n},) or shape ({n}, {t.size}) (one "
                             f"column per rate_times entry); got shape {np.shape(rate)}")
        if not (np.isfinite(r).all() and (r >= 0).all()):
            raise ValueError("Poisson rates must be finite and >= 0")
        pop = self._add_block("poisson", n, name, self._n_poisson, dale)
        self._n_poisson += pop.size
        self._poisson_t = np.concatenate([self._poisson_t, np.tile(t, n)])
        self._poisson_rate = np.concatenate([self._poisson_rate, r.reshape(-1)])
        self._poisson_offsets = np.concatenate(
            [self._poisson_offsets, self._poisson_offsets[-1] + t.size * np.arange(1, n + 1)])
        return pop

    def poisson_rate(self, generator) -> tuple[np.ndarray, np.ndarray]:
        """``(rate_times, rates)`` of Poisson generator ``generator`` (its index among
        the generators, in the order they were added)."""
        g = int(generator)
        if not 0 <= g < self._n_poisson:
            raise ValueError(f"unknown Poisson generator {g} (the network has {self._n_poisson})")
        a, b = self._poisson_offsets[g], self._poisson_offsets[g + 1]
        return self._poisson_t[a:b].copy(), self._poisson_rate[a:b].copy()

    @property
    def n_poisson(self) -> int:
        """Number of Poisson generators."""
        return self._n_poisson

    @property
    def poisson_ids(self) -> np.ndarray:
        """Neuron ids of the Poisson generators, in generator order."""
        kind = self._structure()[0]
        return np.flatnonzero(kind == POISSON)

    def add_population(self, n, *, model="alpha", name=None, dale=None, multispike=False,
                       **params) -> Population:
        """Add ``n`` neurons of ``model`` with the given parameters.

        Parameters
        ----------
        n : int
            Number of neurons.
        model : {"alpha", "lif"}
            ``"alpha"``: alpha-kernel SRM neuron (Comsa et al.),
            :math:`V(t) = \\sum_i w_i (t - a_i) e^{-\\tau (t - a_i)}`.

            ``"lif"``: leaky integrate-and-fire neuron with exponential current
            synapses (Göltz et al.), potential measured from rest,
            :math:`V(t) = \\sum_i w_i \\kappa(t - a_i)` with
            :math:`\\kappa(s) = \\frac{\\tau_s}{g_l(\\tau_m - \\tau_s)}
            (e^{-s/\\tau_m} - e^{-s/\\tau_s})` (:math:`s e^{-s/\\tau}/(g_l \\tau)`
            when the time constants are equal).  Both models spike once, when
            ``V`` first reaches ``theta``.
        name : str, optional
        dale : {"excitatory", "inhibitory", None} or array_like of {+1, -1, 0}
            Dale's law: every outgoing weight of an excitatory neuron must be
            ``>= 0``, of an inhibitory one ``<= 0`` (``"E"``/``"I"`` also work).
            An array gives each neuron its own sign (+1 excitatory, -1 inhibitory,
            0 free), so that one population (one layer, which the engine updates
            with a vectorised loop) can hold both excitatory and inhibitory neurons.
            :meth:`connect` and the ``weights`` setter refuse weights of the wrong
            sign, :func:`eventsim.simulate` checks before running, and
            :meth:`project_dale` projects arbitrary weights onto the allowed signs
            (what the trainer does after every optimizer step).  None: no constraint.
        tau : float
            ``"alpha"``: decay rate (> 0) of the kernel; its peak is at ``1 / tau``.
        tau_mem, tau_syn : float
            ``"lif"``: membrane and synaptic time constants (> 0).  Equal values and
            ``tau_mem = 2 tau_syn`` are solved in closed form (Lambert W, quadratic),
            any other ratio by a safeguarded Newton iteration on the exact
            potential (no time grid).  Ratios within ``1e-3`` of 1 (but not equal)
            are refused: the two-exponential form would lose digits there.
        g_leak : float
            ``"lif"``: leak conductance (> 0); it scales the kernel by ``1 / g_leak``.
        theta : float
            Firing threshold (> 0; for ``"lif"`` measured from the resting potential).
        """
        spec = _models.lookup(model)
        if multispike:
            if spec.multispike is None and spec.first_spike:
                raise ValueError(f"model {model!r} has no multi-spike form (multispike=True "
                                 f"works with model='lif')")
            spec = _models.lookup(spec.multispike or spec.name)
            model = spec.name
        unknown = set(params) - set(spec.defaults)
        if unknown:
            hint = (" (reset, refractory period, bias and initial potential belong to the "
                    "multi-spike LIF: pass multispike=True)"
                    if unknown <= {"v_reset", "t_ref", "bias", "v_init"} and spec.multispike else "")
            raise ValueError(f"unknown parameters for model {model!r}: {sorted(unknown)}{hint}")
        p = {**spec.defaults, **params}
        where = name if name is not None else f"#{self._n_pops}"
        for key, val in p.items():
            need = spec.allows(key, val)
            if need:
                raise ValueError(f"{key} must be {need}, got {val!r}")
            p[key] = float(val)
        spec.check(p, where)
        pop = self._add_block(model, n, name, self._n_pops, dale)
        self._n_pops += 1
        self._models.append(model)
        for key in _PARAM_MODELS:
            attr = "_" + key
            setattr(self, attr, np.append(getattr(self, attr), float(p.get(key, np.nan))))
        return pop

    def _own(self, pop: Population) -> Population:
        """``pop`` if this network holds it; a block of another network is refused."""
        if self._names.get(pop.name) != pop:
            mine = self._names.get(pop.name)
            detail = (f"this network's {pop.name!r} holds ids {mine.start}..{mine.stop - 1}"
                      if mine is not None else f"this network has no population {pop.name!r}")
            raise ValueError(
                f"population {pop.name!r} (ids {pop.start}..{pop.stop - 1}) belongs to another "
                f"Network ({detail}); use this network's own populations, e.g. net[{pop.name!r}]")
        return pop

    def _population_of(self, neuron: int) -> Population:
        """The population (or source block) holding neuron id ``neuron``."""
        starts = [p.start for p in self.populations]
        i = int(np.searchsorted(starts, neuron, side="right")) - 1
        while self.populations[i].size == 0:    # empty blocks share their start
            i -= 1
        return self.populations[i]

    def _ids(self, ids, what):
        if isinstance(ids, Population):
            return self._own(ids).ids
        if isinstance(ids, str):
            return self[ids].ids
        if isinstance(ids, slice):
            return np.arange(self._n_neurons)[ids]
        arr = np.asarray(ids)
        if arr.dtype.kind not in "iu":
            if arr.size == 0:
                arr = arr.astype(np.int64)
            else:
                raise ValueError(f"{what} neuron ids must be integers, got dtype {arr.dtype}")
        arr = np.atleast_1d(arr).astype(np.int64)
        bad = (arr < 0) | (arr >= self._n_neurons)
        if bad.any():
            raise ValueError(
                f"unknown {what} neuron id {arr[bad][0]} (the network has {self._n_neurons} neurons)")
        return arr

    def connect(self, pre, post, weights, delays=0.0):
        """Add synapses from an edge list.

        Parameters
        ----------
        pre, post : array_like of int
            Presynaptic and postsynaptic neuron ids (same length, or broadcastable).
        weights : array_like of float
            One weight per edge (finite).
        delays : array_like of float, default 0
            Transmission delays (finite, >= 0).
        """
        pre = self._ids(pre, "presynaptic")
        post = self._ids(post, "postsynaptic")
        weights = _real("weights", weights)
        delays = _real("delays", delays)
        # One delay for every edge is never broadcast: that would be 16 bytes per
        # synapse of temporary arrays for one number.
        one = np.ndim(delays) == 0
        try:
            pre, post, w, *d = np.broadcast_arrays(
                pre, post, np.asarray(weights, np.float64),
                *([] if one else [np.asarray(delays, np.float64)]))
        except ValueError:
            raise ValueError(
                f"pre ({np.shape(pre)}), post ({np.shape(post)}), weights "
                f"({np.shape(weights)}) and delays ({np.shape(delays)}) do not match") from None
        if pre.ndim != 1:
            raise ValueError("edge lists must be 1-D")
        w = _as_finite("weights", w)
        d = _as_finite("delays", delays if one else d[0])
        if (d < 0).any():
            raise ValueError(f"delays must be >= 0, got {d[d < 0][0] if d.ndim else d}")
        kinds = self.kind
        if (kinds[post] != ALPHA).any():
            bad = post[kinds[post] != ALPHA][0]
            raise ValueError(f"neuron {bad} is a source (input or pulse) and cannot receive synapses")
        sign = self.neuron_sign[pre]
        _check_signs(w, sign, pre.__getitem__)
        # w and d are this call's own copies (_as_finite).
        self._pending.append((pre.astype(np.int32), post.astype(np.int32), w,
                              float(d) if one else float(d[0]) if d.size and _uniform(d) else d))
        self._structure_changed()

    def connect_dense(self, pre, post, weights, delays=0.0):
        """Connect ``pre`` to ``post`` with a dense ``(len(pre), len(post))`` matrix.

        Entries equal to zero in ``weights`` still create synapses (so they can be
        trained); use :meth:`connect_sparse` for a sparse pattern.
        """
        pre = self._ids(pre, "presynaptic")
        post = self._ids(post, "postsynaptic")
        w = np.asarray(_real("weights", weights), np.float64)
        delays = _real("delays", delays)
        if w.shape != (pre.size, post.size):
            raise ValueError(f"weight matrix must have shape {(pre.size, post.size)}, got {w.shape}")
        d = np.broadcast_to(np.asarray(delays, np.float64), w.shape) if np.ndim(delays) else delays
        if np.ndim(d) and np.shape(d) != w.shape:
            raise ValueError(f"delay matrix must have shape {w.shape}, got {np.shape(d)}")
        P, Q = np.meshgrid(pre, post, indexing="ij")
        self.connect(P.ravel(), Q.ravel(), w.ravel(), np.ravel(d) if np.ndim(d) else d)

    def connect_sparse(self, pre, post, matrix, delays=None):
        """Connect using a scipy.sparse matrix of shape ``(len(pre), len(post))``.

        Stored entries (explicit zeros included) become synapses.  ``delays``, if
        given, is a sparse matrix with the same sparsity pattern, or a scalar.
        """
        import scipy.sparse as sp

        pre = self._ids(pre, "presynaptic")
        post = self._ids(post, "postsynaptic")
        if not sp.issparse(matrix):
            raise ValueError("matrix must be a scipy.sparse matrix or array")
        if matrix.shape != (pre.size, post.size):
            raise ValueError(f"sparse matrix must have shape {(pre.size, post.size)}, got {matrix.shape}")
        m = sp.coo_array(matrix)
        m.sum_duplicates()
        if delays is None or np.isscalar(delays):
            d = 0.0 if delays is None else float(delays)
        else:
            dm = sp.coo_array(delays)
            dm.sum_duplicates()
            if dm.shape != m.shape or not (np.array_equal(dm.row, m.row) and np.array_equal(dm.col, m.col)):
                raise ValueError("delays must have the same sparsity pattern as the weight matrix")
            d = dm.data
        self.connect(pre[m.row], post[m.col], m.data, d)

    # ------------------------------------------------------------------ structure
    def _flush(self):
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        parts = [(self._delays if self._delays is not None else self._delay_value,
                  self._post.size)] + [(p[3], p[1].size) for p in pending]
        parts = [(v, m) for v, m in parts if m]
        pre = np.concatenate([self._pre] + [p[0] for p in pending])
        post = np.concatenate([self._post] + [p[1] for p in pending])
        w = np.concatenate([self._weights] + [p[2] for p in pending])
        del pending
        order = np.argsort(pre, kind="stable")
        # The index arrays are read-only: the compiled passes trust them.
        self._post = _readonly(post[order])
        del post
        self._weights = w[order]
        del w
        indptr = np.zeros(self._n_neurons + 1, np.int64)
        np.cumsum(np.bincount(pre, minlength=self._n_neurons), out=indptr[1:])
        del pre
        self._indptr = _readonly(indptr)
        if all(not isinstance(v, np.ndarray) and _bits(v) == _bits(parts[0][0]) for v, _ in parts):
            self._delays, self._delay_value = None, float(parts[0][0]) if parts else 0.0
        else:
            d = np.concatenate([v if isinstance(v, np.ndarray) else np.full(m, v) for v, m in parts])
            self._store_delays(d[order])

    def _store_delays(self, d):
        """Keep ``d`` (a fresh float64 array of one delay per synapse) compactly when
        its entries are all equal."""
        self._order_cache = None
        if _uniform(d):
            self._delays, self._delay_value = None, float(d[0]) if d.size else 0.0
        else:
            self._delays = d

    def _delivery_order(self, d):
        """``(uniform, order)`` for delays ``d`` (an array): whether they are all equal,
        and the delivery order, empty when it is the identity."""
        if _uniform(d):
            return True, _EMPTY_I64
        ind = self._indptr
        # Synapses are stored by presynaptic neuron; when each neuron's delays are
        # already non-decreasing (one delay per neuron, say) the delivery order is the
        # identity, and a sort of every synapse is saved.
        down = d[1:] < d[:-1]
        starts = ind[1:-1]
        down[starts[(starts > 0) & (starts < d.size)] - 1] = False
        if not down.any():
            return False, _EMPTY_I64
        return False, _readonly(np.lexsort((d, self._pre)).astype(np.int64))

    @property
    def _pre(self) -> np.ndarray:
        """Presynaptic neuron of each synapse, expanded from ``indptr`` on every call
        (4 bytes per synapse that the network does not keep: hot paths use
        ``indptr`` or :meth:`_pre_of`)."""
        ind = self._indptr
        pre = _readonly(np.repeat(np.arange(ind.size - 1, dtype=np.int32), np.diff(ind)))
        return pre.view()       # a view of a read-only array cannot be made writable

    def _pre_of(self, k) -> int:
        """Presynaptic neuron of synapse ``k``."""
        return int(np.searchsorted(self._indptr, k, side="right")) - 1

    def _delay_view(self) -> np.ndarray:
        """Every synapse's delay, without materialising equal delays (a read-only
        broadcast view then): for code that only reads them."""
        self._flush()
        if self._delays is not None:
            return self._delays
        return np.broadcast_to(np.float64(self._delay_value), (self._post.size,))

    @property
    def nbytes(self) -> int:
        """Bytes held by the network's per-synapse and per-neuron arrays.

        Counts the synapse arrays (weights, postsynaptic neurons, the CSR row
        pointer, delays and delivery order when they are kept), the per-neuron and
        per-population arrays, and the derived arrays cached for the compiled passes
        (incoming synapses, delivery blocks, Dale signs).  With equal delays a
        network holds 12 bytes per synapse.

        Returns
        -------
        int
        """
        self._flush()
        seen, total = set(), 0

        def add(a):
            nonlocal total
            if isinstance(a, np.ndarray):
                base = a
                while isinstance(base.base, np.ndarray):
                    base = base.base
                if id(base) not in seen:
                    seen.add(id(base))
                    total += base.nbytes
            elif isinstance(a, tuple):
                for x in a:
                    add(x)

        for a in (self._post, self._weights, self._delays, self._indptr, self._pulse_times,
                  self._neuron_sign, self._poisson_offsets, self._poisson_t, self._poisson_rate,
                  self._order_cache, self._in_cache, self._struct_cache, self._block_cache,
                  self._sign_cache, self._lower_cache):
            add(a)
        for key in _PARAM_MODELS:
            add(getattr(self, "_" + key))
        return total

    def _check_size(self):
        # Neurons added after synapses: extend indptr.
        if self._indptr.size != self._n_neurons + 1:
            ind = np.full(self._n_neurons + 1, self._indptr[-1], np.int64)
            ind[: self._indptr.size] = self._indptr
            self._indptr = _readonly(ind)

    @property
    def n_neurons(self) -> int:
        """Total number of neurons, sources included."""
        return self._n_neurons

    @property
    def n_inputs(self) -> int:
        return self._n_inputs

    @property
    def n_pulses(self) -> int:
        return self._n_pulses

    @property
    def n_synapses(self) -> int:
        self._flush()
        return self._post.size

    @property
    def n_populations(self) -> int:
        """Number of neuron (non-source) populations."""
        return self._n_pops

    def __getitem__(self, name) -> Population:
        try:
            return self._names[name]
        except KeyError:
            raise KeyError(f"no population named {name!r}; known: {list(self._names)}") from None

    def _structure(self):
        if self._struct_cache is None:
            n = self._n_neurons
            kind = np.full(n, ALPHA, np.int8)
            source_index = np.full(n, -1, np.int32)
            pop = np.full(n, -1, np.int32)
            for p in self.populations:
                if p.kind == "input":
                    kind[p.start:p.stop] = INPUT
                    source_index[p.start:p.stop] = np.arange(p.index, p.index + p.size)
                elif p.kind == "pulse":
                    kind[p.start:p.stop] = PULSE
                    source_index[p.start:p.stop] = np.arange(p.index, p.index + p.size)
                elif p.kind == "poisson":
                    kind[p.start:p.stop] = POISSON
                    source_index[p.start:p.stop] = np.arange(p.index, p.index + p.size)
                else:
                    pop[p.start:p.stop] = p.index
            self._struct_cache = (_readonly(kind), _readonly(source_index), _readonly(pop))
        return self._struct_cache

    @property
    def kind(self) -> np.ndarray:
        """Per neuron: 0 = input, 1 = pulse, 2 = neuron (any model), 3 = Poisson
        generator (int8).  Read-only."""
        return self._structure()[0].view()

    @property
    def source_index(self) -> np.ndarray:
        """Per neuron: its column in ``input_times`` (inputs), its index in
        :attr:`pulse_times` (pulses), or -1.  Read-only."""
        return self._structure()[1].view()

    @property
    def population_index(self) -> np.ndarray:
        """Per neuron: index of its population in :attr:`theta` (and the other
        per-population arrays), -1 for sources.  Read-only."""
        return self._structure()[2].view()

    @property
    def input_ids(self) -> np.ndarray:
        """Neuron ids of the inputs, in column order of ``input_times``."""
        return np.flatnonzero(self.kind == INPUT)

    @property
    def pulse_ids(self) -> np.ndarray:
        """Neuron ids of the pulses, in the order of :attr:`pulse_times`."""
        return np.flatnonzero(self.kind == PULSE)

    @property
    def indptr(self) -> np.ndarray:
        """CSR row pointer: synapses of neuron ``n`` are ``indptr[n]:indptr[n+1]``.

        Read-only, like :attr:`pre`, :attr:`post` and the other index arrays: the
        graph changes only through :meth:`connect` and friends.
        """
        self._flush()
        self._check_size()
        return self._indptr.view()

    @property
    def pre(self) -> np.ndarray:
        """Presynaptic neuron of each synapse, in synapse-id order (read-only).

        Expanded from :attr:`indptr` on each access (the network does not keep it).
        """
        self._flush()
        return self._pre

    @property
    def post(self) -> np.ndarray:
        """Postsynaptic neuron of each synapse, in synapse-id order (read-only)."""
        self._flush()
        return self._post.view()

    def _set_param(self, attr, name, value, *, allow_inf=False, nonneg=False, positive=False):
        cur = getattr(self, attr)
        arr = _as_finite(name, value, shape=cur.shape, allow_inf=allow_inf)
        if nonneg and (arr < 0).any():
            raise ValueError(f"{name} must be >= 0, got {arr[arr < 0][0]}")
        if positive and (arr <= 0).any():
            raise ValueError(f"{name} must be > 0, got {arr[arr <= 0][0]}")
        if allow_inf and np.isneginf(arr).any():
            raise ValueError(f"{name} contain -inf")
        setattr(self, attr, arr)

    @property
    def weights(self) -> np.ndarray:
        """Synaptic weights in synapse-id (CSR) order."""
        self._flush()
        return self._weights

    @weights.setter
    def weights(self, value):
        self._flush()
        w = _as_finite("weights", value, shape=self._weights.shape)
        sign = self.synapse_sign
        if sign is not None:
            _check_signs(w, sign, self._pre_of)
        self._weights = w

    @property
    def delays(self) -> np.ndarray:
        """Synaptic delays (>= 0) in synapse-id order.

        The array is live: edits in place take effect at the next run.  While all
        delays are equal the network keeps one number instead (8 bytes per synapse
        less); reading this property then creates the array, and the network keeps
        it until delays are assigned again (``net.delays = value``), which returns
        to the compact form when the new delays are all equal.
        """
        self._flush()
        if self._delays is None:
            self._delays = np.full(self._post.size, self._delay_value)
        return self._delays

    @delays.setter
    def delays(self, value):
        self._flush()
        d = _as_finite("delays", value, shape=(self._post.size,))
        if (d < 0).any():
            raise ValueError(f"delays must be >= 0, got {d[d < 0][0]}")
        self._store_delays(d)

    @property
    def pulse_times(self) -> np.ndarray:
        """Spike times of the synchronisation pulses (``inf``: never fires)."""
        return self._pulse_times

    @pulse_times.setter
    def pulse_times(self, value):
        self._set_param("_pulse_times", "pulse_times", value, allow_inf=True)

    @property
    def models(self) -> tuple:
        """Model name of each neuron population (``"alpha"`` or ``"lif"``)."""
        return tuple(self._models)

    def _set_model_param(self, key, value):
        cur = getattr(self, "_" + key)
        arr = np.array(_real(key, value), dtype=np.float64, copy=True)
        if arr.shape != cur.shape:
            raise ValueError(f"{key} must have shape {cur.shape}, got {arr.shape}")
        has = np.array([m in _PARAM_MODELS[key] for m in self._models], bool)
        for i in np.flatnonzero(has):
            need = _models.REGISTRY[self._models[i]].allows(key, float(arr[i]))
            if need:
                raise ValueError(f"{key} must be {need}, got {arr[i]!r} for population {i}")
        if (~has & ~np.isnan(arr)).any():
            i = int(np.flatnonzero(~has & ~np.isnan(arr))[0])
            raise ValueError(f"population {i} is {self._models[i]!r}, which has no parameter "
                             f"{key!r}: its entry must be NaN")
        for i in np.flatnonzero(has):
            # The model's checks across parameters, with the new value (the others
            # were checked when set; an in-place edit is left to _lower()).
            spec = _models.REGISTRY[self._models[i]]
            vals = {k: float(arr[i] if k == key else getattr(self, "_" + k)[i])
                    for k in spec.defaults}
            if not any(spec.allows(k, v) for k, v in vals.items()):
                # (Another parameter invalid in place is left to _lower(), which says which.)
                spec.check(vals, int(i))
        setattr(self, "_" + key, arr)

    @property
    def tau(self) -> np.ndarray:
        """Decay rate of each alpha population (NaN for populations of other models)."""
        return self._tau

    @tau.setter
    def tau(self, value):
        self._set_model_param("tau", value)

    @property
    def tau_mem(self) -> np.ndarray:
        """Membrane time constant of each LIF population (NaN for other models)."""
        return self._tau_mem

    @tau_mem.setter
    def tau_mem(self, value):
        self._set_model_param("tau_mem", value)

    @property
    def tau_syn(self) -> np.ndarray:
        """Synaptic time constant of each LIF population (NaN for other models)."""
        return self._tau_syn

    @tau_syn.setter
    def tau_syn(self, value):
        self._set_model_param("tau_syn", value)

    @property
    def g_leak(self) -> np.ndarray:
        """Leak conductance of each LIF population (NaN for other models)."""
        return self._g_leak

    @g_leak.setter
    def g_leak(self, value):
        self._set_model_param("g_leak", value)

    @property
    def theta(self) -> np.ndarray:
        """Firing threshold of each neuron population (NaN for LI readouts)."""
        return self._theta

    @theta.setter
    def theta(self, value):
        self._set_model_param("theta", value)

    @property
    def v_reset(self) -> np.ndarray:
        """Reset potential of each multi-spike LIF population (NaN for other models)."""
        return self._v_reset

    @v_reset.setter
    def v_reset(self, value):
        self._set_model_param("v_reset", value)

    @property
    def t_ref(self) -> np.ndarray:
        """Absolute refractory period of each multi-spike LIF population (NaN for
        other models)."""
        return self._t_ref

    @t_ref.setter
    def t_ref(self, value):
        self._set_model_param("t_ref", value)

    @property
    def bias(self) -> np.ndarray:
        """Constant bias current of each multi-spike LIF and LI population (NaN for
        other models)."""
        return self._bias

    @bias.setter
    def bias(self, value):
        self._set_model_param("bias", value)

    @property
    def v_init(self) -> np.ndarray:
        """Membrane potential at ``t = 0`` of each multi-spike LIF and LI population
        (NaN for other models)."""
        return self._v_init

    @v_init.setter
    def v_init(self, value):
        self._set_model_param("v_init", value)

    def population_params(self, population) -> dict:
        """The model and parameters of one neuron population (by name or index)."""
        if isinstance(population, str):
            population = self[population]
        if isinstance(population, Population):
            self._own(population)
            if population.kind in SOURCE_KINDS:
                raise ValueError(f"{population.name!r} is a source block, not a neuron population")
            population = population.index
        i = int(population)
        if not 0 <= i < self._n_pops:
            raise ValueError(f"unknown population index {i} (the network has {self._n_pops})")
        return {"model": self._models[i], **self._pop_params(i)}

    def _pop_params(self, i) -> dict:
        """Parameter name -> value of neuron population ``i``."""
        return {k: float(getattr(self, "_" + k)[i])
                for k in _PARAM_MODELS if k in _models.REGISTRY[self._models[i]].defaults}

    @staticmethod
    def _param_names():
        """Names of the per-population parameter arrays, in the order of
        ``_Lowered.params_key``."""
        return tuple(_PARAM_MODELS)

    def _check_population_params(self):
        """Every per-population parameter, as the setters check it: arrays edited in
        place (``net.theta[0] = 0``) get here without a setter."""
        names = [p.name for p in self.populations if p.kind not in SOURCE_KINDS]
        for key, models in _PARAM_MODELS.items():
            arr = getattr(self, "_" + key)
            for i, m in enumerate(self._models):
                v = float(arr[i])
                need = _models.REGISTRY[m].allows(key, v) if m in models else None
                if need:
                    raise ValueError(f"{key} of population {names[i]!r} (#{i}, {m}) is {v!r}; "
                                     f"it must be {need}")
                if m not in models and not np.isnan(v):
                    raise ValueError(f"{key} of population {names[i]!r} (#{i}) is {v!r}, but a "
                                     f"{m!r} population has no {key!r}: its entry must be NaN")
        for i, m in enumerate(self._models):
            _models.REGISTRY[m].check(self._pop_params(i), names[i])

    def _population_arrays(self):
        """The kernels' per-population arrays, from the (checked) parameters.

        Each model lowers its own parameters (:attr:`eventsim.models.NeuronModel.lower`):
        a kernel code (``model``), ``rate``, ``rate_syn``, ``coef`` and the threshold
        scale ``theta_scale`` (the threshold gradient is scaled back by it).
        """
        n = self._n_pops
        model = np.zeros(n, np.int8)
        rate = np.zeros(n)
        rate_syn = np.zeros(n)
        coef = np.ones(n)
        scale = np.ones(n)
        for i, m in enumerate(self._models):
            low = _models.REGISTRY[m].lower(self._pop_params(i))
            model[i], rate[i], rate_syn[i], coef[i], scale[i] = (
                low.code, low.rate, low.rate_syn, low.coef, low.scale)
        theta = self._theta * scale
        rate_max = float(max(rate.max(initial=0.0), rate_syn.max(initial=0.0)))
        return tuple(_readonly(a) for a in (model, rate, rate_syn, coef, theta, scale,
                                            np.log(rate * theta))) + (rate_max,)

    def _parameter_problem(self):
        """The first invalid weight, delay or pulse time, as a message (slow path)."""
        for name, arr, ok in (("weights", self._weights, np.isfinite),
                              ("delays", self._delay_view(), lambda d: np.isfinite(d) & (d >= 0)),
                              ("pulse_times", self._pulse_times, lambda p: p > -np.inf)):
            bad = np.flatnonzero(~ok(arr))
            if bad.size:
                k = int(bad[0])
                need = {"weights": "weights must be finite",
                        "delays": "delays must be finite and >= 0",
                        "pulse_times": "must be a time, or inf for no pulse"}[name]
                where = (f" (synapse {self._pre_of(k)} -> {int(self._post[k])})"
                         if name != "pulse_times" else "")
                return f"{name}[{k}]{where} is {arr[k]} ({need})"
        return None

    def _check_structure(self, kind, source_index, pop, block, block_start, block_stop):
        """Every index the compiled passes follow is in range: once per structure, so
        that even a tampered ``populations`` list cannot make them read out of bounds."""
        n, ind, post = self._n_neurons, self._indptr, self._post
        ok = (ind.shape == (n + 1,) and ind[0] == 0 and ind[-1] == post.size
              and (np.diff(ind) >= 0).all() and ((post >= 0) & (post < n)).all()
              and (kind[post] == NEURON).all() and np.isin(kind, (INPUT, PULSE, NEURON, POISSON)).all())
        if ok:
            lim = np.select([kind == INPUT, kind == PULSE, kind == POISSON],
                            [self._n_inputs, self._n_pulses, self._n_poisson], 0)
            src = kind != NEURON
            ok = (((source_index >= 0) & (source_index < lim)) | ~src).all() and (
                ((pop >= 0) & (pop < self._n_pops)) | src).all()
        if ok and block_start.size:
            ok = ((0 <= block_start) & (block_start <= block_stop) & (block_stop <= n)).all() and (
                (block >= -1) & (block < block_start.size)).all()
        if not ok:
            raise RuntimeError("the network's internal structure is inconsistent (was its "
                               "populations list or another private attribute modified?)")

    def _lower(self, *, incoming=False, check_values=True) -> _Lowered:
        """Check every parameter and return the network as the compiled passes take it.

        Called on every :func:`eventsim.simulate`, :func:`eventsim.backward` and
        :func:`eventsim.membrane_potential`, because parameter arrays may have been
        edited in place.  Cheap: one vectorised pass over weights (and delays when
        any is non-zero); everything derived from the structure, the delays or the
        per-population parameters is cached until they change.  ``incoming=True``
        adds the CSC arrays (:meth:`incoming`).  ``check_values=False`` skips the
        checks of weights, delays and pulse times, for a caller that compares them
        bit for bit with values checked before (the backward pass, against its
        forward run).
        """
        self._flush()
        self._check_size()
        w, d, p = self._weights, self._delays, self._pulse_times
        # Assigned delays were checked when set; only an array can change in place.
        has_delays = self._delay_value != 0.0 if d is None else bool(d.any())
        if check_values and not (np.isfinite(w).all()
                and (d is None or not has_delays or (np.isfinite(d).all() and d.min() >= 0.0))
                and (p.size == 0 or (p > -np.inf).all())):
            raise ValueError(self._parameter_problem())
        sign = self.synapse_sign if check_values else None
        if sign is not None and (sign * w < 0).any():
            bad = self.dale_violations()
            raise ValueError(f"Dale's law violated by {bad.size} synapse(s), e.g. synapse {bad[0]} "
                             f"(weight {float(w[bad[0]])!r} from neuron {self._pre_of(bad[0])}); "
                             f"see Network.project_dale")
        key = b"".join(getattr(self, "_" + k).tobytes() for k in _PARAM_MODELS)
        if self._pop_cache is None or self._pop_cache[0] != key:
            self._check_population_params()
            self._pop_cache = (key, self._population_arrays())
        if self._lower_cache is None:
            kind, source_index, pop = self._structure()
            block, block_start, block_stop = self._delivery_blocks()
            self._check_structure(kind, source_index, pop, block, block_start, block_stop)
            self._lower_cache = (kind, source_index, pop, block, block_start, block_stop)
        # The compact forms the compiled passes read (_netrec.pxd): one delay for all
        # when they are equal, and an empty order for the identity.
        order = _EMPTY_I64
        if d is None:
            delays = _one_delay(self._delay_value)
        else:
            # An array can be edited in place: what it implies is cached with a copy
            # (one comparison per run instead of the analysis).
            oc = self._order_cache
            if oc is None or not np.array_equal(oc[0], d):
                self._order_cache = oc = (d.copy(),) + self._delivery_order(d)
            uniform, order = oc[1:]
            delays = (d[:1] if d.size else np.zeros(1)) if uniform else d
        low = _Lowered()
        (low.kind, low.source_index, low.pop, low.block, low.block_start,
         low.block_stop) = self._lower_cache
        (low.model, low.rate, low.rate_syn, low.coef, low.theta, low.theta_scale,
         low.log_rate_theta, low.rate_max) = self._pop_cache[1]
        low.params_key = key
        low.indptr, low.post = self._indptr, self._post
        low.weights, low.delays, low.pulse_times = w, delays, p
        low.has_delays = has_delays
        low.order = order
        low.n_inputs, low.n_pulses = self._n_inputs, self._n_pulses
        low.in_indptr, low.in_syn = self.incoming() if incoming else (_EMPTY_I64, _EMPTY_I64)
        low.structure = self._structure_token
        return low

    # ------------------------------------------------------------------ Dale's law
    @property
    def neuron_sign(self) -> np.ndarray:
        """Per neuron: +1 excitatory, -1 inhibitory, 0 unconstrained (int8)."""
        return self._neuron_sign.copy()

    @property
    def synapse_sign(self):
        """Per synapse: the sign its weight must have (+1: >= 0, -1: <= 0, 0: any),
        from its presynaptic neuron; None if no population is constrained."""
        if self._sign_cache is None:
            self._flush()
            if not self._neuron_sign.any():
                self._sign_cache = (None,)
            else:
                self._check_size()
                self._sign_cache = (_readonly(np.repeat(self._neuron_sign,
                                                        np.diff(self._indptr))),)
        sign = self._sign_cache[0]
        return None if sign is None else sign.view()

    def dale_violations(self, weights=None) -> np.ndarray:
        """Synapse ids whose weight has the wrong sign for its presynaptic neuron."""
        w = self.weights if weights is None else np.asarray(weights, np.float64)
        sign = self.synapse_sign
        if sign is None:
            return np.zeros(0, np.int64)
        return np.flatnonzero(sign * w < 0)

    def project_dale(self, weights=None) -> np.ndarray:
        """Project weights onto Dale's law: wrong-sign weights become 0.

        This is the Euclidean projection onto the allowed set (a box), so a
        gradient step followed by it is projected gradient descent: a weight held
        at 0 moves again as soon as its gradient points back into the allowed sign.

        Parameters
        ----------
        weights : ndarray, optional
            Weights in synapse-id order (default: the network's own, which are then
            updated in place).

        Returns
        -------
        ndarray
            The projected weights.
        """
        own = weights is None
        w = np.array(self.weights if own else weights, np.float64, copy=True)
        if w.shape != self.weights.shape:
            raise ValueError(f"weights must have shape {self.weights.shape}, got {w.shape}")
        sign = self.synapse_sign
        if sign is not None:
            w[sign * w < 0] = 0.0
        if own:
            self._weights = w
        return w

    def incoming(self):
        """CSC view: ``(in_indptr, in_synapses)``; the synapses into neuron ``n``
        are ``in_synapses[in_indptr[n]:in_indptr[n+1]]`` (synapse ids).  Read-only."""
        if self._in_cache is None:
            post = self.post
            order = np.argsort(post, kind="stable").astype(np.int64)
            ind = np.zeros(self._n_neurons + 1, np.int64)
            np.cumsum(np.bincount(post, minlength=self._n_neurons), out=ind[1:])
            self._in_cache = (_readonly(ind), _readonly(order))
        return tuple(a.view() for a in self._in_cache)

    def synapse_ids(self, pre, post) -> np.ndarray:
        """Synapse ids of all synapses from any of ``pre`` to any of ``post``."""
        pre = self._ids(pre, "presynaptic")
        post = self._ids(post, "postsynaptic")
        mask = np.isin(self.pre, pre) & np.isin(self.post, post)
        return np.flatnonzero(mask)

    def weight_matrix(self, pre, post) -> np.ndarray:
        """Dense ``(len(pre), len(post))`` copy of the weights (0 where no synapse;
        parallel synapses are summed)."""
        pre = self._ids(pre, "presynaptic")
        post = self._ids(post, "postsynaptic")
        rows = np.full(self._n_neurons, -1)
        rows[pre] = np.arange(pre.size)
        cols = np.full(self._n_neurons, -1)
        cols[post] = np.arange(post.size)
        r, c = rows[self.pre], cols[self.post]
        m = (r >= 0) & (c >= 0)
        out = np.zeros((pre.size, post.size))
        np.add.at(out, (r[m], c[m]), self.weights[m])
        return out

    def _delivery_blocks(self):
        """Neurons whose synapses target consecutive ids of one population, in order.

        Returns ``(block, block_start, block_stop)``: per neuron its block id or -1,
        and per block its target range.  The engine updates such targets with one
        vectorised loop (the common case of layers).  Used by the engine.
        """
        if self._block_cache is None:
            ind, post = self.indptr, self.post
            n = self._n_neurons
            block = np.full(n, -1, np.int32)
            starts, stops, ids = [], [], {}
            pop = self.population_index
            counts = np.diff(ind)
            # A synapse continues a run if its target is the previous target + 1.
            step_ok = np.ones(post.size, bool)
            step_ok[1:] = np.diff(post) == 1
            step_ok[ind[:-1][counts > 0]] = True
            bad_rows = np.zeros(n, bool)
            rows = np.repeat(np.arange(n), counts)
            bad_rows[rows[~step_ok]] = True
            for p in np.flatnonzero((counts > 0) & ~bad_rows):
                j0, j1 = int(post[ind[p]]), int(post[ind[p + 1] - 1]) + 1
                if pop[j0] != pop[j1 - 1]:
                    continue
                key = (j0, j1)
                if key not in ids:
                    ids[key] = len(starts)
                    starts.append(j0)
                    stops.append(j1)
                block[p] = ids[key]
            self._block_cache = (_readonly(block), _readonly(np.array(starts, np.int32)),
                                 _readonly(np.array(stops, np.int32)))
        return tuple(a.view() for a in self._block_cache)

    def delay_order(self) -> np.ndarray:
        """Synapse ids sorted by (presynaptic neuron, delay), stable: the order in
        which an emitted spike reaches its targets."""
        d = self._delay_view()
        if self._delays is None:
            return np.arange(d.size, dtype=np.int64)
        return np.lexsort((d, self.pre)).astype(np.int64)

    def copy(self) -> "Network":
        """A deep copy (parameters are copied, not shared).

        The copy has the same neuron ids, so it accepts the populations of this
        network that it holds (and this network the copy's); populations added to
        one afterwards are refused by the other.
        """
        import copy

        self._flush()
        return copy.deepcopy(self)

    def __setstate__(self, state):
        # Copies and unpickled networks: arrays come back writable and caches would
        # be shared with the original's structure token.
        state = dict(state)
        # Networks pickled before the compact layout kept every presynaptic neuron
        # and every delay.
        state.pop("_pre", None)
        state.setdefault("_delay_value", 0.0)
        self.__dict__.update(state)
        for name in ("_post", "_indptr"):
            getattr(self, name).setflags(write=False)
        if self._delays is not None:
            # Nothing outside holds this array yet: equal delays can be compact again.
            self._store_delays(self._delays)
        self._structure_changed()
        self._pop_cache = None

    def __repr__(self):
        pops = ", ".join(f"{p.name}:{p.kind}[{p.size}]" for p in self.populations)
        return f"Network({pops}; {self.n_synapses} synapses)"

    # ------------------------------------------------------------------ running
    def simulate(self, input_times, **kwargs):
        """Run examples through the network; see :func:`eventsim.simulate`."""
        from .simulation import simulate

        return simulate(self, input_times, **kwargs)
