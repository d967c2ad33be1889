"""Adam with one learning rate per parameter group, as in the reference implementation."""

from __future__ import annotations

import numpy as np

__all__ = ["Adam"]


class Adam:
    """Adam as in the reference implementation, one learning rate per parameter group.

    For a gradient ``g`` of a group with learning rate ``lr``, step ``t`` (counting
    the updates applied so far, from 1):

    .. math::

        m \\leftarrow \\beta_1 m + (1-\\beta_1) g, \\quad
        v \\leftarrow \\beta_2 v + (1-\\beta_2) g^2, \\quad
        \\Delta = -\\mathrm{lr} \\, \\frac{m / (1-\\beta_1^t)}
                                     {\\sqrt{v / (1-\\beta_2^t) + \\epsilon}}

    Note that ``epsilon`` sits *inside* the square root, as in
    ``Tempcoder::ComputeAdamUpdates`` (not added to it, as in Kingma & Ba).

    Parameters
    ----------
    shapes : dict of str -> tuple
        Shape of each parameter group.
    learning_rates : dict of str -> float
        Learning rate of each group.
    beta1, beta2, epsilon : float
        The reference's constants 0.9, 0.999, 1e-8 by default.

    Attributes
    ----------
    m, v : dict of str -> ndarray
        First and second moment estimates.
    t : int
        Number of steps taken.
    """

    def __init__(self, shapes, learning_rates, *, beta1=0.9, beta2=0.999, epsilon=1e-8):
        if set(shapes) != set(learning_rates):
            raise ValueError("shapes and learning_rates must name the same groups")
        for name, lr in learning_rates.items():
            if not (np.isfinite(lr) and lr >= 0):
                raise ValueError(f"learning rate of {name!r} must be finite and >= 0, got {lr}")
        if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
            raise ValueError(f"beta1 and beta2 must lie in [0, 1), got {beta1}, {beta2}")
        if not epsilon >= 0:
            raise ValueError(f"epsilon must be >= 0, got {epsilon}")
        self.learning_rates = {k: float(v) for k, v in learning_rates.items()}
        self.beta1, self.beta2, self.epsilon = float(beta1), float(beta2), float(epsilon)
        self.m = {k: np.zeros(s) for k, s in shapes.items()}
        self.v = {k: np.zeros(s) for k, s in shapes.items()}
        self.t = 0

    def step(self, grads) -> dict:
        """Take one step; returns the *updates* (to be added to the parameters).

        Parameters
        ----------
        grads : dict of str -> ndarray
            Gradient of the loss for every group (same shapes as at construction).
        """
        if set(grads) != set(self.m):
            raise ValueError(f"expected gradients for {sorted(self.m)}, got {sorted(grads)}")
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        m_scale = 1.0 / (1.0 - b1 ** self.t)
        v_scale = 1.0 / (1.0 - b2 ** self.t)
        updates = {}
        for name, g in grads.items():
            g = np.asarray(g, np.float64)
            if g.shape != self.m[name].shape:
                raise ValueError(f"gradient of {name!r} has shape {g.shape}, "
                                 f"expected {self.m[name].shape}")
            m, v = self.m[name], self.v[name]
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * (g * g)
            updates[name] = -self.learning_rates[name] * (m * m_scale) / np.sqrt(
                v * v_scale + self.epsilon)
        return updates

    def state_arrays(self) -> dict:
        """Moments as flat arrays for a checkpoint (``m_<group>``, ``v_<group>``)."""
        out = {}
        for name in self.m:
            out[f"m_{name}"] = self.m[name]
            out[f"v_{name}"] = self.v[name]
        return out

    def load_state(self, arrays, t):
        """Restore moments (from :meth:`state_arrays`) and the step count."""
        for name in self.m:
            for kind, store in (("m", self.m), ("v", self.v)):
                arr = np.asarray(arrays[f"{kind}_{name}"], np.float64)
                if arr.shape != store[name].shape:
                    raise ValueError(f"Adam state {kind}_{name} has shape {arr.shape}, "
                                     f"expected {store[name].shape}")
                store[name] = arr.copy()
        self.t = int(t)
