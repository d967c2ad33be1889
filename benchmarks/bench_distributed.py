"""Data-parallel training on Dask: examples per second, one process vs a LocalCluster.

One epoch of ``TrainConfig.mnist_goltz`` (784-340-10 alpha neurons, every example
updates) on ``--n-train`` images of the built-in MNIST subset, for each batch size
of ``--batch-sizes``, timed:

* **local, 1 thread**: ``SpikingClassifier.fit`` with ``n_threads=1``;
* **local, W threads**: the same with the engine's own ``W`` threads (for
  comparison: the same cores, shared memory, no communication);
* **dask, W workers**: ``eventsim.distributed.fit`` on a ``LocalCluster`` of ``W``
  single-threaded worker processes (``DaskBackend``, exact mode, every batch on the
  workers: ``local_below=0``);
* **dask, inexact**: the same with ``DaskBackend(exact=False)``.

Each repeat runs the four in turn, so all see the same machine load; the table
shows medians over ``--repeats`` and the ratio of the medians to the one-thread
run (and the same for the best repeats, which a busy machine disturbs less).  It
checks that the exact Dask run trained the same network, bit for bit (the inexact
one to 1e-9 after the epoch), and prints the estimate for N machines of
docs/distributed.md from the measured compute per example and the bytes per step.

Run:
    python benchmarks/bench_distributed.py
    python benchmarks/bench_distributed.py --workers 2 --batch-sizes 32,256,1024 --repeats 5
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _fit(X, y, config, client=None, exact=True):
    from eventsim import distributed
    from eventsim.training import SpikingClassifier

    clf = SpikingClassifier(config)
    t = time.perf_counter()
    if client is None:
        clf.fit(X, y)
    else:
        # local_below=0: every batch on the workers, however small.
        distributed.fit(client, clf, X, y,
                        backend=distributed.DaskBackend(client, exact=exact, local_below=0))
    return time.perf_counter() - t, clf.network_


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--n-train", type=int, default=2048)
    ap.add_argument("--batch-sizes", default="32,256,1024")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--bandwidth", type=float, default=1.25e9,
                    help="network bandwidth for the estimate, bytes/s (10 Gb/s)")
    ap.add_argument("--latency", type=float, default=1e-3,
                    help="latency of one Dask task hop for the estimate, s")
    ap.add_argument("--in-process", action="store_true",
                    help="workers as threads of this process (processes=False) instead of "
                         "worker processes")
    args = ap.parse_args(argv)

    from distributed import Client, LocalCluster

    from eventsim import tasks
    from eventsim.training import TrainConfig

    X, y, _, _ = tasks.make_task("mnist", n_train=args.n_train, n_test=0, seed=0)
    W = args.workers
    client = Client(LocalCluster(n_workers=W, threads_per_worker=1,
                                 processes=not args.in_process,
                                 dashboard_address=":0"))
    rows, ok, overheads = [], True, []
    try:
        for bs in (int(b) for b in args.batch_sizes.split(",")):
            base = TrainConfig.mnist_goltz(seed=0, epochs=1, batch_size=bs, eval_train=False)
            one = base.replace(n_threads=1)
            modes = {"local, 1 thread": (one, None, True),
                     f"local, {W} threads": (base.replace(n_threads=W), None, True),
                     f"dask, {W} workers": (one, client, True),
                     f"dask, inexact": (one, client, False)}
            times = {m: [] for m in modes}
            nets = {}
            _fit(X[:2 * bs], y[:2 * bs], base.replace(n_threads=1), client)   # warm-up
            for _ in range(args.repeats):
                for m, (cfg, cl, exact) in modes.items():
                    t, nets[m] = _fit(X, y, cfg, cl, exact)
                    times[m].append(t)
            ref = nets["local, 1 thread"]
            same = {m: np.array_equal(n.weights, ref.weights) for m, n in nets.items()}
            close = np.abs(nets["dask, inexact"].weights - ref.weights).max()
            ok &= all(v for m, v in same.items() if m != "dask, inexact") and close <= 1e-9
            t1 = float(np.median(times["local, 1 thread"]))
            b1 = float(np.min(times["local, 1 thread"]))
            for m in modes:
                med, best = float(np.median(times[m])), float(np.min(times[m]))
                rows.append((bs, m, args.n_train / med, t1 / med, args.n_train / best,
                             b1 / best, "yes" if same[m] else f"to {close:.0e}"))
            n_syn = ref.n_synapses
            if bs == max(int(b) for b in args.batch_sizes.split(",")):
                c_best = float(np.min(times["local, 1 thread"])) / args.n_train
            # Dask's own cost per step: the Dask step minus its share of the compute.
            n_steps = -(-args.n_train // bs)
            over = (float(np.median(times[f"dask, {W} workers"])) - t1 / W) / n_steps
            overheads.append((bs, over))
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"one epoch of mnist_goltz (784-340-10, {n_syn:,} synapses) on {args.n_train} "
              f"images; median of {args.repeats} repeats; {os.cpu_count()} cores, load "
              f"average {load:.1f} at the end")
        print(f"{'batch':>5}  {'mode':<18} {'examples/s':>10}  {'speed-up':>8}  "
              f"{'best ex/s':>9}  {'best':>6}  same network as 1 thread")
        for bs, m, eps, ratio, beps, bratio, same in rows:
            print(f"{bs:>5}  {m:<18} {eps:>10.1f}  {ratio:>7.2f}x  {beps:>9.1f}  "
                  f"{bratio:>5.2f}x  {same}")
        # What one step moves (docs/distributed.md, the estimate for N machines): the
        # parameters out to each worker, the running total of the gradient from
        # worker to worker and back, the spike times back.
        print(f"bytes per step: parameters {8 * n_syn / 1e6:.2f} MB to each worker, the "
              f"gradient's running total {8 * n_syn / 1e6:.2f} MB per worker hop, spike "
              f"times 8 x batch x {ref.n_neurons} neurons")
        print(f"Dask's cost per step (the Dask step minus 1/{W} of the one-thread step): "
              + ", ".join(f"batch {b}: {o * 1e3:.0f} ms" for b, o in overheads))
        _estimate(c_best, 8 * (n_syn + ref.n_pulses), ref.n_neurons, args.bandwidth,
                  args.latency, overheads[-1][1])
    finally:
        client.close()
    return 0 if ok else 1


def _estimate(c, P, n_neurons, bw, lat, over):
    """docs/distributed.md 6: the speed-up over one core of a step of B examples on W
    single-thread workers, from the compute per example ``c`` (s) and the bytes of the
    parameters ``P``, at bandwidth ``bw`` (bytes/s) and latency ``lat`` (s) per hop;
    then again with Dask's measured cost per step ``over`` (s) added."""
    Ws = (2, 4, 8, 16, 32, 64)
    print(f"estimate: c = {c * 1e3:.2f} ms per example (best one-thread run), P = "
          f"{P / 1e6:.2f} MB, {bw * 8 / 1e9:g} Gb/s, {lat * 1e3:g} ms per hop; Dask's "
          f"cost per step {over * 1e3:.0f} ms (measured above, largest batch)")
    print(f"{'batch':>5}  {'':<11}" + "  ".join(f"W={w:<3}" for w in Ws) + "  best W")
    for B in (256, 1024, 4096):
        for name, o in (("network", 0.0), ("+ Dask cost", max(over, 0.0))):
            def T(W):
                return (B * c / W + W * P / bw + W * (P / bw + lat)
                        + 8 * B * n_neurons / bw + 2 * lat + o)
            best = (B * c / (2 * P / bw + lat)) ** 0.5
            print(f"{B:>5}  {name:<11}" + "  ".join(f"{B * c / T(w):4.1f}x" for w in Ws)
                  + f"  {best:5.0f}")


if __name__ == "__main__":
    sys.exit(main())
