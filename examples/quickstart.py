"""Quickstart: build a small alpha-kernel network, simulate it exactly, and train it
with exact spike-time gradients on noisy XOR (data generated on the fly).

Run:  python examples/quickstart.py [--epochs 30] [--seed 0]

It prints the spike times of one example, the loss and accuracy per epoch, and
checks one gradient against a finite difference.
"""

import argparse

import numpy as np

import eventsim


def noisy_xor(n, rng):
    """Comsa et al. section 2.6.1: True in [0, 0.45], False in [0.55, 1]."""
    bits = rng.integers(0, 2, size=(n, 2))
    times = np.where(bits == 1, rng.uniform(0.0, 0.45, (n, 2)), rng.uniform(0.55, 1.0, (n, 2)))
    return times, bits[:, 0] ^ bits[:, 1]


def cross_entropy(out_times, labels):
    """Softmax over -t; dL/dt_k = y_k - p_k (MATH.md D.1).  Silent outputs get p = 0."""
    finite = np.isfinite(out_times)
    first = np.where(finite, out_times, np.inf).min(1, keepdims=True)
    first = np.where(np.isfinite(first), first, 0.0)        # all silent: any finite shift
    shifted = np.where(finite, -(np.where(finite, out_times, 0.0) - first), -np.inf)
    p = np.exp(shifted)
    all_silent = ~finite.any(1)
    p[all_silent] = 1.0
    p /= p.sum(1, keepdims=True)
    y = np.eye(out_times.shape[1])[labels]
    loss = -np.log(np.maximum(p[np.arange(len(labels)), labels], 1e-300)).mean()
    return loss, (y - p) / len(labels)


def accuracy(out_times, labels):
    first = out_times.min(1, keepdims=True)
    unique = (out_times == first).sum(1) == 1
    return float(np.mean(np.isfinite(first[:, 0]) & unique & (out_times.argmin(1) == labels)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=0.05)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)

    net = eventsim.feedforward(2, [8], 2, n_pulses=1, pulses="per_network", tau=1.0, theta=1.0,
                               pulse_init_multiplier=2.0, nonpulse_init_multiplier=2.0, rng=rng)
    print(net)
    out = net["output"].ids
    x_train, y_train = noisy_xor(500, rng)
    x_test, y_test = noisy_xor(150, rng)

    res = eventsim.simulate(net, x_test[0])
    print("spike times of one example:", np.round(res.times, 4))

    # Gradient check on one weight (the engine's gradients are exact).
    def loss_fn(t):
        return cross_entropy(t, y_train[:20])
    loss, grads, _ = eventsim.value_and_grad(net, x_train[:20], loss_fn, outputs=out)
    k, h = int(np.argmax(np.abs(grads.weights))), 1e-6
    w0 = net.weights.copy()
    vals = []
    for sign in (1, -1):
        w = w0.copy()
        w[k] += sign * h
        net.weights = w
        vals.append(loss_fn(eventsim.simulate(net, x_train[:20]).times[:, out])[0])
    net.weights = w0
    print(f"dL/dw[{k}]: backward {grads.weights[k]:.8f}, finite difference {(vals[0] - vals[1]) / (2 * h):.8f}")

    # Adam on weights and pulse times.
    m = {"w": 0.0, "p": 0.0}
    v = {"w": 0.0, "p": 0.0}
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(x_train))
        for step, start in enumerate(range(0, len(order), 25), start=1):
            idx = order[start:start + 25]
            loss, g, _ = eventsim.value_and_grad(
                net, x_train[idx], lambda t: cross_entropy(t, y_train[idx]), outputs=out,
                clip_derivative=100.0, penalty_no_spike=1.0 / len(idx))
            for key, grad in (("w", g.weights), ("p", g.pulse_times)):
                m[key] = 0.9 * m[key] + 0.1 * grad
                v[key] = 0.999 * v[key] + 0.001 * grad ** 2
            tcount = (epoch - 1) * 20 + step
            upd = lambda key: args.lr * (m[key] / (1 - 0.9 ** tcount)) / (np.sqrt(v[key] / (1 - 0.999 ** tcount)) + 1e-8)
            net.weights = net.weights - upd("w")
            net.pulse_times = np.clip(net.pulse_times - upd("p"), 0.0, None)
        test_out = eventsim.simulate(net, x_test).times[:, out]
        test_loss, _ = cross_entropy(test_out, y_test)
        print(f"epoch {epoch:3d}  test loss {test_loss:.4f}  test accuracy {accuracy(test_out, y_test):.3f}")


if __name__ == "__main__":
    main()
