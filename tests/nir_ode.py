"""A second, independent reader of NIR graphs, for the tests of eventsim.nir.

It integrates the equations of NIR's nodes as NIR's documentation states them,

    tau_syn dI/dt = -I + w_in S,        tau_mem dv/dt = (v_leak - v) + r I,

numerically with scipy's ``solve_ivp`` (DOP853) between input arrivals, finds threshold
crossings with its event location, and resets ``v`` to ``v_reset`` after each spike
(CubaLIF; CubaLI never spikes).  ``S`` is a sum of weighted Dirac impulses, so an
arrival of weight ``w`` makes ``I`` jump by ``w_in w / tau_syn``.  It shares no code
with eventsim.  With ``honour_metadata=True`` it also reads two of the keys that
eventsim writes into the metadata, for what NIR has no field for: fire-once neurons
(``eventsim_fire_once``) and synaptic delays (``eventsim_delays``).
"""

from __future__ import annotations

import heapq

import numpy as np
import nir
from scipy.integrate import solve_ivp


def _flat(node, field, n):
    return np.broadcast_to(np.asarray(getattr(node, field), np.float64), (n,)).copy()


def simulate_graph(graph, inputs, t_end, *, honour_metadata=False, rtol=1e-12, atol=1e-13):
    """Spike trains of every CubaLIF node, and the final potential of every neuron node.

    Parameters
    ----------
    graph : nir.NIRGraph
        Input, Output, Linear (or Affine with zero bias), CubaLIF and CubaLI nodes.
    inputs : dict
        Input node name -> list of arrays, the spike times of each of its channels.
    t_end : float
        Integrate over ``[0, t_end]``.

    Returns
    -------
    spikes : dict
        Neuron node name -> list of arrays (spike times of each neuron).
    v_end : dict
        Neuron node name -> potentials at ``t_end``.
    """
    neurons = [k for k, n in graph.nodes.items() if isinstance(n, (nir.CubaLIF, nir.CubaLI))]
    size = {k: int(np.prod(graph.nodes[k].output_type["output"])) for k in graph.nodes
            if not isinstance(graph.nodes[k], (nir.Linear, nir.Affine))}
    start, total = {}, 0
    for k in neurons:
        start[k] = total
        total += size[k]
    par = {f: np.zeros(total) for f in ("tau_syn", "tau_mem", "r", "v_leak", "w_in")}
    thr = np.full(total, np.inf)
    v_reset = np.zeros(total)
    once = np.zeros(total, bool)
    for k in neurons:
        node, sl = graph.nodes[k], slice(start[k], start[k] + size[k])
        for f in par:
            par[f][sl] = _flat(node, f, size[k])
        if isinstance(node, nir.CubaLIF):
            thr[sl] = _flat(node, "v_threshold", size[k])
            v_reset[sl] = _flat(node, "v_reset", size[k])
            if honour_metadata and bool(node.metadata.get("eventsim_fire_once", False)):
                once[sl] = True

    # Outgoing connections of every spiking node: (target node, weight, delays).
    out = {k: [] for k in graph.nodes}
    for a, b in graph.edges:
        node = graph.nodes[a]
        if isinstance(node, (nir.Linear, nir.Affine)):
            src = [s for s, t in graph.edges if t == a][0]
            w = np.asarray(node.weight, np.float64)
            d = node.metadata.get("eventsim_delays") if honour_metadata else None
            d = np.zeros_like(w) if d is None else np.asarray(d, np.float64)
            out[src].append((b, w, d))
        elif b in start and a in size:
            out[a].append((b, np.eye(size[a]), np.zeros((size[a], size[a]))))

    queue, seq = [], 0

    def send(src, j, t):
        nonlocal seq
        for dst, w, d in out[src]:
            for i in np.flatnonzero(w[:, j] != 0):
                heapq.heappush(queue, (t + d[i, j], seq, start[dst] + i, w[i, j]))
                seq += 1

    for name, trains in inputs.items():
        for j, train in enumerate(trains):
            for t in np.atleast_1d(train):
                send(name, j, float(t))

    def rhs(_, y):
        v, current = y[:total], y[total:]
        return np.concatenate([((par["v_leak"] - v) + par["r"] * current) / par["tau_mem"],
                               -current / par["tau_syn"]])

    y = np.zeros(2 * total)
    spikes = [[] for _ in range(total)]
    active = np.isfinite(thr)
    t = 0.0
    while True:
        while queue and queue[0][0] <= t:
            _, _, i, w = heapq.heappop(queue)
            y[total + i] += par["w_in"][i] * w / par["tau_syn"][i]
        t_next = min(queue[0][0], t_end) if queue else t_end
        if t_next <= t:
            break
        ids = np.flatnonzero(active)
        events = []
        for i in ids:
            ev = (lambda _, yy, i=i: yy[i] - thr[i])
            ev.terminal, ev.direction = True, 1.0
            events.append(ev)
        sol = solve_ivp(rhs, (t, t_next), y, method="DOP853", rtol=rtol, atol=atol,
                        events=events or None)
        if sol.status == 1:
            hits = [(te[0], k) for k, te in enumerate(sol.t_events) if te.size]
            t_e, k = min(hits)
            i = ids[k]
            y = sol.y_events[k][0].copy()
            spikes[i].append(t_e)
            if once[i]:
                active[i] = False
            else:
                y[i] = v_reset[i]
            node = next(n for n in neurons if start[n] <= i < start[n] + size[n])
            send(node, i - start[node], t_e)
            t = t_e
        else:
            y = sol.y[:, -1].copy()
            t = t_next
    res = {k: [np.array(spikes[i]) for i in range(start[k], start[k] + size[k])] for k in neurons}
    v_end = {k: y[start[k]:start[k] + size[k]].copy() for k in neurons}
    return res, v_end
