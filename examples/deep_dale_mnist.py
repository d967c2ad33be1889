"""A deep excitatory/inhibitory LIF network on real MNIST, analysed like a recording.

The network of Oberste-Frielinghaus et al. (docs/references.md): 784 inputs, ``--layers``
hidden layers of 300 excitatory + 100 inhibitory LIF neurons (Dale's law: every
outgoing weight of an excitatory neuron stays >= 0, of an inhibitory one <= 0, at
initialisation and after every Adam step, by projection), 10 outputs; latency code
(pixel p > 0 spikes at ``1 - p/256``), first spikes only, exact gradients, the loss
of Göltz et al.  It is trained on the built-in 5,000-image MNIST subset and tested on
the 10,000 MNIST test images.  Then, per layer, on the test set:

* pulse packets: fraction of neurons active and temporal spread (standard deviation
  of the spike times within the layer, per example, averaged);
* information gain of each neuron about the class from observing it active
  (1 = fires for one class only), mean over excitatory and over inhibitory neurons;
* class-specific pathways through chains of positive weights from excitatory
  neurons, and their specificity (drive to the class a pathway belongs to over the
  drive to the other classes) per depth.

It prints a table, writes ``deep_dale_mnist.png`` (raster of one test image, packets,
information gain, pathways) and the numbers as JSON into ``--out``, and saves the
trained network (checkpoint).

Run:
    python examples/deep_dale_mnist.py [--layers 3] [--epochs 10] [--n-train N]
        [--threads N] [--out deep_dale_mnist] [--mnist FOLDER]

The test set is read from ``--mnist``, else ``$EVENTSIM_MNIST`` (the MNIST IDX files
``t10k-images-idx3-ubyte[.gz]``, ``t10k-labels-idx1-ubyte[.gz]``); without either, the
last 1,000 images of the shuffled built-in subset are held out for testing and the
other 4,000 train.

Result (``--layers 3 --epochs 20 --threads 1``, seed 0, ~15 min on 2 shared cores):
91.74% on the 10,000 test images (98.9% on the training subset), and per layer

=========  ======  =======  ======  ======  ======  =======
layer      active  latency  spread  IG exc  IG inh  pathway
=========  ======  =======  ======  ======  ======  =======
hidden0     0.716    0.646   0.236   0.072   0.020     1.06
hidden1     0.508    0.834   0.190   0.272   0.387     1.32
hidden2     0.426    1.087   0.164   0.284   0.144     3.60
output      0.302    1.498   0.221   0.276
=========  ======  =======  ======  ======  ======  =======

(the input layer, not in that run's table: 18% of the pixels spike, spread 0.34).  The
temporal spread shrinks with depth through the hidden layers and the pathways sharpen
(specificity 1.06 -> 3.60); the excitatory neurons' information gain grows from the
first hidden layer (0.07 -> 0.27-0.28) but stays far from 1, and the inhibitory neurons'
is not uniformly low (0.39 in the second hidden layer).  The input code here is not
synchronous (pixel intensity sets the time), so there is no initial spreading phase.

Training notes: the Göltz loss with ``xi = 0.2`` cannot separate outputs that spike within
~0.04 of each other at initialisation (accuracy stays at chance); ``xi = 0.05`` learns.
Without the learning-rate decay and with ``alpha = 0.005`` training oscillates as label
neurons fall silent (loss 100, no gradient); ``alpha = 0.02`` and decay 0.9 keep it stable.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import eventsim  # noqa: E402
from eventsim import analysis, datasets  # noqa: E402
from eventsim.train import SpikingClassifier, TrainConfig  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _mnist import load_train_test  # noqa: E402


def load_data(folder, n_train, n_test, seed):
    x_tr, y_tr, x_te, y_te, test_name = load_train_test(folder, n_train, n_test, seed, stream=5)
    enc = datasets.encode_spike_times
    return (enc(x_tr).reshape(len(y_tr), -1), y_tr, enc(x_te).reshape(len(y_te), -1), y_te,
            test_name)


def layer_table(net, times, labels):
    """Per hidden layer and the output: the measures of the issue, as a dict of lists."""
    lay = analysis.network_layers(net, strict=False)
    names = list(lay.names)
    groups = {n: lay.layer_dict()[n] for n in names}
    packets = analysis.pulse_packets(times, list(groups.values()))
    ig = analysis.information_gain(times, labels, n_classes=10)
    sign = net.neuron_sign
    rows = {"layer": names, "fraction_active": packets.fraction.tolist(),
            "latency": packets.latency.tolist(), "spread": packets.spread.tolist(),
            "ig_exc": [], "ig_inh": []}
    for n in names:
        ids = np.asarray(groups[n])
        if n == "input":        # pixels: neither excitatory nor inhibitory neurons
            rows["ig_exc"].append(np.nan)
            rows["ig_inh"].append(np.nan)
            continue
        exc = ids[sign[ids] > 0] if (sign[ids] != 0).any() else ids
        inh = ids[sign[ids] < 0]
        rows["ig_exc"].append(float(np.nanmean(ig[exc])) if np.isfinite(ig[exc]).any() else np.nan)
        rows["ig_inh"].append(float(np.nanmean(ig[inh])) if inh.size and np.isfinite(ig[inh]).any()
                              else np.nan)
    # Pathways: from each hidden layer to the outputs, through excitatory neurons.
    hidden = [i for i, n in enumerate(lay.names) if n.startswith("hidden")]
    weights = [lay.weights[i] for i in range(hidden[0], len(lay.weights))]
    exc_masks = [lay.excitatory[i] for i in range(hidden[0], len(lay.weights))]
    paths = analysis.class_pathways(weights, exc_masks, top_k=10)
    rows["pathway_specificity"] = ([np.nan] + [float(v) for v in paths.layer_specificity]
                                   + [np.nan])
    return rows, ig, paths, {n: g for n, g in groups.items() if n != "input"}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=3, help="hidden layers (300 E + 100 I each)")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--n-train", type=int, default=None,
                    help="training images (default: all of the built-in subset not held out)")
    ap.add_argument("--n-test", type=int, default=None, help="test images (default: all)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--xi", type=float, default=0.05,
                    help="softmax temperature of the Göltz loss in units of tau_syn (their "
                         "0.2 is too soft here: the outputs of a deep network spike within "
                         "a few hundredths of tau_syn of each other at initialisation)")
    ap.add_argument("--alpha", type=float, default=0.02,
                    help="weight of the Göltz regulariser alpha e^{t_label / tau_syn}")
    ap.add_argument("--penalty", type=float, default=0.0,
                    help="penalty_no_spike (Comsa et al.) for silent output neurons")
    ap.add_argument("--lr-decay", type=float, default=0.9, help="per-epoch learning-rate factor")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--mnist", default=None,
                    help="folder with the MNIST test set (default: $EVENTSIM_MNIST; without "
                         "either, 1,000 held-out images of the built-in subset)")
    ap.add_argument("--out", default="deep_dale_mnist")
    args = ap.parse_args(argv)

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    x_tr, y_tr, x_te, y_te, test_name = load_data(args.mnist, args.n_train, args.n_test,
                                                  args.seed)
    net = eventsim.dale_network(784, 10, n_layers=args.layers, n_excitatory=300,
                                n_inhibitory=100, rng=[args.seed, 0])
    print(f"network: {net}; train {len(y_tr)} images (built-in subset), test {len(y_te)} "
          f"{test_name}")
    config = TrainConfig(loss="goltz", batch_size=args.batch, learning_rate=args.lr,
                         n_pulses=0, n_hidden=(400,) * args.layers, epochs=args.epochs,
                         update_on_misclassified_only=False, penalty_no_spike=args.penalty,
                         penalty_scope="outputs", lr_decay=args.lr_decay,
                         clip_derivative=100.0, goltz_xi=args.xi, goltz_alpha=args.alpha,
                         seed=args.seed,
                         n_threads=args.threads)
    clf = SpikingClassifier(config, network=net)

    def on_epoch(c, e):
        print(f"epoch {e['epoch']:3d}  train {100 * e['train_accuracy']:6.2f}%  "
              f"test {100 * e['test_accuracy']:6.2f}%  loss {e['loss']:.3f}  "
              f"{e['time_s']:.0f} s", flush=True)

    t0 = time.perf_counter()
    clf.fit(x_tr, y_tr, x_te, y_te, checkpoint_dir=out / "checkpoints", callback=on_epoch)
    print(f"training: {time.perf_counter() - t0:.0f} s")
    acc = clf.score(x_te, y_te)
    net = clf.network_
    assert net.dale_violations().size == 0
    times = eventsim.simulate(net, x_te, n_threads=args.threads).times
    rows, ig, paths, groups = layer_table(net, times, y_te)

    print(f"\ntest accuracy {100 * acc:.2f}% on {len(y_te)} {test_name}")
    print(f"{'layer':<9} {'active':>7} {'latency':>8} {'spread':>7} {'IG exc':>7} {'IG inh':>7} "
          f"{'pathway':>8}")
    for i, name in enumerate(rows["layer"]):
        print(f"{name:<9} {rows['fraction_active'][i]:7.3f} {rows['latency'][i]:8.3f} "
              f"{rows['spread'][i]:7.3f} {rows['ig_exc'][i]:7.3f} {rows['ig_inh'][i]:7.3f} "
              f"{rows['pathway_specificity'][i]:8.2f}")
    (out / "layers.json").write_text(json.dumps({"test_accuracy": acc, **rows}, indent=1))
    try:
        save_figure(net, x_te, times, y_te, rows, ig, paths, groups, out / "deep_dale_mnist.png")
        print("wrote", out / "deep_dale_mnist.png")
    except ImportError:
        print("no plot (pip install matplotlib)")
    print("wrote", out / "layers.json")
    return 0


def save_figure(net, x_te, times, labels, rows, ig, paths, groups, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from eventsim import plotting

    fig, axes = plt.subplots(2, 2, figsize=(12, 9))
    layers = {"input": net["input"].ids, **groups}
    # Inputs and outputs have no declared sign: drawn with the excitatory neurons.
    plotting.raster(times[0], layers, excitatory=net.neuron_sign >= 0, ax=axes[0, 0])
    axes[0, 0].set_title(f"test image 0 (label {labels[0]})")
    depth = np.arange(len(rows["layer"]))
    ax = axes[0, 1]
    ax.plot(depth, rows["spread"], "o-", label="temporal spread")
    ax.plot(depth, rows["fraction_active"], "s-", label="fraction active")
    ax.set_xticks(depth, rows["layer"], rotation=30)
    ax.set_title("pulse packets")
    ax.legend()
    sign = net.neuron_sign
    plotting.plot_information_gain(ig, groups, excitatory=sign >= 0 if (sign != 0).any() else None,
                                   ax=axes[1, 0])
    ax = axes[1, 1]
    spec = rows["pathway_specificity"][1:-1]
    ax.plot(np.arange(len(spec)), spec, "o-")
    ax.set_xticks(np.arange(len(spec)), rows["layer"][1:-1], rotation=30)
    ax.set_ylabel("pathway specificity")
    ax.set_title("class pathways (E chains)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
