"""EventProp training and inference speed on Yin-Yang 5-200-3, against Wunderlich & Pehle's C++.

The network and data of Wunderlich & Pehle's Yin-Yang experiment (examples/yin_yang_eventprop.py):
200 hidden and 3 output multi-spike LIF neurons, ``tau_mem`` 20 ms, ``tau_syn`` 5 ms, the
standard 5,000 training and 1,000 test examples encoded in 0-30 ms plus a bias spike.

* inference: the 1,000 test examples through the network (first output spikes), after an
  untimed pass (both: first-call costs are not throughput; eventsim times 5 passes, as long
  as the reference's one);
* training: one epoch, minibatches of 32: forward with the tape, the first-spike
  cross-entropy, EventProp, and the weight update.

eventsim runs the network twice: as the reference simulates it (the output neurons fire
again and again, though only their first spikes are read), and with outputs that stop after
their first spike (``t_ref = inf``, examples/yin_yang_eventprop.py), which gives the same
first spikes, loss and gradients bit for bit (checked here at trained weights) without the
later output spikes.

Both single-threaded; examples per second, median of ``--repeats``.  With
``--reference-python PY --reference-dir DIR`` (a Python where Wunderlich & Pehle's package
``eventprop`` is installed, and its checkout whose ``eventprop/yin_yang_data_set/
publication_data`` holds the data set's ``.npy`` files), each repeat runs eventsim, the
same measurement of the reference in a subprocess, and eventsim again; eventsim's rate in
the repeat is the geometric mean of its two runs (they bracket the reference in time, as
the machine's speed drifts), and the table shows the median of the repeats' ratios.
How to build the reference outside this repository: benchmarks/README.md.

Run:
    python benchmarks/bench_eventprop.py
    python benchmarks/bench_eventprop.py --reference-python $EPENV/bin/python --reference-dir $EPROP
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import pickle
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "examples"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import eventsim  # noqa: E402
from eventsim.losses import ttfs_cross_entropy  # noqa: E402
import yin_yang_eventprop as yy  # noqa: E402

REFERENCE_SCRIPT = r"""
import json, os, sys, time
import numpy as np
from eventprop.yinyang import YinYangTTFS
from eventprop.layer import GaussianDistribution
from eventprop.lif_layer import LIFLayerParameters
from eventprop.loss_layer import TTFSCrossEntropyLossParameters
from eventprop.optimizer import GradientDescentParameters
np.random.seed(0)
yin = YinYangTTFS(
    gd_parameters=GradientDescentParameters(lr=5e-3, epochs=1, minibatch_size=32),
    loss_parameters=TTFSCrossEntropyLossParameters(alpha=0.003, tau0=0.0005, tau1=0.0064,
        lif_parameters=LIFLayerParameters(n=3, n_in=200, tau_mem=20e-3, tau_syn=5e-3, v_th=1,
                                          v_leak=0, w_dist=GaussianDistribution(0, 0.93, 0.1))),
    hidden_parameters=LIFLayerParameters(n=200, n_in=5, tau_mem=20e-3, tau_syn=5e-3, v_th=1,
                                         v_leak=0, w_dist=GaussianDistribution(0, 1.5, 0.78)),
    lr_decay_gamma=0.95, lr_decay_step=1)
yin.forward(yin.test_batch)       # warm-up: first-call costs are not throughput
t0 = time.perf_counter()
yin.forward(yin.test_batch)
t_inf = time.perf_counter() - t0
acc = yin.loss.get_accuracy(yin.test_batch.labels)
t0 = time.perf_counter()
n = 0
for minibatch in yin._training_data():
    yin.forward_and_backward(minibatch)
    yin.optimizer.step()
    yin.optimizer.zero_grad()
    n += len(minibatch)
t_train = time.perf_counter() - t0
json.dump({"infer": len(yin.test_batch) / t_inf, "train": n / t_train, "acc0": float(acc)},
          open(sys.argv[1], "w"))
"""

# The same minibatches and weights through both: first output spikes and gradients.
REFERENCE_GRADIENT = REFERENCE_SCRIPT.split("t0 = time.perf_counter()")[0] + r"""
w = np.load(sys.argv[2])
yin.hidden_layer.w_in[:] = w["w1"]
yin.loss.w_in[:] = w["w2"]
out = {}
for b in range(int(sys.argv[3])):
    yin.optimizer.zero_grad()
    yin.forward_and_backward(yin.train_batch[32 * b:32 * b + 32])
    out[f"g1_{b}"] = yin.hidden_layer.gradient.copy()
    out[f"g2_{b}"] = yin.loss.gradient.copy()
    out[f"t_{b}"] = yin.loss.first_spike_times.copy()
np.savez(sys.argv[1], **out)
"""


INFER_PASSES = 5


def measure_eventsim(seed=0, outputs_fire_once=False):
    X, y = yy.load("train")
    X_te, _ = yy.load("test")
    net, hid, out = yy.build(seed, outputs_fire_once=outputs_fire_once)
    # Warm-up (the network's plans and caches are made on its first run), then as many
    # passes as make the timed stretch as long as the reference's one pass (a single pass,
    # 50 ms, is at the mercy of the scheduler).
    eventsim.simulate(net, X_te, t_max=yy.T_MAX, n_threads=1)
    t0 = time.perf_counter()
    for _ in range(INFER_PASSES):
        eventsim.simulate(net, X_te, t_max=yy.T_MAX, n_threads=1)
    infer = INFER_PASSES * len(X_te) / (time.perf_counter() - t0)
    adam = yy.KingmaBaAdam(net.n_synapses, 5e-3)
    order = np.random.default_rng(seed).permutation(len(y))
    t0 = time.perf_counter()
    for b in range(0, len(y), 32):
        idx = order[b:b + 32]
        res = eventsim.simulate(net, X[idx], t_max=yy.T_MAX, record_tape=True, n_threads=1)
        _, dl = ttfs_cross_entropy(res.times[:, out.ids], y[idx])
        g = eventsim.backward(net, res, dl / len(idx), outputs=out.ids, n_threads=1)
        net.weights = net.weights + adam.step(g.weights)
    train = len(y) / (time.perf_counter() - t0)
    return infer, train


def measure_reference(python, ref_dir, tmp):
    script = os.path.join(tmp, "ref.py")
    out = os.path.join(tmp, "ref.json")
    with open(script, "w") as f:
        f.write(REFERENCE_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ""}
    subprocess.run([python, script, out], check=True, cwd=ref_dir, env=env)
    r = json.load(open(out))
    return r["infer"], r["train"]


def compare_gradients(python, ref_dir, tmp, w1=None, w2=None, n_batches=1):
    """Max differences of first output spikes and of the gradient (relative to its largest
    entry) between eventsim and the reference, over the first ``n_batches`` training
    minibatches of 32 at the same weights (default: seed 0's initial weights), and
    whether the same outputs were silent."""
    X, y = yy.load("train")
    net, hid, out = yy.build(0, outputs_fire_once=False)
    n1 = 5 * hid.size
    if w1 is not None:
        net.weights = np.concatenate([np.ravel(w1), np.ravel(w2)])
    np.savez(os.path.join(tmp, "w.npz"), w1=net.weights[:n1].reshape(5, -1),
             w2=net.weights[n1:].reshape(hid.size, -1))
    script = os.path.join(tmp, "grad.py")
    with open(script, "w") as f:
        f.write(REFERENCE_GRADIENT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ""}
    subprocess.run([python, script, os.path.join(tmp, "g.npz"), os.path.join(tmp, "w.npz"),
                    str(n_batches)], check=True, cwd=ref_dir, env=env)
    ref = np.load(os.path.join(tmp, "g.npz"))
    dt = dg = 0.0
    same_silence = True
    for b in range(n_batches):
        idx = np.arange(32 * b, 32 * b + 32)
        res = eventsim.simulate(net, X[idx], t_max=yy.T_MAX, record_tape=True, n_threads=1)
        t = res.times[:, out.ids]
        _, dl = ttfs_cross_entropy(t, y[idx])
        ours = eventsim.backward(net, res, dl / 32, outputs=out.ids, n_threads=1).weights
        theirs = np.concatenate([ref[f"g1_{b}"].ravel(), ref[f"g2_{b}"].ravel()])
        t_ref = ref[f"t_{b}"] * 1000.0                # seconds to ms
        same_silence &= np.array_equal(np.isinf(t), np.isnan(t_ref))
        both = np.isfinite(t) & np.isfinite(t_ref)
        dt = max(dt, np.abs(t[both] - t_ref[both]).max(initial=0.0))
        dg = max(dg, np.abs(ours - theirs).max() / np.abs(theirs).max())
    return dt, dg, same_silence


def fire_once_identity(w1=None, w2=None, n_batches=156):
    """Whether outputs that fire once give the first output spikes and the gradients of
    outputs that fire again bit for bit, over the first ``n_batches`` training minibatches
    of 32 at the given weights (default: seed 0's initial ones), and the output spikes
    each simulated."""
    X, y = yy.load("train")
    nets = [yy.build(0, outputs_fire_once=once) for once in (False, True)]
    if w1 is not None:
        for net, _, _ in nets:
            net.weights = np.concatenate([np.ravel(w1), np.ravel(w2)])
    same, counts = True, [0, 0]
    for b in range(n_batches):
        idx = np.arange(32 * b, 32 * b + 32)
        got = []
        for k, (net, _, out) in enumerate(nets):
            res = eventsim.simulate(net, X[idx], t_max=yy.T_MAX, record_tape=True, n_threads=1)
            t = res.times[:, out.ids]
            counts[k] += int(res.spikes.count()[:, out.ids].sum())
            _, dl = ttfs_cross_entropy(t, y[idx])
            g = eventsim.backward(net, res, dl / 32, outputs=out.ids, n_threads=1).weights
            got.append((t, g))
        same &= all(np.array_equal(a.view(np.int64), b.view(np.int64))
                    for a, b in zip(got[0], got[1]))
    return same, counts


def published_weights(ref_dir, seed=3, snapshot=9):
    """The reference's trained weights from its published runs (``paper/yinyang_<seed>.pkl``
    in its checkout, saved every 10 epochs: snapshot 9 is after epoch 91), or None."""
    path = os.path.join(ref_dir, "paper", f"yinyang_{seed}.pkl")
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        return pickle.load(f)[-1][snapshot]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--reference-python", default=os.environ.get("EVENTSIM_EVENTPROP_PYTHON"))
    ap.add_argument("--reference-dir", default=os.environ.get("EVENTSIM_EVENTPROP_DIR"))
    args = ap.parse_args(argv)
    use_ref = bool(args.reference_python and args.reference_dir)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            row = dict(zip(("infer", "train"), measure_eventsim(r)))
            row.update(zip(("infer_once", "train_once"), measure_eventsim(r, True)))
            if use_ref:
                row["ref_infer"], row["ref_train"] = measure_reference(
                    args.reference_python, args.reference_dir, tmp)
                # The machine's speed drifts over seconds: eventsim runs again after the
                # reference, and the two runs' geometric mean brackets it in time.
                again = measure_eventsim(r, True) + measure_eventsim(r)
                for k, key in enumerate(("infer_once", "train_once", "infer", "train")):
                    row[key] = float(np.sqrt(row[key] * again[k]))
            rows.append(row)
            print(f"repeat {r}: " + ", ".join(f"{k} {v:.0f}/s" for k, v in row.items()), flush=True)
        if use_ref:
            dt, dg, same = compare_gradients(args.reference_python, args.reference_dir, tmp)
            print(f"same minibatch and initial weights: first output spikes differ by at most "
                  f"{dt:.2g} ms (same silent outputs: {same}); gradients by {dg:.2g} relative "
                  "to the largest")
            trained = published_weights(args.reference_dir)
            if trained is not None:
                same, (n_again, n_once) = fire_once_identity(trained[0], trained[1])
                print(f"outputs that fire once, 156 minibatches at the reference's trained "
                      f"weights: first output spikes and gradients bit-identical to outputs "
                      f"that fire again: {same} ({n_once} output spikes simulated against "
                      f"{n_again})")
                # Trained networks (many hidden spikes, silent neurons): all 156 full
                # minibatches of the training set at the reference's own weights.
                dt, dg, same = compare_gradients(args.reference_python, args.reference_dir, tmp,
                                                 trained[0], trained[1], n_batches=156)
                print(f"156 minibatches at the reference's trained weights (seed 3, epoch 91): "
                      f"first output spikes differ by at most {dt:.2g} ms (same silent outputs: "
                      f"{same}); gradients by {dg:.2g} relative to the largest")
    same, (n_again, n_once) = fire_once_identity(n_batches=20)
    print(f"outputs that fire once, 20 minibatches at seed 0's initial weights: first output "
          f"spikes and gradients bit-identical to outputs that fire again: {same} ({n_once} "
          f"output spikes simulated against {n_again})")
    med = {k: float(np.median([row[k] for row in rows])) for k in rows[0]}
    print()
    print(f"{'examples per second (1 thread)':44s}{'eventsim':>10s}" +
          (f"{'C++ EventProp':>15s}{'speed-up':>10s}" if use_ref else ""))
    for what, label in (("infer", "infer"), ("train", "train"),
                        ("infer_once", "infer, outputs fire once"),
                        ("train_once", "train, outputs fire once")):
        line = f"{label + ' (median of ' + str(len(rows)) + ')':44s}{med[what]:10.0f}"
        if use_ref:
            ref = "ref_" + what.split("_")[0]
            ratios = [row[what] / row[ref] for row in rows]
            line += f"{med[ref]:15.0f}{np.median(ratios):10.2f}"
        print(line)


if __name__ == "__main__":
    main()
