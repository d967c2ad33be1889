"""Quickstart: build a small alpha-kernel network, simulate it exactly, and train it
with exact spike-time gradients on noisy XOR (data generated on the fly).

Run:  python examples/quickstart.py [--epochs 40] [--seed 0]

It prints the spike times of one example, checks one gradient against a finite
difference, then trains with a hand-written Adam loop on top of
``eventsim.value_and_grad`` (the way to use eventsim as an engine inside your own
training code) and prints the test loss and accuracy per epoch.

The loss is the cross-entropy of a softmax over the negative output spike times
divided by a temperature (0.02 of the neuron's time constant): the class whose
output spikes first wins, and the temperature sets how large a time gap counts as
a confident answer.  With the defaults (1,000 training and 150 test examples, 8
hidden neurons, 40 epochs, learning rate 0.01 decaying by 0.97 per epoch, about 1 s),
18 of the seeds 0-19 end at 100% test accuracy and two at 99.3% (149 of 150).
"""

import argparse

import numpy as np

import eventsim


TEMPERATURE = 0.02


def noisy_xor(n, rng):
    """Comsa et al. section 2.6.1: True in [0, 0.45], False in [0.55, 1]."""
    bits = rng.integers(0, 2, size=(n, 2))
    times = np.where(bits == 1, rng.uniform(0.0, 0.45, (n, 2)), rng.uniform(0.55, 1.0, (n, 2)))
    return times, bits[:, 0] ^ bits[:, 1]


def cross_entropy(out_times, labels, temperature=TEMPERATURE):
    """Mean cross-entropy of softmax(-t / temperature) and its derivative
    dL/dt_k = (y_k - p_k) / (temperature * n).  Silent outputs get p = 0."""
    finite = np.isfinite(out_times)
    first = np.where(finite, out_times, np.inf).min(1, keepdims=True)
    first = np.where(np.isfinite(first), first, 0.0)        # all silent: any finite shift
    shifted = np.where(finite, -(np.where(finite, out_times, 0.0) - first) / temperature,
                       -np.inf)
    p = np.exp(shifted)
    all_silent = ~finite.any(1)
    p[all_silent] = 1.0
    p /= p.sum(1, keepdims=True)
    y = np.eye(out_times.shape[1])[labels]
    loss = -np.log(np.maximum(p[np.arange(len(labels)), labels], 1e-300)).mean()
    return loss, (y - p) / (temperature * len(labels))


def accuracy(out_times, labels):
    first = out_times.min(1, keepdims=True)
    unique = (out_times == first).sum(1) == 1
    return float(np.mean(np.isfinite(first[:, 0]) & unique & (out_times.argmin(1) == labels)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", "--learning-rate", type=float, default=0.01)
    ap.add_argument("--lr-decay", type=float, default=0.97, help="per-epoch learning-rate factor")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)

    net = eventsim.feedforward(2, [8], 2, n_pulses=1, pulses="per_network", tau=1.0, theta=1.0,
                               pulse_init_multiplier=5.0, nonpulse_init_multiplier=5.0, rng=rng)
    print(net)
    out = net["output"].ids
    x_train, y_train = noisy_xor(1000, rng)
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
    n_steps = -(-len(x_train) // 25)
    for epoch in range(1, args.epochs + 1):
        lr = args.lr * args.lr_decay ** (epoch - 1)
        order = rng.permutation(len(x_train))
        for step, start in enumerate(range(0, len(order), 25), start=1):
            idx = order[start:start + 25]
            loss, g, _ = eventsim.value_and_grad(
                net, x_train[idx], lambda t: cross_entropy(t, y_train[idx]), outputs=out,
                clip_derivative=100.0, penalty_no_spike=1.0 / len(idx))
            for key, grad in (("w", g.weights), ("p", g.pulse_times)):
                m[key] = 0.9 * m[key] + 0.1 * grad
                v[key] = 0.999 * v[key] + 0.001 * grad ** 2
            tcount = (epoch - 1) * n_steps + step
            upd = lambda key: lr * (m[key] / (1 - 0.9 ** tcount)) / (np.sqrt(v[key] / (1 - 0.999 ** tcount)) + 1e-8)
            net.weights = net.weights - upd("w")
            net.pulse_times = np.clip(net.pulse_times - upd("p"), 0.0, None)
        test_out = eventsim.simulate(net, x_test).times[:, out]
        test_loss, _ = cross_entropy(test_out, y_test)
        acc = accuracy(test_out, y_test)
        print(f"epoch {epoch:3d}  test loss {test_loss:.4f}  test accuracy {acc:.3f}")
    print(f"final test accuracy {100 * acc:.1f}% ({round(acc * len(y_test))}/{len(y_test)})")
    return acc


if __name__ == "__main__":
    main()
