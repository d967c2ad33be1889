"""Finite differences of spike-time losses through eventsim.simulate (test helper).

The loss is linear in the spike times, ``L = sum_{e, n spiking} c[e, n] t[e, n]``, so
``dL/dt = c``.  Richardson-extrapolated central differences (error O(h^4)); a parameter
is only checked when no perturbed run changes the set of spiking neurons or the set of
causal inputs of any neuron (otherwise the loss is not differentiable there).
"""

import numpy as np

import eventsim
from reference import causal_sets

H = 1e-6
RTOL = 1e-6


def linear_loss(times, c):
    """Per-example loss sum_n c[e, n] t[e, n] over spiking neurons."""
    spiking = np.isfinite(times)
    return np.where(spiking, c * np.where(spiking, times, 0.0), 0.0).sum(axis=1)


class FiniteDifferences:
    """Finite differences of the per-example linear loss, with validity checks."""

    def __init__(self, net, x, c):
        self.net, self.x, self.c = net, x, c
        # One thread: these are thousands of tiny runs (threads are tested elsewhere).
        self.times = eventsim.simulate(net, x, n_threads=1).times
        self.spiking = np.isfinite(self.times)
        self.causal = causal_sets(net, self.times)
        self.skipped = 0

    def _loss(self, x=None):
        x = self.x if x is None else x
        t = eventsim.simulate(self.net, x, n_threads=1).times
        if not (np.array_equal(np.isfinite(t), self.spiking)
                and np.array_equal(causal_sets(self.net, t), self.causal)):
            return None
        return linear_loss(t, self.c)

    def derivative(self, apply, *, one_sided=False):
        """d(loss per example)/dp where ``apply(delta)`` sets p = p0 + delta (and
        returns the input times to use, or None); None if not differentiable."""
        steps = (0, 1, 2) if one_sided else (-2, -1, 1, 2)
        vals = {}
        try:
            for k in steps:
                vals[k] = self._loss(apply(k * H))
                if vals[k] is None:
                    self.skipped += 1
                    return None
        finally:
            apply(0.0)
        if one_sided:
            return (-3 * vals[0] + 4 * vals[1] - vals[2]) / (2 * H)
        return (8 * (vals[1] - vals[-1]) - (vals[2] - vals[-2])) / (12 * H)


def setter(obj, name, index):
    base = getattr(obj, name).copy()

    def apply(delta):
        v = base.copy()
        v[index] += delta
        setattr(obj, name, v)

    return apply


def assert_gradient_identities(net, res, g, c):
    """The two identities exact spike-time gradients obey for any loss dL/dt = c
    (docs/math.md 0): a common shift s of all inputs and pulses moves every spike by s, so
    sum(dL/dx) + sum(dL/dpulse) = sum of c over spiking neurons; and V is linear in
    the weights and thresholds together, so sum_k w_k dL/dw_k + sum_p theta_p
    dL/dtheta_p = 0."""
    lhs = g.input_times.sum() + g.pulse_times.sum()
    rhs = c[np.isfinite(res.times)].sum()
    scale = np.abs(g.input_times).sum() + np.abs(g.pulse_times).sum() + np.abs(c).sum()
    assert abs(lhs - rhs) <= 1e-9 * max(1.0, scale), "time-shift identity"
    terms = np.concatenate([net.weights * g.weights, net.theta * g.theta])
    assert abs(terms.sum()) <= 1e-9 * max(1.0, np.abs(terms).sum()), "scaling identity"
