#!/usr/bin/env python
"""Throughput of eventsim on LIF (exponential-synapse, time-to-first-spike) networks.

Cases (issue 4):

* ``mnist``: a 784-340-10 LIF network on real MNIST images from the built-in
  5,000-image subset (pixel p > 0 spikes at ``1 - p/256``, about 150 input spikes per
  example), ``tau_mem = tau_syn = 1`` (Göltz et al.'s MNIST setting) and, with
  ``--ratios``, other time-constant ratios (``tau_mem = 2 tau_syn``: closed form;
  anything else: Newton).  Forward pass (``eventsim.simulate``) and training step
  (forward with tape, Göltz loss, ``eventsim.backward``, Adam), single thread.
* ``yin-yang``: a 4-120-3 LIF network (+ bias input) trained on the Yin-Yang data set
  with the Göltz loss and Adam (batch ``--yy-batch``), single thread.

Every timing is a median over ``--repeats``.  As a reference measured in the same
run, a dense numpy implementation of the algorithm the PyTorch code of Göltz et al.
uses for ``tau_mem = tau_syn`` (sort the inputs, evaluate the Lambert-W spike time
for every prefix of them, keep the first consistent one) runs the same MNIST forward
pass on a subset of the examples; it also checks eventsim's spike times to 1e-12.
The last columns compare with the throughputs the issue quotes for this machine
(jaxsnn: 380 examples/s forward and 100 examples/s training of 784-340-10; the
PyTorch code of Göltz et al.: 80 and 28 examples/s on 784-350-10, 1,400 examples/s
training Yin-Yang).  Neither library is installed or needed.

Run: ``python benchmarks/bench_lif.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys

# BLAS threads (used by the setup code) would spin beside the engine's thread.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np
from scipy.special import lambertw

HERE = pathlib.Path(__file__).resolve().parent
for p in (HERE.parent, HERE):   # run from a checkout without installing
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import eventsim  # noqa: E402
from eventsim import datasets, tasks  # noqa: E402
from eventsim.losses import goltz_loss  # noqa: E402
from eventsim.train import Adam  # noqa: E402
from bench_engine import _timed, median, synaptic_events  # noqa: E402
from eventsim.simulation import resolve_threads  # noqa: E402

QUOTED = {  # examples/s on this machine, from the issue
    "jaxsnn forward 784-340-10": 380.0,
    "jaxsnn training 784-340-10": 100.0,
    "Göltz PyTorch forward 784-350-10": 80.0,
    "Göltz PyTorch training 784-350-10": 28.0,
    "Göltz PyTorch training Yin-Yang": 1400.0,
}


# ----------------------------------------------------------------------------- networks
def lif_net(n_in, n_hidden, n_out, *, tau_mem, tau_syn, multiplier, seed):
    return eventsim.feedforward(n_in, [n_hidden], n_out, model="lif",
                                params=dict(tau_mem=tau_mem, tau_syn=tau_syn, theta=1.0),
                                nonpulse_init_multiplier=multiplier, rng=seed)


def mnist_inputs(n, seed=0):
    images, labels = datasets.load_mnist_subset()
    idx = np.random.default_rng(seed).permutation(len(labels))[:n]
    return datasets.encode_spike_times(images[idx]).reshape(len(idx), -1), labels[idx].astype(np.int64)


# ----------------------------------------------------------------------------- reference
def dense_layer_times(t_in, W, tau, theta, g_leak=1.0):
    """First spike times of one LIF layer with tau_mem = tau_syn = tau, the dense way.

    For each example the inputs are sorted; for every prefix k of them the crossing
    of ``V = sum_{i<=k} w_i (t - t_i) e^{-(t - t_i)/tau} / (g tau)`` is
    ``tau (b/a - W0(-(c/a) e^{b/a}))`` with ``a = sum w e^{t_i/tau}``,
    ``b = sum w e^{t_i/tau} t_i/tau`` and ``c = g theta`` (docs/math.md B.1); the first
    prefix whose crossing lies before the next input is the spike.
    """
    out = np.full((t_in.shape[0], W.shape[1]), np.inf)
    c = theta * g_leak
    for e in range(t_in.shape[0]):
        t = t_in[e]
        fin = np.isfinite(t)
        order = np.argsort(t[fin], kind="stable")
        ts = t[fin][order]
        w = W[fin][order]
        ex = np.exp(ts / tau)[:, None]
        a = np.cumsum(w * ex, axis=0)
        b = np.cumsum(w * ex * (ts / tau)[:, None], axis=0)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            arg = -(c / a) * np.exp(b / a)
            ok = (a > 0) & (arg >= -np.exp(-1.0))
            wv = np.real(lambertw(np.where(ok, arg, 0.0), 0))
            cand = tau * (b / a - wv)
        nxt = np.r_[ts[1:], np.inf][:, None]
        valid = ok & (cand >= ts[:, None]) & (cand < nxt)
        first = np.argmax(valid, axis=0)
        has = valid[first, np.arange(W.shape[1])]
        out[e, has] = cand[first[has], np.arange(W.shape[1])[has]]
    return out


def dense_forward(net, x):
    """Forward pass of a layered LIF network (tau_mem = tau_syn) by dense_layer_times."""
    p_h, p_o = net["hidden0"], net["output"]
    prm = net.population_params("hidden0")
    W1 = net.weight_matrix(net["input"], p_h)
    W2 = net.weight_matrix(p_h, p_o)
    h = dense_layer_times(x, W1, prm["tau_mem"], prm["theta"], prm["g_leak"])
    return h, dense_layer_times(h, W2, prm["tau_mem"], prm["theta"], prm["g_leak"])


# ----------------------------------------------------------------------------- timing
def train_pass(net, x, labels, batch, opt_state):
    """One epoch of mini-batch training: simulate, Göltz loss, backward, Adam."""
    out = net["output"].ids
    opt = opt_state
    for b in range(0, len(x), batch):
        res = eventsim.simulate(net, x[b:b + batch], record_tape=True, n_threads=1)
        _, dl = goltz_loss(res.times[:, out], labels[b:b + batch])[:2]
        g = eventsim.backward(net, res, dl, outputs=out, n_threads=1)
        step = opt.step({"weights": g.weights})
        net.weights = net.weights + step["weights"]


def make_adam(net, lr):
    return Adam({"weights": net.weights.shape}, {"weights": lr})


def rate(n, seconds):
    return n / seconds if seconds > 0 else float("nan")


def row(name, ex_s, ns_ev, ref_name, ref_ex_s, quoted_name):
    q = QUOTED.get(quoted_name, float("nan"))
    return (f"{name:<34} {ex_s:>10,.0f} {ns_ev:>8.1f} "
            f"{(ex_s / ref_ex_s if ref_ex_s == ref_ex_s else float('nan')):>9.1f}x "
            f"{q:>9,.0f} {ex_s / q:>8.1f}x   {ref_name}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-examples", type=int, default=2000, help="MNIST forward examples")
    ap.add_argument("--n-train", type=int, default=512, help="MNIST training examples per pass")
    ap.add_argument("--n-dense", type=int, default=40, help="examples for the dense reference")
    ap.add_argument("--batch", type=int, default=64, help="MNIST training batch (jaxsnn: 64)")
    ap.add_argument("--yy-train", type=int, default=5000, help="Yin-Yang examples per pass")
    ap.add_argument("--yy-batch", type=int, default=150, help="Yin-Yang batch (fastAndDeep: 150)")
    ap.add_argument("--ratios", default="1,2,0.5,1.5",
                    help="tau_mem / tau_syn ratios for the MNIST forward pass")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="small sizes, 2 repeats")
    ap.add_argument("--jaxsnn-python", default=None, metavar="PYTHON",
                    help="a Python interpreter with jaxsnn installed (see bench_jaxsnn.py): "
                         "also time jaxsnn's forward pass on the same inputs in this run")
    ap.add_argument("--jaxsnn-examples", type=int, default=640,
                    help="examples for the same-run jaxsnn comparison (a multiple of 64)")
    ap.add_argument("--jaxsnn-rounds", type=int, default=2,
                    help="alternating rounds of eventsim and jaxsnn timings")
    args = ap.parse_args(argv)
    if args.quick:
        args.n_examples, args.n_train, args.n_dense = 200, 64, 5
        args.yy_train, args.repeats = 600, 2
    ratios = [float(r) for r in args.ratios.split(",")]

    x, labels = mnist_inputs(max(args.n_examples, args.n_train))
    print(f"MNIST inputs: {len(x)} images of the built-in subset, "
          f"{np.isfinite(x).sum(1).mean():.1f} input spikes per example")
    lines = []
    header = (f"{'case':<34} {'ex/s':>10} {'ns/ev':>8} {'vs ref':>10} {'quoted':>9} "
              f"{'vs quoted':>9}   same-run reference")

    # --- MNIST-size forward, per ratio; dense reference for ratio 1
    for ratio in ratios:
        tau_syn = 1.0
        net = lif_net(784, 340, 10, tau_mem=ratio * tau_syn, tau_syn=tau_syn,
                      multiplier=3.0 if ratio < 1 else 2.0, seed=1)
        xs = x[:args.n_examples]
        res = eventsim.simulate(net, xs, n_threads=1)
        ev = synaptic_events(net, res.times).mean()
        act = np.isfinite(res.times[:, net["hidden0"].start:]).mean()
        ts = [_timed(lambda: eventsim.simulate(net, xs, n_threads=1))[0]
              for _ in range(args.repeats)]
        ex_s = rate(len(xs), median(ts))
        ref_s, ref_name = float("nan"), "-"
        if ratio == 1.0:
            xd = x[:args.n_dense]
            td = []
            for _ in range(max(1, min(args.repeats, 3))):
                t, (h, o) = _timed_with(lambda: dense_forward(net, xd))
                td.append(t)
            ref_s = rate(len(xd), median(td))
            got = eventsim.simulate(net, xd, n_threads=1).times
            want = np.hstack([h, o])
            mine = got[:, net["hidden0"].start:]
            both = np.isfinite(mine) & np.isfinite(want)
            same_set = np.array_equal(np.isfinite(mine), np.isfinite(want))
            err = np.abs(mine[both] - want[both]).max(initial=0.0)
            ref_name = (f"dense numpy (Göltz algorithm), {len(xd)} ex: max |dt| = {err:.1e}, "
                        f"same silent set: {same_set}")
        lines.append(row(f"784-340-10 forward, ratio {ratio:g}", ex_s, 1e9 / ex_s / ev,
                         ref_name, ref_s, "jaxsnn forward 784-340-10"))
        lines.append(f"{'':<34} (activity {act:.2f} of hidden+output neurons, "
                     f"{ev:,.0f} synaptic events per example)")
        if ratio == ratios[0] and resolve_threads(None) > 1:
            nt = resolve_threads(None)
            tt = [_timed(lambda: eventsim.simulate(net, xs, n_threads=nt))[0]
                  for _ in range(args.repeats)]
            ex_t = rate(len(xs), median(tt))
            lines.append(row(f"  same, {nt} threads", ex_t, 1e9 / ex_t / ev, "-", float("nan"),
                             "jaxsnn forward 784-340-10"))

    # --- same-run comparison with jaxsnn (optional; jaxsnn lives in another interpreter)
    if args.jaxsnn_python:
        lines.extend(jaxsnn_rows(args, x[:args.jaxsnn_examples]))

    # --- MNIST-size training, ratio 1
    net = lif_net(784, 340, 10, tau_mem=1.0, tau_syn=1.0, multiplier=2.0, seed=1)
    xt, yt = x[:args.n_train], labels[:args.n_train]
    opt = make_adam(net, 1e-3)
    ts = [_timed(lambda: train_pass(net, xt, yt, args.batch, opt))[0] for _ in range(args.repeats)]
    ex_s = rate(len(xt), median(ts))
    ev = synaptic_events(net, eventsim.simulate(net, xt, n_threads=1).times).mean()
    lines.append(row(f"784-340-10 training, batch {args.batch}", ex_s, 1e9 / ex_s / ev, "-",
                     float("nan"), "jaxsnn training 784-340-10"))

    # --- Yin-Yang training
    X, y = tasks.load_yin_yang("train", n_samples=args.yy_train)
    net = lif_net(X.shape[1], 120, 3, tau_mem=1.0, tau_syn=1.0, multiplier=1.5, seed=2)
    opt = make_adam(net, 5e-3)
    ts = [_timed(lambda: train_pass(net, X, y, args.yy_batch, opt))[0] for _ in range(args.repeats)]
    ex_s = rate(len(X), median(ts))
    ev = synaptic_events(net, eventsim.simulate(net, X, n_threads=1).times).mean()
    lines.append(row(f"{X.shape[1]}-120-3 Yin-Yang training, b{args.yy_batch}", ex_s,
                     1e9 / ex_s / ev, "-", float("nan"), "Göltz PyTorch training Yin-Yang"))

    print(f"single thread unless stated, medians of {args.repeats}; ns/ev = nanoseconds per "
          f"synaptic event (per thread-second: wall time here)")
    print(header)
    print("-" * len(header))
    for line in lines:
        print(line)
    return 0


def jaxsnn_rows(args, xj):
    """Alternate eventsim and jaxsnn (bench_jaxsnn.py in ``--jaxsnn-python``) on the same
    inputs, one thread each, for the ratios jaxsnn's analytical solver supports."""
    import subprocess
    import tempfile

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "inputs.npy"
        np.save(path, xj)
        for ratio in (2.0, 1.0):
            net = lif_net(784, 340, 10, tau_mem=ratio, tau_syn=1.0, multiplier=2.0, seed=1)
            ours, theirs, info = [], [], ""
            for _ in range(args.jaxsnn_rounds):
                ours += [len(xj) / _timed(lambda: eventsim.simulate(net, xj, n_threads=1))[0]
                         for _ in range(args.repeats)]
                cmd = [args.jaxsnn_python, str(HERE / "bench_jaxsnn.py"), "--inputs", str(path),
                       "--ratio", f"{ratio:g}", "--repeats", str(args.repeats), "--batch", "64"]
                out = subprocess.run(cmd, capture_output=True, text=True)
                line = next((ln for ln in out.stdout.splitlines()
                             if ln.startswith("JAXSNN_FORWARD")), None)
                if out.returncode != 0 or line is None:
                    raise RuntimeError(f"jaxsnn benchmark failed ({' '.join(cmd)}):\n"
                                       f"{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
                fields = dict(f.split("=", 1) for f in line.split()[1:])
                theirs.append(float(fields["ex_per_s"]))
                info = (f"jaxsnn {fields.get('dtype', '')}, {len(xj)} ex, batch 64, hidden "
                        f"active {float(fields['hidden_active']):.3f}")
            ex_s, ref = float(np.median(ours)), float(np.median(theirs))
            ev = synaptic_events(net, eventsim.simulate(net, xj, n_threads=1).times).mean()
            rows.append(row(f"  vs jaxsnn same run, ratio {ratio:g}", ex_s, 1e9 / ex_s / ev,
                            f"{info}: {ref:,.0f} ex/s (median of {len(theirs)} runs)", ref,
                            "jaxsnn forward 784-340-10"))
    return rows


def _timed_with(fn):
    """(wall seconds, result) of fn()."""
    import time

    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


if __name__ == "__main__":
    sys.exit(main())
