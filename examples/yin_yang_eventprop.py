"""Train a 5-200-3 multi-spike LIF network on Yin-Yang with EventProp (Wunderlich & Pehle 2021).

The setting of Wunderlich & Pehle's Yin-Yang experiment (Sci. Rep. 11:12829, 2021; the
final version of their code, ``paper/figure2.py`` and ``eventprop/yinyang.py``):

* data: the standard Yin-Yang split (5,000 training, 1,000 test examples; Kriener
  et al. 2021, :func:`eventsim.tasks.load_yin_yang`); inputs ``x, y, 1-x, 1-y``
  as spike times ``30 v`` ms plus a bias spike at 0 ms;
* network: 200 hidden and 3 output LIF neurons that fire again and again (reset to
  0, no refractory period), ``tau_mem = 20`` ms, ``tau_syn = 5`` ms, threshold 1;
  here the outputs stop after their first spike (``t_ref = inf``), which is all the
  loss and the accuracy read: their later spikes, which the reference computes and
  discards, change nothing upstream, so the training is the reference model's bit for
  bit (``--outputs-fire-again`` runs them too; tests/test_examples.py checks that the
  weights agree bit for bit), faster (one training epoch from the initial weights 1.2x,
  the first 20 epochs about 1.15x: trained outputs fire about once anyway);
  initial weights N(1.5, 0.78) (input to hidden) and N(0.93, 0.1) (hidden to
  output), drawn as the reference draws them, and its minibatch order, so that a
  seed here starts from the same weights and sees the same minibatches as the same
  seed there (the gradients agree to 1e-14: benchmarks/bench_eventprop.py);
* loss: cross-entropy of the softmax of the output neurons' first spike times with
  temperature ``tau0 = 0.5`` ms and the regulariser ``alpha (exp(t_label / tau1) -
  1)``, ``alpha = 3e-3``, ``tau1 = 6.4`` ms (:func:`eventsim.losses.ttfs_cross_entropy`);
* Adam (beta 0.9, 0.999, epsilon 1e-8 added to sqrt(v)), learning rate 5e-3 decayed
  by 0.95 after every epoch but the first, minibatches of 32, 100 epochs;
* gradients: exact, by EventProp over the recorded spikes (``eventsim.backward``).

Run:
    python examples/yin_yang_eventprop.py --seeds 0,1,2,3,4          # the paper's 100 epochs
    python examples/yin_yang_eventprop.py --quick                    # 1 seed, 1,000 examples, 3 epochs

It prints the test accuracy per seed and their mean and standard deviation, three times:
after the last epoch; before it, the last one the reference records (it tests before each
epoch, and its published 98.10 +- 0.18% over 10 seeds is that number); and for the weights
of the epoch with the best accuracy on the validation split (model selection without
looking at the test split).

Results, test accuracy after the last epoch / before it (the reference's measure):

* this version (2026-12-04, one thread, 19-41 s per seed), seeds 0-29 in groups of five:
  98.7, 97.8, 97.6, 98.4, 97.6 | 97.1, 97.4, 97.8, 97.2, 98.2 | 98.1, 97.3, 97.3, 97.8,
  97.4 | 98.2, 97.5, 98.3, 98.2, 98.1 | 98.3, 98.2, 98.5, 98.0, 98.2 | 97.7, 98.3, 97.3,
  98.0, 99.2: 97.92 +- 0.49%, five-seed means 98.02, 97.54, 97.58, 98.06, 98.24, 98.10 /
  before the last epoch 97.92 +- 0.47%, five-seed means 98.06, 97.56, 97.56, 98.06, 98.26,
  98.04 (no seed moves by more than 0.2%);
* Wunderlich & Pehle's C++ code run here (its ``paper/figure2.py`` settings, single thread),
  before the last epoch as its pickles keep it, seeds 0-19: 98.4, 98.2, 98.6, 98.3, 97.9 |
  98.5, 98.1, 97.8, 97.7, 98.1 | 97.7, 97.5, 97.0, 96.9, 98.3 | 98.8, 97.7, 97.7, 97.7,
  98.3: 97.96 +- 0.48%, five-seed means 98.28, 98.04, 97.48, 98.04; after the last epoch
  (its final weights through eventsim), seeds 10-19: 97.74% against 97.76% before it.
  Against eventsim's 30 seeds before the last epoch: Welch's p = 0.80 for the means,
  Levene's p = 0.84 for the spreads; on the same seeds 10-19, 97.81% against 97.76%
  (paired p = 0.77);
* its published runs, seeds 0-9: 98.10 +- 0.18% before the last epoch, 98.08 +- 0.18% after
  it (their final weights through eventsim);
* earlier versions of eventsim, whose spike times differ from this one's by rounding only,
  seeds 0-9 after the last epoch: 97.98 +- 0.49% (seeds 0-4: 98.12%), 97.88 +- 0.58%
  (97.72%), 98.03 +- 0.41% (97.80%), and seeds 0-4: 97.34 +- 0.72%, or 98.20 +- 0.46%
  with ``--perturb 1e-14``.

A mean over five seeds has a standard error of about 0.2%, so "at least 98.1% over five
seeds" is passed or failed by the draw.  The reference itself, run here on 20 seeds,
passes it with one group of five seeds (0-4) and fails it with the other three; this
version passes it with two of six groups (seeds 20-24; 25-29 after the last epoch) and
fails it with the default seeds 0-4 (98.02% after the last epoch, 98.06% before it).  The
two implementations' accuracies are one distribution.  The reference's published ten runs
are higher and, more clearly, less spread than the same code's runs here (an F-test of
the spreads: p = 0.007), yet they come from that code: its C++ has not changed since the
commit that added them, and run here, seeds 0 and 3 give the published test accuracies
and losses of the first two epochs (the loss after epoch 1 to 1e-10) and part from
epoch 2 on, as rounding on another platform makes runs do.

Why the same seed gives 96.5% once and 98.7% after a perturbation of 1e-14: the training is
chaotic.  The gradients agree with the reference's to 1e-10 even at its trained weights, on
every minibatch of the training set (benchmarks/bench_eventprop.py), and eventsim reproduces
the reference's published test accuracies from its published weights.  But a 1e-15 change
of one initial weight grows to 1e-9 within one epoch, which is also how far the weights
after epoch 1 are from the reference's own.  After that each run is one draw from a
distribution, in either implementation: an earlier run of the reference here, on seeds
0-4, gave 98.0 +- 0.7%, against 98.28% today.  The low draws lose examples to silence:
about 150 of the 200 hidden neurons never fire after the first epochs (in the reference's
published runs too), and an example whose label neuron stays silent gets no gradient, so
such examples pile up (seed 3: 0.2% of the training set at epoch 40, 1.6% at epoch 100,
training accuracy 98.3% -> 97.4%).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import eventsim  # noqa: E402
from eventsim import tasks  # noqa: E402
from eventsim.losses import ttfs_cross_entropy  # noqa: E402

T_MAX = 200.0          # ms; the output neurons' first spikes come well before
PARAMS = dict(tau_mem=20.0, tau_syn=5.0, theta=1.0, v_reset=0.0, t_ref=0.0)


class KingmaBaAdam:
    """Adam exactly as Wunderlich & Pehle's code has it (Kingma & Ba: epsilon added to
    sqrt(v), not inside it as in eventsim.training.adam.Adam)."""

    def __init__(self, n, lr, beta1=0.9, beta2=0.999, epsilon=1e-8):
        self.m, self.v, self.t = np.zeros(n), np.zeros(n), 0
        self.lr, self.beta1, self.beta2, self.epsilon = lr, beta1, beta2, epsilon

    def step(self, g):
        """The update to add to the weights."""
        self.t += 1
        self.m = self.beta1 * self.m + (1 - self.beta1) * g
        self.v = self.beta2 * self.v + (1 - self.beta2) * g * g
        m_hat = self.m / (1 - self.beta1 ** self.t)
        v_hat = self.v / (1 - self.beta2 ** self.t)
        return -self.lr * m_hat / (np.sqrt(v_hat) + self.epsilon)


def load(split, n=None):
    X, y = tasks.load_yin_yang(split, n_samples=n, t_early=0.0, t_late=30.0, bias_time=0.0)
    return X, y


def build(seed, perturb=0.0, outputs_fire_once=True):
    """The network with the reference's initial weights for ``seed``, each multiplied by
    ``1 + perturb * z`` (z: one fixed standard normal draw per weight) when ``perturb``.
    ``outputs_fire_once``: the output neurons stop after their first spike (``t_ref =
    inf``); False keeps them firing, as the reference simulates them."""
    # The reference draws each layer from its own generator seeded with the run's seed.
    net = eventsim.Network()
    inp = net.add_inputs(5, name="input")
    hid = net.add_population(200, model="lif", multispike=True, name="hidden", **PARAMS)
    out = net.add_population(3, model="lif", multispike=True, name="output",
                             **{**PARAMS, "t_ref": np.inf if outputs_fire_once else 0.0})
    net.connect_dense(inp, hid, np.random.default_rng(seed).normal(1.5, 0.78, (5, 200)))
    net.connect_dense(hid, out, np.random.default_rng(seed).normal(0.93, 0.1, (200, 3)))
    if perturb:
        net.weights = net.weights * (
            1 + perturb * np.random.default_rng(99).standard_normal(net.n_synapses))
    return net, hid, out


def evaluate(net, out, X, y, threads):
    t = eventsim.simulate(net, X, t_max=T_MAX, n_threads=threads).times[:, out.ids]
    pred = np.where(np.isfinite(t).any(axis=1), t.argmin(axis=1), -1)
    return float((pred == y).mean())


def train(seed, *, epochs, batch, lr, n_train, threads, log_every, perturb=0.0,
          outputs_fire_once=True):
    """Train one seed; returns (test accuracy after the last epoch, test accuracy before
    it, test accuracy of the epoch with the best validation accuracy, that epoch,
    seconds).  The reference tests before each epoch, so the last accuracy it records,
    the one its published runs give, is the one before the last epoch.  ``perturb``:
    relative size of a perturbation of the initial weights (one fixed normal draw per
    weight); ``outputs_fire_once``: as in :func:`build`."""
    X, y = load("train", n_train)
    X_va, y_va = load("validation")
    X_te, y_te = load("test")
    net, hid, out = build(seed, perturb, outputs_fire_once)
    adam = KingmaBaAdam(net.n_synapses, lr)
    # The reference's minibatch order: its training set, shuffled in place once per
    # epoch by numpy's global generator seeded with the run's seed.
    shuffler = np.random.RandomState(seed)
    order = np.arange(len(y))
    # Model selection on the validation split (never on the test split): the weights
    # of the epoch with the best validation accuracy, the earliest on ties.
    best_va, best_epoch, best_w = -1.0, 0, net.weights.copy()
    t0 = time.perf_counter()
    for epoch in range(epochs):
        if epoch == epochs - 1:
            before_last = evaluate(net, out, X_te, y_te, threads)
        idx_perm = np.arange(len(y))
        shuffler.shuffle(idx_perm)
        order = order[idx_perm]
        for b in range(0, len(y), batch):
            idx = order[b:b + batch]
            res = eventsim.simulate(net, X[idx], t_max=T_MAX, record_tape=True, n_threads=threads)
            t_out = res.times[:, out.ids]
            loss, dl = ttfs_cross_entropy(t_out, y[idx])
            g = eventsim.backward(net, res, dl / len(idx), outputs=out.ids, n_threads=threads)
            net.weights = net.weights + adam.step(g.weights)
        if epoch > 0:               # as the reference: not after the first epoch
            adam.lr *= 0.95
        va = evaluate(net, out, X_va, y_va, threads)
        if va > best_va:
            best_va, best_epoch, best_w = va, epoch + 1, net.weights.copy()
        if log_every and ((epoch + 1) % log_every == 0 or epoch + 1 == epochs):
            acc = evaluate(net, out, X_te, y_te, threads)
            print(f"  seed {seed} epoch {epoch + 1:3d}: validation {100 * va:.2f}%, test "
                  f"{100 * acc:.2f}% ({time.perf_counter() - t0:.0f} s)", flush=True)
    final = evaluate(net, out, X_te, y_te, threads)
    net.weights = best_w
    selected = evaluate(net, out, X_te, y_te, threads)
    return final, before_last, selected, best_epoch, time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument("--n-train", type=int, default=None, help="training examples (default all)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--log-every", type=int, default=10, help="epochs between test reports")
    ap.add_argument("--perturb", type=float, default=0.0,
                    help="perturb the initial weights by this relative amount (e.g. 1e-14): "
                         "training is chaotic, so this draws another run of the same seed")
    ap.add_argument("--outputs-fire-again", action="store_true",
                    help="simulate the output neurons' spikes after their first, as the "
                         "reference does (the same training bit for bit, slower)")
    ap.add_argument("--quick", action="store_true", help="1,000 examples, 3 epochs (smoke test)")
    args = ap.parse_args(argv)
    if not (np.isfinite(args.perturb) and 0 <= args.perturb < 1):
        ap.error(f"--perturb must be in [0, 1), got {args.perturb}")
    if args.quick:
        args.epochs, args.n_train, args.log_every = 3, 1000, 1
    seeds = [int(s) for s in args.seeds.split(",")]
    finals, befores, selected = [], [], []
    for seed in seeds:
        final, before, sel, epoch, secs = train(
            seed, epochs=args.epochs, batch=args.batch, lr=args.lr, n_train=args.n_train,
            threads=args.threads, log_every=args.log_every, perturb=args.perturb,
            outputs_fire_once=not args.outputs_fire_again)
        finals.append(final)
        befores.append(before)
        selected.append(sel)
        print(f"seed {seed}: test accuracy {100 * final:.2f}% after the last epoch, "
              f"{100 * before:.2f}% before it, {100 * sel:.2f}% at the best validation "
              f"epoch ({epoch}) ({secs:.0f} s)", flush=True)
    a, b, s = (100 * np.array(v) for v in (finals, befores, selected))
    print(f"test accuracy over {len(a)} seed(s), after the last epoch: {a.mean():.2f} +- "
          f"{a.std():.2f}%; before it (the reference's last record): {b.mean():.2f} +- "
          f"{b.std():.2f}%; at the epoch of best validation accuracy: {s.mean():.2f} +- "
          f"{s.std():.2f}% (Wunderlich & Pehle: 98.10 +- 0.18% over 10 seeds, before the "
          f"last epoch)")


if __name__ == "__main__":
    main()
