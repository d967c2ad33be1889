"""Train LIF networks with exponential synapses on Yin-Yang, for several tau_mem / tau_syn.

The Yin-Yang data set (Kriener et al. 2021; eventsim.tasks.load_yin_yang reproduces the
published split) with Göltz et al.'s encoding and bias spike, a 5-120-3 LIF network,
their loss and initialisation (``TrainConfig.yin_yang``).  Each time-constant ratio runs
on a different exact solver of the engine: ratio 1 on the Lambert W closed form, ratio 2
on the quadratic closed form, anything else on the safeguarded Newton iteration.  The
initial weights are Göltz et al.'s N(1.5, 0.8) / N(0.5, 0.8), rescaled so that a single
input's peak potential equals the one of their ``tau_mem = tau_syn`` kernel.

Run:
    python examples/yin_yang_lif.py [--ratios 1,2,1.5] [--epochs 30] [--seed 0]

One run (seed 0, 30 epochs, 1 thread, ~20 s per ratio): test accuracy 94.0% (ratio 1),
87.9% (ratio 2), 89.8% (ratio 1.5) on the 1,000 test examples.
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
from eventsim.potential import kernel  # noqa: E402
from eventsim.train import SpikingClassifier, TrainConfig  # noqa: E402


def lif_network(tau_mem, tau_syn, seed):
    net = eventsim.feedforward(5, [120], 3, model="lif",
                               params=dict(tau_mem=tau_mem, tau_syn=tau_syn, theta=1.0))
    rng = np.random.default_rng([seed, 0])
    s = np.linspace(0.0, 20.0 * max(tau_mem, tau_syn), 20001)
    scale = np.exp(-1.0) / kernel(net.population_params("hidden0"), s).max()
    w1 = rng.normal(1.5, 0.8, net.synapse_ids(net["input"], net["hidden0"]).size)
    w2 = rng.normal(0.5, 0.8, net.synapse_ids(net["hidden0"], net["output"]).size)
    net.weights = np.r_[w1, w2] * scale
    return net


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ratios", default="1,2,1.5", help="tau_mem / tau_syn values (tau_syn = 1)")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    X_tr, y_tr = tasks.load_yin_yang("train")
    X_te, y_te = tasks.load_yin_yang("test")
    print(f"Yin-Yang: {len(y_tr)} training, {len(y_te)} test examples")
    for ratio in (float(r) for r in args.ratios.split(",")):
        net = lif_network(ratio, 1.0, args.seed)
        clf = SpikingClassifier(TrainConfig.yin_yang(epochs=args.epochs, seed=args.seed,
                                                     n_threads=args.threads), network=net)
        t0 = time.perf_counter()
        clf.fit(X_tr, y_tr)
        print(f"tau_mem / tau_syn = {ratio:g}: test accuracy {100 * clf.score(X_te, y_te):.1f}%, "
              f"training accuracy {100 * clf.history_['train_accuracy'][-1]:.1f}% "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
