"""How reliably do the paper's Boolean defaults reach 100% test accuracy?  Seeds study.

Comsa et al. (section 3.1) train 2-2-2 spiking networks with one synchronisation pulse
on noisy XOR, AND, OR and concentric circles -- Table 1 defaults, 1000 training
examples, at most 100 epochs, Adam updates only from misclassified examples -- and
report 100% test accuracy (150 test examples).  This script trains one network per
seed with eventsim's trainer and prints, per task, the fraction of seeds that reach
100% test accuracy and the mean test accuracy, with diagnostics of how the runs fail
(see ``boolean_seeds.md`` beside this file for the analysis).

Modes (``--mode``):

``paper``
    ``TrainConfig.boolean()`` as is: one pulse connected to all non-input neurons.
``reference``
    What the reference implementation (``tempcoding_main``) actually trains: one pulse
    *per layer* (``--n_pulses=1`` gives the hidden and the output layer a pulse each),
    otherwise the same.  Reproduces its failure mode (ties between the two outputs,
    training accuracy oscillating below 100%).
``fixed``
    The same network, loss, Adam, penalty, clipping, pulse and data, trained with the
    changes found in ``boolean_seeds.md``:

    1. learning rate 0.01 for weights and pulse times instead of 0.001 (inside the
       paper's search range), so that the misclassified-only updates converge within
       100 epochs;
    2. weights kept non-negative (clipped at 0 after every update, and at
       initialisation) -- the paper reports that its Boolean networks had only positive
       weights;
    3. up to 5 independent starts per seed, stopping at the first that classifies the
       whole training set; otherwise the start with the best training accuracy is kept
       (the paper kept the best of three MNIST networks);
    4. once the training set is classified correctly, the rest of the 100-epoch budget
       goes to margin updates (also from correct examples whose target output leads by
       less than 0.02) and the epoch with the largest smallest training margin that is
       still 100% correct is kept: with updates only from misclassified examples the
       class boundary stops at the edge of the training data.

    Model selection uses the training set only; the test set is never looked at.

Run:
    python examples/boolean_seeds.py [--tasks xor and or circles] [--seeds 20]
        [--mode paper|reference|fixed] [--first-seed 0] [--threads 1] [--json out.json]
        [--nonneg] [--starts N] [--refine MARGIN] [--margin MARGIN]
        [--set learning_rate=0.01 ...]

Each run stops early once the whole training set is classified correctly (with updates
only from misclassified examples nothing would change afterwards).  ``--nonneg``,
``--starts``, ``--refine`` and ``--set`` combine with any mode (ablations).  The
non-negative clip and the margin updates hook into the trainer's private ``_update``
and ``_train_epoch``; see ``boolean_seeds.md`` for the options the trainer would need.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

import eventsim
from eventsim import tasks
from eventsim.train import SpikingClassifier, TrainConfig

TASKS = ("xor", "and", "or", "circles")


class NonNegativeClassifier(SpikingClassifier):
    """The trainer with weights clipped at 0 after every update (projected Adam)."""

    def _update(self, *args, **kwargs):
        n = super()._update(*args, **kwargs)
        w = self.network_.weights
        np.maximum(w, 0.0, out=w)
        return n


def with_margin(base, margin):
    """``base`` whose misclassified-only updates also take correctly classified examples
    whose target output leads the next output by less than ``margin`` (time units)."""
    if not margin:
        return base

    class MarginClassifier(base):
        def _train_epoch(self, *args, **kwargs):
            import eventsim.train as train_module

            core = train_module._loss_core

            def loss_core(out, y):
                loss, dl, pred = core(out, y)
                rows = np.arange(len(y))
                target = out[rows, y]
                others = np.where(np.arange(out.shape[1]) == y[:, None], np.inf, out).min(axis=1)
                with np.errstate(invalid="ignore"):  # inf - inf: both silent
                    near = ~(others - target >= margin)  # also True when the target is silent
                return loss, dl, np.where(near, -1, pred)

            train_module._loss_core = loss_core
            try:
                return super()._train_epoch(*args, **kwargs)
            finally:
                train_module._loss_core = core

    return MarginClassifier


def training_margin(clf, X, y):
    """Smallest lead of the target output over the next output on (X, y) (time units);
    negative when an example is misclassified, -inf when a target is silent."""
    out = clf.predict_times(X)
    rows = np.arange(len(y))
    target = out[rows, y]
    others = np.where(np.arange(out.shape[1]) == y[:, None], np.inf, out).min(axis=1)
    with np.errstate(invalid="ignore"):
        gap = others - target
    gap[np.isnan(gap)] = -np.inf
    return float(gap.min())


def refine_margin(clf, cls, cfg, X, y, epochs, margin):
    """Phase 2 of the fix: continue a network that classifies the whole training set
    correctly with margin updates for the rest of the epoch budget, and keep the epoch
    with the largest smallest training margin among those still 100% correct."""
    best = {"net": clf.network_.copy(), "margin": training_margin(clf, X, y), "epoch": 0}
    if epochs <= 0 or not margin:
        return best

    def keep_best(c, e):
        if e["train_accuracy"] >= 1.0:
            m = training_margin(c, X, y)
            if m > best["margin"]:
                best.update(net=c.network_.copy(), margin=m, epoch=e["epoch"])
        return e["n_updates"] == 0

    refiner = with_margin(cls, margin)(cfg.replace(epochs=epochs), network=clf.network_)
    refiner.fit(X, y, callback=keep_best)
    return best


def diagnostics(clf, X, y):
    """How a trained network classifies: ties, fast regime, silent neurons, pulses."""
    net = clf.network_
    times = eventsim.simulate(net, X, n_threads=clf.config_.n_threads).times
    out = times[:, clf._out_ids]
    hid = times[:, clf._hidden_ids]
    both = np.isfinite(out).all(axis=1)
    gap = np.abs(out[both, 0] - out[both, 1]) if out.shape[1] == 2 else np.array([np.nan])
    first = out.min(axis=1)
    fast = np.isfinite(first) & (hid >= first[:, None]).any(axis=1)
    return {
        "median_output_gap": float(np.median(gap)) if gap.size else float("nan"),
        "fast_regime_fraction": float(fast.mean()),
        "hidden_silent_fraction": float(np.mean(~np.isfinite(hid))),
        "output_silent_fraction": float(np.mean(~np.isfinite(out).any(axis=1))),
        "pulse_times": net.pulse_times.round(4).tolist(),
        "negative_weights": int((net.weights < 0).sum()),
    }


def config_for(mode, seed, threads, overrides):
    if mode == "paper":
        cfg = TrainConfig.boolean(seed=seed, n_threads=threads)
    elif mode == "reference":
        cfg = TrainConfig.boolean(seed=seed, n_threads=threads, pulses="per_layer")
    elif mode == "fixed":
        cfg = TrainConfig.boolean(seed=seed, n_threads=threads, **FIX)
    else:
        raise ValueError(mode)
    return cfg.replace(**overrides) if overrides else cfg


#: Options of the fix (see boolean_seeds.md); fields of TrainConfig.  With Table 1's
#: learning rate of 0.001 the updates (only from misclassified examples) are too slow to
#: converge within 100 epochs; 0.01 is inside the paper's search range [1e-5, 1].
FIX = {"learning_rate": 0.01, "learning_rate_pulses": 0.01}
#: Non-negative weights in the fixed mode (the paper: "All trained networks in these
#: examples had only positive weights").
FIX_NONNEG = True
#: Independent starts per seed in the fixed mode; the best by *training* accuracy is kept,
#: as the paper kept the best of three MNIST networks.
FIX_STARTS = 5
#: Margin of the refinement phase of the fixed mode (see refine_margin), time units.
FIX_REFINE = 0.02


def train_one(task, seed, mode, threads, overrides, nonneg, starts, epochs, margin=0.0,
              refine=0.0):
    Xtr, ytr, Xte, yte = tasks.make_task(task, seed=seed)
    best = None
    t0 = time.perf_counter()
    for start in range(starts):
        # Start 0 uses the seed itself, so that --starts 1 equals a plain run.
        run_seed = seed if start == 0 else int(np.random.SeedSequence([seed, 77, start]).generate_state(1)[0])
        cfg = config_for(mode, run_seed, threads, overrides)
        if epochs is not None:
            cfg = cfg.replace(epochs=epochs)
        cls = with_margin(NonNegativeClassifier if nonneg else SpikingClassifier, margin)
        clf = cls(cfg)
        if nonneg:  # start from the clipped initialisation
            net = clf.init_network(Xtr.shape[1], 2)
            net.weights = np.maximum(net.weights, 0.0)
            clf = cls(cfg, network=net)
        hit = []

        def stop_when_perfect(c, e):
            if e["train_accuracy"] >= 1.0 and not hit:
                hit.append(e["epoch"])
            # Nothing changes any more once an epoch makes no update.
            return e["n_updates"] == 0 or (not margin and e["train_accuracy"] >= 1.0)

        clf.fit(Xtr, ytr, callback=stop_when_perfect)
        train_acc = clf.score(Xtr, ytr)
        refined = None
        if refine and train_acc >= 1.0:
            base = NonNegativeClassifier if nonneg else SpikingClassifier
            refined = refine_margin(clf, base, cfg, Xtr, ytr, cfg.epochs - clf.n_epochs_, refine)
            clf.network_ = refined["net"]
        run = {"start": start, "train_accuracy": train_acc, "epochs": clf.n_epochs_,
               "perfect_train_epoch": hit[0] if hit else None, "clf": clf,
               "refined_epochs": None if refined is None else refined["epoch"],
               "train_margin": training_margin(clf, Xtr, ytr)}
        if best is None or train_acc > best["train_accuracy"]:
            best = run
        if train_acc >= 1.0:
            break
    clf = best.pop("clf")
    result = {"task": task, "seed": seed, "mode": mode, "test_accuracy": clf.score(Xte, yte),
              "starts_used": start + 1, "time_s": time.perf_counter() - t0, **best}
    result.update(diagnostics(clf, Xte, yte))
    return result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=["xor"], choices=TASKS)
    ap.add_argument("--seeds", type=int, default=20, help="number of seeds")
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--mode", choices=["paper", "reference", "fixed"], default="paper")
    ap.add_argument("--threads", type=int, default=1,
                    help="engine threads per run (default 1: these networks are tiny)")
    ap.add_argument("--epochs", type=int, default=None, help="override the 100 epochs")
    ap.add_argument("--nonneg", action="store_true", default=None,
                    help="clip weights at 0 after every update (default: on in --mode fixed)")
    ap.add_argument("--starts", type=int, default=None,
                    help="independent starts per seed, keep the best by training accuracy "
                         "(default: 1, or the fixed mode's)")
    ap.add_argument("--margin", type=float, default=None,
                    help="also update on correct examples whose target output leads by less "
                         "than this (time units; default 0, or the fixed mode's)")
    ap.add_argument("--refine", type=float, default=None,
                    help="after 100%% training accuracy, spend the remaining epochs on margin "
                         "updates with this margin and keep the epoch with the largest training "
                         "margin (default 0 = off, or the fixed mode's)")
    ap.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                    help="override TrainConfig fields, e.g. learning_rate=0.01")
    ap.add_argument("--json", default=None, help="write every run's results here")
    ap.add_argument("--quiet", action="store_true", help="only the summary")
    args = ap.parse_args(argv)

    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    nonneg = args.nonneg if args.nonneg is not None else (args.mode == "fixed" and FIX_NONNEG)
    starts = args.starts or (FIX_STARTS if args.mode == "fixed" else 1)
    margin = args.margin if args.margin is not None else 0.0
    refine = args.refine if args.refine is not None else (FIX_REFINE if args.mode == "fixed" else 0.0)
    results = []
    summary = {}
    for task in args.tasks:
        accs = []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            r = train_one(task, seed, args.mode, args.threads, overrides, nonneg, starts,
                          args.epochs, margin, refine)
            results.append(r)
            accs.append(r["test_accuracy"])
            if not args.quiet:
                print(f"{task:7s} seed {seed:3d}  test {100 * r['test_accuracy']:6.2f}%  train "
                      f"{100 * r['train_accuracy']:6.2f}%  epochs {r['epochs']:3d}  starts "
                      f"{r['starts_used']}  margin {r['train_margin']:.1e}  |dt_out| "
                      f"{r['median_output_gap']:.1e}  fast "
                      f"{r['fast_regime_fraction']:.2f}  pulses {r['pulse_times']}  "
                      f"{r['time_s']:5.1f}s", flush=True)
        accs = np.array(accs)
        summary[task] = {"perfect": int((accs >= 1.0).sum()), "n": int(accs.size),
                         "mean": float(accs.mean())}
        print(f"== {task} ({args.mode}): 100% test accuracy in {summary[task]['perfect']}/"
              f"{accs.size} seeds ({100 * summary[task]['perfect'] / accs.size:.0f}%), mean test "
              f"accuracy {100 * accs.mean():.2f}%", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "summary": summary, "runs": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
