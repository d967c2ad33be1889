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
import types
from typing import Callable

import numpy as np

__all__ = ["NeuronModel", "REGISTRY", "register", "lookup"]

# Kernel codes of the compiled passes (cython_src/eventsim/_netrec.pxd, MODEL_*).
MODEL_ALPHA = 0
MODEL_LIF = 1
MODEL_LIF2 = 2

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
        Parameter names, in order, with their defaults.  Every parameter must be
        finite and ``> 0`` (checked generically).
    check : callable ``(params, where) -> None``
        Further checks across parameters (``params``: name -> float of one
        population; ``where``: how messages name it); raises ValueError.
    lower : callable ``(params) -> Lowered``
        The population's kernel code and per-population arrays' entries.
    kernel : callable ``(params, s) -> ndarray``
        The postsynaptic potential of a unit weight ``s >= 0`` after its arrival.
    time_scale : callable ``(params) -> float``
        A duration over which the kernel rises and decays (plots).
    """

    name: str
    defaults: types.MappingProxyType
    check: Callable
    lower: Callable
    kernel: Callable
    time_scale: Callable

    def __post_init__(self):
        object.__setattr__(self, "defaults", types.MappingProxyType(dict(self.defaults)))


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


register(NeuronModel(
    name="lif",
    defaults={"tau_mem": 1.0, "tau_syn": 1.0, "theta": 1.0, "g_leak": 1.0},
    check=_lif_check,
    lower=_lif_lower,
    kernel=_lif_kernel,
    time_scale=lambda params: max(params["tau_mem"], params["tau_syn"]),
))
