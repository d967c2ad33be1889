"""A network as a JSON description plus flat arrays, and back: what a checkpoint
stores."""

from __future__ import annotations

import numpy as np

from ..network import MODELS, SOURCE_KINDS, Network

__all__ = ["network_to_arrays", "network_from_arrays"]


def network_to_arrays(net: Network):
    """Everything needed to rebuild ``net``: ``(description, arrays)``.

    ``description`` is JSON-serialisable (the populations in id order with their
    model parameters); ``arrays`` holds ``pre``, ``post``, ``weights``, ``delays``
    and ``pulse_times``.
    """
    pops = []
    signs = net.neuron_sign
    for p in net.populations:
        entry = {"name": p.name, "kind": p.kind, "size": p.size}
        if p.kind not in SOURCE_KINDS:
            prm = net.population_params(p.index)
            del prm["model"]
            entry.update(prm)
        elif p.kind == "poisson":
            rates = [net.poisson_rate(g) for g in range(p.index, p.index + p.size)]
            entry["rate_times"] = rates[0][0].tolist() if rates else [0.0]
            entry["rate"] = [r.tolist() for _, r in rates]
        if signs[p.start:p.stop].any():
            entry["dale"] = signs[p.start:p.stop].tolist()
        pops.append(entry)
    arrays = {"pre": net.pre.copy(), "post": net.post.copy(), "weights": net.weights.copy(),
              "delays": net._delay_view().copy(), "pulse_times": net.pulse_times.copy()}
    return {"populations": pops}, arrays


def network_from_arrays(description, arrays) -> Network:
    """Inverse of :func:`network_to_arrays`."""
    net = Network()
    pulse_times = np.asarray(arrays["pulse_times"], np.float64)
    k = 0
    for p in description["populations"]:
        size = int(p["size"])
        if p["kind"] == "input":
            net.add_inputs(size, name=p["name"], dale=p.get("dale"))
        elif p["kind"] == "pulse":
            if k + size > pulse_times.size:
                raise ValueError("pulse_times is shorter than the pulse populations")
            net.add_pulses(pulse_times[k:k + size], name=p["name"])
            k += size
        elif p["kind"] == "poisson":
            rate = np.asarray(p["rate"], np.float64).reshape(size, -1)
            net.add_poisson(size, rate, rate_times=p["rate_times"], name=p["name"],
                            dale=p.get("dale"))
        else:
            if p["kind"] not in MODELS:
                raise ValueError(f"unknown neuron model {p['kind']!r} in the description")
            params = {k: p[k] for k in MODELS[p["kind"]] if k in p}
            net.add_population(size, model=p["kind"], name=p["name"], dale=p.get("dale"),
                               **params)
    if k != pulse_times.size:
        raise ValueError(f"{pulse_times.size} pulse times for {k} pulses")
    pre, post = np.asarray(arrays["pre"]), np.asarray(arrays["post"])
    if pre.size:
        net.connect(pre, post, np.asarray(arrays["weights"], np.float64),
                    np.asarray(arrays["delays"], np.float64))
    if not (np.array_equal(net.pre, pre) and np.array_equal(net.post, post)):
        raise ValueError("synapses are not in presynaptic (CSR) order")
    return net
