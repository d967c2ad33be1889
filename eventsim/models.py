"""The neuron-model registry: each model's parameters, checks, lowering and kernel.

One :class:`NeuronModel` per model, registered in :data:`REGISTRY`.  Everything on
the Python side that depends on the model reads it from here:
:meth:`eventsim.Network.add_population` and the parameter setters (names, defaults,
validation), :meth:`eventsim.Network._lower` (the compiled passes' per-population
arrays), :func:`eventsim.potential.kernel` and :func:`eventsim.membrane_potential`.  The
compiled side has one ``_model_<name>.pxd`` per model and one dispatch section in
each of ``_engine.pyx`` and ``_backward.pyx`` (docs/engine.md 12).
"""

from __future__ import annotations

import dataclasses
import numbers
import types
from typing import Callable

import numpy as np

__all__ = ["NeuronModel", "REGISTRY", "register", "lookup"]

# Kernel codes of the compiled passes (cython_src/eventsim/_netrec.pxd, MODEL_*).
MODEL_ALPHA = 0
MODEL_LIF = 1
MODEL_LIF2 = 2
# Populations that only the spike-train engine runs (_spiketrain_engine.pyx); the
# first-spike engine refuses this code.
MODEL_SPIKE_TRAIN_ONLY = 3

# Codes of the spike-train engine's populations (_model_lif_multispike.pxd, TRAIN_*).
TRAIN_LIF = 0
TRAIN_LI = 1

# What a parameter may be (NeuronModel.domains); "positive" unless a model says otherwise.
_DOMAINS = {
    "positive": (lambda v: np.isfinite(v) and v > 0, "finite and > 0"),
    "real": (lambda v: np.isfinite(v), "finite"),
    "nonnegative_or_inf": (lambda v: v >= 0, ">= 0 (inf: fire once)"),
}

# The general LIF solver evaluates V as a difference of two exponential sums, which
# loses digits like 1 / |1 - tau_syn / tau_mem|; closer ratios than this are refused
# (equal time constants use the exact closed form).
LIF_MIN_RATIO_GAP = 1e-3


@dataclasses.dataclass(frozen=True)
class Lowered:
    """One population in the compiled passes' terms (see ``_netrec.pxd``)."""

    code: int                # MODEL_* kernel code
    rate: float              # alpha: decay rate; LIF: 1 / tau_mem
    rate_syn: float = 0.0    # two-exponential kernels: 1 / tau_syn
    coef: float = 1.0        # two-exponential kernels: the kernel's factor
    scale: float = 1.0       # the kernel's threshold is theta * scale


@dataclasses.dataclass(frozen=True)
class NeuronModel:
    """A neuron model as the Python side knows it.

    Attributes
    ----------
    name : str
        The ``model=`` of :meth:`eventsim.Network.add_population`.
    defaults : mapping
        Parameter names, in order, with their defaults.  Each value must lie in
        its domain (``domains``; finite and ``> 0`` by default), checked generically.
    check : callable ``(params, where) -> None``
        Further checks across parameters (``params``: name -> float of one
        population; ``where``: how messages name it); raises ValueError.
    lower : callable ``(params) -> Lowered``
        The population's kernel code and per-population arrays' entries.
    kernel : callable ``(params, s) -> ndarray``
        The postsynaptic potential of a unit weight ``s >= 0`` after its arrival.
    time_scale : callable ``(params) -> float``
        A duration over which the kernel rises and decays (plots).
    domains : mapping, optional
        Parameter name -> ``"positive"`` (the default for names not listed),
        ``"real"`` or ``"nonnegative_or_inf"``.
    spike_train : callable ``(params) -> tuple`` or None
        The population's row in the spike-train engine's table (``code, tau_mem,
        tau_syn, g_leak, theta, v_reset, t_ref, bias, v_init``); None if that engine
        cannot run the model.
    first_spike : bool
        Whether the first-spike engine runs the model (False: only the spike-train
        engine does, and networks with such a population need a finite ``t_max``).
    multispike : str or None
        The registered model that ``multispike=True`` selects for this one.
    """

    name: str
    defaults: types.MappingProxyType
    check: Callable
    lower: Callable
    kernel: Callable
    time_scale: Callable
    domains: types.MappingProxyType = dataclasses.field(default_factory=dict)
    spike_train: Callable | None = None
    first_spike: bool = True
    multispike: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "defaults", types.MappingProxyType(dict(self.defaults)))
        object.__setattr__(self, "domains", types.MappingProxyType(dict(self.domains)))

    def allows(self, key, value) -> str | None:
        """None if ``value`` is allowed for parameter ``key``, else what it must be."""
        ok, need = _DOMAINS[self.domains.get(key, "positive")]
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or not ok(float(value)):
            return need
        return None


#: Registered models by name, in registration order.
REGISTRY: dict[str, NeuronModel] = {}


def register(model: NeuronModel) -> NeuronModel:
    """Add ``model`` to the registry (its compiled side must exist: docs/engine.md 12)."""
    if model.name in REGISTRY or model.name in ("input", "pulse"):
        raise ValueError(f"neuron model name {model.name!r} is taken")
    REGISTRY[model.name] = model
    return model


def lookup(name) -> NeuronModel:
    """The registered model ``name``; ValueError naming the known ones otherwise."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown neuron model {name!r}; known models: {sorted(REGISTRY)}") from None


def param_models() -> dict:
    """Each per-population parameter name -> the models that have it.  Parameters
    of some models only come first (registration order), shared ones last."""
    names = []
    for m in REGISTRY.values():
        names += [k for k in m.defaults if k not in names]
    has = {k: tuple(m.name for m in REGISTRY.values() if k in m.defaults) for k in names}
    return dict(sorted(has.items(), key=lambda kv: len(kv[1]) == len(REGISTRY)))


# ------------------------------------------------------------------------------
# alpha: the alpha-kernel SRM neuron (Comsa et al.); _model_alpha.pxd
# ------------------------------------------------------------------------------
def _alpha_kernel(params, s):
    return s * np.exp(-params["tau"] * s)


register(NeuronModel(
    name="alpha",
    defaults={"tau": 1.0, "theta": 1.0},
    check=lambda params, where: None,
    lower=lambda params: Lowered(MODEL_ALPHA, params["tau"]),
    kernel=_alpha_kernel,
    time_scale=lambda params: 1.0 / params["tau"],      # the kernel peaks at 1 / tau
))


# ------------------------------------------------------------------------------
# lif: leaky integrate-and-fire with exponential current synapses, first spike
# (Göltz et al.); _model_lif.pxd, or _model_alpha.pxd for equal time constants
# ------------------------------------------------------------------------------
def _lif_check(params, where):
    tau_mem, tau_syn = params["tau_mem"], params["tau_syn"]
    if tau_mem != tau_syn and abs(tau_syn / tau_mem - 1.0) < LIF_MIN_RATIO_GAP:
        raise ValueError(
            f"LIF population {where!r}: tau_syn / tau_mem = {tau_syn / tau_mem!r} is within "
            f"{LIF_MIN_RATIO_GAP} of 1 but not equal; use equal time constants (exact closed "
            f"form) or a ratio further from 1 (the two-exponential form loses precision there)")


def _lif_lower(params):
    # With equal time constants tau the LIF kernel *is* the alpha kernel up to a
    # factor: V_lif = V_alpha / (g_leak tau) with rate = 1 / tau, so it runs as alpha
    # with threshold theta g_leak tau (the threshold gradient is scaled back).
    tm, ts, g = params["tau_mem"], params["tau_syn"], params["g_leak"]
    if tm == ts:
        return Lowered(MODEL_ALPHA, 1.0 / tm, scale=g * tm)
    return Lowered(MODEL_LIF2 if tm == 2.0 * ts else MODEL_LIF, 1.0 / tm,
                   rate_syn=1.0 / ts, coef=ts / (g * (tm - ts)))


def _lif_kernel(params, s):
    tm, ts, g = params["tau_mem"], params["tau_syn"], params["g_leak"]
    if tm == ts:
        return s * np.exp(-s / tm) / (g * tm)
    return ts / (g * (tm - ts)) * (np.exp(-s / tm) - np.exp(-s / ts))


def _lif_time_scale(params):
    return max(params["tau_mem"], params["tau_syn"])


register(NeuronModel(
    name="lif",
    defaults={"tau_mem": 1.0, "tau_syn": 1.0, "theta": 1.0, "g_leak": 1.0},
    check=_lif_check,
    lower=_lif_lower,
    kernel=_lif_kernel,
    time_scale=_lif_time_scale,
    # In a spike-train network it runs as a multi-spike LIF that is never released.
    spike_train=lambda p: (TRAIN_LIF, p["tau_mem"], p["tau_syn"], p["g_leak"], p["theta"],
                           0.0, np.inf, 0.0, 0.0),
    multispike="lif_multispike",
))


# ------------------------------------------------------------------------------
# lif_multispike: LIF that fires again and again, with reset to v_reset, absolute
# refractory period t_ref and a constant bias current; _model_lif_multispike.pxd
# ------------------------------------------------------------------------------
def _spike_train_lower(params):
    # Only the spike-train engine runs these; its table comes from spike_train().
    return Lowered(MODEL_SPIKE_TRAIN_ONLY, 1.0 / params["tau_mem"])


def _lif_multispike_check(params, where):
    for key in ("v_reset", "v_init"):
        if not params[key] < params["theta"]:
            raise ValueError(f"multi-spike LIF population {where!r}: {key} = {params[key]!r} must "
                             f"be below theta = {params['theta']!r}")


register(NeuronModel(
    name="lif_multispike",
    defaults={"tau_mem": 1.0, "tau_syn": 1.0, "theta": 1.0, "g_leak": 1.0, "v_reset": 0.0,
              "t_ref": 0.0, "bias": 0.0, "v_init": 0.0},
    domains={"v_reset": "real", "t_ref": "nonnegative_or_inf", "bias": "real", "v_init": "real"},
    check=_lif_multispike_check,
    lower=_spike_train_lower,
    kernel=_lif_kernel,
    time_scale=_lif_time_scale,
    spike_train=lambda p: (TRAIN_LIF, p["tau_mem"], p["tau_syn"], p["g_leak"], p["theta"],
                           p["v_reset"], p["t_ref"], p["bias"], p["v_init"]),
    first_spike=False,
))


# ------------------------------------------------------------------------------
# li: the same membrane without a threshold (a readout); _model_lif_multispike.pxd
# ------------------------------------------------------------------------------
register(NeuronModel(
    name="li",
    defaults={"tau_mem": 1.0, "tau_syn": 1.0, "g_leak": 1.0, "bias": 0.0, "v_init": 0.0},
    domains={"bias": "real", "v_init": "real"},
    check=lambda params, where: None,
    lower=_spike_train_lower,
    kernel=_lif_kernel,
    time_scale=_lif_time_scale,
    spike_train=lambda p: (TRAIN_LI, p["tau_mem"], p["tau_syn"], p["g_leak"], np.nan, np.nan,
                           np.inf, p["bias"], p["v_init"]),
    first_spike=False,
))
