"""Feature visualisation ("deep dream") by gradient descent on input spike times.

Comsa et al., section 2.7 and Figure 8: start from a blank image whose pixels all
spike at t = 0, and adjust the input spike times by plain gradient descent (learning
rate 0.1, one step per "epoch") so that a chosen output neuron spikes first: the
target's spike time is minimised and, optionally, those of the other output neurons
are maximised.  Only non-negative spike times are allowed.  A class is done when
the network has produced it for 10 consecutive epochs.  The exact gradients of the
output spike times with respect to the input spike times come from
``eventsim.backward(...).input_times``.

The network is the published "slow" MNIST network of the paper (784-340-10, decay
constant 0.181769), read from the reference implementation's file format.

Run:
    python examples/feature_visualisation.py --network PATH/slow_network [--classes 0 1 3 7]
        [--out dream] [--lr 0.1]

The network file is not in this repository: it is ``tempcoding/networks/slow_network``
of github.com/google/ihmehimmeli (Apache 2.0); pass its path with ``--network`` or set
``EVENTSIM_SLOW_NETWORK``.

Result with the defaults (the paper's settings, both objectives): from the blank image, the
slow network first outputs 2 for every target. All four targets are then produced 10
epochs in a row:

* 7 after 2,272 epochs;
* 1 after 2,888;
* 3 after 4,007;
* 0 after 8,580.

The whole run takes about 60 s on one thread. The maps for 0 and 3 show ring- and
stroke-like structure; 1 and 7 are noisier than the paper's Figure 8.

Writes ``<out>/class_<k>.png`` per class, ``<out>/feature_visualisation.png`` (all
classes side by side, as in Figure 8) and ``<out>/input_times.npy``.  Pixels are
drawn with MNIST's encoding inverted: a pixel spiking at ``t`` has intensity
``256 (1 - t)``, so early spikes are bright and a pixel at ``t >= 1`` is black.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

import numpy as np

import eventsim
from eventsim import io

DECAY_CONSTANT = 0.181769  # of the published networks (not stored in the file)


def objective_gradient(out_times, targets, maximize_others=True):
    """dL/dt of L = t_target - sum_{k != target} t_k (second term optional), per example.

    Silent outputs (``inf``) get 0: they have no spike time to move (the engine ignores
    entries for silent neurons anyway).
    """
    g = np.zeros_like(out_times)
    rows = np.arange(len(targets))
    if maximize_others:
        g[:] = -1.0
    g[rows, targets] = 1.0
    g[~np.isfinite(out_times)] = 0.0
    return g


def predicted(out_times):
    """First output to spike, -1 for a tie or no spike."""
    first = out_times.min(axis=1, keepdims=True)
    unique = (out_times == first).sum(axis=1) == 1
    ok = unique & np.isfinite(first[:, 0])
    return np.where(ok, out_times.argmin(axis=1), -1)


def dream(net, classes, *, lr=0.1, max_epochs=1000, stable_epochs=10, maximize_others=True,
          start=None, clip_derivative=None, n_threads=None, log=print):
    """Gradient descent on the input spike times until each target class is produced
    ``stable_epochs`` epochs in a row.

    Returns
    -------
    x : ndarray, shape (len(classes), n_inputs)
        Final input spike times.
    info : list of dict
        Per class: ``epochs`` (to success, or None), final output times, history of
        the target's spike time and of the predicted class.
    """
    out_ids = net["output"].ids
    classes = np.asarray(classes, np.int64)
    n = classes.size
    x = np.zeros((n, net.n_inputs)) if start is None else np.array(start, np.float64)
    streak = np.zeros(n, np.int64)
    done_at = [None] * n
    active = np.ones(n, bool)
    hist_t = [[] for _ in range(n)]
    hist_pred = [[] for _ in range(n)]
    last_out = np.full((n, out_ids.size), np.inf)
    for epoch in range(1, max_epochs + 1):
        rows = np.flatnonzero(active)
        res = eventsim.simulate(net, x[rows], record_tape=True, n_threads=n_threads)
        out = res.times[:, out_ids]
        last_out[rows] = out
        pred = predicted(out)
        for i, r in enumerate(rows):
            hist_t[r].append(float(out[i, classes[r]]))
            hist_pred[r].append(int(pred[i]))
        hit = pred == classes[rows]
        streak[rows] = np.where(hit, streak[rows] + 1, 0)
        g = eventsim.backward(net, res, objective_gradient(out, classes[rows], maximize_others),
                              outputs=out_ids, clip_derivative=clip_derivative,
                              n_threads=n_threads).input_times
        # Pixels whose spike cannot reach an output before it fires get no gradient.
        step = np.where(np.isfinite(x[rows]), x[rows] - lr * g, x[rows])
        x[rows] = np.maximum(step, 0.0)  # only non-negative spike times
        for i, r in enumerate(rows):
            if streak[r] >= stable_epochs:
                done_at[r] = epoch
                active[r] = False
                log(f"class {classes[r]}: produced {stable_epochs} epochs in a row after "
                    f"epoch {epoch} (target spikes at {out[i, classes[r]]:.3f}, next output at "
                    f"{np.sort(out[i])[1]:.3f})")
        if epoch == 1 or epoch % 10 == 0:
            log(f"epoch {epoch}: predicted {pred.tolist()} for targets {classes[rows].tolist()}; "
                f"target times {np.round(out[np.arange(rows.size), classes[rows]], 3).tolist()}")
        if not active.any():
            break
    info = [{"class": int(c), "epochs": done_at[i], "output_times": last_out[i].tolist(),
             "target_time_history": hist_t[i], "predicted_history": hist_pred[i]}
            for i, c in enumerate(classes)]
    return x, info


def to_image(times):
    """Spike times -> intensities 0..255 (inverse of eventsim.datasets.encode_spike_times)."""
    t = np.asarray(times, np.float64).reshape(-1, 28, 28)
    return np.clip(256.0 * (1.0 - t), 0, 255).astype(np.uint8)


def save_pngs(x, info, out_dir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = to_image(x)
    paths = []
    for img, inf in zip(images, info):
        fig, ax = plt.subplots(figsize=(3, 3))
        ax.imshow(img, cmap="gray", vmin=0, vmax=255)
        status = f"{inf['epochs']} epochs" if inf["epochs"] else "not reached"
        ax.set_title(f"class {inf['class']} ({status})", fontsize=9)
        ax.axis("off")
        p = out_dir / f"class_{inf['class']}.png"
        fig.savefig(p, dpi=100, bbox_inches="tight")
        plt.close(fig)
        paths.append(p)
    fig, axes = plt.subplots(2, len(info), figsize=(2.6 * len(info), 5.4), squeeze=False)
    for j, (img, t, inf) in enumerate(zip(images, x, info)):
        axes[0, j].imshow(img, cmap="gray", vmin=0, vmax=255)
        axes[0, j].set_title(f"target {inf['class']}", fontsize=10)
        im = axes[1, j].imshow(t.reshape(28, 28), cmap="viridis_r", vmin=0,
                               vmax=max(1.0, float(np.percentile(t, 99))))
        axes[1, j].set_title("input spike times", fontsize=8)
        for ax in axes[:, j]:
            ax.axis("off")
    fig.colorbar(im, ax=axes[1, :].tolist(), shrink=0.8, label="t")
    fig.suptitle("Inputs that make the network output each class (Comsa et al., Fig. 8)")
    p = out_dir / "feature_visualisation.png"
    fig.savefig(p, dpi=100, bbox_inches="tight")
    plt.close(fig)
    paths.append(p)
    return paths


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--network", default=os.environ.get("EVENTSIM_SLOW_NETWORK"),
                    help="network file in the reference's format, e.g. the paper's slow_network "
                         "(default: $EVENTSIM_SLOW_NETWORK)")
    ap.add_argument("--decay", type=float, default=DECAY_CONSTANT,
                    help="decay constant of the network (default %(default)s)")
    ap.add_argument("--classes", type=int, nargs="+", default=[0, 1, 3, 7],
                    help="target classes (default: those of Figure 8)")
    ap.add_argument("--lr", type=float, default=0.1, help="gradient descent step (paper: 0.1)")
    ap.add_argument("--max-epochs", type=int, default=10000)
    ap.add_argument("--stable", type=int, default=10,
                    help="stop a class after it was produced this many epochs in a row")
    ap.add_argument("--only-target", action="store_true",
                    help="only minimise the target's spike time (default: also maximise the "
                         "other outputs' times, like the reference's AdjustInput)")
    ap.add_argument("--start", choices=["zeros", "random"], default="zeros",
                    help="blank image spiking at t=0 (paper) or uniform random times in [0, 1]")
    ap.add_argument("--clip", type=float, default=None,
                    help="clip local derivatives (default: exact, unclipped)")
    ap.add_argument("--seed", type=int, default=0, help="for --start random")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default="feature_visualisation", help="output folder")
    args = ap.parse_args(argv)

    if args.network is None:
        sys.exit("this example needs a trained network: pass --network PATH (the published "
                 "slow_network of github.com/google/ihmehimmeli, tempcoding/networks/) or set "
                 "EVENTSIM_SLOW_NETWORK")
    path = pathlib.Path(args.network)
    if not path.is_file():
        sys.exit(f"network file {path} not found; pass --network PATH (a network saved by the "
                 "reference implementation, e.g. tempcoding/networks/slow_network of "
                 "github.com/google/ihmehimmeli)")
    net = io.load_ihmehimmeli(path, args.decay)
    n_out = net["output"].size
    bad = [c for c in args.classes if not 0 <= c < n_out]
    if bad:
        sys.exit(f"classes must lie in 0..{n_out - 1}, got {bad}")
    print(f"{net}, decay constant {args.decay}")
    start = None
    if args.start == "random":
        start = np.random.default_rng(args.seed).uniform(0, 1, (len(args.classes), net.n_inputs))
    t0 = time.perf_counter()
    x, info = dream(net, args.classes, lr=args.lr, max_epochs=args.max_epochs,
                    stable_epochs=args.stable, maximize_others=not args.only_target, start=start,
                    clip_derivative=args.clip, n_threads=args.threads)
    elapsed = time.perf_counter() - t0
    out_dir = pathlib.Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    np.save(out_dir / "input_times.npy", x)
    try:
        paths = save_pngs(x, info, out_dir)
    except ImportError:
        paths = []
        print("matplotlib is not installed (pip install matplotlib): no PNGs written")
    print(f"done in {elapsed:.1f} s")
    for inf in info:
        t = np.array(inf["output_times"])
        ok = inf["epochs"] is not None
        print(f"class {inf['class']}: {'reached after ' + str(inf['epochs']) + ' epochs' if ok else 'NOT reached'}; "
              f"output times {np.round(t, 2).tolist()}")
    for p in paths:
        print("wrote", p)
    return 0 if all(inf["epochs"] is not None for inf in info) else 1


if __name__ == "__main__":
    sys.exit(main())
